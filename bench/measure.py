#!/usr/bin/python3
"""Runs one benchmark command several times; prints one JSON line of results.

usage: measure.py --program NAME --runner NAME --runs N [--expect HEX] -- COMMAND...

Each run is a fresh child process. Wall time is taken around the child's whole
life (start-up, module load and exit included, as a user would see it). CPU time
(user + system, all threads) is recorded beside it: on a machine shared with
other jobs it is far less disturbed than wall time. Peak memory is the child's
maximum resident set size. Linux carries ru_maxrss across exec(), so a child
forked straight from this Python process would report at least Python's own
~12 MiB; GNU time (/usr/bin/time) is used as a small parent when installed,
which lowers that floor to about 1 MiB. Without it, ru_maxrss from wait4() is
used and the JSON says so.
Every run must exit 0 and print the same "checksum: <hex>" line, equal to
--expect when given (the native build's checksum); anything else is an error
that names the program and the runner.
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

CHECKSUM_LINE = re.compile(rb"^checksum: ([0-9a-f]+)$", re.MULTILINE)


def fail(program, runner, message):
    print(f"measure: {program} under {runner}: {message}", file=sys.stderr)
    sys.exit(1)


GNU_TIME = "/usr/bin/time"


def peak_memory_method():
    return "gnu-time" if os.access(GNU_TIME, os.X_OK) else "wait4-ru_maxrss"


def arm_timeout(child, timeout_s):
    """Kills the child if it outlives timeout_s, so a hung engine stops the
    benchmark with an error instead of blocking it. wait4() is resumed after the
    handler runs (PEP 475) and then reaps the killed child."""
    fired = []

    def on_alarm(_signum, _frame):
        fired.append(True)
        os.killpg(child.pid, signal.SIGKILL)   # GNU time and the program under it

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(timeout_s)
    return lambda: bool(fired)


def run_once(command, program, runner, timeout_s):
    """Returns (wall seconds, CPU seconds, peak_kib, checksum) for one run."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(mode="r") as time_report:
        wrapped = command
        if peak_memory_method() == "gnu-time":
            wrapped = [GNU_TIME, "-f", "%M", "-o", time_report.name, "--"] + command
        if shutil.which(command[0]) is None:
            fail(program, runner, f"cannot run {command[0]}: no such executable")
        started = time.perf_counter()
        try:
            child = subprocess.Popen(wrapped, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        except OSError as e:
            fail(program, runner, f"cannot start {wrapped[0]}: {e.strerror}")
        timed_out = arm_timeout(child, timeout_s)
        try:
            _, status, usage = os.wait4(child.pid, 0)
        except KeyboardInterrupt:   # the child is in its own session: stop it too
            os.killpg(child.pid, signal.SIGKILL)
            raise
        seconds = time.perf_counter() - started
        signal.alarm(0)
        if timed_out():
            fail(program, runner, f"still running after {timeout_s} s; killed")
        child.returncode = os.waitstatus_to_exitcode(status)  # already reaped
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
        peak_kib, report = usage.ru_maxrss, ""
        if wrapped is not command:
            report = time_report.read()
            peak_kib = parse_gnu_time_report(report, program, runner, peak_kib)

    if child.returncode != 0:
        # Under GNU time a signal shows as its report line and exit status 128+N.
        signalled = re.search(r"Command terminated by signal (\d+)", report)
        if child.returncode < 0:
            how = f"killed by signal {-child.returncode}"
        elif signalled:
            how = f"killed by signal {signalled.group(1)}"
        else:
            how = f"exit status {child.returncode}"
        tail = stderr.decode(errors="replace").strip().splitlines()[-5:]
        fail(program, runner, f"failed ({how}): {' | '.join(tail) or 'no error output'}")
    found = CHECKSUM_LINE.findall(stdout)
    if len(found) != 1:
        fail(program, runner, f"printed {len(found)} checksum lines, expected exactly one")
    # wait4() counts the child and every descendant it reaped: GNU time's own
    # share is a millisecond or so.
    cpu_seconds = usage.ru_utime + usage.ru_stime
    return seconds, cpu_seconds, peak_kib, found[0].decode()


def parse_gnu_time_report(report, program, runner, fallback_kib):
    """GNU time writes "%M" as the last line; when the child died by a signal
    it writes a "Command terminated" line first. Returns KiB."""
    lines = report.strip().splitlines()
    if lines and lines[-1].isdigit():
        return int(lines[-1])
    print(f"measure: {program} under {runner}: no peak memory from GNU time, using ru_maxrss",
          file=sys.stderr)
    return fallback_kib


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--program", required=True)
    parser.add_argument("--runner", required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--expect", help="the checksum every run must print")
    parser.add_argument("--timeout", type=int, default=600, help="seconds one run may take")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command or args.runs < 1 or args.timeout < 1:
        parser.error("need a command after -- , --runs >= 1 and --timeout >= 1")

    times, cpu_times, peaks, loads, checksum = [], [], [], [], args.expect
    for _ in range(args.runs):
        loads.append(os.getloadavg()[0])
        seconds, cpu_seconds, peak_kib, printed = run_once(command, args.program, args.runner,
                                                           args.timeout)
        if checksum is not None and printed != checksum:
            fail(args.program, args.runner,
                 f"checksum mismatch: printed {printed}, expected {checksum}"
                 + (" (the native build's)" if args.expect else " (its own earlier run)"))
        checksum = printed
        times.append(seconds)
        cpu_times.append(cpu_seconds)
        peaks.append(peak_kib)

    print(json.dumps({
        "program": args.program,
        "runner": args.runner,
        "command": command,
        "median_s": statistics.median(times),
        "times_s": times,
        "cpu_s": cpu_times,
        "peak_kib": max(peaks),
        "peak_method": peak_memory_method(),
        "load1": loads,
        "checksum": checksum,
    }))


if __name__ == "__main__":
    main()
