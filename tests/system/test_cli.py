"""The `liquid` client verbs against a real orchestrator with real supervisors: each
verb's table and its --json, and what a user sees after each action (a device
blacklisted, a module described with a data file, a manifest placed, deployed and run
with arguments and with a file, events and logs)."""
import json
import subprocess
import time

from cli_util import DESCRIPTIONS, IMAGES, MANIFESTS, fleet, cli, ok, run_cli, table  # noqa: F401
from supervisor_util import Supervisor


def wait_until(what, check, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout}s")


# ---------------------------------------------------------------------- devices

def test_device_list_shows_each_device_with_its_state_as_a_table_and_as_json(cli, fleet):
    rows = table(ok(cli("device", "list")))
    by_name = {r["NAME"]: r for r in rows}
    assert {"cam", "edge"} <= set(by_name)
    assert by_name["cam"]["STATE"] == "active"
    assert by_name["cam"]["ADDRESS"] == f"127.0.0.1:{fleet.supervisors[0].port}"
    assert by_name["cam"]["CPU"].endswith("%") and by_name["cam"]["RTT"].endswith("ms")
    documents = json.loads(ok(cli("device", "list", "--json")))
    assert {d["name"]: d["_id"] for d in documents}["cam"] == by_name["cam"]["ID"]


def test_device_show_finds_a_device_by_name_or_id(cli):
    by_name = ok(cli("device", "show", "cam"))
    assert "capabilities   {\"camera\":true}" in by_name
    device = json.loads(ok(cli("device", "show", "cam", "--json")))
    assert device["name"] == "cam" and device["description"]["capabilities"]["camera"] is True
    assert ok(cli("device", "show", device["_id"])).splitlines()[0].split() == ["name", "cam"]


def test_blacklist_and_unblacklist_change_what_the_list_says(cli, fleet):
    assert "device edge" in ok(cli("device", "blacklist", "edge"))
    try:
        rows = {r["NAME"]: r for r in table(ok(cli("device", "list")))}
        assert rows["edge"]["STATE"] == "blacklisted"
        assert json.loads(ok(cli("device", "show", "edge", "--json")))["blacklisted"] is True
    finally:
        ok(cli("device", "unblacklist", "edge"))
    assert json.loads(ok(cli("device", "show", "edge", "--json")))["blacklisted"] is False
    fleet.orch.wait_devices(["edge"])   # back to active after its health checks


def test_device_rm_forgets_a_device(cli, fleet, liquid_bin):
    extra = Supervisor(liquid_bin, fleet.directory / "extra-instance", name="extra",
                       log_dir=fleet.directory,
                       args=["--address", "127.0.0.1", "--orchestrator-url", fleet.url]).start()
    try:
        fleet.orch.wait_devices(["extra"])
        assert "device extra" in ok(cli("device", "rm", "extra"))
    finally:
        extra.stop()
    names = [d["name"] for d in json.loads(ok(cli("device", "list", "--json")))]
    assert "extra" not in names


# ---------------------------------------------------------------------- modules

def test_module_add_uploads_and_describes_with_a_data_file(cli, example):
    out = ok(cli("module", "add", example("datafile"), "--name", "readings",
                 "--description", DESCRIPTIONS / "datafile.json",
                 "--data", f"data={DESCRIPTIONS / 'datafile-data.csv'}"))
    assert out.startswith("module readings added: id ")
    rows = {r["NAME"]: r for r in table(ok(cli("module", "list")))}
    assert rows["readings"]["DESCRIBED"] == "total, rows"
    shown = ok(cli("module", "show", "readings"))
    assert "wasi_snapshot_preview1.fd_read" in shown
    assert "data <- datafile-data.csv" in shown
    functions = table(shown.split("functions:\n", 1)[1].split("\n\n", 1)[0])
    total = next(f for f in functions if f["FUNCTION"] == "total")
    assert (total["METHOD"], total["PARAMETERS"], total["OUTPUT"]) == ("GET", "param0:integer",
                                                                      "integer")
    assert total["MOUNTS"] == "data(deployment)"
    module = json.loads(ok(cli("module", "show", "readings", "--json")))
    assert module["dataFiles"]["data"]["originalFilename"] == "datafile-data.csv"


