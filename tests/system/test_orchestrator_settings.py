"""`liquid orchestrator` settings: --help documents each option, bad values are refused
before anything starts with a sentence naming the option and where the value came from,
the reference's PUBLIC_HOST/PUBLIC_PORT are honoured, a config file works, and SIGINT or
SIGTERM stop it cleanly."""
import json
import re
import signal
import subprocess
import time

from orchestrator_util import Orchestrator, free_port, request


def run(liquid_bin, *args, env=None, timeout=30):
    return subprocess.run([str(liquid_bin), "orchestrator", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env)


def test_help_lists_every_setting(liquid_bin):
    r = run(liquid_bin, "--help")
    assert r.returncode == 0, r.stderr
    for option in ("--bind", "--port", "--public-host", "--public-url", "--data-dir",
                   "--no-mdns", "--health-interval", "--suspect-after", "--lost-after",
                   "--active-after", "--max-upload", "--log-level", "--config",
                   "PUBLIC_HOST", "PUBLIC_PORT"):
        assert option in r.stdout, option


def test_bad_settings_are_refused(liquid_bin, tmp_path):
    cases = [
        (["--port", "70000"], None, "--port"),
        (["--health-interval", "soon"], None, "--health-interval"),
        (["--suspect-after", "3", "--lost-after", "2"], None, "--lost-after"),
        (["--no-such-option"], None, "no-such-option"),
        ([], {"PUBLIC_HOST": "10.0.0.2"}, "PUBLIC_HOST includes the scheme"),
        ([], {"PUBLIC_PORT": "many"}, "PUBLIC_PORT"),
    ]
    for args, env, fragment in cases:
        r = run(liquid_bin, "--data-dir", tmp_path / "data", "--no-mdns", *args,
                env=dict(env or {}, PATH="/usr/bin:/bin"))
        assert r.returncode == 2, (args, env, r.stderr)
        assert fragment in r.stderr, (args, env, r.stderr)
        assert r.stderr.startswith("liquid orchestrator: "), r.stderr
    assert not (tmp_path / "data").exists()   # refused before anything was created


def test_unusable_data_dir_fails_with_a_reason(liquid_bin, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    r = run(liquid_bin, "--data-dir", blocker / "data", "--no-mdns", "--bind", "127.0.0.1",
            "--port", free_port())
    assert r.returncode == 1
    assert str(blocker) in r.stderr, r.stderr


def started_line(orch):
    deadline = time.time() + 10
    while time.time() < deadline:
        match = re.search(r"event=orchestrator.started (.*)", orch.log_text())
        if match:
            return dict(re.findall(r"(\w+)=(\S+)", match.group(1)))
        time.sleep(0.05)
    raise AssertionError(orch.log_text())


def test_reference_environment_and_signals(liquid_bin, tmp_path):
    port = free_port()
    orch = Orchestrator(liquid_bin, tmp_path / "data", port=port,
                        env={"PUBLIC_HOST": "http://orchestrator.test"})
    orch.command = lambda: [orch.liquid_bin, "orchestrator", "--bind", "127.0.0.1",
                            "--no-mdns", "--data-dir", str(orch.data_dir)]
    orch.env["PUBLIC_PORT"] = str(port)
    orch.start()
    fields = started_line(orch)
    assert fields["port"] == str(port)
    assert fields["public_url"] == f"http://orchestrator.test:{port}"
    assert orch.stop(signal.SIGINT) == 0
    assert "event=orchestrator.stopped" in orch.log_text()


def test_config_file_and_port_zero(liquid_bin, tmp_path):
    config = tmp_path / "orchestrator.json"
    config.write_text(json.dumps({"port": 0, "bind": "127.0.0.1", "mdns": False,
                                  "public-url": "http://proxy.test/liquid/",
                                  "max-upload": "2K"}))
    orch = Orchestrator(liquid_bin, tmp_path / "data")
    orch.command = lambda: [orch.liquid_bin, "orchestrator", "--config", str(config),
                            "--data-dir", str(orch.data_dir)]
    orch.log = open(orch.log_path, "ab")
    orch.proc = subprocess.Popen(orch.command(), stdout=orch.log, stderr=subprocess.STDOUT)
    fields = started_line(orch)
    assert fields["public_url"] == "http://proxy.test/liquid"   # no trailing slash
    port = int(fields["port"])
    assert port > 0
    r = request("GET", f"http://127.0.0.1:{port}/file/module")
    assert r.status == 200 and r.json() == []
    # the file's max-upload applies
    r = request("POST", f"http://127.0.0.1:{port}/file/module", body=b"x" * 4096,
                headers={"Content-Type": "application/octet-stream"})
    assert r.status == 413, r
    assert orch.stop(signal.SIGTERM) == 0
