"""A restarted supervisor (SIGTERM, then started again on the same instance directory)
still serves its deployments and its request history, without the orchestrator.

Module memory: saved at a clean shutdown and restored at the next start, so the
stateful counter carries on where it was; after a crash (kill -9) the deployment is
still served but the module starts afresh from its initial state."""
import shutil
import signal
import time

from supervisor_util import (endpoint, file_server, module_entry, mount, node,  # noqa: F401
                             request_id_of, supervisors)


def counter_manifest(sv, files, example, dep="counting"):
    url = files.put("counter.wasm", example("counter").read_bytes())
    return node(dep, [module_entry("counter", url)], [
        {"module": "counter", "function": "add",
         "endpoint": endpoint(sv.base, dep, "counter", "add", params=(("n", "integer"),))},
        {"module": "counter", "function": "get",
         "endpoint": endpoint(sv.base, dep, "counter", "get", params=())},
        {"module": "counter", "function": "changes",
         "endpoint": endpoint(sv.base, dep, "counter", "changes", params=())},
    ])


def result(response):
    assert response.status == 200, response
    return response.json()["result"]["result"]


def test_restart_keeps_deployments_history_and_memory(supervisors, file_server, example):
    sv = supervisors("rebooter")
    assert sv.deploy(counter_manifest(sv, file_server, example)).status == 200
    assert result(sv.call("counting", "counter", "add", {"n": 5})) == "5"
    assert result(sv.call("counting", "counter", "add", {"n": 7})) == "12"
    before = sv.history().json()
    assert len(before) == 2

    assert sv.stop() == 0                   # SIGTERM: a clean shutdown
    file_server.stop()                      # no orchestrator, no file server any more
    sv.start()
    assert [d["deploymentId"] for d in sv.get("/deploy").json()["deployments"]] == ["counting"]
    assert sv.history().json() == before
    for entry in before:
        assert sv.history(entry["request_id"]).status == 200
    # memory survived the clean restart: the count and the module's heap (its history)
    assert result(sv.call("counting", "counter", "get")) == "12"
    assert result(sv.call("counting", "counter", "changes")) == "2"
    assert result(sv.call("counting", "counter", "add", {"n": 1})) == "13"
    assert "event=module.state_restored" in sv.log_text()

    sv.kill()                               # a crash: no state saved
    sv.start()
    assert result(sv.call("counting", "counter", "get")) == "0"
    assert len(sv.history().json()) == 6     # every answered call was recorded before the crash


def test_history_is_bounded_oldest_out_across_restarts(supervisors, file_server, example):
    sv = supervisors("bounded", args=["--history-limit", "3"])
    assert sv.deploy(counter_manifest(sv, file_server, example)).status == 200
    ids = [request_id_of(sv.call("counting", "counter", "add", {"n": 1}).json()["resultUrl"])
           for _ in range(5)]
    assert [e["request_id"] for e in sv.history().json()] == ids[2:]
    assert sv.history(ids[0]).status == 404
    assert sv.stop() == 0
    sv.start()
    assert [e["request_id"] for e in sv.history().json()] == ids[2:]
    # evicted entries leave the file when it is compacted (here: at the next start)
    for _ in range(40):
        sv.call("counting", "counter", "add", {"n": 1})
    assert len((sv.instance_dir / "history.jsonl").read_text().splitlines()) == 43
    assert sv.stop() == 0
    sv.start()
    assert len((sv.instance_dir / "history.jsonl").read_text().splitlines()) == 3
    assert len(sv.history().json()) == 3


def test_torn_history_line_is_skipped(supervisors, file_server, example):
    sv = supervisors("torn")
    assert sv.deploy(counter_manifest(sv, file_server, example)).status == 200
    sv.call("counting", "counter", "add", {"n": 1})
    sv.kill()
    with open(sv.instance_dir / "history.jsonl", "a") as f:
        f.write('{"request_id": "half-writ')   # a crash in the middle of a line
    sv.start()
    assert len(sv.history().json()) == 1
    assert "event=history.bad_line" in sv.log_text()


def test_redeploy_swaps_and_cleans_up(supervisors, file_server, example):
    sv = supervisors("swapper")
    manifest = counter_manifest(sv, file_server, example)
    assert sv.deploy(manifest).status == 200
    assert result(sv.call("counting", "counter", "add", {"n": 40})) == "40"
    root = sv.instance_dir / "deployments" / "counting"
    assert sorted(p.name for p in root.iterdir()) == ["v1"]
    assert sv.deploy(manifest).status == 200            # the same id again: a new version
    assert result(sv.call("counting", "counter", "get")) == "0"
    deadline = time.time() + 5
    while sorted(p.name for p in root.iterdir()) != ["v2"] and time.time() < deadline:
        time.sleep(0.05)
    assert sorted(p.name for p in root.iterdir()) == ["v2"]
    assert sv.get("/deploy/counting").json()["version"] == 2
    # a version a crash left half-built is removed at the next start
    sv.kill()
    (root / "v3" / "modules").mkdir(parents=True)
    sv.start()
    assert sorted(p.name for p in root.iterdir()) == ["v2"]
    assert sv.get("/deploy/counting").json()["version"] == 2


def test_module_file_deleted_under_us(supervisors, file_server, example, wat):
    sv = supervisors("fragile")
    assert sv.deploy(counter_manifest(sv, file_server, example)).status == 200
    files_url = file_server.put("files.wasm", wat("supervisor_files").read_bytes())
    other = node("other", [module_entry("f", files_url)], [
        {"module": "f", "function": "echo",
         "endpoint": endpoint(sv.base, "other", "f", "echo", method="post", params=()),
         "mounts": {"execution": [mount("in.txt", "execution")],
                    "output": [mount("out.txt", "output")]}}])
    assert sv.deploy(other).status == 200
    version = sv.instance_dir / "deployments" / "counting" / "v1"
    (version / "modules" / "counter.wasm").unlink()
    # the module is loaded: it keeps serving
    assert result(sv.call("counting", "counter", "add", {"n": 2})) == "2"
    # the other deployment's directory vanishes: calls fail clearly, nothing crashes
    shutil.rmtree(sv.instance_dir / "deployments" / "other" / "v1" / "sandbox")
    r = sv.call("other", "f", "echo", method="POST", files=[("in.txt", "in.txt", b"abc")])
    entry = sv.wait_history(request_id_of(r.json()["resultUrl"]))
    assert entry.status == 500
    assert "cannot place input file in.txt" in entry.json()["result"]
    assert sv.get("/health").status == 200
    # after a restart the damaged deployment is reported, the other one serves
    assert sv.stop(signal.SIGTERM) == 0
    sv.start()
    log = sv.log_text()
    assert "event=deployment.restore_failed deployment=counting" in log
    assert "counter.wasm" in log and "hint=\"deploy it again\"" in log
    assert sv.call("counting", "counter", "get").status == 404
    assert sv.call("other", "f", "echo", method="POST",
                   files=[("in.txt", "in.txt", b"abc")]).status == 200
