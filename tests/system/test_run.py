"""`liquid run` as a user drives it: WASI programs built by clang-14 and wasi-libc
(examples/*.c) and hand-written modules (tests/wat/wasi_*.wat), checked by their
output, the files they leave, and the exit status."""
import os
import re
import time

import pytest

TRAP_LINE = re.compile(r"^liquid: trap: (.+) \(function (\d+), offset 0x([0-9a-f]+)\)$", re.M)


# ----------------------------------------------------------------- WASI programs

def test_hello_sees_args_env_and_its_directory(liquid, example, tmp_path):
    (tmp_path / "welcome.txt").write_text("hi\n")
    (tmp_path / "nested").mkdir()
    r = liquid("run", "--dir", f"{tmp_path}::/data", "--env", "GREETING=howdy",
               example("hello"), "world", "second arg")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "howdy, world! (from WebAssembly)" in out
    assert "argc = 3" in out
    assert f"argv[0] = {example('hello')}" in out
    assert "argv[1] = world" in out
    assert "argv[2] = second arg" in out
    assert "GREETING = howdy" in out
    assert "  welcome.txt\n" in out and "  nested/\n" in out
    report = (tmp_path / "report.txt").read_text()
    assert "2 argument(s) world second arg" in report
    assert "found 2 file(s) in /data" in report


def test_hello_without_env_or_dir(liquid, example):
    r = liquid("run", example("hello"))
    assert "GREETING = (unset)" in r.stdout
    assert r.returncode == 1      # it could not list /data: nothing was preopened
    assert "/data" in r.stderr


def test_files_reads_writes_and_exits_with_line_count(liquid, example, tmp_path):
    (tmp_path / "in.txt").write_text("one two\nthree\nfour five six\n")
    r = liquid("run", "--dir", f"{tmp_path}::/work", example("files"),
               "/work/in.txt", "/work/out.txt")
    assert r.returncode == 3, r.stderr
    assert r.stdout == "lines: 3\nwords: 6\nbytes: 28\n"
    assert (tmp_path / "out.txt").read_text() == \
        "ONE TWO\nTHREE\nFOUR FIVE SIX\n-- 3 lines, 6 words, 28 bytes\n"


def test_files_status_follows_the_input(liquid, example, tmp_path):
    (tmp_path / "in.txt").write_text("".join(f"line {i}\n" for i in range(7)))
    r = liquid("run", "--dir", str(tmp_path), example("files"),
               f"{tmp_path}/in.txt", f"{tmp_path}/out.txt")
    assert r.returncode == 7, r.stderr
    assert (tmp_path / "out.txt").read_text().endswith("-- 7 lines, 14 words, 49 bytes\n")


def test_files_missing_input(liquid, example, tmp_path):
    r = liquid("run", "--dir", f"{tmp_path}::/work", example("files"),
               "/work/absent.txt", "/work/out.txt")
    assert r.returncode == 100
    assert "cannot read /work/absent.txt: No such file or directory" in r.stderr
    assert not (tmp_path / "out.txt").exists()


# ------------------------------------------------------------------ the sandbox

def make_sandbox(base):
    box = base / "box"
    box.mkdir()
    (base / "outside").write_text("secret")
    (box / "inside.txt").write_text("inside")
    (box / "sub").mkdir()
    os.symlink("../outside", box / "link-out")
    os.symlink(str(base / "outside"), box / "link-abs")
    os.symlink("..", box / "link-dir")
    os.symlink("link-out", box / "link-nested")
    return box


