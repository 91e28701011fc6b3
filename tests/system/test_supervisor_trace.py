"""The reference's end-to-end trace (wasmiot-api.md §10) against `liquid supervisor`,
with the test in the orchestrator's place: it serves fibo.wasm, POSTs the mini-manifest
to //deploy exactly as the JS orchestrator does, calls fibo?param0=12 and follows the
resultUrl to the request history."""
import json
import time

from supervisor_util import (endpoint, file_server, follow, module_entry, node,  # noqa: F401
                             request, request_id_of, supervisors)

DEP = "6650aa0c3b7d1e0f2a4b5c6d"


def fibo_manifest(sv, files, example, dep=DEP, method="get"):
    url = files.put("fibo.wasm", example("fibo").read_bytes())
    ep = endpoint(sv.base, dep, "fibo", "fibo", method=method)
    return node(dep, [module_entry("fibo", url)],
                [{"module": "fibo", "function": "fibo", "endpoint": ep, "to": None}])


def test_fibo_trace_get(supervisors, file_server, example):
    sv = supervisors("fibo-device")
    r = sv.deploy(fibo_manifest(sv, file_server, example))
    assert r.status == 200, r
    assert r.json() == {"status": "success", "deploymentId": DEP}

    r = sv.call(DEP, "fibo", "fibo", {"param0": 12})
    assert r.status == 200, r
    body = r.json()
    # the Rust reference's shape: the pipeline's final result inline, own result inside
    assert body["result"] == {"result": "233"}
    assert body["resultUrl"].startswith(sv.base + "/request-history/")

    entry = follow(body["resultUrl"])
    assert entry.status == 200, entry
    e = entry.json()
    assert e["request_id"] == request_id_of(body["resultUrl"])
    assert (e["deployment_id"], e["module_name"], e["function_name"], e["method"]) == \
        (DEP, "fibo", "fibo", "GET")
    assert e["request_args"] == {"param0": "12"}
    assert e["request_files"] == {}
    assert e["result"] == "233" and e["success"] is True
    assert e["work_queued_at"].endswith("Z")
    assert e["timings"]["totalUs"] >= e["timings"]["runUs"] >= 0

    # fibo(5) = 8, the reference's other example; each call is its own entry
    assert sv.call(DEP, "fibo", "fibo", {"param0": 5}).json()["result"] == {"result": "8"}
    history = sv.history().json()
    assert [h["result"] for h in history] == ["233", "8"]


def test_fibo_trace_post_answers_at_once_then_history(supervisors, file_server, example):
    sv = supervisors("fibo-device")
    assert sv.deploy(fibo_manifest(sv, file_server, example, method="post")).status == 200
    r = sv.call(DEP, "fibo", "fibo", {"param0": 12}, method="POST", body=b"")
    assert r.status == 200, r
    body = r.json()
    assert set(body) == {"resultUrl"}   # queued, as the Python reference answers a POST
    entry = follow(body["resultUrl"])
    assert entry.status == 200, entry
    assert entry.json()["result"] == "233"
    assert entry.json()["method"] == "POST"
    # Liquid's long poll: ?wait= answers as soon as the entry exists
    again = request("GET", body["resultUrl"] + "?wait=2000")
    assert again.status == 200 and again.json()["request_id"] == request_id_of(body["resultUrl"])


def test_device_description_health_register(supervisors, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"capabilities": {"accelerator": "none", "thermometer": True}}))
    sv = supervisors("described", args=["--config", str(config)])
    d = sv.get("/.well-known/wasmiot-device-description").json()
    assert d["platform"]["cpu"]["coreCount"] >= 1
    assert d["platform"]["memory"]["totalBytes"] > 0
    names = d["supervisorInterfaces"]
    # exactly what is linked: all of WASI preview 1 and the Wasm-IoT host functions
    for name in ("fd_write", "path_open", "proc_exit", "sock_shutdown", "millis", "delay",
                 "print", "println", "printInt", "rpcCall", "takeImage",
                 "takeImageDynamicSize", "takeImageStaticSize"):
        assert name in names
    assert len(names) == len(set(names))
    assert d["capabilities"] == {"accelerator": "none", "thermometer": True}

    h = sv.get("//health")
    assert h.status == 200
    assert h.headers["Custom-Orchestrator-Set"] == "false"
    health = h.json()
    assert 0 <= health["cpuUsage"] <= 1 and 0 <= health["memoryUsage"] <= 1
    assert health["uptime"] > 0

    assert sv.post("/register", json_body={"url": "not a url"}).status == 400
    assert sv.post("/register", json_body={}).json()["errorText"].startswith("url: missing")
    r = sv.post("/register", json_body={"url": "http://127.0.0.1:9"})
    assert r.status == 200 and r.json() == {"status": "success"}
    assert sv.get("/health").headers["Custom-Orchestrator-Set"] == "true"
    # remembered across a restart
    assert sv.stop() == 0
    sv.start()
    assert sv.get("/health").headers["Custom-Orchestrator-Set"] == "true"


def test_deploy_list_get_delete_and_unknown_routes(supervisors, file_server, example):
    sv = supervisors("lister")
    assert sv.deploy(fibo_manifest(sv, file_server, example)).status == 200
    listed = sv.get("/deploy").json()["deployments"]
    assert [d["deploymentId"] for d in listed] == [DEP]
    assert listed[0]["modules"] == [{"name": "fibo", "functions": ["fibo"]}]
    assert sv.get(f"/deploy/{DEP}").json()["manifest"]["deploymentId"] == DEP
    td = sv.get("/.well-known/wot-thing-description").json()
    assert f"{DEP}/fibo/fibo" in td["actions"]

    missing = sv.get("/no/such/route/here/at/all")
    assert missing.status == 404 and "errorText" in missing.json()
    assert sv.call("nope", "fibo", "fibo", {"param0": 1}).status == 404
    assert sv.call(DEP, "nope", "fibo", {"param0": 1}).status == 404
    assert sv.call(DEP, "fibo", "nope", {"param0": 1}).status == 404
    assert sv.history("no-such-request").status == 404

    instance_files = sv.instance_dir / "deployments" / DEP
    assert instance_files.is_dir()
    r = sv.delete(f"/deploy/{DEP}")
    assert r.status == 200 and r.json()["status"] == "success"
    assert sv.call(DEP, "fibo", "fibo", {"param0": 1}).status == 404
    assert sv.delete(f"/deploy/{DEP}").status == 404
    assert sv.get("/deploy").json() == {"deployments": []}
    deadline = time.time() + 5
    while any(instance_files.glob("v*")) and time.time() < deadline:
        time.sleep(0.05)
    assert not any(instance_files.glob("v*")), "the deployment's files were not removed"
