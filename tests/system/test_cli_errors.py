"""What the `liquid` client verbs say when something is wrong: the orchestrator is not
running, it refuses the request (4xx), or the command line is wrong. Each is one
message on stderr saying what to do, and an exit status a script can test: 1 for a
failed request, 2 for a wrong command line."""
import json
import socket

import pytest

from cli_util import DESCRIPTIONS, MANIFESTS, fleet, cli, ok, run_cli  # noqa: F401
from supervisor_util import free_port

VERBS = [("device", "list"), ("device", "show", "cam"), ("device", "blacklist", "cam"),
         ("module", "list"), ("module", "show", "fibo"), ("module", "rm", "fibo"),
         ("deploy", "list"), ("deploy", "show", "x"), ("deploy", "apply", "x"),
         ("deploy", "rm", "x"), ("exec", "x", "1"), ("logs",), ("events",),
         ("events", "--follow")]


@pytest.mark.parametrize("args", VERBS, ids=[" ".join(v) for v in VERBS])
def test_every_verb_says_the_orchestrator_cannot_be_reached(liquid_bin, args):
    url = f"http://127.0.0.1:{free_port()}"   # nothing listens there
    done = run_cli(liquid_bin, url, *args, timeout=30)
    assert done.returncode == 1
    assert done.stdout == ""
    assert f"cannot reach the orchestrator at {url}" in done.stderr
    assert "liquid orchestrator" in done.stderr and "--orchestrator URL" in done.stderr


def test_module_add_and_deploy_create_also_say_it(liquid_bin, example):
    url = f"http://127.0.0.1:{free_port()}"
    for args in (("module", "add", example("fibo"), "--description", DESCRIPTIONS / "fibo.json"),
                 ("deploy", "create", MANIFESTS / "fibo.json")):
        done = run_cli(liquid_bin, url, *args, timeout=30)
        assert done.returncode == 1
        assert f"cannot reach the orchestrator at {url}" in done.stderr


def test_the_default_orchestrator_url_is_port_3000_on_this_machine(liquid_bin):
    try:
        socket.create_connection(("127.0.0.1", 3000), timeout=1).close()
        pytest.skip("something listens on 127.0.0.1:3000 here")
    except OSError:
        pass
    done = run_cli(liquid_bin, None, "device", "list", timeout=30)
    assert done.returncode == 1
    assert "cannot reach the orchestrator at http://127.0.0.1:3000" in done.stderr


def test_the_flag_wins_over_the_environment(liquid_bin, fleet):
    dead = f"http://127.0.0.1:{free_port()}"
    for flag in (["--orchestrator", fleet.url], [f"--orchestrator={fleet.url}/"]):
        done = run_cli(liquid_bin, dead, "device", "list", "--json", *flag)
        assert {d["name"] for d in json.loads(ok(done))} >= {"cam", "edge"}


@pytest.mark.parametrize("args, says", [
    (("module", "show", "no-such-module"), "GET /file/module/no-such-module: the orchestrator answered 404"),
    (("deploy", "show", "no-such-deployment"), "GET /file/manifest/no-such-deployment: the orchestrator answered 4"),
    (("deploy", "apply", "no-such-deployment"), "POST /file/manifest/no-such-deployment: the orchestrator answered 4"),
    (("exec", "no-such-deployment"), "POST /execute/no-such-deployment: the orchestrator answered 4"),
    (("module", "rm", "no-such-module"), "DELETE /file/module/no-such-module: the orchestrator answered 404"),
    (("device", "show", "no-such-device"), "no device 'no-such-device' is known"),
    (("device", "rm", "no-such-device"), "no device 'no-such-device' is known"),
])
def test_a_refused_request_prints_the_orchestrators_reason(cli, args, says):
    done = cli(*args)
    assert done.returncode == 1
    assert done.stdout == ""
    assert says in done.stderr
    assert done.stderr.count("\n") <= 2, done.stderr   # one sentence, not a dump


@pytest.mark.parametrize("args, says", [
    (("device",), "device: say what to do"),
    (("device", "explode"), "device: unknown action 'explode'"),
    (("device", "show"), "device show: needs exactly one device id or name"),
    (("module", "add"), "module add: needs a .wasm file"),
    (("module", "add", "a.wasm", "--data", "nomount"), "--data takes MOUNT=FILE"),
    (("module", "describe", "fibo"), "module describe: needs a module id or name and a description file"),
    (("deploy", "create"), "deploy create: needs a manifest file"),
    (("deploy", "create", "m.json", "--wat"), "deploy create: unknown option '--wat'"),
    (("exec",), "exec: needs a deployment id or name"),
    (("exec", "x", "--arg", "novalue"), "--arg takes NAME=VALUE"),
    (("events", "--limit", "many"), "events: --limit takes a count"),
    (("logs", "--limit", "-3"), "logs: --limit takes a count"),
    (("device", "list", "--orchestrator", "ftp://x"), "must start with http:// or https://"),
])
def test_a_wrong_command_line_exits_2_and_says_why(liquid_bin, args, says):
    done = run_cli(liquid_bin, "http://127.0.0.1:9", *args)
    assert done.returncode == 2, done
    assert says in done.stderr
    assert done.stdout == ""


def test_files_that_cannot_be_read_are_named(liquid_bin, tmp_path):
    url = f"http://127.0.0.1:{free_port()}"   # never reached: the files are checked first
    missing = tmp_path / "missing.wasm"
    done = run_cli(liquid_bin, url, "module", "add", missing)
    assert done.returncode == 1 and f"cannot read the module '{missing}'" in done.stderr
    wasm = tmp_path / "m.wasm"
    wasm.write_bytes(b"\0asm\1\0\0\0")
    done = run_cli(liquid_bin, url, "module", "add", wasm, "--description", tmp_path / "fd.json")
    assert done.returncode == 1 and "cannot read the description" in done.stderr
    (tmp_path / "fd.json").write_text("[1, 2]")
    done = run_cli(liquid_bin, url, "module", "add", wasm, "--description", tmp_path / "fd.json")
    assert done.returncode == 1 and "must be a JSON object with one member per function" in done.stderr
    done = run_cli(liquid_bin, url, "exec", "x", "--file", f"image.jpeg={tmp_path / 'nope.jpg'}")
    assert done.returncode == 1 and "cannot read the file" in done.stderr and "image.jpeg" in done.stderr


def test_help_describes_each_verb(liquid_bin):
    for verb in ("device", "module", "deploy", "exec", "logs", "events"):
        done = run_cli(liquid_bin, None, verb, "--help")
        assert done.returncode == 0 and done.stdout.startswith("usage: liquid")
    listed = run_cli(liquid_bin, None, "help").stdout
    for verb in ("device", "module", "deploy", "exec", "logs", "events"):
        assert f"  {verb} " in listed
