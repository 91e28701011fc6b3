"""Manifests end to end against a real `liquid orchestrator` and real `liquid
supervisor`s on loopback: the reference's fibo trace (wasmiot-api.md §10), placement
with `device: null` and its reasons, chains that carry files across devices
(camera -> grayscale -> classify), all-or-nothing deploys that roll back when a
device refuses or is gone, updates and deletes.
"""
import json
import signal

from orchestrator_util import cluster, orchestrator  # noqa: F401 (fixtures)
from placement_util import (IMAGES, add_module, add_modules, create, deploy, deployment,
                            device_ids, events, execute, placed_devices, step,
                            supervisor_deployments)
from supervisor_util import request


def local_run(liquid, module, function, directory):
    done = liquid("run", "--dir", f"{directory}::.", "--invoke", function, module)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


# ------------------------------------------------------------ the §10 trace

def test_fibo_trace_of_the_reference(cluster, example):
    orch, (s1,) = cluster(1)
    # 1 create module, 2 describe it with the GUI's bracket-notation fields
    r = orch.create_module("fibo", example("fibo"))
    assert r.status == 201, r
    mid = r.json()["id"]
    r = orch.form("POST", f"/file/module/{mid}/upload",
                  fields=[("fibo[param0]", "integer"), ("fibo[output]", "integer"),
                          ("fibo[method]", "GET")])
    assert r.status == 200, r
    # 3 create the manifest naming the device by id, keys in any order
    dev = device_ids(orch)["s1"]
    r = orch.post("/file/manifest", json_body={
        "sequence": [{"func": "fibo", "module": mid, "device": dev}], "name": "fibo-dep"})
    assert r.status == 201, r
    assert r.headers["Content-Type"].startswith("text/plain")
    dep = json.loads(r.body)            # the quoted id, as the reference answers
    assert len(dep) == 24 and r.body.decode() == f'"{dep}"'
    doc = deployment(orch, "fibo-dep")  # by name too
    assert doc["_id"] == dep and doc["active"] is False
    assert doc["sequence"][0]["device"] == dev and doc["sequence"][0]["module"] == mid
    node = doc["fullManifest"][dev]
    assert node["deploymentId"] == dep
    assert node["modules"][0]["urls"]["binary"] == f"{orch.base}/file/module/{mid}/wasm"
    assert node["modules"][0]["urls"]["other"] == {}
    assert node["modules"][0]["sha256"] == orch.module(mid)["wasm"]["sha256"]
    endpoint = node["endpoints"]["fibo"]["fibo"]
    assert endpoint["url"] == s1.base and endpoint["path"] == f"/{dep}/modules/fibo/fibo"
    assert endpoint["method"] == "get"
    assert endpoint["request"]["parameters"][0]["name"] == "param0"
    assert endpoint["response"] == {"media_type": "application/json",
                                    "schema": {"type": "integer"}}
    assert node["instructions"]["modules"]["fibo"]["fibo"]["to"] is None
    assert node["mounts"]["fibo"]["fibo"] == {"execution": [], "deployment": [], "output": []}
    reasons = doc["placement"]["steps"][0]
    assert reasons["deviceName"] == "s1" and "the manifest names this device" in reasons["reason"]
    # 4 deploy
    answer = deploy(orch, dep)
    assert answer["deviceResponses"][dev]["status"] == 200
    assert answer["deviceResponses"][dev]["data"]["status"] == "success"
    assert dep in supervisor_deployments(s1)
    assert deployment(orch, dep)["active"] is True
    # 5 execute
    result = execute(orch, dep, {"param0": 12})
    assert result["result"] == {"result": "233"}
    assert result["fetched_from_device"] == "127.0.0.1"
    assert result["resultUrl"].startswith(f"{s1.base}/request-history/")
    assert result["isInFailover"] is False
    assert [s["result"] for s in result["steps"]] == ["233"]
    assert result["steps"][0]["timings"]["totalUs"] >= result["steps"][0]["timings"]["runUs"]
    # recorded, with its input, and listed
    record = orch.get(f"/execute/{result['executionId']}").json()
    assert record["status"] == "success" and record["input"] == {"param0": 12}
    assert record["result"] == {"result": "233"} and record["deployment"] == dep
    listed = orch.get(f"/execute?deployment={dep}").json()
    assert [e["_id"] for e in listed] == [result["executionId"]]
    # a form field works as an argument too, as the reference's curl -F examples
    r = orch.form("POST", f"/execute/{dep}", fields=[("param0", "5")])
    assert r.status == 200 and r.json()["result"] == {"result": "8"}, r
    kinds = [e["type"] for e in events(orch) if e.get("subject") in (dep, result["executionId"])]
    for kind in ("deployment.created", "deployment.step_deployed", "deployment.deployed",
                 "execution.finished"):
        assert kind in kinds, kinds