def test_a_refused_description_takes_the_upload_back_so_the_command_can_be_rerun(cli, example):
    # The datafile description names a deployment-stage mount; without its file the
    # orchestrator refuses the description, and nothing of the module stays.
    done = cli("module", "add", example("datafile"), "--name", "half",
               "--description", DESCRIPTIONS / "datafile.json")
    assert done.returncode == 1
    assert "answered 400" in done.stderr and "data" in done.stderr
    assert "run the same command again" in done.stderr
    assert "half" not in [m["name"] for m in json.loads(ok(cli("module", "list", "--json")))]
    ok(cli("module", "add", example("datafile"), "--name", "half",
           "--description", DESCRIPTIONS / "datafile.json",
           "--data", f"data={DESCRIPTIONS / 'datafile-data.csv'}"))


def test_module_add_refuses_what_is_not_wasm_with_the_orchestrators_reason(cli, tmp_path):
    bogus = tmp_path / "bogus.wasm"
    bogus.write_bytes(b"\0asm\x01\0\0\0\x99garbage")
    done = cli("module", "add", bogus)
    assert done.returncode == 1
    assert "POST /file/module: the orchestrator answered 400" in done.stderr
    assert "bogus" not in [m["name"] for m in json.loads(ok(cli("module", "list", "--json")))]


def test_module_rm_deletes_and_an_unknown_module_is_a_clear_error(cli, example):
    ok(cli("module", "add", example("counter"), "--name", "doomed"))
    assert ok(cli("module", "rm", "doomed")) == "module doomed removed\n"
    done = cli("module", "show", "doomed")
    assert done.returncode == 1 and "answered 404" in done.stderr


# ---------------------------------------------------------------------- deployments

def test_deploy_create_show_apply_exec_rm_a_fibo_chain(cli, example, tmp_path):
    ok(cli("module", "add", example("fibo"), "--description", DESCRIPTIONS / "fibo.json"))
    manifest = tmp_path / "fibo.json"
    manifest.write_text(json.dumps({"name": "fib", "sequence": [
        {"device": None, "module": "fibo", "func": "fibo"}]}))
    created = ok(cli("deploy", "create", manifest))
    deployment_id = created.split("id ", 1)[1].split()[0]
    steps = table(created.split("steps:\n", 1)[1].split("\n\n", 1)[0])
    assert [(s["FUNCTION"], s["DEVICE"] in ("cam", "edge")) for s in steps] == [("fibo.fibo", True)]
    assert "chosen" in created.split("why:", 1)[1]

    applied = table(ok(cli("deploy", "apply", "fib")).split("deployment ", 1)[0])
    assert [r["STATUS"] for r in applied] == ["200"]
    rows = {r["NAME"]: r for r in table(ok(cli("deploy", "list")))}
    assert rows["fib"]["ACTIVE"] == "yes" and rows["fib"]["ID"] == deployment_id

    assert ok(cli("exec", "fib", "12")).splitlines()[0].split() == ["result", "233"]
    assert ok(cli("exec", deployment_id, "--arg", "param0=5")).splitlines()[0].split() == [
        "result", "8"]
    answer = json.loads(ok(cli("exec", "fib", "10", "--json")))
    assert answer["result"] in ({"result": "89"}, ["89", None], "89")
    assert [s["function"] for s in answer["steps"]] == ["fibo"]

    assert ok(cli("deploy", "rm", "fib")) == "deployment fib removed\n"
    assert "fib" not in [d["name"] for d in json.loads(ok(cli("deploy", "list", "--json")))]


