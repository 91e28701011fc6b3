"""POST /deploy of a deployment the supervisor already runs (the orchestrator sends the
whole node again, e.g. when a migration's target already runs another step of it)
keeps the running instance of every module whose name, id and SHA-256 did not change:
its memory and its files carry on; new or changed modules start fresh."""
import copy
import time

from supervisor_util import (endpoint, file_server, module_entry, node,  # noqa: F401
                             sha256_hex, supervisors)


def result(response):
    assert response.status == 200, response
    return response.json()["result"]["result"]


def counter_node(sv, files, example, extra_modules=()):
    binary = example("counter").read_bytes()
    url = files.put("counter.wasm", binary)
    counter = module_entry("counter", url, sha256=sha256_hex(binary))
    counter["id"] = "counter-module-id"
    instructions = [
        {"module": "counter", "function": "add",
         "endpoint": endpoint(sv.base, "kept", "counter", "add", params=(("n", "integer"),))},
        {"module": "counter", "function": "get",
         "endpoint": endpoint(sv.base, "kept", "counter", "get", params=())},
    ]
    modules = [counter]
    for name in extra_modules:
        other = example("counter").read_bytes()
        modules.append(module_entry(name, files.put(f"{name}.wasm", other),
                                    sha256=sha256_hex(other)))
        instructions.append({"module": name, "function": "get",
                             "endpoint": endpoint(sv.base, "kept", name, "get", params=())})
    return node("kept", modules, instructions)


def test_redeploy_keeps_unchanged_modules_running(supervisors, file_server, example):
    sv = supervisors("keeper")
    assert sv.deploy(counter_node(sv, file_server, example)).status == 200
    assert result(sv.call("kept", "counter", "add", {"n": 3})) == "3"

    # the same deployment again, with one more module: the counter keeps its count
    wider = counter_node(sv, file_server, example, extra_modules=["second"])
    assert sv.deploy(wider).status == 200
    assert sv.get("/deploy/kept").json()["version"] == 2
    assert result(sv.call("kept", "counter", "add", {"n": 1})) == "4"
    assert result(sv.call("kept", "second", "get")) == "0"     # new: fresh
    assert "event=deploy.module_kept" in sv.log_text()
    root = sv.instance_dir / "deployments" / "kept"
    deadline = time.time() + 5
    while sorted(p.name for p in root.iterdir()) != ["v2"] and time.time() < deadline:
        time.sleep(0.05)
    assert sorted(p.name for p in root.iterdir()) == ["v2"]
    assert (root / "v2" / "sandbox" / "counter").is_dir()

    # the kept instance belongs to the new version: a clean restart saves and
    # restores its memory from there
    assert sv.stop() == 0
    sv.start()
    assert result(sv.call("kept", "counter", "get")) == "4"

    # a changed module (another binary) starts fresh; the unchanged one carries on
    assert result(sv.call("kept", "second", "get")) == "0"
    assert result(sv.call("kept", "counter", "add", {"n": 2})) == "6"
    changed = copy.deepcopy(wider)
    changed["modules"][0]["id"] = "another-id"
    assert sv.deploy(changed).status == 200
    assert result(sv.call("kept", "counter", "get")) == "0"
