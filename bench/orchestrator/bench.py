#!/usr/bin/env python3
"""Benchmarks of `liquid orchestrator`'s placement (issue 4), written into
bench/RESULTS.md between <!-- orchestrator:begin --> and <!-- orchestrator:end -->.

  solver          a 10-step chain over 10, 100, 1,000 and 10,000 synthetic devices,
                  solver_solve alone (bench/orchestrator/solver_bench.c)
  deploy          POST /file/manifest/{id} to its answer (every device has accepted and
                  is ready to serve) for a chain with one step on each of 3 and of 50
                  supervisors
  executions/s    POST /execute through the orchestrator with wrk, for a 1-step chain
                  and a 3-step chain over 3 supervisors
  recovery        kill -9 of the device running a 1-step deployment to the first
                  successful /execute on its replacement, default health interval

Every figure is the median of several runs. Usage (see run.sh):
  bench.py --liquid build/liquid --build-dir build --solver-bench bench/out/solver_bench
           [--runs 5] [--wrk-seconds 10] [--no-write]
"""
import argparse
import datetime
import json
import os
import pathlib
import re
import shutil
import signal
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
from orchestrator_util import Orchestrator  # noqa: E402
from supervisor_util import Supervisor, request  # noqa: E402

BEGIN, END = "<!-- orchestrator:begin -->", "<!-- orchestrator:end -->"
GOALS = {"solver_10000_ms": 100.0, "recovery_s": 5.0}
FIBO = {"fibo": {"method": "GET", "parameters": [{"name": "param0", "type": "integer"}],
                 "output": "integer", "mounts": []}}


def load_average():
    return os.getloadavg()[0]


class Cluster:
    """An orchestrator and n supervisors on 127.0.0.1 (mDNS off, direct registration)."""

    def __init__(self, bench, n, orch_args=()):
        self.bench = bench
        root = pathlib.Path(tempfile.mkdtemp(prefix="liquid-bench-orch-", dir=bench.tmp))
        self.orch = Orchestrator(bench.args.liquid, root / "orch", log_dir=root,
                                 args=["--log-level", "warn", *orch_args]).start()
        self.sups = []
        for i in range(n):
            sv = Supervisor(bench.args.liquid, root / f"s{i}", name=f"s{i}", log_dir=root,
                            args=["--orchestrator-url", self.orch.base, "--log-level", "warn"])
            self.sups.append(sv.start())
        self.orch.wait_devices([sv.name for sv in self.sups], timeout=120)
        mid = self.orch.upload_module("fibo", pathlib.Path(bench.args.build_dir) / "examples" /
                                      "fibo.wasm")
        assert self.orch.describe_module(mid, FIBO).status == 200

    def manifest(self, name, devices):
        steps = [{"device": d, "module": "fibo", "func": "fibo"} for d in devices]
        r = self.orch.post("/file/manifest", json_body={"name": name, "sequence": steps})
        assert r.status == 201, r
        return json.loads(r.body)

    def deploy(self, dep):
        t0 = time.perf_counter()
        r = self.orch.post(f"/file/manifest/{dep}", timeout=300)
        ms = (time.perf_counter() - t0) * 1000
        assert r.status == 200, r
        return ms

    def close(self):
        for sv in self.sups:
            if sv.proc and sv.proc.poll() is None:
                sv.stop(signal.SIGKILL)
        if self.orch.proc and self.orch.proc.poll() is None:
            self.orch.stop(signal.SIGKILL)


