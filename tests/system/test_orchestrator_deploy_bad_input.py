"""Every kind of bad input to the manifest and execution routes gets a 4xx with the
Wasm-IoT error body naming the problem, and nothing is stored: unknown module,
function, device or failover device; a function never described; steps whose types
or mounts do not chain; a named device that cannot run its step; a taken name;
malformed documents; executions with missing or unexpected arguments and files.
"""
import json

import pytest

from orchestrator_util import cluster, orchestrator  # noqa: F401 (fixtures)
from placement_util import add_module, add_modules, create, deploy, execute, step


@pytest.fixture
def ready(cluster, example, tmp_path):
    """An orchestrator with s1 (a camera) and s2 (none), the example modules described,
    and one deployment 'fib' (fibo.fibo) already stored and deployed."""
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "a.jpg").write_bytes(b"\xff\xd8 not much of a picture \xff\xd9")
    orch, sups = cluster(2, sup_args_by_name={"s1": ["--camera-dir", str(frames)]})
    add_modules(orch, example, ("fibo", "camera", "grayscale", "classify"))
    # a module whose function was never described
    orch.upload_module("bare", example("fibo"))
    fib = create(orch, "fib", step("fibo", "fibo"))
    deploy(orch, fib)
    return orch, fib


def refused(orch, body, status, *words, raw=None):
    before = orch.get("/file/manifest").json()
    if raw is not None:
        r = orch.post("/file/manifest", body=raw, headers={"Content-Type": "application/json"})
    else:
        r = orch.post("/file/manifest", json_body=body)
    assert r.status == status, r
    error = r.json()
    assert set(error) >= {"errorText", "error"}, error
    for w in words:
        assert w in error["errorText"], (w, error["errorText"])
    assert orch.get("/file/manifest").json() == before, "something was stored"
    return error["errorText"]


def manifest(*steps, name="m"):
    return {"name": name, "sequence": list(steps)}


@pytest.mark.parametrize("raw, words", [
    (b"{not json", ["must be JSON"]),
    (b"[1, 2]", ["expected an object"]),
    (b'{"sequence": []}', ["name: missing"]),
    (b'{"name": "x"}', ["sequence: missing"]),
    (b'{"name": "x", "sequence": []}', ["sequence: empty"]),
    (b'{"name": 3, "sequence": [{"module": "fibo", "func": "fibo"}]}', ["name: expected a string"]),
    (b'{"name": "x", "sequence": [{"module": "fibo"}]}', ["sequence[0].func: missing"]),
    (b'{"name": "x", "sequence": [{"module": 7, "func": "fibo"}]}', ["sequence[0].module"]),
    (b'{"name": "x", "sequence": [{"module": "fibo", "func": "fibo", "device": 5}]}',
     ["sequence[0].device"]),
    (b'{"name": "x", "sequence": [{"module": "fibo", "func": "fibo", "failovers": "s2"}]}',
     ["sequence[0].failovers"]),
    (b'{"name": "x", "sequence": ["fibo"]}', ["sequence[0]"]),
])
def test_malformed_manifests(ready, raw, words):
    orch, _ = ready
    refused(orch, None, 400, *words, raw=raw)


def test_unknown_module_function_and_device(ready):
    orch, _ = ready
    refused(orch, manifest(step("nosuch", "f")), 400, "sequence[0].module", "no module 'nosuch'")
    refused(orch, manifest(step("fibo", "fib")), 400, "sequence[0].func",
            "module 'fibo' does not export a function 'fib'", "fibo, subtract")
    refused(orch, manifest(step("bare", "fibo")), 400, "no description of function 'fibo'",
            "/upload")
    refused(orch, manifest(step("fibo", "fibo", "ghost")), 400, "sequence[0].device",
            "no device 'ghost'")
    refused(orch, manifest(step("fibo", "fibo", failovers=["s2", "phantom"])), 400,
            "sequence[0].failovers[1]", "no device 'phantom'")


