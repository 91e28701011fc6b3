"""Issue 4, Done-when 3: an orchestrator restarted mid-life — stopped cleanly, or killed
with SIGKILL — finds every device, module and deployment it knew, and its deployments
still execute. The supervisors keep running meanwhile and do not register again: what
the orchestrator knows after the restart comes from its store."""
import hashlib
import json
import pathlib
import signal
import sqlite3
import time

from orchestrator_util import cluster, orchestrator  # noqa: F401

REPO = pathlib.Path(__file__).resolve().parents[2]
DESCRIPTIONS = REPO / "examples" / "descriptions"


def fd(name):
    return json.loads((DESCRIPTIONS / f"{name}.json").read_text())


def iso_now():
    """The orchestrator's time format (UTC, milliseconds), comparable as text."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".%03dZ" % (now % 1 * 1000)


def create_deployment(orch, manifest):
    r = orch.post("/file/manifest", json_body=manifest)
    assert r.status == 201, r
    dep_id = json.loads(r.body.decode())   # the reference's quoted id
    r = orch.post(f"/file/manifest/{dep_id}")
    assert r.status == 200, r
    return dep_id


def execute(orch, dep_id, args):
    r = orch.post(f"/execute/{dep_id}", json_body=args, timeout=60)
    assert r.status == 200, r
    return json.dumps(r.json()["result"])


def snapshot(orch):
    """What must survive: the documents as the API answers them."""
    devices = {d["_id"]: (d["name"], d["communication"], d["description"])
               for d in orch.devices()}
    modules = orch.get("/file/module").json()
    deployments = {}
    for dep in orch.get("/file/manifest").json():
        deployments[dep["_id"]] = {key: dep.get(key) for key in
                                   ("name", "sequence", "fullManifest", "active",
                                    "failoversBySequence")}
    return devices, modules, deployments


def check_restart(orch, sups, before, deps, data_digest, data_module, restarted_at):
    devices, modules, deployments = snapshot(orch)
    assert devices == before[0]
    assert modules == before[1]
    assert deployments == before[2]
    # the restarted orchestrator checks the devices it knew from its store
    started = time.time()
    checked = {}
    while time.time() - started < 30 and len(checked) < len(sups):
        for d in orch.devices():
            when = (d.get("health") or {}).get("timeOfQuery")
            if d["status"] == "active" and when and when > restarted_at:
                checked[d["name"]] = when
        time.sleep(0.1)
    assert sorted(checked) == sorted(sv.name for sv in sups), orch.devices()
    assert "233" in execute(orch, deps["fibo"], {"param0": 12})
    assert "-7" in execute(orch, deps["subtract"], {"param0": 3, "param1": 10})
    r = orch.get(f"/file/module/{data_module}/data")
    assert r.status == 200 and hashlib.sha256(r.body).hexdigest() == data_digest


def test_restart_finds_everything_and_still_executes(cluster, example):
    orch, sups = cluster(2)
    fibo = orch.upload_module("fibo", example("fibo"))
    assert orch.describe_module(fibo, fd("fibo")).status == 200
    data = (DESCRIPTIONS / "datafile-data.csv").read_bytes()
    datafile = orch.upload_module("datafile", example("datafile"))
    assert orch.describe_module(datafile, fd("datafile"),
                                files=[("data", "data.csv", data, "text/csv")]).status == 200
    s2 = orch.wait_devices(["s2"])["s2"]
    deps = {
        "fibo": create_deployment(orch, {"name": "fibo-dep", "sequence": [
            {"device": None, "module": "fibo", "func": "fibo"}]}),
        # a named device is honoured, and must still be after the restart
        "subtract": create_deployment(orch, {"name": "subtract-dep", "sequence": [
            {"device": s2["_id"], "module": fibo, "func": "subtract"}]}),
    }
    assert "233" in execute(orch, deps["fibo"], {"param0": 12})
    before = snapshot(orch)
    assert len(before[0]) == 2 and len(before[1]) == 2 and len(before[2]) == 2
    digest = hashlib.sha256(data).hexdigest()

    # a clean stop: SIGTERM, exit status 0
    assert orch.stop(signal.SIGTERM) == 0
    restarted_at = iso_now()
    orch.start()
    check_restart(orch, sups, before, deps, digest, datafile, restarted_at)

    # a crash: nothing flushed on the way out
    orch.kill()
    with sqlite3.connect(orch.data_dir / "orchestrator.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    restarted_at = iso_now()
    orch.start()
    check_restart(orch, sups, before, deps, digest, datafile, restarted_at)


def test_restart_keeps_what_was_refused_out(orchestrator, example):
    """Bad input before a restart leaves no trace after it."""
    orch = orchestrator()
    mid = orch.upload_module("fibo", example("fibo"))
    assert orch.create_module("broken", b"\0asm\x01\0\0\0\x05").status == 400
    assert orch.describe_module(mid, {"nope": {"method": "GET", "output": "integer"}}).status \
        == 400
    before = orch.get("/file/module").json()
    orch.restart()
    assert orch.get("/file/module").json() == before
    assert [m["name"] for m in before] == ["fibo"]
    assert "description" not in before[0]
