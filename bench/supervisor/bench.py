#!/usr/bin/env python3
"""Benchmarks of `liquid supervisor` (issue 3), written into bench/RESULTS.md between
<!-- supervisor:begin --> and <!-- supervisor:end -->.

  idle memory         RSS (and its private part, and PSS) of a supervisor with nothing deployed
  memory per module   RSS growth per deployed module, deploying 1, 10 and 50 small modules
  deploy time         POST /deploy to its answer (ready to serve) for a 1 MiB module
                      (a generated module with a 1 MiB data segment)
  calls/s, latency    wrk, keep-alive, from a second process: a trivial function over
                      HTTP on loopback
  chain hop           median latency of a 3-step chain minus a 1-step call, over 2 hops

Every figure is the median of several runs. Usage (see run.sh):
  bench.py --liquid build/liquid --build-dir build [--runs 5] [--wrk-seconds 10] [--no-write]
"""
import argparse
import datetime
import http.client
import json
import os
import pathlib
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "system"))
sys.path.insert(0, str(REPO / "bench"))
from results_section import machine, write_section  # noqa: E402
from supervisor_util import (FileServer, Supervisor, endpoint, module_entry, node,  # noqa: E402
                             request)

BEGIN, END = "<!-- supervisor:begin -->", "<!-- supervisor:end -->"
GOALS = {"idle": 5 * 1024, "deploy_ms": 20.0, "calls": 10_000, "hop_ms": 1.0}


# ------------------------------------------------------------------ helpers

def leb(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def sleb(n):
    """Signed LEB128, as i32.const immediates are."""
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if (n == 0 and not byte & 0x40) or (n == -1 and byte & 0x40):
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)


def section(sid, payload):
    return bytes([sid]) + leb(len(payload)) + payload


def big_module(data_bytes=1 << 20):
    """A module with a data segment of data_bytes (pseudo-random, so nothing compresses
    it away) and an export size() -> i32."""
    pages = data_bytes // 65536 + 1
    seed, data = 12345, bytearray(data_bytes)
    for i in range(0, data_bytes, 4):
        seed = (seed * 1103515245 + 12345) & 0xFFFFFFFF
        data[i:i + 4] = seed.to_bytes(4, "little")
    name = lambda s: leb(len(s)) + s.encode()  # noqa: E731
    body = b"\x00" + b"\x41" + sleb(data_bytes) + b"\x0b"
    return (b"\x00asm\x01\x00\x00\x00"
            + section(1, b"\x01\x60\x00\x01\x7f")
            + section(3, b"\x01\x00")
            + section(5, b"\x01\x00" + leb(pages))
            + section(7, b"\x02" + name("memory") + b"\x02\x00" + name("size") + b"\x00\x00")
            + section(10, b"\x01" + leb(len(body)) + body)
            + section(11, b"\x01\x00\x41\x00\x0b" + leb(data_bytes) + bytes(data)))


def memory_kb(pid):
    """VmRSS, RssAnon (private, anonymous) and Pss of a process, in KiB."""
    status = pathlib.Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    anon = int(re.search(r"RssAnon:\s+(\d+)", status).group(1))
    rollup = pathlib.Path(f"/proc/{pid}/smaps_rollup").read_text()
    pss = int(re.search(r"^Pss:\s+(\d+)", rollup, re.M).group(1))
    return {"rss": rss, "anon": anon, "pss": pss}


def load_average():
    return os.getloadavg()[0]


