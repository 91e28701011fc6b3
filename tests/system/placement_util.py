"""Helpers for the placement tests (manifests, deploys, executions, failover): the
example modules uploaded and described as a user would, manifests created, deployed
and executed over the orchestrator's HTTP API.
"""
import json
import pathlib
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
DESCRIPTIONS = REPO / "examples" / "descriptions"
IMAGES = REPO / "tests" / "data" / "images"


def add_module(orch, example, name, description=None, files=()):
    """Uploads examples/<name>.wasm and describes it with examples/descriptions/<name>.json
    (or the given description). Returns the module id."""
    mid = orch.upload_module(name, example(name))
    functions = description or json.loads((DESCRIPTIONS / f"{name}.json").read_text())
    r = orch.describe_module(mid, functions, files=files)
    assert r.status == 200, r
    return mid


def add_modules(orch, example, names=("fibo", "camera", "grayscale", "classify", "counter")):
    return {name: add_module(orch, example, name) for name in names}


def step(module, func, device=None, **extra):
    return {"device": device, "module": module, "func": func, **extra}


def create(orch, name, *steps):
    """POST /file/manifest; asserts 201 text/plain with the quoted id; returns the id."""
    r = orch.post("/file/manifest", json_body={"name": name, "sequence": list(steps)})
    assert r.status == 201, r
    assert r.headers.get("Content-Type", "").startswith("text/plain"), r.headers
    text = r.body.decode()
    assert text.startswith('"') and text.endswith('"'), text
    return json.loads(text)


def deployment(orch, ref):
    r = orch.get(f"/file/manifest/{ref}")
    assert r.status == 200, r
    return r.json()


def deploy(orch, ref):
    r = orch.post(f"/file/manifest/{ref}", timeout=120)
    assert r.status == 200, r
    return r.json()


def execute(orch, ref, args=None, files=(), expect=200, timeout=120):
    """POST /execute/{ref} with JSON args or multipart files; asserts the status."""
    if files:
        parts = [(f[0], f[1], f[2], "application/octet-stream") for f in files]
        fields = [(k, str(v)) for k, v in (args or {}).items()]
        r = orch.form("POST", f"/execute/{ref}", files=parts, fields=fields, timeout=timeout)
    else:
        r = orch.post(f"/execute/{ref}", json_body=args or {}, timeout=timeout)
    assert r.status == expect, r
    return r.json()


def placed_devices(orch, ref):
    """The device name of each step."""
    by_id = {d["_id"]: d["name"] for d in orch.devices()}
    return [by_id.get(s["device"], s["device"]) for s in deployment(orch, ref)["sequence"]]


def device_ids(orch):
    return {d["name"]: d["_id"] for d in orch.devices()}


def events(orch, *types, limit=1000):
    r = orch.get(f"/events/recent?limit={limit}")
    assert r.status == 200, r
    return [e for e in r.json() if not types or e["type"] in types]


def wait_until(check, timeout=30, interval=0.05, what="condition"):
    """Polls check() until it returns something true; returns it."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def supervisor_deployments(sv):
    """The deployment ids a supervisor runs (GET /deploy)."""
    from supervisor_util import request
    r = request("GET", sv.base + "/deploy")
    assert r.status == 200, r
    return {d["deploymentId"] for d in r.json()["deployments"]}
