#!/usr/bin/env python3
"""Benchmarks of moving a function with its state (issue 5), between simulated hosts of
a private network made by ../shared/tools/testnet.sh, written into bench/RESULTS.md
between <!-- migration:begin --> and <!-- migration:end -->.

An orchestrator on h1 and supervisors s1, s2 (and s3 for recovery) on the next hosts,
mDNS off (direct registration), health every second. The module is examples/ballast.c:
ballast(mib, percent) grows its linear memory by mib MiB of written bytes and changes
percent of its 4 KiB chunks; ballast(0, 0) answers at once.

  migration     the ballast filled to 1, 16 and 64 MiB, then moved with POST
                /file/manifest/{id}/migrate, back and forth between s1 and s2: the
                migration's duration and the time the module admitted no call
                (the source's unavailableMs), the client's wall time of the request,
                and, from a client executing ballast(0, 0) through /execute in a loop
                meanwhile, the longest execution and any that failed
  checkpoint    16 MiB filled (the full checkpoint), then 1% of its chunks changed: the
                bytes the supervisor sent and the time from the execution's end to the
                checkpoint.stored event, for both
  recovery      kill -9 of the device running a stateful module (examples/counter.c)
                to the first successful /execute on its replacement, an execution
                tried every 20 ms; and the same with the device's link cut

Every figure is the median of several runs. Usage (see run.sh):
  bench.py --liquid build/liquid --build-dir build [--runs 5] [--no-write]
"""
import argparse
import datetime
import json
import os
import pathlib
import signal
import statistics
import subprocess
import sys
import threading
import time

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "system"))
sys.path.insert(0, str(REPO / "bench"))
from results_section import machine, write_section  # noqa: E402
import testnet  # noqa: E402
from liquid_testnet_util import LiquidNet, step  # noqa: E402

BEGIN, END = "<!-- migration:begin -->", "<!-- migration:end -->"
SIZES_MIB = (1, 16, 64)
CHECKPOINT_MIB = 16
GOALS = {"unavailable_1mib_ms": 100.0, "recovery_s": 3.0}
HEALTH_INTERVAL = "1s"
MiB = 1024 * 1024


def say(*args):
    print(*args, file=sys.stderr, flush=True)


def iso_ms(text):
    """Milliseconds since the epoch of an event's ISO time (2026-11-22T05:56:17.691Z)."""
    t = datetime.datetime.strptime(text.rstrip("Z"), "%Y-%m-%dT%H:%M:%S.%f")
    return t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000


# ----------------------------------------------------- inside the test network

class Prober:
    """Executes ballast(0, 0) through the orchestrator in a loop on its own thread;
    keeps (start, end, ok) of each."""

    def __init__(self, ln, dep):
        self.ln, self.dep = ln, dep
        self.probes = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stopping.is_set():
            t0 = time.monotonic()
            try:
                ok = self.ln.execute(self.dep, {"param0": 0, "param1": 0}, timeout=120).status == 200
            except OSError:
                ok = False
            self.probes.append((t0, time.monotonic(), ok))

    def stop(self):
        self.stopping.set()
        self.thread.join(150)
        return self.probes


def fill(ln, dep, mib, percent=0):
    r = ln.execute(dep, {"param0": mib, "param1": percent}, timeout=300)
    ln.check(r.status == 200, f"ballast({mib}, {percent}) failed: {r}")
    return int(r.json()["result"]["result"])