def test_steps_that_cannot_be_chained(ready):
    orch, _ = ready
    # a number into a step that takes a file
    refused(orch, manifest(step("fibo", "fibo"), step("grayscale", "grayscale")), 400,
            "steps 1 (fibo.fibo) and 2 (grayscale.grayscale) cannot be chained",
            "outputs a number")
    # a file into a step that takes a number
    refused(orch, manifest(step("camera", "take_image_predefined_path"), step("fibo", "fibo")),
            400, "steps 1 (camera.take_image_predefined_path) and 2 (fibo.fibo)",
            "outputs the file 'image.jpeg'")
    # a file into a step whose execution mount has another name (the mounts do not match)
    refused(orch, manifest(step("camera", "take_image_predefined_path"),
                           step("classify", "classify")), 400,
            "step 1 outputs the file 'image.jpeg' but step 2 takes the file 'result.pgm'")
    # two parameters where one number arrives
    refused(orch, manifest(step("fibo", "fibo"), step("fibo", "subtract")), 400,
            "step 2 takes 2 parameters")


def test_named_device_that_cannot_run_its_step(ready):
    orch, _ = ready
    text = refused(orch, manifest(step("camera", "take_image_predefined_path", "s2")), 400,
                   "the manifest names device 's2', which cannot run it",
                   "does not declare the capability 'camera'")
    assert text.startswith("step 1 (camera.take_image_predefined_path)")


def test_taken_name(ready):
    orch, _ = ready
    refused(orch, manifest(step("fibo", "fibo"), name="fib"), 409, "named 'fib' already exists")


def test_update_with_bad_input_changes_nothing(ready):
    orch, fib = ready
    before = orch.get(f"/file/manifest/{fib}").json()
    for body, status, words in [
        (manifest(step("fibo", "nope"), name="fib"), 400, "does not export"),
        ({"name": "fib"}, 400, "sequence: missing"),
        (manifest(step("fibo", "fibo"), name="other-name-is-fine-but-device-is-not")
         | {"sequence": [step("fibo", "fibo", "ghost")]}, 400, "no device 'ghost'"),
    ]:
        r = orch.put(f"/file/manifest/{fib}", json_body=body)
        assert r.status == status and words in r.json()["errorText"], r
    assert orch.get(f"/file/manifest/{fib}").json() == before
    r = orch.put("/file/manifest/nosuch", json_body=manifest(step("fibo", "fibo")))
    assert r.status == 404, r


def test_unknown_deployments(ready):
    orch, _ = ready
    for method, path in [("GET", "/file/manifest/nosuch"), ("POST", "/file/manifest/nosuch"),
                         ("DELETE", "/file/manifest/nosuch"), ("POST", "/execute/nosuch"),
                         ("GET", "/execute/000000000000000000000000")]:
        r = getattr(orch, method.lower())(path)
        assert r.status == 404, (method, path, r)
        assert "errorText" in r.json()


def test_bad_executions(ready, example):
    orch, fib = ready
    r = orch.post(f"/execute/{fib}", json_body={})
    assert r.status == 400, r
    assert "missing argument 'param0' (integer) for step 1 (fibo.fibo)" in r.json()["errorText"]
    r = orch.post(f"/execute/{fib}", body=b"[1]", headers={"Content-Type": "application/json"})
    assert r.status == 400 and "must be a JSON object" in r.json()["errorText"], r
    r = orch.form("POST", f"/execute/{fib}", fields=[("param0", "3")],
                  files=[("image.jpeg", "a.jpg", b"\xff\xd8", "image/jpeg")])
    assert r.status == 400 and "unexpected file 'image.jpeg'" in r.json()["errorText"], r
    # a value the supervisor cannot convert: its answer is passed on, naming the step
    r = orch.post(f"/execute/{fib}", json_body={"param0": "twelve"})
    assert r.status == 400 and "step 1 (fibo.fibo)" in r.json()["errorText"], r
    # a file step called without its file (the missing execution mount)
    gray = create(orch, "gray", step("grayscale", "grayscale"))
    deploy(orch, gray)
    r = orch.post(f"/execute/{gray}", json_body={})
    assert r.status == 400, r
    assert "missing file 'image.jpeg'" in r.json()["errorText"]
    # not deployed yet
    idle = create(orch, "idle", step("fibo", "fibo"))
    r = orch.post(f"/execute/{idle}", json_body={"param0": 1})
    assert r.status == 409 and "POST /file/manifest/" in r.json()["errorText"], r
    # none of these ran: no execution is recorded but the ones that reached a device
    recorded = orch.get("/execute").json()
    assert all(e["deployment"] in (fib, gray) for e in recorded)
    assert execute(orch, fib, {"param0": 7})["result"] == {"result": "21"}