class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="liquid-bench-sv-"))
        shm = pathlib.Path("/dev/shm")
        self.shm_root = pathlib.Path(tempfile.mkdtemp(prefix="liquid-bench-sv-", dir=shm)) \
            if shm.is_dir() else None
        self.files = FileServer(self.tmp / "files")
        self.started = []
        self.loads = [load_average()]

    def supervisor(self, name, *extra, root=None):
        instance = (root or self.tmp) / f"{name}-{len(self.started)}"
        sv = Supervisor(self.args.liquid, instance, name=name,
                        args=["--log-level", "warn", *extra], log_dir=self.tmp)
        self.started.append(sv)
        return sv.start()

    def close(self):
        for sv in self.started:
            if sv.proc and sv.proc.poll() is None:
                sv.stop()
            shutil.rmtree(sv.instance_dir, ignore_errors=True)
        self.files.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)
        if self.shm_root:
            shutil.rmtree(self.shm_root, ignore_errors=True)

    def faults_wasm(self):
        return (pathlib.Path(self.args.build_dir) / "tests" / "wat" / "supervisor_faults.wasm")

    def deploy_noop(self, sv, dep, module="m"):
        url = self.files.put("faults.wasm", self.faults_wasm().read_bytes())
        manifest = node(dep, [module_entry(module, url)], [
            {"module": module, "function": "noop",
             "endpoint": endpoint(sv.base, dep, module, "noop", params=())}])
        r = sv.deploy(manifest)
        assert r.status == 200, r

    # ------------------------------------------------------------ measurements

    def idle_memory(self):
        runs = []
        for _ in range(self.args.runs):
            sv = self.supervisor("idle")
            sv.get("/health")
            sv.get("/.well-known/wasmiot-device-description")
            time.sleep(0.5)
            runs.append(memory_kb(sv.proc.pid))
            sv.stop()
        return {k: statistics.median(r[k] for r in runs) for k in runs[0]}

    def memory_per_module(self):
        """RSS after the first deployment (which also pays one-time costs: the HTTP
        client, the import catalogue), and the growth per module after it."""
        out = {"first": [], 10: [], 50: []}
        for _ in range(max(1, self.args.runs // 2)):
            sv = self.supervisor("modules")
            sv.get("/health")
            time.sleep(0.3)
            before = memory_kb(sv.proc.pid)["rss"]
            rss = {}
            for i in range(50):
                self.deploy_noop(sv, f"rss{i}")
                if i + 1 in (1, 10, 50):
                    assert sv.call(f"rss{i}", "m", "noop").status == 200
                    time.sleep(0.2)
                    rss[i + 1] = memory_kb(sv.proc.pid)["rss"]
            out["first"].append(rss[1] - before)
            out[10].append((rss[10] - rss[1]) / 9)
            out[50].append((rss[50] - rss[1]) / 49)
            sv.stop()
        return {k: statistics.median(v) for k, v in out.items()}

    def deploy_time(self, root=None):
        """POST /deploy to its answer, for the 1 MiB module and for a small one; the
        supervisor's deploy.module log lines say where the time went. root: where the
        instance directory lives (the disk by default, or a tmpfs)."""
        sv = self.supervisor("deployer", "--log-level", "debug", root=root)
        out = {}
        for key, name, wasm, function in [
                ("big", "big", big_module(), "size"),
                ("small", "small", self.faults_wasm().read_bytes(), "noop")]:
            url = self.files.put(f"{name}.wasm", wasm)
            manifest = node(name, [module_entry(name, url)], [
                {"module": name, "function": function,
                 "endpoint": endpoint(sv.base, name, name, function, params=())}])
            times = []
            for _ in range(self.args.runs + 1):
                t0 = time.perf_counter()
                r = sv.deploy(manifest)
                times.append((time.perf_counter() - t0) * 1000)
                assert r.status == 200, r
            out[key] = {"module_bytes": len(wasm), "ms": statistics.median(times[1:]),
                        "first_ms": times[0], "runs_ms": [round(t, 1) for t in times[1:]]}
        assert sv.call("big", "big", "size").json()["result"] == {"result": str(1 << 20)}
        stages = {"fetch_ms": [], "load_ms": [], "start_ms": []}
        for line in sv.log_text().splitlines():
            if "event=deploy.module" in line and "module=big " in line:
                for key in stages:
                    stages[key].append(float(re.search(key + r"=([\d.]+)", line).group(1)))
        out["big"]["stages"] = {k: statistics.median(v[1:]) for k, v in stages.items()}
        sv.stop()
        return out

    def calls_per_second(self):
        sv = self.supervisor("caller")
        self.deploy_noop(sv, "calls")
        url = f"{sv.base}/calls/modules/m/noop"
        assert request("GET", url).status == 200
        runs = []
        for _ in range(self.args.wrk_runs):
            out = subprocess.run(["wrk", "-t2", "-c32", f"-d{self.args.wrk_seconds}s", "--latency",
                                  url], capture_output=True, text=True, check=True).stdout
            rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
            p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
            scale = {"us": 0.001, "ms": 1, "s": 1000}[p50.group(2)]
            errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
            assert not errors, out
            runs.append({"rps": rps, "p50_ms": float(p50.group(1)) * scale})
        count = len(sv.history().json())
        sv.stop()
        return {"rps": statistics.median(r["rps"] for r in runs),
                "p50_ms": statistics.median(r["p50_ms"] for r in runs),
                "runs": runs, "history_kept": count}

    def chain_hop(self):
        svs = [self.supervisor(f"hop{i}") for i in range(3)]
        url = self.files.put("faults.wasm", self.faults_wasm().read_bytes())
        eps = [endpoint(sv.base, "hops", "m", "count", params=(("n", "integer"),)) for sv in svs]
        for i in (2, 1, 0):
            manifest = node("hops", [module_entry("m", url)], [
                {"module": "m", "function": "count", "endpoint": eps[i],
                 "to": eps[i + 1] if i < 2 else None}])
            assert svs[i].deploy(manifest).status == 200
        single = node("one", [module_entry("m", url)], [
            {"module": "m", "function": "count", "endpoint": endpoint(svs[0].base, "one", "m",
                                                                      "count",
                                                                      params=(("n", "integer"),))}])
        assert svs[0].deploy(single).status == 200

        conn = http.client.HTTPConnection("127.0.0.1", svs[0].port)

        def median_ms(path, n):
            samples = []
            for _ in range(n):
                t0 = time.perf_counter()
                conn.request("GET", path)
                r = conn.getresponse()
                body = r.read()
                samples.append((time.perf_counter() - t0) * 1000)
                assert r.status == 200, body
            return statistics.median(samples)
        assert json.loads(request("GET", f"{svs[0].base}/hops/modules/m/count?n=7").body)[
            "result"] == {"result": "7"}
        medians = {"one": [], "three": []}
        for _ in range(self.args.runs):
            medians["one"].append(median_ms("/one/modules/m/count?n=7", self.args.chain_calls))
            medians["three"].append(median_ms("/hops/modules/m/count?n=7", self.args.chain_calls))
        conn.close()
        for sv in svs:
            sv.stop()
        one, three = statistics.median(medians["one"]), statistics.median(medians["three"])
        return {"one_ms": one, "three_ms": three, "hop_ms": (three - one) / 2}


# ------------------------------------------------------------------ report

def verdict(ok):
    return "meets the goal" if ok else "**misses the goal**"


def report(results, args, commit):
    idle, per, dep, calls, hop = (results[k] for k in ("idle", "per_module", "deploy", "calls",
                                                      "hop"))
    mem = results.get("deploy_tmpfs")
    loads = results["loads"]
    quiet = max(loads) < 1.0
    lines = [
        BEGIN,
        "## Supervisor (`liquid supervisor`, issue 3)",
        "",
        f"Measured {results['date']} on {results['machine']}, commit {commit}, with "
        f"`bench/supervisor/run.sh` ({args.runs} runs each, medians; wrk {args.wrk_runs} x "
        f"{args.wrk_seconds} s). Supervisors ran with `--no-mdns --log-level warn` on "
        "127.0.0.1; the test module is `tests/wat/supervisor_faults.wat`.",
        "",
        ("The machine was quiet" if quiet else
         "**The machine was not quiet** (other work was running)") +
        f": load average {', '.join(f'{l:.2f}' for l in loads)} at the start of each part.",
        "",
        "| figure | result | goal | |",
        "|---|---|---|---|",
        f"| idle memory: RSS (private anonymous / PSS) | {idle['rss'] / 1024:.1f} MiB "
        f"({idle['anon'] / 1024:.1f} / {idle['pss'] / 1024:.1f} MiB) | < 5 MB | "
        f"{verdict(idle['rss'] < GOALS['idle'])} (RSS); {verdict(idle['anon'] < GOALS['idle'])} "
        "(private) |",
        f"| memory per deployed module, after the first (10 / 50 deployed) | {per[10]:.0f} / "
        f"{per[50]:.0f} KiB | | |",
        f"| memory of the first deployment (one-time costs included) | {per['first']:.0f} KiB "
        "| | |",
        f"| `POST /deploy` to ready, 1 MiB module ({dep['big']['module_bytes']} bytes) | "
        f"{dep['big']['ms']:.1f} ms (first: {dep['big']['first_ms']:.1f} ms) | < 20 ms | "
        f"{verdict(dep['big']['ms'] < GOALS['deploy_ms'])} |",
        f"| `POST /deploy` to ready, small module ({dep['small']['module_bytes']} bytes) | "
        f"{dep['small']['ms']:.1f} ms | | |",
    ] + ([
        f"| the same with the instance directory on a tmpfs (no disk): 1 MiB / small module | "
        f"{mem['big']['ms']:.1f} / {mem['small']['ms']:.1f} ms | < 20 ms | "
        f"{verdict(mem['big']['ms'] < GOALS['deploy_ms'])} |",
    ] if mem else []) + [
        f"| trivial function over HTTP, wrk -t2 -c32, keep-alive | {calls['rps']:,.0f} calls/s, "
        f"median latency {calls['p50_ms']:.2f} ms | >= 10,000 calls/s | "
        f"{verdict(calls['rps'] >= GOALS['calls'])} |",
        f"| latency added per chain hop (1-step {hop['one_ms']:.3f} ms, 3-step "
        f"{hop['three_ms']:.3f} ms) | {hop['hop_ms']:.3f} ms | < 1 ms | "
        f"{verdict(hop['hop_ms'] < GOALS['hop_ms'])} |",
        "",
        "Notes:",
        "- RSS counts the pages of shared libraries the process touched: libcurl and "
        "libmicrohttpd bring OpenSSL, GnuTLS, Kerberos, LDAP and more, whose pages make up "
        "most of it and are shared with every other process using them (PSS divides them "
        "among their users). Even the private anonymous part is mostly the libraries' "
        "relocated data (libcrypto alone about 400 KiB); the supervisor's own heap is about "
        "200 KiB.",
        "- Memory per module: a runtime per module (store, instance with its 64 KiB page, WASI "
        "context, call stack), measured as RSS growth over N deployments of one module each. "
        "The first deployment also starts the HTTP client (curl and OpenSSL initialise on "
        "the first download) and builds the catalogue of offered imports.",
        "- Deploy time includes fetching the binary over loopback from a Python file server, "
        "checking it, compiling, laying out and syncing the directory (deployment.json and "
        "READY are written with fsync), and instantiating; the replaced version's files are "
        "deleted afterwards, in the background. Where the 1 MiB module's time went (medians "
        f"of the supervisor's deploy.module lines): fetch {dep['big']['stages']['fetch_ms']:.1f} "
        "ms (the download, its SHA-256 and an fsync, in the HTTP client), load "
        f"{dep['big']['stages']['load_ms']:.1f} ms (reading it back and the engine's decode, "
        "validation, compilation and SHA-256 of the bytes), start "
        f"{dep['big']['stages']['start_ms']:.1f} ms (instantiation: copying the 1 MiB data "
        "segment); the rest is laying out the directory and its fsyncs. Runs: "
        f"{dep['big']['runs_ms']} ms (1 MiB), {dep['small']['runs_ms']} ms (small)." +
        (f" On the tmpfs: fetch {mem['big']['stages']['fetch_ms']:.1f}, load "
         f"{mem['big']['stages']['load_ms']:.1f}, start {mem['big']['stages']['start_ms']:.1f} "
         f"ms; runs {mem['big']['runs_ms']} ms (1 MiB), {mem['small']['runs_ms']} ms (small). "
         "The root file system here is ext4 without a journal on a virtual disk, where each "
         "fsync is a synchronous write." if mem else ""),
        f"- Calls: every call is a request-history entry written to disk before the answer "
        f"(the history held {calls['history_kept']} entries, its limit). wrk runs on the same "
        f"2 cores as the supervisor. Runs: "
        + ", ".join(f"{r['rps']:,.0f}/s p50 {r['p50_ms']:.2f} ms" for r in calls["runs"]) + ".",
        "- Chain hop: three supervisors on this machine, count(n) -> count -> count, each "
        "hop a GET of the next device carrying the result as its first parameter; sequential "
        f"calls on one keep-alive connection, {args.chain_calls} per run.",
        "",
        "Command: `bench/supervisor/run.sh` (`LIQUID=... BUILD=...` choose the binary and "
        "build directory).",
        END,
    ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--liquid", default=str(REPO / "build" / "liquid"))
    parser.add_argument("--build-dir", default=str(REPO / "build"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--wrk-runs", type=int, default=3)
    parser.add_argument("--wrk-seconds", type=int, default=10)
    parser.add_argument("--chain-calls", type=int, default=300)
    parser.add_argument("--no-write", action="store_true", help="print, do not touch RESULTS.md")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (scripts/bootstrap.sh installs it)")
    bench = Bench(args)
    results = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "machine": machine()}
    try:
        in_memory = (lambda: bench.deploy_time(bench.shm_root)) if bench.shm_root \
            else (lambda: None)
        for key, fn in [("idle", bench.idle_memory), ("per_module", bench.memory_per_module),
                        ("deploy", bench.deploy_time), ("deploy_tmpfs", in_memory),
                        ("calls", bench.calls_per_second), ("hop", bench.chain_hop)]:
            bench.loads.append(load_average())
            results[key] = fn()
            print(f"{key}: {results[key]}", file=sys.stderr, flush=True)
    finally:
        bench.close()
    results["loads"] = bench.loads[1:]
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "unknown"
    text = report(results, args, commit)
    print(text)
    if not args.no_write:
        write_section(REPO / "bench" / "RESULTS.md", text, BEGIN, END)


if __name__ == "__main__":
    main()