def test_exec_sends_a_file_to_the_first_step_and_prints_each_steps_time(cli, example, liquid,
                                                                     tmp_path):
    for name in ("grayscale", "classify"):
        ok(cli("module", "add", example(name), "--description", DESCRIPTIONS / f"{name}.json"))
    ok(cli("deploy", "create", MANIFESTS / "grayscale-classify.json", "--apply"))
    frame = IMAGES / "gray_33x17.jpg"
    out = ok(cli("exec", "grayscale-classify", "--file", f"image.jpeg={frame}"))
    # What the same two modules give when run here, one after the other.
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    (sandbox / "image.jpeg").write_bytes(frame.read_bytes())
    for module, function in (("grayscale", "grayscale"), ("classify", "classify")):
        local = liquid("run", "--dir", f"{sandbox}::.", "--invoke", function, example(module))
        assert local.returncode == 0, local.stderr
    assert out.splitlines()[0].split() == ["result", local.stdout.strip()]
    steps = table(out.split("steps:\n", 1)[1])
    assert [s["FUNCTION"] for s in steps] == ["grayscale.grayscale", "classify.classify"]
    assert steps[0]["RESULT"] == "result.pgm"
    assert all(s["TIME"].endswith("ms") or s["TIME"].endswith(" s") for s in steps)
    assert all(s["DEVICE"] in ("cam", "edge") for s in steps)


def test_a_manifest_that_is_not_json_says_where(cli, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"name": "x",\n "sequence": [}\n')
    done = cli("deploy", "create", broken)
    assert done.returncode == 1
    assert f"the manifest '{broken}' is not valid JSON: line 2" in done.stderr


def test_a_manifest_the_orchestrator_refuses_is_a_clear_error(cli, tmp_path):
    manifest = tmp_path / "ghostly.json"
    manifest.write_text(json.dumps({"name": "ghostly", "sequence": [
        {"device": None, "module": "no-such-module", "func": "f"}]}))
    done = cli("deploy", "create", manifest)
    assert done.returncode == 1
    assert "POST /file/manifest: the orchestrator answered 4" in done.stderr
    assert "no-such-module" in done.stderr
    assert "ghostly" not in [d["name"] for d in json.loads(ok(cli("deploy", "list", "--json")))]


# ---------------------------------------------------------------------- events, logs

def test_events_lists_recent_events_and_follow_streams_new_ones(cli, liquid_bin, fleet, example):
    ok(cli("module", "add", example("fibo"), "--name", "fibo2", "--description",
           DESCRIPTIONS / "fibo.json"))
    recent = ok(cli("events", "--limit", "500"))
    assert recent.splitlines()[0].split() == ["SEQ", "TIME", "TYPE", "SUBJECT", "DATA"]
    assert any(line.split()[2] == "device.found" or line.split()[2] == "device.active"
               for line in recent.splitlines()[1:])
    listed = json.loads(ok(cli("events", "--limit", "5", "--json")))
    assert 0 < len(listed) <= 5 and all({"seq", "type", "time"} <= set(e) for e in listed)
    last = listed[-1]["seq"]

    follower = subprocess.Popen([str(liquid_bin), "events", "--follow", "--json", "--limit", "0",
                                 "--orchestrator", fleet.url],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        ok(cli("device", "blacklist", "edge"))
        ok(cli("device", "unblacklist", "edge"))
        seen = []
        deadline = time.time() + 20
        while time.time() < deadline and not any("blacklist" in e["type"] for e in seen):
            line = follower.stdout.readline()
            if not line:
                break
            seen.append(json.loads(line))
        assert any("blacklist" in e["type"] for e in seen), seen
        assert all(e["seq"] > last for e in seen)
    finally:
        follower.kill()
        follower.wait()
        fleet.orch.wait_devices(["edge"])


def test_logs_show_what_the_supervisors_forwarded(cli, example, tmp_path):
    ok(cli("module", "add", example("fibo"), "--name", "fibo3", "--description",
           DESCRIPTIONS / "fibo.json"))
    manifest = {"name": "logged", "sequence": [{"device": "edge", "module": "fibo3",
                                                "func": "fibo"}]}
    path = tmp_path / "logged.json"
    path.write_text(json.dumps(manifest))
    ok(cli("deploy", "create", path, "--apply"))
    ok(cli("exec", "logged", "3"))

    def edge_logs():
        rows = table(ok(cli("logs", "--device", "edge", "--limit", "0")))
        return [r for r in rows if "fibo3" in r["MESSAGE"]]
    rows = wait_until("a log line of the call on edge",
                      lambda: [r for r in edge_logs() if r["EVENT"] == "call.done"])
    assert all(r["DEVICE"] == "edge" and r["LEVEL"] == "INFO" for r in rows)
    logs = json.loads(ok(cli("logs", "--device", "edge", "--limit", "2", "--json")))
    assert len(logs) <= 2