def test_escape_attempts_fail_with_wasi_errors(liquid, example, tmp_path):
    box = make_sandbox(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    r = liquid("run", "--dir", f"{box}::/box", example("escape"))
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "inside.txt: readable"
    refused = [line for line in lines if line.startswith("refused: ")]
    assert len(refused) == 16
    assert not [line for line in lines if line.startswith("ESCAPED")]
    # Every attempt made through WASI directly is refused as not capable.
    for line in refused[:-1]:
        assert line.endswith("errno 76 (ENOTCAPABLE)"), line
    assert lines[-1] == "0 escape(s)"
    # Nothing outside was read into the box, created, moved or changed.
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert (tmp_path / "outside").read_text() == "secret"
    assert (box / "inside.txt").read_text() == "inside"
    assert not (box / "hardlink").exists() and not (box / "abs-made").exists()


def test_escape_program_notices_success(liquid, example, tmp_path):
    # The refusals above only mean something if the program can tell success
    # from failure: with link-out pointing inside, opening it must count.
    box = tmp_path / "box"
    box.mkdir()
    (box / "inside.txt").write_text("inside")
    os.symlink("inside.txt", box / "link-out")
    r = liquid("run", "--dir", f"{box}::/box", example("escape"))
    assert r.returncode == 1
    assert "ESCAPED: open link-out (-> ../outside) succeeded" in r.stdout


# ------------------------------------------------------------- errors and exits

def test_trap_message_and_status(liquid, wat):
    r = liquid("run", wat("wasi_trap"))
    assert r.returncode == 134
    assert r.stdout == "before the trap\n"
    m = TRAP_LINE.search(r.stderr)
    assert m, r.stderr
    assert "divide by zero" in m.group(1)
    assert int(m.group(2)) == 1           # $divide: after the one import
    assert int(m.group(3), 16) > 0


@pytest.mark.parametrize("args, message", [
    ([], "missing FILE.wasm"),
    (["--frobnicate", "x.wasm"], "unknown option '--frobnicate'"),
    (["--fuel", "lots", "x.wasm"], "'lots' is not a non-negative whole number"),
    (["--fuel"], "option '--fuel' needs a value"),
    (["--max-memory", "100", "x.wasm"], "--max-memory must be at least 65536"),
    (["--env", "NOEQUALS", "x.wasm"], "--env needs KEY=VALUE"),
    (["--suspend-after", "10", "x.wasm"], "--suspend-after needs --snapshot PATH"),
])
def test_usage_errors_exit_2(liquid, args, message):
    r = liquid("run", *args)
    assert r.returncode == 2
    assert message in r.stderr


def test_help_documents_every_option(liquid):
    r = liquid("run", "--help")
    assert r.returncode == 0
    for option in ["--invoke FUNC", "--dir HOST::GUEST", "--env KEY=VALUE", "--fuel N",
                   "--max-memory BYTES", "--timeout MS", "--suspend-after MS",
                   "--snapshot PATH", "--restore PATH", "exit status"]:
        assert option in r.stdout


def test_missing_file(liquid, tmp_path):
    r = liquid("run", tmp_path / "nope.wasm")
    assert r.returncode == 1
    assert f"cannot open module '{tmp_path / 'nope.wasm'}': No such file or directory" in r.stderr


def test_non_wasm_file(liquid, tmp_path):
    path = tmp_path / "notes.wasm"
    path.write_text("these are not the bytes you are looking for\n")
    r = liquid("run", path)
    assert r.returncode == 1
    assert "malformed module" in r.stderr
    assert "magic" in r.stderr.lower()
    assert "offset 0x0" in r.stderr


def test_truncated_module(liquid, example, tmp_path):
    data = example("hello").read_bytes()
    path = tmp_path / "cut.wasm"
    path.write_bytes(data[: len(data) // 2])
    r = liquid("run", path)
    assert r.returncode == 1
    assert "malformed module" in r.stderr
    m = re.search(r"at byte offset 0x([0-9a-f]+)", r.stderr)
    assert m, r.stderr
    assert int(m.group(1), 16) <= len(data) // 2


def test_missing_function_export(liquid, example):
    r = liquid("run", example("counter"))       # a reactor has no _start
    assert r.returncode == 1
    assert "no exported function '_start'" in r.stderr
    assert "increment" in r.stderr              # it lists what there is


# ------------------------------------------------------------------ --invoke

@pytest.mark.parametrize("func, args, expected", [
    ("add_i32", ["2", "3"], ["5"]),
    ("add_i32", ["0x7fffffff", "1"], ["-2147483648"]),
    ("add_i32", ["-5", "0xffffffff"], ["-6"]),
    ("add_i64", ["9007199254740993", "1"], ["9007199254740994"]),
    ("add_i64", ["-0x10", "1"], ["-15"]),
    ("mul_f32", ["1.5", "0.1"], ["0.150000006"]),
    ("div_f64", ["1", "3"], ["0.33333333333333331"]),
    ("div_f64", ["1", "0"], ["inf"]),
    ("div_f64", ["-1", "0"], ["-inf"]),
    ("div_f64", ["inf", "2"], ["inf"]),
    ("swap", ["1", "2", "3.5", "4.25"], ["4.25", "3.5", "2", "1"]),
    ("nothing", [], []),
])
def test_invoke_with_typed_arguments(liquid, wat, func, args, expected):
    r = liquid("run", "--invoke", func, wat("wasi_types"), *args)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == expected


def test_invoke_prints_nan(liquid, wat):
    # 0/0 is a NaN whose sign the spec leaves open; its payload is the canonical one.
    r = liquid("run", "--invoke", "div_f64", wat("wasi_types"), "0", "0")
    assert r.returncode == 0, r.stderr
    assert r.stdout in ("nan\n", "-nan\n")
    r = liquid("run", "--invoke", "mul_f32", wat("wasi_types"), "nan", "1")
    assert r.stdout in ("nan\n", "-nan\n")


def test_invoke_results_read_back_exactly(liquid, wat):
    # What --invoke prints is a valid argument giving the same bits back.
    first = liquid("run", "--invoke", "div_f64", wat("wasi_types"), "2", "3").stdout.strip()
    again = liquid("run", "--invoke", "div_f64", wat("wasi_types"), first, "1").stdout.strip()
    assert again == first


@pytest.mark.parametrize("args, message", [
    (["1"], "add_i32 takes 2 arguments (i32 i32), 1 given"),
    (["1", "x"], "argument 2 of add_i32, 'x', is not a valid i32"),
    (["1", "4294967296"], "is not a valid i32"),
    (["1.5", "1"], "is not a valid i32"),
])
def test_invoke_bad_arguments(liquid, wat, args, message):
    r = liquid("run", "--invoke", "add_i32", wat("wasi_types"), *args)
    assert r.returncode == 2
    assert message in r.stderr


def test_invoke_unknown_export(liquid, wat):
    r = liquid("run", "--invoke", "missing", wat("wasi_types"))
    assert r.returncode == 2
    assert "no exported function 'missing'" in r.stderr
    assert "add_i32" in r.stderr


def test_invoke_reactor_runs_initialize_first(liquid, example):
    r = liquid("run", "--invoke", "add", example("counter"), "5")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "5\n"
    # _initialize ran its constructor: the history buffer exists and records.
    r = liquid("run", "--invoke", "changes", example("counter"))
    assert r.stdout == "0\n"


def test_invoke_on_a_command_export(liquid, example):
    a = liquid("run", "--invoke", "run", example("compute"), "1000")
    b = liquid("run", "--invoke", "run", example("compute"), "1000")
    c = liquid("run", "--invoke", "run", example("compute"), "1001")
    assert a.returncode == 0, a.stderr
    assert a.stdout == b.stdout != c.stdout
    # The command form prints the same checksum, unsigned.
    d = liquid("run", example("compute"), "1000")
    assert d.returncode == 0
    assert int(d.stdout) == int(a.stdout) % 2**64


# -------------------------------------------------------------------- limits

def test_fuel_limit(liquid, wat):
    r = liquid("run", "--fuel", "100000", wat("wasi_spin"), timeout=60)
    assert r.returncode == 134
    assert TRAP_LINE.search(r.stderr), r.stderr
    assert "fuel" in r.stderr
    # Enough fuel lets a bounded call finish.
    r = liquid("run", "--fuel", "10000000", "--invoke", "count", wat("wasi_spin"), "1000")
    assert r.returncode == 0 and r.stdout == "1000\n"


def test_timeout_limit(liquid, wat):
    start = time.monotonic()
    r = liquid("run", "--timeout", "300", wat("wasi_spin"), timeout=60)
    elapsed = time.monotonic() - start
    assert r.returncode == 134
    assert "deadline" in r.stderr or "timeout" in r.stderr, r.stderr
    assert TRAP_LINE.search(r.stderr), r.stderr
    assert 0.25 < elapsed < 20


def test_max_memory_limit(liquid, wat):
    r = liquid("run", "--max-memory", str(4 * 65536), wat("wasi_grow"))
    assert r.returncode == 134
    assert "memory" in r.stderr
    assert TRAP_LINE.search(r.stderr), r.stderr
    # Room for all 64 pages: the program finishes.
    r = liquid("run", "--max-memory", str(64 * 65536), wat("wasi_grow"))
    assert r.returncode == 0, r.stderr


# ------------------------------------------------------------------ snapshots

def calibrate_iterations(liquid, example, seconds):
    """Iterations of compute's run() that take about `seconds` on this machine."""
    n = 200000
    while True:
        start = time.monotonic()
        r = liquid("run", "--invoke", "run", example("compute"), str(n))
        took = time.monotonic() - start
        assert r.returncode == 0, r.stderr
        if took > 0.3 or n > 10**10:
            return int(n * seconds / took)
        n *= 8


def test_snapshot_resumes_in_another_process(liquid, example, tmp_path):
    n = calibrate_iterations(liquid, example, 2.0)
    start = time.monotonic()
    whole = liquid("run", "--invoke", "run", example("compute"), str(n))
    whole_time = time.monotonic() - start
    assert whole.returncode == 0, whole.stderr

    snapshot = tmp_path / "compute.snap"
    suspend_ms = max(100, int(whole_time * 1000 * 0.25))
    first = liquid("run", "--suspend-after", str(suspend_ms), "--snapshot", snapshot,
                   "--invoke", "run", example("compute"), str(n))
    assert first.returncode == 75, first.stderr
    assert first.stdout == ""
    assert f"suspended: snapshot written to {snapshot}" in first.stderr
    assert snapshot.stat().st_size > 0
    assert not list(tmp_path.glob("*.tmp.*"))     # written atomically, nothing left over

    second = liquid("run", "--restore", snapshot, "--invoke", "run", example("compute"), str(n))
    assert second.returncode == 0, second.stderr
    assert second.stdout == whole.stdout


def test_snapshot_of_a_command_keeps_its_exit_and_output(liquid, example, tmp_path):
    n = calibrate_iterations(liquid, example, 2.0)
    whole = liquid("run", example("compute"), str(n))
    assert whole.returncode == 0
    snapshot = tmp_path / "cmd.snap"
    first = liquid("run", "--suspend-after", "200", "--snapshot", snapshot,
                   example("compute"), str(n))
    assert first.returncode == 75, first.stderr
    second = liquid("run", "--restore", snapshot, example("compute"), str(n))
    assert second.returncode == 0, second.stderr
    assert second.stdout == whole.stdout


def test_a_call_that_finishes_first_is_a_normal_run(liquid, example, tmp_path):
    snapshot = tmp_path / "never.snap"
    r = liquid("run", "--suspend-after", "60000", "--snapshot", snapshot,
               "--invoke", "run", example("compute"), "1000")
    assert r.returncode == 0, r.stderr
    assert r.stdout == liquid("run", "--invoke", "run", example("compute"), "1000").stdout
    assert not snapshot.exists()


def test_reactor_state_moves_through_a_snapshot(liquid, example, tmp_path):
    # The counter's state (linear memory, globals, its heap) saved after one call
    # and restored in another process carries on from where it was.
    first = tmp_path / "one.snap"
    r = liquid("run", "--snapshot", first, "--invoke", "add", example("counter"), "5")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "5\n"
    assert f"snapshot written to {first}" in r.stderr
    second = tmp_path / "two.snap"
    r = liquid("run", "--restore", first, "--snapshot", second, "--invoke", "increment",
               example("counter"))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "6\n"
    r = liquid("run", "--restore", second, "--invoke", "changes", example("counter"))
    assert r.stdout == "2\n"
    r = liquid("run", "--restore", second, "--invoke", "value_after", example("counter"), "0")
    assert r.stdout == "5\n"
    # A fresh instance knows nothing of it.
    r = liquid("run", "--invoke", "get", example("counter"))
    assert r.stdout == "0\n"


def test_snapshot_refused_by_another_module(liquid, example, tmp_path):
    n = calibrate_iterations(liquid, example, 2.0)
    snapshot = tmp_path / "compute.snap"
    first = liquid("run", "--suspend-after", "200", "--snapshot", snapshot,
                   "--invoke", "run", example("compute"), str(n))
    assert first.returncode == 75, first.stderr
    r = liquid("run", "--restore", snapshot, "--invoke", "get", example("counter"))
    assert r.returncode == 1
    assert "cannot restore snapshot" in r.stderr
    truncated = tmp_path / "cut.snap"
    truncated.write_bytes(snapshot.read_bytes()[:40])
    r = liquid("run", "--restore", truncated, "--invoke", "run", example("compute"), str(n))
    assert r.returncode == 1
    assert "cannot restore snapshot" in r.stderr


# ------------------------------------------------------- WASI breadth and linking

def test_libc_file_system_tour(liquid, example, tmp_path):
    r = liquid("run", "--dir", f"{tmp_path}::/t", example("fstour"), "/t")
    failed = [line for line in r.stdout.splitlines() if not line.startswith("ok ")]
    assert r.returncode == 0, "\n".join(failed) + r.stderr
    assert len(r.stdout.splitlines()) == 36
    assert r.stdout.endswith("0 failure(s)\n")
    assert list(tmp_path.iterdir()) == []      # it cleaned up after itself


def test_every_preview1_function_links(liquid, wat):
    # The module checks ENOSYS answers and an EFAULT for a bad pointer, then exits 7.
    r = liquid("run", wat("wasi_imports_all"))
    assert r.returncode == 7, r.stderr


def test_link_error_lists_every_missing_import(liquid, wat):
    r = liquid("run", wat("wasi_missing_imports"))
    assert r.returncode == 1
    assert "link error" in r.stderr
    assert "env.turn_on_the_lights" in r.stderr
    assert "wasi_snapshot_preview1.fd_teleport" in r.stderr
    assert "fd_write" not in r.stderr


def test_snapshot_keeps_the_programs_open_files(liquid, example, tmp_path):
    journal = example("journal")
    # Rounds of work per line so that 40 lines take about two seconds here.
    rounds = 100000
    while True:
        start = time.monotonic()
        probe = tmp_path / "probe"
        probe.mkdir(exist_ok=True)
        r = liquid("run", "--dir", f"{probe}::/box", journal, "/box/j.txt", "4", str(rounds))
        took = time.monotonic() - start
        assert r.returncode == 0, r.stderr
        if took > 0.2 or rounds > 10**9:
            break
        rounds *= 4
    rounds = int(rounds * 0.2 / took)
    args = [journal, "/box/j.txt", "40", str(rounds)]

    whole = tmp_path / "whole"
    whole.mkdir()
    r = liquid("run", "--dir", f"{whole}::/box", *args)
    assert r.returncode == 0 and r.stdout == "wrote 40 lines\n", r.stderr
    expected = (whole / "j.txt").read_text()
    assert len(expected.splitlines()) == 40

    here = tmp_path / "device-a"
    here.mkdir()
    snapshot = tmp_path / "journal.snap"
    r = liquid("run", "--suspend-after", "500", "--snapshot", snapshot,
               "--dir", f"{here}::/box", *args)
    assert r.returncode == 75, r.stderr
    partial = (here / "j.txt").read_text()
    assert 0 < len(partial.splitlines()) < 40
    assert expected.startswith(partial)

    # "Another device": the same guest path, a different host directory.
    there = tmp_path / "device-b"
    there.mkdir()
    (there / "j.txt").write_text(partial)
    r = liquid("run", "--restore", snapshot, "--dir", f"{there}::/box", *args)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "wrote 40 lines\n"
    assert (there / "j.txt").read_text() == expected

    # Without the directory its file was under, the restore is refused, saying why.
    r = liquid("run", "--restore", snapshot, *args)
    assert r.returncode == 1
    assert "/box" in r.stderr