# ------------------------------------------------------------ choosing devices

def test_device_null_is_placed_and_every_other_device_explained(cluster, example, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "a.jpg").write_bytes((IMAGES / "scene_64x48_420.jpg").read_bytes())
    orch, sups = cluster(3, sup_args_by_name={"s2": ["--camera-dir", str(frames)]})
    add_modules(orch, example, ("fibo", "camera"))
    dep = create(orch, "snap", step("camera", "take_image_predefined_path"))
    doc = deployment(orch, dep)
    assert placed_devices(orch, dep) == ["s2"]      # the only camera
    reasons = doc["placement"]["steps"][0]
    assert reasons["deviceName"] == "s2" and reasons["reason"].startswith("chosen")
    others = {o["deviceName"]: o for o in reasons["others"]}
    assert set(others) == {"s1", "s3"}
    for o in others.values():
        assert o["verdict"] == "rejected: missing capability"
        assert "does not declare the capability 'camera'" in o["reason"]

    fib = create(orch, "fib", step("fibo", "fibo"))
    reasons = deployment(orch, fib)["placement"]["steps"][0]
    assert reasons["deviceName"] in {"s1", "s2", "s3"}
    assert {o["verdict"] for o in reasons["others"]} == {"scored lower"}
    assert all("CPU" in o["reason"] and "round trip" in o["reason"] for o in reasons["others"])
    deploy(orch, fib)
    assert execute(orch, fib, {"param0": 10})["result"] == {"result": "89"}


def test_three_step_file_chain_across_devices(cluster, example, liquid, tmp_path):
    """camera on s1 -> grayscale on s2 -> classify on s3: the frame and the grayscale
    picture travel as files between devices; the answer is the one the modules give
    run locally on the same frame."""
    frames = tmp_path / "frames"
    frames.mkdir()
    frame = (IMAGES / "scene_64x48_420.jpg").read_bytes()
    (frames / "a.jpg").write_bytes(frame)
    orch, sups = cluster(3, sup_args_by_name={"s1": ["--camera-dir", str(frames)]})
    add_modules(orch, example, ("camera", "grayscale", "classify"))
    dep = create(orch, "pipeline", step("camera", "take_image_predefined_path", "s1"),
                 step("grayscale", "grayscale", "s2"), step("classify", "classify", "s3"))
    doc = deployment(orch, dep)
    ids = device_ids(orch)
    # step 1's node sends its output file on to step 2's endpoint on s2
    to = doc["fullManifest"][ids["s1"]]["instructions"]["modules"]["camera"][
        "take_image_predefined_path"]["to"]
    assert to["url"] == sups[1].base and to["path"].endswith("/modules/grayscale/grayscale")
    assert doc["fullManifest"][ids["s2"]]["mounts"]["grayscale"]["grayscale"]["execution"] == [
        {"path": "image.jpeg", "media_type": "application/octet-stream", "stage": "execution"}]
    deploy(orch, dep)
    result = execute(orch, dep)

    sandbox = tmp_path / "local"
    sandbox.mkdir()
    (sandbox / "image.jpeg").write_bytes(frame)
    local_run(liquid, example("grayscale"), "grayscale", sandbox)
    expected = local_run(liquid, example("classify"), "classify", sandbox)
    assert result["result"] == {"result": expected}
    steps = result["steps"]
    assert [s["step"] for s in steps] == [0, 1, 2]
    assert [s["device"] for s in steps] == [ids["s1"], ids["s2"], ids["s3"]]
    # grayscale answers with its output file, served by s2; classify with a number
    assert steps[1]["result"] is None and steps[2]["result"] == expected
    assert steps[1]["outputs"] == [f"{sups[1].base}/module_results/{dep}/grayscale/result.pgm"]
    assert request("GET", steps[1]["outputs"][0]).body == (sandbox / "result.pgm").read_bytes()
    assert all(s["success"] and "timings" in s for s in steps)
    assert result["fetched_from_device"] == "127.0.0.1"
    assert result["resultUrl"].startswith(sups[2].base)