def migration_runs(ln, mib, runs):
    dep = ln.create(f"ballast-{mib}", step("ballast", "ballast", "s1"))
    ln.deploy(dep)
    size = fill(ln, dep, mib)
    ln.check(size == mib * MiB, f"the ballast is {size} bytes, not {mib} MiB")
    digest = fill(ln, dep, 0, percent=-1)
    out = []
    where = "s1"
    for run in range(runs):
        to = "s2" if where == "s1" else "s1"
        prober = Prober(ln, dep)
        time.sleep(0.3)
        t0 = time.monotonic()
        r = ln.migrate(dep, step=0, device=to)
        t1 = time.monotonic()
        time.sleep(0.3)
        probes = prober.stop()
        ln.check(r.status == 200, f"migration {where} -> {to} of {mib} MiB failed: {r}")
        record = r.json()
        during = [p for p in probes if p[1] >= t0 and p[0] <= t1]
        after = fill(ln, dep, 0)
        ln.check(after == mib * MiB, f"after the move the ballast is {after} bytes")
        out.append({"from": where, "to": to, "wall_ms": (t1 - t0) * 1000,
                    "duration_ms": record.get("durationMs"),
                    "unavailable_ms": record.get("unavailableMs"), "bytes": record.get("bytes"),
                    "probes": len(during), "failed_probes": sum(1 for p in during if not p[2]),
                    "longest_probe_ms": max(((p[1] - p[0]) * 1000 for p in during), default=0)})
        say(f"migration {mib} MiB run {run}: {out[-1]}")
        where = to
    # every byte arrived: the ballast after all the moves is the one filled
    ln.check(fill(ln, dep, 0, percent=-1) == digest, f"{mib} MiB: the moved memory differs")
    ln.orch.delete(f"/file/manifest/{dep}")
    return out


def checkpoint_after(ln, dep, after_seq, timeout=60):
    """The first checkpoint.stored of dep after seq, or None when none arrives."""
    try:
        return ln.wait_event("checkpoint.stored", dep, after=after_seq, timeout=timeout)
    except AssertionError:
        return None


