"""Bad input of every kind (issue 3, "Bad input"): each malformed deployment gets its
4xx (or 502 when the file server cannot be reached) with a message naming the field or
URL at fault, and the deployment it would have replaced keeps serving; bad calls get a
4xx naming the parameter or file; oversized uploads get 413; path traversal in mount
names and file routes reads nothing outside the module's directory."""
import copy
import os

import pytest

from supervisor_util import (endpoint, file_server, free_port, module_entry, mount,  # noqa: F401
                             node, request, sha256_hex, supervisors)

DEP = "badinput"

# A module importing env.missing, which no supervisor offers.
MISSING_IMPORT_WASM = bytes.fromhex(
    "0061736d01000000" "0104016000" "00" "020f0103656e76076d697373696e670000")


@pytest.fixture
def deployed(supervisors, file_server, wat):
    """A supervisor serving DEP: module m with add(i32, i32) and data() reading a file."""
    sv = supervisors("victim")
    url = file_server.put("faults.wasm", wat("supervisor_faults").read_bytes())
    files_url = file_server.put("files.wasm", wat("supervisor_files").read_bytes())
    data_url = file_server.put("data.bin", b"\x01\x02\x03")
    good = node(DEP, [module_entry("m", url), module_entry("f", files_url, {"data": data_url})], [
        {"module": "m", "function": "add",
         "endpoint": endpoint(sv.base, DEP, "m", "add",
                              params=(("param0", "integer"), ("param1", "integer")))},
        {"module": "f", "function": "data",
         "endpoint": endpoint(sv.base, DEP, "f", "data", params=()),
         "mounts": {"deployment": [mount("data", "deployment")]}},
        {"module": "f", "function": "echo",
         "endpoint": endpoint(sv.base, DEP, "f", "echo", method="post", params=()),
         "mounts": {"execution": [mount("in.txt", "execution")],
                    "output": [mount("out.txt", "output")]}},
    ])
    r = sv.deploy(good)
    assert r.status == 200, r
    return sv, good


def still_serving(sv):
    r = sv.call(DEP, "m", "add", {"param0": 2, "param1": 3})
    assert r.status == 200, r
    assert r.json()["result"] == {"result": "5"}
    assert sv.call(DEP, "f", "data").json()["result"] == {"result": "6"}
    versions = sorted(p.name for p in (sv.instance_dir / "deployments" / DEP).iterdir())
    assert versions == ["v1"], f"a failed deploy left {versions}"


def bad(good, change):
    manifest = copy.deepcopy(good)
    change(manifest)
    return manifest


def setitem(path, value):
    def change(m):
        target = m
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


def delitem(path):
    def change(m):
        target = m
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return change


MANIFEST_CASES = [
    ("missing deploymentId", delitem(["deploymentId"]), "deploymentId: missing"),
    ("deploymentId with a slash", setitem(["deploymentId"], "../x"), "deploymentId: '../x'"),
    ("missing modules", delitem(["modules"]), "modules: missing"),
    ("empty modules", setitem(["modules"], []), "modules: expected a non-empty array"),
    ("modules not a list", setitem(["modules"], {}), "modules: expected a non-empty array"),
    ("missing binary URL", delitem(["modules", 0, "urls", "binary"]),
     "modules[0].urls.binary: missing"),
    ("binary URL not http", setitem(["modules", 0, "urls", "binary"], "ftp://host/m.wasm"),
     "modules[0].urls.binary: not an http(s) URL"),
    ("binary URL not a string", setitem(["modules", 0, "urls", "binary"], 42),
     "modules[0].urls.binary: expected a string"),
    ("data file URL not http", setitem(["modules", 1, "urls", "other", "data"], "file:///etc/passwd"),
     "modules[1].urls.other.data: not an http(s) URL"),
    ("data file mount traversal",
     setitem(["modules", 1, "urls", "other", "../escape"], "http://127.0.0.1:9/x"),
     "modules[1].urls.other.../escape: '../escape' is not a plain file name"),
    ("module name traversal", setitem(["modules", 0, "name"], "../m"),
     "modules[0].name: '../m' is not a plain name"),
    ("unknown schema type",
     setitem(["endpoints", "m", "add", "request", "parameters", 0, "schema", "type"], "float"),
     "endpoints.m.add.request.parameters[0].schema.type: unknown type 'float'"),
    ("unknown response schema type",
     setitem(["endpoints", "m", "add", "response", "schema", "type"], "boolean"),
     "endpoints.m.add.response.schema.type: unknown type 'boolean'"),
    ("bad method", setitem(["endpoints", "m", "add", "method"], "put"),
     "endpoints.m.add.method: expected get or post"),
    ("endpoint of an unknown module", setitem(["endpoints", "ghost"], {}),
     "endpoints.ghost: no module named 'ghost' in modules"),
    ("instructions of an unknown module", setitem(["instructions", "modules", "ghost"], {}),
     "instructions.modules.ghost: no module named 'ghost' in modules"),
    ("mounts of an unknown module", setitem(["mounts", "ghost"], {}),
     "mounts.ghost: no module named 'ghost' in modules"),
    ("mount path traversal", setitem(["mounts", "f", "echo", "execution", 0, "path"], "../../x"),
     "mounts.f.echo.execution[0].path: '../../x' is not a plain file name"),
    ("deployment mount without its file", setitem(["modules", 1, "urls", "other"], {}),
     "mounts.f.data.deployment[0]: no data file 'data' in the module's urls.other"),
    ("next step URL bad", setitem(["instructions", "modules", "m", "add", "to"],
                                  {"url": "nowhere", "path": "/x", "method": "get",
                                   "response": {"media_type": "application/json"}}),
     "instructions.modules.m.add.to.url: not an http(s) URL"),
    ("file response without output mount",
     setitem(["endpoints", "f", "data", "response", "media_type"], "image/jpeg"),
     "endpoints.f.data.response.media_type: 'image/jpeg' is a file, so mounts.f.data needs "
     "exactly one output mount"),
    ("bad limit", setitem(["limits"], {"timeoutMs": -1}), "limits.timeoutMs: expected a whole"),
    ("unknown limit", setitem(["limits"], {"cpu": 1}), "limits.cpu: unknown limit"),
    ("function not exported", setitem(["endpoints", "m", "nope"],
                                      {"url": "http://127.0.0.1:1", "path": "/x", "method": "get",
                                       "response": {"media_type": "application/json"}}),
     "endpoints.m.nope: module m exports no function 'nope'"),
    ("bad sha256 text", setitem(["modules", 0, "sha256"], "abc"),
     "modules[0].sha256: expected 64 hexadecimal digits"),
]