def test_two_step_chain_with_an_uploaded_file_and_null_devices(cluster, example, liquid,
                                                               tmp_path):
    """grayscale -> classify, both `device: null`: the frame comes with the execution as
    a multipart part; both steps are kept on one device (a file hop costs more)."""
    orch, sups = cluster(2)
    add_modules(orch, example, ("grayscale", "classify"))
    dep = create(orch, "gc", step("grayscale", "grayscale"), step("classify", "classify"))
    names = placed_devices(orch, dep)
    assert names[0] == names[1]
    reasons = deployment(orch, dep)["placement"]["steps"][1]["reason"]
    assert "no hop from step 1 (same device)" in reasons
    deploy(orch, dep)
    frame = (IMAGES / "scene_40x24_422.jpg").read_bytes()
    result = execute(orch, dep, files=[("image.jpeg", "frame.jpg", frame)])
    sandbox = tmp_path / "local"
    sandbox.mkdir()
    (sandbox / "image.jpeg").write_bytes(frame)
    local_run(liquid, example("grayscale"), "grayscale", sandbox)
    assert result["result"] == {"result": local_run(liquid, example("classify"), "classify",
                                                    sandbox)}
    # the input file was kept, so the execution can be run again
    record = orch.get(f"/execute/{result['executionId']}").json()
    assert list(record["inputFiles"]) == ["image.jpeg"]
    assert len(record["inputFiles"]["image.jpeg"]) == 64


def test_same_function_twice_on_one_device(cluster, example):
    """fibo -> fibo -> fibo on one device: a supervisor routes by module and function,
    so the later steps get their own module names there."""
    orch, _ = cluster(1)
    add_modules(orch, example, ("fibo",))
    dep = create(orch, "fff", step("fibo", "fibo"), step("fibo", "fibo"), step("fibo", "fibo"))
    doc = deployment(orch, dep)
    assert [s["alias"] for s in doc["sequence"]] == ["fibo", "fibo-2", "fibo-3"]
    deploy(orch, dep)
    # fibo(fibo(fibo(4))) = fibo(fibo(5)) = fibo(8) = 34
    result = execute(orch, dep, {"param0": 4})
    assert result["result"] == {"result": "34"}
    assert [s["result"] for s in result["steps"]] == ["5", "8", "34"]


# ------------------------------------------------------------ all or nothing

def test_deploy_rolls_back_when_a_device_refuses(cluster, example):
    # s2 takes no download of more than 64 bytes: its deploy fails (502, the fetch failed)
    orch, (s1, s2) = cluster(2, sup_args_by_name={"s2": ["--max-download", "64"]})
    add_modules(orch, example, ("fibo",))
    dep = create(orch, "split", step("fibo", "fibo", "s1"), step("fibo", "fibo", "s2"))
    r = orch.post(f"/file/manifest/{dep}", timeout=120)
    assert r.status == 502, r
    body = r.json()
    assert "device 's2' answered 502 to deploy" in body["errorText"]
    assert "larger than the limit of 64 bytes" in body["errorText"]
    assert body["error"]["deviceName"] == "s2" and body["error"]["status"] == 502
    assert "errorText" in body["error"]["answer"]
    # s1 had accepted: it was rolled back; nothing is active
    assert dep not in supervisor_deployments(s1)
    assert dep not in supervisor_deployments(s2)
    assert deployment(orch, dep)["active"] is False
    r = orch.post(f"/execute/{dep}", json_body={"param0": 3})
    assert r.status == 409 and "is not deployed" in r.json()["errorText"], r
    kinds = [e["type"] for e in events(orch) if e.get("subject") == dep]
    assert "deployment.failed" in kinds and "deployment.rolled_back" in kinds