def settle_checkpoints(ln, dep, quiet_s=2.5, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seq = ln.last_event_seq()
        time.sleep(quiet_s)
        if not ln.events("checkpoint.stored", subject=dep, after=seq):
            return
    raise AssertionError("checkpoints never settled")


def checkpoint_runs(ln, runs):
    out = []
    for run in range(runs):
        dep = ln.create(f"checkpoint-{run}", step("ballast", "ballast", "s1"))
        ln.deploy(dep)
        seq = ln.last_event_seq()
        fill(ln, dep, CHECKPOINT_MIB)
        filled = ln.events("execution.finished", after=seq)[-1]
        full = checkpoint_after(ln, dep, filled["seq"])
        if full is None:
            return {"missing": "no checkpoint.stored event within 60 s of filling the ballast"}
        settle_checkpoints(ln, dep)
        seq = ln.last_event_seq()
        fill(ln, dep, 0, percent=1)
        finished = ln.events("execution.finished", after=seq)[-1]
        small = checkpoint_after(ln, dep, finished["seq"])
        if small is None:
            return {"missing": "no checkpoint.stored event within 60 s of changing 1%"}
        out.append({
            "full_bytes": full["data"]["bytes"], "full_size": full["data"]["fullSize"],
            "full_ms": iso_ms(full["time"]) - iso_ms(filled["time"]),
            "bytes": small["data"]["bytes"], "size": small["data"]["fullSize"],
            "ms": iso_ms(small["time"]) - iso_ms(finished["time"])})
        say(f"checkpoint run {run}: {out[-1]}")
        ln.orch.delete(f"/file/manifest/{dep}")
    return {"runs": out}


def recovery_runs(ln, runs, fault="kill"):
    """kill: kill -9 of s1's supervisor (its host answers: connections are refused at
    once); cut: s1's link cut (nothing answers: every probe and call times out)."""
    out = []
    for run in range(runs):
        dep = ln.create(f"recover-{fault}-{run}", step("counter", "increment", "s1", failovers=["s2"]))
        ln.deploy(dep)
        for _ in range(3):
            ln.check(ln.execute(dep).status == 200, "counter before the kill")
        time.sleep(1.5)         # its checkpoint is in (so the replacement restores it)
        seq = ln.last_event_seq()
        t0, killed_at = time.monotonic(), time.time() * 1000
        if fault == "kill":
            ln.signal("s1", signal.SIGKILL)
            ln.wait_exit("s1")
        else:
            ln.cut("s1")
        failed = 0
        while True:
            # with the link cut a call can hang (nothing refuses it): a client that
            # gives up after 0.5 s and tries again, as a user would
            try:
                r = ln.execute(dep, timeout=0.5 if fault == "cut" else 60)
            except OSError as e:
                r = e
            if getattr(r, "status", None) == 200:
                break
            failed += 1
            ln.check(time.monotonic() - t0 < 60, f"no recovery within 60 s: {r}")
            time.sleep(0.02)
        seconds = time.monotonic() - t0
        value = int(r.json()["result"]["result"])
        lost = ln.events("device.lost", subject=ln.ids()["s1"], after=seq)
        moved = ln.events("deployment.failover", subject=dep, after=seq)
        out.append({"s": seconds, "failed_calls": failed, "value": value,
                    "lost_ms": iso_ms(lost[0]["time"]) - killed_at if lost else None,
                    "failover_ms": moved[0]["data"].get("durationMs") if moved else None})
        say(f"recovery ({fault}) run {run}: {out[-1]}")
        ln.orch.delete(f"/file/manifest/{dep}")
        if fault == "kill":
            ln.start("s1")
        else:
            ln.restore("s1")
        ln.wait_active(["s1"])
    return out


def measure(net, liquid, build_dir, runs, sizes):
    ln = LiquidNet(net, liquid, build_dir, supervisors=("s1", "s2"), interval=HEALTH_INTERVAL,
                   orch_args=["--log-level", "warn", "--max-upload", "256M"],
                   sup_args=["--log-level", "warn"])
    ln.add_module("ballast")
    ln.add_module("counter")
    results = {"migration": {}, "loads": []}
    for mib in sizes:
        results["loads"].append(os.getloadavg()[0])
        results["migration"][str(mib)] = migration_runs(ln, mib, runs)
    results["loads"].append(os.getloadavg()[0])
    results["checkpoint"] = checkpoint_runs(ln, runs)
    results["loads"].append(os.getloadavg()[0])
    results["recovery"] = recovery_runs(ln, runs)
    results["loads"].append(os.getloadavg()[0])
    results["recovery_cut"] = recovery_runs(ln, runs, fault="cut")
    return results


# ---------------------------------------------------------------- the report

def commit_of_source():
    """The commit measured, and whether src/ had changes not in it."""
    git = ["git", "-C", str(REPO)]
    commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "unknown"
    dirty = subprocess.run([*git, "status", "--porcelain", "--", "src"], capture_output=True,
                           text=True).stdout.strip()
    return commit + (" with uncommitted changes in src/" if dirty else "")


def median(runs, key):
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else float("nan")


def verdict(ok):
    return "meets the goal" if ok else "**misses the goal**"


def report(results, args, commit):
    loads = results["loads"]
    sizes = sorted(results["migration"], key=int)
    small, big = sizes[0], sizes[-1]
    per_mib = ((median(results["migration"][big], "unavailable_ms") -
                median(results["migration"][small], "unavailable_ms")) /
               max(1, int(big) - int(small))) if big != small else \
        median(results["migration"][small], "unavailable_ms") / int(small)
    quiet = max(loads) < 1.0
    lines = [
        BEGIN,
        "## Moving functions with their state (issue 5)",
        "",
        f"Measured {results['date']} on {results['machine']}, commit {commit}, with "
        f"`bench/migration/run.sh` ({args.runs} runs each, medians). An orchestrator and "
        "two supervisors on three simulated hosts of one bridge (`testnet.sh`: network "
        "namespaces joined by veth links, all on this machine), `--no-mdns --log-level "
        f"warn`, health every {HEALTH_INTERVAL}, the orchestrator with `--max-upload 256M` "
        "(with its default, 64M, the full checkpoint of a module of 64 MiB or more is "
        "refused with 413); the modules are `examples/ballast.c` and `examples/counter.c`.",
        "",
        ("The machine was quiet" if quiet else
         "**The machine was not quiet** (other work was running)") +
        f": load average {', '.join(f'{x:.2f}' for x in loads)} at the start of each part.",
        "",
        "| figure | result | goal | |",
        "|---|---|---|---|",
    ]
    for mib in sorted(results["migration"], key=int):
        runs = results["migration"][mib]
        unavailable = median(runs, "unavailable_ms")
        goal, ok = ("< 100 ms", verdict(unavailable < GOALS["unavailable_1mib_ms"])) \
            if mib == "1" else ("", "")
        lines.append(f"| planned migration, {mib} MiB of linear memory: unavailable (the "
                     f"module admitted no call) | {unavailable:.1f} ms | {goal} | {ok} |")
        lines.append(f"| the same: migration from request to placement stored (client's "
                     f"wall time) | {median(runs, 'duration_ms'):.0f} ms "
                     f"({median(runs, 'wall_ms'):.0f} ms); {median(runs, 'bytes') / MiB:.1f} "
                     f"MiB sent | | |")
        lines.append(f"| the same: longest `/execute` of the module meanwhile | "
                     f"{median(runs, 'longest_probe_ms'):.0f} ms, "
                     f"{sum(r['failed_probes'] for r in runs)} of "
                     f"{sum(r['probes'] for r in runs)} failed | | |")
    cp = results["checkpoint"]
    if "missing" in cp:
        lines.append(f"| checkpoint after 1% of {CHECKPOINT_MIB} MiB changed | not measured: "
                     f"{cp['missing']} | proportional to what changed | |")
    else:
        runs = cp["runs"]
        sent, size = median(runs, "bytes"), median(runs, "size")
        proportional = sent <= 0.02 * size + 64 * 1024
        lines.append(f"| checkpoint after 1% of {CHECKPOINT_MIB} MiB changed: sent, time to "
                     f"stored | {sent / 1024:.0f} KiB of {size / MiB:.1f} MiB "
                     f"({100 * sent / size:.1f}%), {median(runs, 'ms'):.0f} ms | "
                     f"proportional to what changed | {verdict(proportional)} |")
        lines.append(f"| the full checkpoint before it (the ballast just filled) | "
                     f"{median(runs, 'full_bytes') / MiB:.1f} MiB, {median(runs, 'full_ms'):.0f}"
                     f" ms | | |")
    rec, cut = results["recovery"], results["recovery_cut"]
    seconds = median(rec, "s")
    lines.append(f"| `kill -9` of a device to the first successful execution on its "
                 f"replacement (health interval {HEALTH_INTERVAL}) | {seconds:.2f} s | < 3 s | "
                 f"{verdict(seconds < GOALS['recovery_s'])} |")
    lines.append(f"| the same when the device's link is cut instead (nothing answers) | "
                 f"{median(cut, 's'):.2f} s | | |")
    lines += [
        "",
        "Notes:",
        "- Migration: the ballast filled once through `/execute` on s1, then moved s1 -> s2 "
        "-> s1 ... by `POST /file/manifest/{id}/migrate` naming the device (the ballast's "
        "digest after the last move equals the one before the first). *Unavailable* "
        "is the source supervisor's own measure (`unavailableMs` of the migration record: "
        "from when it stopped admitting calls to the module until the target had restored "
        "it); *migration* is the record's `durationMs` (target's node, transfer, placement "
        "stored, routes pushed, source dropped). A client executed ballast(0, 0) through "
        "the orchestrator in a loop meanwhile; its longest execution overlapping the "
        "migration is shown. The whole state moves while the module admits no call (no "
        "copy ahead of the pause), so unavailability grows with memory, about "
        f"{per_mib:.0f} ms per MiB here; the target writes and syncs each part to disk "
        "before restoring. Runs (unavailable ms): " +
        "; ".join(f"{mib} MiB " + ", ".join(f"{r['unavailable_ms']:.1f}" for r in runs)
                  for mib, runs in sorted(results["migration"].items(), key=lambda x: int(x[0]))) + ".",
    ]
    if "runs" in cp:
        lines.append(
            f"- Checkpoint: a fresh deployment per run, the ballast filled to {CHECKPOINT_MIB} "
            "MiB (the first checkpoint holds it all), the checkpoints left to settle, then "
            "ballast(0, 1) changes one word in every 100th 4 KiB chunk. *Sent* is the body "
            "of `PUT /liquid/checkpoints` (the changed chunks and the rest of the state); "
            "*time* runs from the execution's end to the orchestrator's `checkpoint.stored` "
            "event (the supervisor's comparison with the last checkpoint, the upload, the "
            "orchestrator applying it to its base and storing the full bundle). Runs: " +
            ", ".join(f"{r['bytes'] / 1024:.0f} KiB {r['ms']:.0f} ms" for r in cp["runs"]) +
            "." + (" What is sent is proportional to what changed; the time is not: it is "
                   "close to the full checkpoint's, since the supervisor still reads and "
                   "hashes the whole memory to find the changed chunks, and the "
                   "orchestrator rebuilds, hashes and stores the full bundle."
                   if median(cp["runs"], "ms") > 0.5 * median(cp["runs"], "full_ms") else ""))
    lines += [
        "- Recovery: the counter on s1 (failovers: s2) incremented three times and left "
        "1.5 s to checkpoint, s1 killed with SIGKILL, then an execution tried every 20 ms; "
        "s1 started again between runs. The first execution after the kill cannot reach "
        "s1: the orchestrator reports it to the fleet (a peer's failure counts as a failed "
        "health check, so s1 is lost before two intervals have passed), waits for failover "
        "and runs the execution again on s2 from its stored input, where the counter goes "
        "on from its checkpoint (4 after three increments). From the kill, s1 was lost "
        f"after {median(rec, 'lost_ms'):.0f} ms and failover (node, checkpoint, routes) "
        f"took {median(rec, 'failover_ms'):.0f} ms (medians). Runs: " +
        ", ".join(f"{r['s']:.2f} s (counter {r['value']})" for r in rec) + ". With the "
        "link cut instead, nothing refuses a connection: an execution waits (the client "
        "gives up after 0.5 s and tries again), the health checks time out, s1 is "
        f"lost after {median(cut, 'lost_ms'):.0f} ms, failover took "
        f"{median(cut, 'failover_ms'):.0f} ms; runs: " +
        ", ".join(f"{r['s']:.2f} s (counter {r['value']})" for r in cut) + ".",
        "",
        "Command: `bench/migration/run.sh` (`LIQUID=... BUILD=...` choose the binary and "
        "build directory; it needs testnet.sh, so root or `unshare -r`).",
        END,
    ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--liquid", default=str(REPO / "build" / "liquid"))
    parser.add_argument("--build-dir", default=str(REPO / "build"))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES_MIB)),
                        help="MiB of linear memory to move, comma-separated")
    parser.add_argument("--no-write", action="store_true", help="print, do not touch RESULTS.md")
    parser.add_argument("--results", help="write the report from this file of measured "
                        "results (the JSON line a run prints last) instead of measuring")
    args = parser.parse_args()
    if args.results:
        results = json.loads(pathlib.Path(args.results).read_text())
        args.runs = len(results["recovery"])
    else:
        reason = testnet.unavailable_reason()
        if reason:
            sys.exit(f"bench/migration needs a private test network: {reason}")
        started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        results = testnet.run(measure, hosts=3, timeout=3600, liquid=str(args.liquid),
                              build_dir=str(args.build_dir), runs=args.runs,
                              sizes=[int(s) for s in args.sizes.split(",")])
        results.update(date=started, machine=machine(), commit=commit_of_source())
        say(json.dumps(results))
    text = report(results, args, results["commit"])
    print(text)
    if not args.no_write:
        write_section(REPO / "bench" / "RESULTS.md", text, BEGIN, END)


if __name__ == "__main__":
    main()
