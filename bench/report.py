#!/usr/bin/python3
"""Writes bench/RESULTS.md from the JSON lines bench/measure.py printed.

Called by bench/run.sh; everything in the report is derived from the measured
runs and this machine, so the file is regenerated, never edited by hand.
"""
import argparse
import datetime
import json
import math
import os
import re
import statistics
import subprocess
import sys

KERNELS = ["fib", "sieve", "matmul", "sha256", "nbody"]
PROGRAMS = KERNELS + ["mixed"]
RUNNERS = ["native", "liquid", "node"]

WHAT_IT_STRESSES = {
    "fib": "calls and returns (recursive, 40)",
    "sieve": "byte loads/stores in strided loops",
    "matmul": "f64 multiply-add, loads/stores (600x600, twice)",
    "sha256": "32-bit rotates, xors, adds (48 MiB)",
    "nbody": "f64 arithmetic, sqrt, struct fields",
    "mixed": "CoreMark-like: list sort, int16 matrices, state machine, CRC",
}

# /work/shared/reference/wasm-engines.md §6: a 2-vCPU AMD EPYC KVM guest pinned to
# one CPU, 7 runs, medians, wall time as a multiple of native gcc -O2.
REFERENCE = {
    "wasm3": {"kernels": 13.9, "coremark": 17.5},
    "WAMR fast-interp": {"kernels": 14.1, "coremark": 18.4},
    "node/V8": {"kernels": 2.2, "coremark": 1.41},
}