@pytest.mark.parametrize("what,change,message", MANIFEST_CASES, ids=[c[0] for c in MANIFEST_CASES])
def test_bad_manifest_is_refused_and_old_deployment_serves(deployed, what, change, message):
    sv, good = deployed
    r = sv.deploy(bad(good, change))
    assert r.status == 400, (what, r)
    assert message in r.json()["errorText"], (what, r.json())
    still_serving(sv)


def test_not_json_and_not_an_object(deployed):
    sv, _ = deployed
    r = sv.post("/deploy", body=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status == 400 and "not a JSON" in r.json()["errorText"]
    r = sv.post("/deploy", json_body=[1, 2])
    assert r.status == 400 and "(body): expected a JSON object" in r.json()["errorText"]
    still_serving(sv)


def test_module_that_fails_to_validate(deployed, file_server):
    sv, good = deployed
    url = file_server.put("garbage.wasm", b"\0asm\x01\0\0\0\x01\x05\x01\x60\x00")
    r = sv.deploy(bad(good, setitem(["modules", 0, "urls", "binary"], url)))
    assert r.status == 400
    text = r.json()["errorText"]
    assert text.startswith("modules[0] (m): not a valid WebAssembly module") and "offset" in text
    url = file_server.put("text.wasm", b"hello, not wasm")
    r = sv.deploy(bad(good, setitem(["modules", 0, "urls", "binary"], url)))
    assert r.status == 400
    assert r.json()["errorText"].startswith("modules[0] (m): not a valid WebAssembly module")
    still_serving(sv)


def test_module_with_imports_not_offered(deployed, file_server):
    sv, good = deployed
    url = file_server.put("imports.wasm", MISSING_IMPORT_WASM)
    changed = bad(good, setitem(["modules", 0, "urls", "binary"], url))
    del changed["endpoints"]["m"], changed["instructions"]["modules"]["m"]
    r = sv.deploy(changed)
    assert r.status == 400, r
    assert r.json()["errorText"] == \
        "modules[0] (m): imports this supervisor does not offer: env.missing (function)"
    still_serving(sv)


def test_digest_mismatch_and_match(deployed, file_server, wat):
    sv, good = deployed
    wrong = bad(good, setitem(["modules", 0, "sha256"], "00" * 32))
    r = sv.deploy(wrong)
    assert r.status == 400
    assert r.json()["errorText"].startswith("modules[0].sha256: ")
    assert "served a binary with digest" in r.json()["errorText"]
    still_serving(sv)
    right = bad(good, setitem(["modules", 0, "sha256"],
                              sha256_hex(wat("supervisor_faults").read_bytes())))
    assert sv.deploy(right).status == 200


def test_unreachable_files(deployed, file_server):
    sv, good = deployed
    missing = file_server.fail("gone.bin", 404)
    r = sv.deploy(bad(good, setitem(["modules", 1, "urls", "other", "data"], missing)))
    assert r.status == 400, r
    assert r.json()["errorText"] == \
        f"modules[1].urls.other.data: {missing} answered HTTP 404 instead of the file"
    still_serving(sv)
    refused = f"http://127.0.0.1:{free_port()}/data.bin"
    r = sv.deploy(bad(good, setitem(["modules", 1, "urls", "other", "data"], refused)))
    assert r.status == 502, r
    assert r.json()["errorText"].startswith(f"modules[1].urls.other.data: cannot fetch {refused}")
    still_serving(sv)
    broken = file_server.fail("broken.wasm", 500)
    r = sv.deploy(bad(good, setitem(["modules", 0, "urls", "binary"], broken)))
    assert r.status == 502 and broken in r.json()["errorText"]
    still_serving(sv)


def test_bad_calls(deployed):
    sv, _ = deployed
    cases = [
        ({"param0": "two", "param1": 3}, "param0: 'two' is not a whole number"),
        ({"param0": "2.5", "param1": 3}, "param0: '2.5' is not a whole number"),
        ({"param0": 99999999999, "param1": 3}, "param0: '99999999999' is not a whole number"),
        ({"param0": 2}, "param1: missing: add takes 2 parameters (i32, i32), 1 given"),
        ({"param0": 1, "param1": 2, "param2": 3}, "param2: too many arguments"),
    ]
    for params, message in cases:
        r = sv.call(DEP, "m", "add", params)
        assert r.status == 400, (params, r)
        assert r.json()["errorText"].startswith(message), (params, r.json())
    # an upload the function does not take, and a missing one
    r = sv.call(DEP, "f", "echo", method="POST", files=[("other.txt", "x", b"1")])
    assert r.status == 400
    assert r.json()["errorText"] == \
        "other.txt: unexpected input file: echo takes the files: in.txt"
    r = sv.call(DEP, "f", "echo", method="POST", files=[("../in.txt", "x", b"1")])
    assert r.status == 400 and "unexpected input file" in r.json()["errorText"]
    r = sv.call(DEP, "f", "echo", method="POST", body=b"")
    assert r.status == 400
    assert r.json()["errorText"].startswith("in.txt: missing input file")
    r = sv.call(DEP, "m", "add", method="POST", fields=[("param0", "2")])
    assert r.status == 400
    assert r.json()["errorText"].startswith("param0: unexpected form field: send arguments in "
                                            "the query string")
    # a hostile file name is ignored: the file lands under its mount name
    outside = sv.instance_dir / "deployments" / DEP / "v1" / "escaped.txt"
    r = sv.call(DEP, "f", "echo", method="POST",
                files=[("in.txt", "../../../escaped.txt", b"hello")])
    assert r.status == 200, r
    entry = sv.wait_history(r.json()["resultUrl"].rsplit("/", 1)[1])
    assert entry.status == 200 and entry.json()["result"] == "5"
    assert not outside.exists()
    out = sv.get(f"/module_results/{DEP}/f/out.txt")
    assert out.status == 200 and out.body == b"hello"
    still_serving(sv)


def test_oversized_upload_and_body(supervisors, file_server, wat):
    sv = supervisors("small", args=["--max-upload", "4K"])
    url = file_server.put("files.wasm", wat("supervisor_files").read_bytes())
    dep = node("small", [module_entry("f", url)], [
        {"module": "f", "function": "echo",
         "endpoint": endpoint(sv.base, "small", "f", "echo", method="post", params=()),
         "mounts": {"execution": [mount("in.txt", "execution")],
                    "output": [mount("out.txt", "output")]}}])
    assert sv.deploy(dep).status == 200
    r = sv.call("small", "f", "echo", method="POST", files=[("in.txt", "in.txt", b"x" * 100)])
    assert r.status == 200
    r = sv.call("small", "f", "echo", method="POST", files=[("in.txt", "in.txt", b"x" * 20000)])
    assert r.status == 413, r
    assert "errorText" in r.json()
    big = dict(dep, padding="y" * 20000)
    assert sv.deploy(big).status == 413
    # nothing was left in the upload spool
    assert list((sv.instance_dir / "spool" / "uploads").iterdir()) == []


def test_file_routes_refuse_traversal(deployed):
    sv, _ = deployed
    (sv.instance_dir / "secret.txt").write_text("top secret")
    sandbox = sv.instance_dir / "deployments" / DEP / "v1" / "sandbox" / "f"
    os.symlink(sv.instance_dir / "secret.txt", sandbox / "link.txt")
    attempts = [
        f"/module_results/{DEP}/f/..%2F..%2F..%2F..%2Fsecret.txt",
        f"/module_results/{DEP}/f/..",
        f"/module_results/{DEP}/..%2F..%2F..%2Fsecret.txt/x",
        f"/module_results/f/..%2F..%2F..%2F..%2Fsecret.txt",
        f"/{DEP}/modules/f/echo/..%2F..%2F..%2F..%2Fsecret.txt",
        f"/{DEP}/modules/f/echo/link.txt",
        f"/module_results/{DEP}/f/link.txt",
        f"/module_results/{DEP}/f/%2Fetc%2Fpasswd",
    ]
    for path in attempts:
        r = sv.get(path)
        assert r.status in (400, 404), (path, r)
        assert b"top secret" not in r.body and b"root:" not in r.body, path
    # the data file itself is served, by both route forms
    assert sv.get(f"/module_results/{DEP}/f/data").body == b"\x01\x02\x03"
    assert sv.get(f"/{DEP}/modules/f/data/data").body == b"\x01\x02\x03"
    assert sv.get("/module_results/f/data").body == b"\x01\x02\x03"