class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="liquid-bench-orch-"))
        self.loads = []

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def solver(self):
        out = subprocess.run([self.args.solver_bench, "--runs", "21"], capture_output=True,
                             text=True, check=True).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def deploy_time(self, n):
        c = Cluster(self, n)
        try:
            dep = c.manifest(f"spread-{n}", [sv.name for sv in c.sups])
            first = c.deploy(dep)
            runs = [c.deploy(dep) for _ in range(self.args.runs)]
            return {"devices": n, "first_ms": first, "ms": statistics.median(runs), "runs": runs}
        finally:
            c.close()

    def executions(self):
        c = Cluster(self, 3)
        try:
            one = c.manifest("one", ["s0"])
            three = c.manifest("three", ["s0", "s1", "s2"])
            c.deploy(one)
            c.deploy(three)
            script = self.tmp / "execute.lua"
            script.write_text('wrk.method = "POST"\nwrk.body = \'{"param0": 5}\'\n'
                              'wrk.headers["Content-Type"] = "application/json"\n')
            results = {}
            for label, dep in (("one", one), ("three", three)):
                assert request("POST", f"{c.orch.base}/execute/{dep}",
                               json_body={"param0": 5}).status == 200
                runs = []
                for _ in range(self.args.wrk_runs):
                    out = subprocess.run(
                        ["wrk", "-t2", "-c8", f"-d{self.args.wrk_seconds}s", "--latency", "-s",
                         str(script), f"{c.orch.base}/execute/{dep}"],
                        capture_output=True, text=True, check=True).stdout
                    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
                    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
                    scale = {"us": 0.001, "ms": 1, "s": 1000}[p50.group(2)]
                    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
                    assert not errors, out
                    runs.append({"rps": rps, "p50_ms": float(p50.group(1)) * scale})
                results[label] = {"rps": statistics.median(r["rps"] for r in runs),
                                  "p50_ms": statistics.median(r["p50_ms"] for r in runs),
                                  "runs": runs}
            return results
        finally:
            c.close()

    def recovery_once(self):
        c = Cluster(self, 3)
        try:
            dep = c.manifest("fib", [None])
            c.deploy(dep)
            url = f"{c.orch.base}/execute/{dep}"
            assert request("POST", url, json_body={"param0": 5}).status == 200
            doc = c.orch.get(f"/file/manifest/{dep}").json()
            names = {d["_id"]: d["name"] for d in c.orch.devices()}
            victim = next(sv for sv in c.sups if sv.name == names[doc["sequence"][0]["device"]])
            victim.proc.send_signal(signal.SIGKILL)
            t0 = time.perf_counter()
            victim.proc.wait()
            failed = 0
            while True:
                r = request("POST", url, json_body={"param0": 5}, timeout=30)
                if r.status == 200:
                    break
                failed += 1
                time.sleep(0.02)
                assert time.perf_counter() - t0 < 60, "no recovery within 60 s"
            seconds = time.perf_counter() - t0
            events = c.orch.get("/events/recent?limit=200").json()
            lost = next(e for e in events if e["type"] == "device.lost")
            moved = next(e for e in events if e["type"] == "deployment.failover")
            return {"s": seconds, "failed_calls": failed,
                    "failover_ms": moved["data"]["durationMs"],
                    "detected": lost["time"]}
        finally:
            c.close()

    def recovery(self):
        runs = [self.recovery_once() for _ in range(self.args.runs)]
        return {"s": statistics.median(r["s"] for r in runs),
                "failover_ms": statistics.median(r["failover_ms"] for r in runs),
                "runs": runs}


def verdict(ok):
    return "meets the goal" if ok else "**misses the goal**"