def test_deploy_of_an_update_puts_the_previous_version_back(cluster, example):
    orch, (s1, s2) = cluster(2, sup_args_by_name={"s2": ["--max-download", "64"]})
    add_modules(orch, example, ("fibo", "counter"))
    dep = create(orch, "upd", step("counter", "add", "s1"))
    deploy(orch, dep)
    assert execute(orch, dep, {"param0": 5})["result"] == {"result": "5"}
    # the update adds a step on s2, which refuses: s1 gets its previous node back
    r = orch.put(f"/file/manifest/{dep}", json_body={
        "name": "upd", "sequence": [step("counter", "add", "s1"), step("fibo", "fibo", "s2")]})
    assert r.status == 502 and "device 's2'" in r.json()["errorText"], r
    doc = deployment(orch, dep)
    assert len(doc["sequence"]) == 1 and doc["active"] is True
    # the counter's module did not change through the update and its rollback: a
    # supervisor keeps a module that a new node leaves as it was, state and all (5 + 1)
    assert execute(orch, dep, {"param0": 1})["result"] == {"result": "6"}
    node = request("GET", f"{s1.base}/deploy/{dep}").json()["manifest"]
    assert node["instructions"]["modules"]["counter"]["add"]["to"] is None


def test_deploy_to_a_killed_device_rolls_back_and_names_it(cluster, example):
    # a long health interval: the orchestrator has not noticed when the deploy starts
    orch, (s1, s2) = cluster(2, orch_args=["--health-interval", "60s"])
    add_modules(orch, example, ("fibo",))
    dep = create(orch, "k", step("fibo", "fibo", "s1"), step("fibo", "fibo", "s2"))
    s2.stop(signal.SIGKILL)
    r = orch.post(f"/file/manifest/{dep}", timeout=120)
    assert r.status == 502, r
    assert "device 's2' cannot be reached" in r.json()["errorText"]
    assert dep not in supervisor_deployments(s1)
    assert deployment(orch, dep)["active"] is False


# ------------------------------------------------------------ update and delete

def test_update_moves_a_step_and_delete_removes_everywhere(cluster, example):
    orch, (s1, s2) = cluster(2)
    add_modules(orch, example, ("fibo",))
    dep = create(orch, "mv", step("fibo", "fibo", "s1"))
    r = orch.put(f"/file/manifest/{dep}", json_body={"name": "mv",
                                                     "sequence": [step("fibo", "fibo", "s2")]})
    assert r.status == 204, r               # not active: stored, not deployed
    assert placed_devices(orch, dep) == ["s2"]
    deploy(orch, dep)
    assert dep in supervisor_deployments(s2) and dep not in supervisor_deployments(s1)
    r = orch.put(f"/file/manifest/{dep}", json_body={"name": "mv",
                                                     "sequence": [step("fibo", "fibo", "s1")]})
    assert r.status == 200 and "deviceResponses" in r.json(), r
    assert dep in supervisor_deployments(s1) and dep not in supervisor_deployments(s2)
    assert execute(orch, "mv", {"param0": 6})["result"] == {"result": "13"}
    assert deployment(orch, dep)["epoch"] == 3

    r = orch.delete(f"/file/manifest/{dep}")
    assert r.status == 200 and r.json() == {"deletedCount": 1}, r
    assert dep not in supervisor_deployments(s1)
    assert orch.get(f"/file/manifest/{dep}").status == 404
    other = create(orch, "other", step("fibo", "fibo"))
    deploy(orch, other)
    r = orch.delete("/file/manifest")
    assert r.status == 200 and r.json() == {"deletedCount": 1}, r
    assert orch.get("/file/manifest").json() == []
    assert not supervisor_deployments(s1) and not supervisor_deployments(s2)