def first_line(command):
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
        return (done.stdout or done.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "unknown"


def machine_description():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = ""
    try:
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
            memory = f", {kib / 1024 / 1024:.1f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    uname = os.uname()
    return f"{model}, {os.cpu_count()} logical CPUs{memory}, Linux {uname.release} ({uname.machine})"


def liquid_revision(liquid):
    """Which engine was measured: the binary's build time, and the last commit
    that touched the engine (src/wasm) with whether the tree differs from it."""
    engine_commit = first_line(["git", "log", "-1", "--format=%h (%cd)", "--date=format:%Y-%m-%d %H:%M",
                                "--", "src/wasm"])
    dirty = first_line(["git", "status", "--porcelain", "--", "src/wasm"]) not in ("unknown", "")
    try:
        built = datetime.datetime.fromtimestamp(os.path.getmtime(liquid)).strftime("%Y-%m-%d %H:%M")
    except OSError:
        built = "unknown"
    return (f"binary built {built}; last engine commit {engine_commit}"
            + (", with uncommitted changes in src/wasm" if dirty else ", src/wasm unmodified"))


def liquid_build_flags(liquid):
    """The flags the interpreter was compiled with, from the compile database
    of the build tree the binary sits in: a sanitizer or -O0 build would make
    every Liquid figure meaningless, so the report says which it was."""
    database = os.path.join(os.path.dirname(os.path.abspath(liquid)), "compile_commands.json")
    try:
        with open(database) as f:
            entries = json.load(f)
    except (OSError, ValueError):
        return "unknown (no compile_commands.json beside the binary)"
    for entry in entries:
        if entry.get("file", "").endswith("src/wasm/interp.c"):
            words = entry.get("command", "").split()
            compiler = os.path.basename(words[0]) if words else "?"
            flags = [w for w in words if w.startswith(("-O", "-f", "-m", "-g", "-D"))]
            return f"`{compiler} {' '.join(flags)}`"
    return "unknown (src/wasm/interp.c not in the compile database)"


def geomean(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def fmt(value, digits=3, suffix=""):
    return "—" if value is None else f"{value:.{digits}f}{suffix}"


def load_results(path):
    """Merges the records of one program and runner (run.sh writes one per run,
    taking turns between runners) into one: all times, their median, the
    largest peak."""
    results = {}
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            record = json.loads(line)
            key = (record["program"], record["runner"])
            merged = results.setdefault(key, dict(record, times_s=[], cpu_s=[], load1=[], peak_kib=0))
            if record["checksum"] != merged["checksum"]:
                sys.exit(f"report: {key[0]} under {key[1]} printed checksums {merged['checksum']} "
                         f"and {record['checksum']} in different runs")
            merged["times_s"] += record["times_s"]
            merged["cpu_s"] += record.get("cpu_s", [])
            merged["load1"] += record.get("load1", [])
            merged["peak_kib"] = max(merged["peak_kib"], record["peak_kib"])
    for merged in results.values():
        merged["median_s"] = statistics.median(merged["times_s"])
        merged["median_cpu_s"] = statistics.median(merged["cpu_s"]) if merged["cpu_s"] else None
    return results


def check_checksums(results, programs):
    """Every runner must agree with native; measure.py already enforced it per
    run, so a disagreement here means the results file was mixed up."""
    for program in programs:
        native = results.get((program, "native"))
        for runner in RUNNERS[1:]:
            other = results.get((program, runner))
            if native and other and other["checksum"] != native["checksum"]:
                sys.exit(f"report: {program} under {runner} printed checksum {other['checksum']}, "
                         f"native printed {native['checksum']}")


def ratio(results, program, runner, metric="median_s"):
    """runner's median over native's, by wall time or (median_cpu_s) CPU time."""
    native, other = results.get((program, "native")), results.get((program, runner))
    if not native or not other or not native.get(metric) or other.get(metric) is None:
        return None
    return other[metric] / native[metric]


def results_table(results, programs):
    rows = ["| program | stresses | native s | liquid s | node s | liquid/native | node/native "
            "| peak MiB native | liquid | node | checksum |",
            "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|"]
    for program in programs:
        cells = [program, WHAT_IT_STRESSES[program]]
        for runner in RUNNERS:
            record = results.get((program, runner))
            cells.append(fmt(record and record["median_s"]))
        cells.append(fmt(ratio(results, program, "liquid"), 1, "×"))
        cells.append(fmt(ratio(results, program, "node"), 1, "×"))
        for runner in RUNNERS:
            record = results.get((program, runner))
            cells.append(fmt(record and record["peak_kib"] / 1024, 1))
        cells.append(f"`{results[(program, 'native')]['checksum']}`")
        rows.append("| " + " | ".join(cells) + " |")
    if set(programs) == set(PROGRAMS):
        summaries = [("geomean, 5 kernels", KERNELS), ("mixed (CoreMark-like)", ["mixed"]),
                     ("geomean, all 6", PROGRAMS)]
        for label, members in summaries:
            liquid = geomean([ratio(results, p, "liquid") for p in members])
            node = geomean([ratio(results, p, "node") for p in members])
            rows.append(f"| **{label}** | | | | | **{fmt(liquid, 1, '×')}** | **{fmt(node, 1, '×')}** "
                        "| | | | |")
    return "\n".join(rows)


def cpu_table(results, programs):
    rows = ["| program | native CPU s | liquid CPU s | node CPU s | liquid/native | node/native |",
            "|---|--:|--:|--:|--:|--:|"]
    for program in programs:
        cells = [program]
        for runner in RUNNERS:
            record = results.get((program, runner))
            cells.append(fmt(record and record["median_cpu_s"]))
        cells.append(fmt(ratio(results, program, "liquid", "median_cpu_s"), 1, "×"))
        cells.append(fmt(ratio(results, program, "node", "median_cpu_s"), 1, "×"))
        rows.append("| " + " | ".join(cells) + " |")
    if set(programs) == set(PROGRAMS):
        for label, members in [("geomean, 5 kernels", KERNELS), ("geomean, all 6", PROGRAMS)]:
            liquid = geomean([ratio(results, p, "liquid", "median_cpu_s") for p in members])
            node = geomean([ratio(results, p, "node", "median_cpu_s") for p in members])
            rows.append(f"| **{label}** | | | | **{fmt(liquid, 1, '×')}** | **{fmt(node, 1, '×')}** |")
    return "\n".join(rows)


def runs_table(results, programs):
    rows = ["| program | runner | runs, seconds | spread (max/min) | 1-min load at each start |",
            "|---|---|---|--:|---|"]
    for program in programs:
        for runner in RUNNERS:
            record = results.get((program, runner))
            if record:
                times = record["times_s"]
                listed = ", ".join(f"{t:.3f}" for t in times)
                loads = ", ".join(f"{x:.1f}" for x in record["load1"])
                rows.append(f"| {program} | {runner} | {listed} | {max(times) / min(times):.2f} "
                            f"| {loads} |")
    return "\n".join(rows)


def load_summary(results):
    """One sentence on how busy the machine was while measuring."""
    loads = [x for record in results.values() for x in record["load1"]]
    if not loads:
        return "The load during the runs was not recorded."
    low, high = min(loads), max(loads)
    # The benchmark itself keeps one of the two CPUs busy, which counts about 1.
    busy = high > os.cpu_count()
    verdict = ("other jobs competed for the CPUs, so these figures are noisy: re-run when the "
               "machine is quiet" if busy else "the machine was quiet enough")
    return (f"The 1-minute load average at the start of the runs ranged {low:.1f}–{high:.1f} "
            f"(the benchmark itself accounts for about 1 of it): {verdict}.")


def comparison_section(results, programs):
    if set(programs) != set(PROGRAMS):
        return "Only a subset of the programs was run, so no geometric means are compared.\n"
    liquid_kernels = geomean([ratio(results, p, "liquid") for p in KERNELS])
    liquid_mixed = ratio(results, "mixed", "liquid")
    node_kernels = geomean([ratio(results, p, "node") for p in KERNELS])
    node_mixed = ratio(results, "mixed", "node")

    lines = [
        "| × native (wall time) | Liquid (here) | node/V8 (here) | wasm3 (ref.) | WAMR fast-interp (ref.) | node/V8 (ref.) |",
        "|---|--:|--:|--:|--:|--:|",
        f"| geomean of fib, sieve, matmul, sha256, nbody | {fmt(liquid_kernels, 1, '×')} "
        f"| {fmt(node_kernels, 1, '×')} | {REFERENCE['wasm3']['kernels']}× "
        f"| {REFERENCE['WAMR fast-interp']['kernels']}× | {REFERENCE['node/V8']['kernels']}× |",
        f"| mixed here / CoreMark in the reference | {fmt(liquid_mixed, 1, '×')} "
        f"| {fmt(node_mixed, 1, '×')} | {REFERENCE['wasm3']['coremark']}× "
        f"| {REFERENCE['WAMR fast-interp']['coremark']}× | {REFERENCE['node/V8']['coremark']}× |",
        "",
    ]
    if liquid_kernels is None or liquid_mixed is None:
        lines.append("Liquid was not measured in this run, so where it stands is not known from it.")
        return "\n".join(lines) + "\n"

    kernels_vs_wasm3 = liquid_kernels / REFERENCE["wasm3"]["kernels"]
    mixed_vs_wasm3 = liquid_mixed / REFERENCE["wasm3"]["coremark"]
    kernels_vs_wamr = liquid_kernels / REFERENCE["WAMR fast-interp"]["kernels"]
    mixed_vs_wamr = liquid_mixed / REFERENCE["WAMR fast-interp"]["coremark"]

    def verdict(x):
        if x <= 1.0:
            return f"{1 / x:.2f}× as fast as"
        return f"{x:.2f}× the time of"

    lines += [
        "**Where Liquid stands** (goal: at least as fast as wasm3, i.e. a ratio to wasm3 of ≤ 1.0):",
        "",
        f"- Kernels: Liquid is {fmt(liquid_kernels, 1, '×')} native against wasm3's "
        f"{REFERENCE['wasm3']['kernels']}×: {verdict(kernels_vs_wasm3)} wasm3 "
        f"(ratio {kernels_vs_wasm3:.2f}); against WAMR fast-interp, ratio {kernels_vs_wamr:.2f}.",
        f"- Mixed: Liquid is {fmt(liquid_mixed, 1, '×')} native against wasm3's "
        f"{REFERENCE['wasm3']['coremark']}× on CoreMark: {verdict(mixed_vs_wasm3)} wasm3 "
        f"(ratio {mixed_vs_wasm3:.2f}); against WAMR fast-interp, ratio {mixed_vs_wamr:.2f}.",
        f"- Goal met: {'yes' if kernels_vs_wasm3 <= 1.0 and mixed_vs_wasm3 <= 1.0 else 'not yet'}.",
    ]
    cpu_kernels = geomean([ratio(results, p, "liquid", "median_cpu_s") for p in KERNELS])
    cpu_mixed = ratio(results, "mixed", "liquid", "median_cpu_s")
    if cpu_kernels is not None and cpu_mixed is not None:
        lines += [
            f"- By CPU time instead of wall time: kernels {cpu_kernels:.1f}× native (ratio to wasm3 "
            f"{cpu_kernels / REFERENCE['wasm3']['kernels']:.2f}), mixed {cpu_mixed:.1f}× (ratio "
            f"{cpu_mixed / REFERENCE['wasm3']['coremark']:.2f}). Where the two disagree by much, "
            "the wall times were disturbed by other jobs.",
        ]
    return "\n".join(lines) + "\n"


def slowest_section(results, programs):
    ranked = [(ratio(results, p, "liquid"), p) for p in programs]
    ranked = sorted([r for r in ranked if r[0] is not None], reverse=True)
    if not ranked:
        return "Liquid was not measured in this run.\n"
    lines = ["Programs by Liquid's ratio to native, worst first (the worst is where the "
             "interpreter loses most):", ""]
    for value, program in ranked:
        node_ratio = ratio(results, program, "node")
        lines.append(f"- **{program}** {value:.1f}× native ({WHAT_IT_STRESSES[program]}); "
                     f"node {fmt(node_ratio, 1, '×')}")
    liquid_floor = min((results[(p, "liquid")]["peak_kib"] for p in programs
                        if (p, "liquid") in results), default=None)
    if liquid_floor is not None:
        lines += ["", f"Smallest Liquid peak RSS over these programs: {liquid_floor / 1024:.1f} MiB "
                      "(reference floors: wasm3 ~2 MiB, WAMR ~10 MiB, node ~47 MiB)."]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for option in ["--results", "--output", "--pin", "--liquid", "--native-cc", "--wasm-cc",
                   "--load-before", "--load-after", "--invocation"]:
        parser.add_argument(option, required=True)
    parser.add_argument("--runs", type=int, required=True)
    args = parser.parse_args()

    results = load_results(args.results)
    programs = [p for p in PROGRAMS if (p, "native") in results]
    if not programs:
        sys.exit(f"report: no native results in {args.results}")
    check_checksums(results, programs)

    pin = "" if args.pin == "none" else args.pin + " "
    peak_method = next(iter(results.values())).get("peak_method", "gnu-time")
    peak_how = ("GNU time's %M (maximum resident set size) of the child, largest over the runs"
                if peak_method == "gnu-time" else
                "ru_maxrss from wait4(), largest over the runs (includes ~12 MiB of the Python parent)")
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    text = f"""# Benchmark results

Written by `{args.invocation}` on {now}.
Generated: re-run the script rather than editing this file.

## Machine and method

- Machine: {machine_description()}.
- Load average (1, 5, 15 min) before the runs: {args.load_before}; after: {args.load_after}.
  The machine is shared with other jobs (compiles, tests). {load_summary(results)}
  Runners take turns (native, liquid, node, then again), so a burst of load slows
  all three alike rather than one runner's ratio. The last table shows every run.
- Pinning: {args.pin if args.pin != "none" else "none (taskset unavailable)"}.
- Runs: {args.runs} per program and runner; the median wall time is reported, from
  process start to exit (start-up, module decoding and compilation included, as a
  user of `liquid run` sees it).
- Peak memory: {peak_how}.
- Compilers and runtimes: {first_line(["gcc", "--version"])}; {first_line(["clang-14", "--version"])};
  Node {first_line(["/usr/bin/node", "--version"])} (V8 {first_line(["/usr/bin/node", "-p", "process.versions.v8"])});
  Liquid `{args.liquid}` ({liquid_revision(args.liquid)}), interpreter
  compiled with {liquid_build_flags(args.liquid)}.
- Commands, for each NAME in {", ".join(programs)}:

```sh
{args.native_cc} -o bench/out/native/NAME bench/programs/NAME.c -lm
{args.wasm_cc} -o bench/out/wasm/NAME.wasm bench/programs/NAME.c -lm
{pin}bench/out/native/NAME
{pin}{args.liquid} run bench/out/wasm/NAME.wasm
{pin}/usr/bin/node --no-warnings bench/node_wasi.mjs bench/out/wasm/NAME.wasm
```

Every run of every runner printed the native build's checksum (shown below);
the script stops at the first run that does not.

## Results (median seconds, ratio to native, peak MiB)

{results_table(results, programs)}

### The same by CPU time (user + system)

Wall time above is what the brief and the reference figures use. CPU time is
shown too because it is far less disturbed by other jobs: a run that waited for
the CPU has a longer wall time but the same CPU time. Node's CPU time includes
V8's compiler and GC threads (all pinned to the same CPU), so it can exceed its
wall time.

{cpu_table(results, programs)}

## Against wasm3 and WAMR

wasm3 and WAMR are not packaged in Debian, so they were not run here. The
comparison is by ratio to native gcc -O2 on the same kind of machine: the
reference figures (`/work/shared/reference/wasm-engines.md` §6) were measured on a
2-vCPU AMD EPYC KVM guest pinned to one CPU, medians of 7 runs, with *their* fib,
sieve, matmul, sha256 and nbody and with EEMBC CoreMark; ours are our own programs
of the same names and a CoreMark-like `mixed`. A ratio to native cancels most of
the difference between machines, but not the difference between programs: each
program's ratio depends on its instruction mix (for example how often it calls,
or whether gcc vectorizes it natively, as it does matmul), so treat a difference
of less than about 20% as a tie. Node's ratio, measured both here and there, is a
check on how far apart the two sets of programs are.

{comparison_section(results, programs)}
## Where the interpreter is slow

{slowest_section(results, programs)}
## Every run

{runs_table(results, programs)}
"""
    text += kept_sections(args.output)
    with open(args.output, "w") as f:
        f.write(text)


def kept_sections(path):
    """The other benchmarks' sections of an existing RESULTS.md (bench/supervisor and
    bench/orchestrator write theirs between <!-- NAME:begin --> and <!-- NAME:end -->
    markers), so that re-running the engine benchmark does not erase them."""
    try:
        with open(path) as f:
            old = f.read()
    except FileNotFoundError:
        return ""
    blocks = re.findall(r"<!-- ([a-z]+):begin -->.*?<!-- \1:end -->", old, re.S)
    kept = []
    for name in dict.fromkeys(blocks):
        match = re.search(r"<!-- %s:begin -->.*?<!-- %s:end -->" % (name, name), old, re.S)
        kept.append("\n" + match.group(0) + "\n")
    return "".join(kept)


if __name__ == "__main__":
    main()