def report(results, args, commit):
    solver, deploys, execs, rec = (results[k] for k in ("solver", "deploy", "executions",
                                                       "recovery"))
    loads = results["loads"]
    quiet = max(loads) < 1.0
    by_n = {s["devices"]: s for s in solver}
    growth = []
    sizes = sorted(by_n)
    for a, b in zip(sizes, sizes[1:]):
        growth.append(f"x{by_n[b]['median_ms'] / by_n[a]['median_ms']:.1f} from {a:,} to {b:,}")
    lines = [
        BEGIN,
        "## Orchestrator placement (`liquid orchestrator`, issue 4)",
        "",
        f"Measured {results['date']} on {results['machine']}, commit {commit}, with "
        f"`bench/orchestrator/run.sh` ({args.runs} runs each, medians; wrk {args.wrk_runs} x "
        f"{args.wrk_seconds} s, 2 threads, 8 connections). The orchestrator and supervisors "
        "ran on 127.0.0.1 with `--no-mdns --log-level warn`; the module is "
        "`examples/fibo.c`.",
        "",
        ("The machine was quiet" if quiet else
         "**The machine was not quiet** (other work was running)") +
        f": load average {', '.join(f'{l:.2f}' for l in loads)} at the start of each part.",
        "",
        "| figure | result | goal | |",
        "|---|---|---|---|",
    ]
    for n in sizes:
        s = by_n[n]
        goal = "< 100 ms" if n == 10000 else ""
        ok = verdict(s["median_ms"] < GOALS["solver_10000_ms"]) if n == 10000 else ""
        lines.append(f"| solver, 10-step chain over {n:,} devices | {s['median_ms']:.2f} ms "
                     f"(min {s['min_ms']:.2f}, max {s['max_ms']:.2f}; exact: "
                     f"{'yes' if s['exact'] else 'no'}) | {goal} | {ok} |")
    for d in deploys:
        lines.append(f"| `POST /file/manifest/{{id}}` to every device ready, {d['devices']} "
                     f"supervisors (one step each) | {d['ms']:.1f} ms (first deploy "
                     f"{d['first_ms']:.1f} ms) | | |")
    lines += [
        f"| executions/s through `/execute`, 1-step chain | {execs['one']['rps']:,.0f}/s, median "
        f"latency {execs['one']['p50_ms']:.2f} ms | | |",
        f"| executions/s through `/execute`, 3-step chain over 3 supervisors | "
        f"{execs['three']['rps']:,.0f}/s, median latency {execs['three']['p50_ms']:.2f} ms | | |",
        f"| `kill -9` of a device to the first successful execution on its replacement "
        f"(health interval 2 s) | {rec['s']:.2f} s | < 5 s | {verdict(rec['s'] < GOALS['recovery_s'])} |",
        "",
        "Notes:",
        "- Solver: the synthetic fleet has per-device copies of ~70 interface names, a third "
        "with a camera, varied loads and round trips, 2% lost, 1% suspect, 1% blacklisted; "
        "the steps alternate numbers and files and every third needs the camera. Only "
        "`solver_solve` is timed: filter (every device for every step), node costs, and the "
        "exact joint search, which with round-trip distances is O(steps x devices) (no "
        "candidate cut). Growth: " + "; ".join(growth) + ". Most of the time goes to reading "
        "each device's interface names once (hashing ~700,000 scattered strings at 10,000 "
        "devices).",
        "- Deploy: a chain of fibo steps, step i pinned to supervisor i, so every supervisor "
        "gets one node; all nodes are POSTed at once (a thread each) and the answer comes when "
        "the last device has fetched the module from the orchestrator, checked, laid out, "
        "synced and instantiated it (each supervisor fsyncs its deployment directory). "
        "Redeploys of the same deployment; runs: " +
        "; ".join(f"{d['devices']} supervisors " + ", ".join(f"{x:.0f}" for x in d["runs"]) +
                  " ms" for d in deploys) + ".",
        "- Executions: each one is recorded (an execution document written when it starts and "
        "updated when it ends, and an event), step 0 is called with the arguments, and each "
        "step's history entry is read for its timings (one extra request per step). wrk runs "
        "on the same 2 cores as the orchestrator and supervisors. Runs: 1-step " +
        ", ".join(f"{r['rps']:,.0f}/s" for r in execs["one"]["runs"]) + "; 3-step " +
        ", ".join(f"{r['rps']:,.0f}/s" for r in execs["three"]["runs"]) + ".",
        "- Recovery: default settings (health every 2 s, suspect after 1 failed check, lost "
        "after 2); an execution is tried every 20 ms after the kill. From the device.lost "
        "event, re-placing and deploying the step took "
        f"{rec['failover_ms']:.0f} ms (median). Runs: " +
        ", ".join(f"{r['s']:.2f} s" for r in rec["runs"]) + ".",
        "",
        "Command: `bench/orchestrator/run.sh` (`LIQUID=... BUILD=...` choose the binary and "
        "build directory).",
        END,
    ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--liquid", default=str(REPO / "build" / "liquid"))
    parser.add_argument("--build-dir", default=str(REPO / "build"))
    parser.add_argument("--solver-bench", default=str(REPO / "bench" / "out" / "solver_bench"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--wrk-runs", type=int, default=3)
    parser.add_argument("--wrk-seconds", type=int, default=10)
    parser.add_argument("--no-write", action="store_true", help="print, do not touch RESULTS.md")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (scripts/bootstrap.sh installs it)")
    bench = Bench(args)
    results = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "machine": machine()}
    try:
        for key, fn in [("solver", bench.solver),
                        ("deploy", lambda: [bench.deploy_time(3), bench.deploy_time(50)]),
                        ("executions", bench.executions), ("recovery", bench.recovery)]:
            bench.loads.append(load_average())
            results[key] = fn()
            print(f"{key}: {results[key]}", file=sys.stderr, flush=True)
    finally:
        bench.close()
    results["loads"] = bench.loads
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "unknown"
    text = report(results, args, commit)
    print(text)
    if not args.no_write:
        write_section(REPO / "bench" / "RESULTS.md", text, BEGIN, END)


if __name__ == "__main__":
    main()
