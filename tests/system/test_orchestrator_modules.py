"""The module registry of a real `liquid orchestrator` (wasmiot-api.md §3.2): create
with multipart uploads, describe with the CLI's JSON `functions` field and with the
GUI's bracket-notation fields, data files as parts named after mounts, binaries and
data files served with their digest, and every kind of bad input answered with a 4xx
and the Wasm-IoT error body, storing nothing."""
import hashlib
import json
import pathlib
import urllib.parse

import pytest

from orchestrator_util import cluster, orchestrator, request  # noqa: F401

REPO = pathlib.Path(__file__).resolve().parents[2]
DESCRIPTIONS = REPO / "examples" / "descriptions"


def fd(name):
    return json.loads((DESCRIPTIONS / f"{name}.json").read_text())


def blob_files(orch):
    """Every stored blob (the content-addressed files, not temporaries)."""
    root = orch.data_dir / "blobs"
    return sorted(p.name for p in root.glob("??/*"))


def assert_error(r, status, *fragments):
    assert r.status == status, r
    body = r.json()
    assert set(body) >= {"errorText", "error"}, body
    for fragment in fragments:
        assert fragment in body["errorText"], (fragment, body)
    return body


# ------------------------------------------------------------------- create

def test_create_then_read_by_id_and_name(orchestrator, example):
    orch = orchestrator()
    wasm = example("fibo").read_bytes()
    r = orch.create_module("fibo", wasm)
    assert r.status == 201, r
    mid = r.json()["id"]
    assert len(mid) == 24 and int(mid, 16) >= 0

    listed = orch.get("/file/module").json()
    assert [m["_id"] for m in listed] == [mid]
    for key in (mid, "fibo"):
        r = orch.get(f"/file/module/{key}")
        assert r.status == 200, r
        body = r.json()
        assert isinstance(body, list) and len(body) == 1, body   # an array even for one
        module = body[0]
        assert module["_id"] == mid and module["name"] == "fibo"
    exports = {e["name"]: e for e in module["exports"]}
    assert exports["fibo"]["parameterCount"] == 1
    assert exports["fibo"]["params"] == ["i64"] and exports["fibo"]["results"] == ["i64"]
    assert exports["subtract"]["parameterCount"] == 2
    assert module["wasm"]["originalFilename"] == "fibo.wasm"
    assert module["wasm"]["sha256"] == hashlib.sha256(wasm).hexdigest()

    r = orch.get(f"/file/module/{mid}/wasm")
    assert r.status == 200 and r.body == wasm
    assert r.headers["Content-Type"] == "application/wasm"
    assert r.headers["X-Content-SHA256"] == module["wasm"]["sha256"]
    assert r.headers["ETag"] == '"%s"' % module["wasm"]["sha256"]
    r = orch.get(f"/file/module/{mid}/wasm", headers={"If-None-Match": r.headers["ETag"]})
    assert r.status == 304 and r.body == b""


def test_requirements_are_function_imports(orchestrator, example):
    orch = orchestrator()
    mid = orch.upload_module("datafile", example("datafile"))
    module = orch.module(mid)
    assert module["requirements"], module
    for req in module["requirements"]:
        assert req["kind"] == "function" and req["module"] and req["name"], req
    assert {"module": "wasi_snapshot_preview1", "name": "fd_read", "kind": "function"} \
        in module["requirements"]


def test_any_field_name_and_octet_stream_leniency(orchestrator, example):
    orch = orchestrator()
    wasm = example("fibo").read_bytes()
    # the reference CLI sends the part as `wasm`, the GUI as `module`
    assert orch.create_module("a", wasm, field="wasm").status == 201
    # Liquid's leniency: application/octet-stream when the bytes are WebAssembly
    r = orch.create_module("b", wasm, field="file", content_type="application/octet-stream")
    assert r.status == 201, r
    # one binary stored once, whatever the number of modules using it
    assert len(blob_files(orch)) == 1


# ----------------------------------------------------------------- describe

def test_describe_with_json_functions_field(orchestrator, example):
    orch = orchestrator()
    mid = orch.upload_module("fibo", example("fibo"))
    r = orch.describe_module(mid, fd("fibo"))
    assert r.status == 200, r
    description = r.json()["description"]
    assert description["openapi"] == "3.0.3"
    op = description["paths"]["/{deployment}/modules/fibo/fibo"]["get"]
    assert [p["name"] for p in op["parameters"]] == ["param0"]
    assert op["parameters"][0] == {"name": "param0", "in": "query", "required": True,
                                   "description": "Auto-generated description",
                                   "schema": {"type": "integer"}}
    assert op["responses"]["200"]["content"] == {
        "application/json": {"schema": {"type": "integer"}}}
    sub = description["paths"]["/{deployment}/modules/fibo/subtract"]["get"]
    assert [p["name"] for p in sub["parameters"]] == ["param0", "param1"]
    assert orch.get(f"/file/module/{mid}/description").json() == description
    module = orch.module(mid)
    assert module["description"] == description
    assert module["mounts"] == {"fibo": {}, "subtract": {}}


def test_bracket_fields_describe_like_json(orchestrator, example):
    """The GUI's form fields, multipart or urlencoded, give the JSON field's description."""
    orch = orchestrator()
    wasm = example("grayscale").read_bytes()
    by_json = orch.upload_module("g1", wasm)
    by_form = orch.upload_module("g2", wasm)
    by_urlencoded = orch.upload_module("g3", wasm)
    assert orch.describe_module(by_json, fd("grayscale")).status == 200
    fields = [("grayscale[method]", "POST"), ("grayscale[output]", "application/octet-stream"),
              ("grayscale[mounts][0][name]", "image.jpeg"),
              ("grayscale[mounts][0][stage]", "execution"),
              ("grayscale[mounts][0][mediaType]", "image/jpeg"),
              ("grayscale[mounts][1][name]", "result.pgm"),
              ("grayscale[mounts][1][stage]", "output"),
              ("grayscale[mounts][1][mediaType]", "application/octet-stream")]
    r = orch.form("POST", f"/file/module/{by_form}/upload", fields=fields)
    assert r.status == 200, r
    r = orch.post(f"/file/module/{by_urlencoded}/upload",
                  body=urllib.parse.urlencode(fields).encode(),
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 200, r

    def comparable(mid, name):
        text = json.dumps(orch.get(f"/file/module/{mid}/description").json(), sort_keys=True)
        return text.replace(f"/modules/{name}/", "/modules/M/").replace(f'"{name}"', '"M"')
    assert comparable(by_json, "g1") == comparable(by_form, "g2") == comparable(by_urlencoded,
                                                                                 "g3")
    description = orch.get(f"/file/module/{by_form}/description").json()
    post = description["paths"]["/{deployment}/modules/g2/grayscale"]["post"]
    body = post["requestBody"]["content"]["multipart/form-data"]
    assert list(body["schema"]["properties"]) == ["image.jpeg"]   # inputs only, not the output
    assert post["responses"]["200"]["content"] == {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}


def test_data_files_are_parts_named_after_mounts(orchestrator, example):
    orch = orchestrator()
    mid = orch.upload_module("datafile", example("datafile"))
    # deployment-stage mounts need their files: the reference's message, nothing stored
    r = orch.describe_module(mid, fd("datafile"))
    assert_error(r, 400, 'Functions missing mounts: [["total","data"],["rows","data"]]')
    assert "description" not in orch.module(mid)

    data = (DESCRIPTIONS / "datafile-data.csv").read_bytes()
    r = orch.describe_module(mid, fd("datafile"), files=[("data", "energy.csv", data,
                                                          "text/csv")])
    assert r.status == 200, r
    module = orch.module(mid)
    digest = hashlib.sha256(data).hexdigest()
    assert module["dataFiles"]["data"]["sha256"] == digest
    assert module["dataFiles"]["data"]["originalFilename"] == "energy.csv"
    # the stored media type is the uploaded file's, as the reference keeps it
    assert module["mounts"]["total"]["data"] == {"mediaType": "text/csv", "stage": "deployment"}
    encoding = (r.json()["description"]["paths"]["/{deployment}/modules/datafile/total"]["get"]
                ["requestBody"]["content"]["multipart/form-data"]["encoding"])
    assert encoding == {"data": {"contentType": "text/csv"}}

    r = orch.get(f"/file/module/{mid}/data")
    assert r.status == 200 and r.body == data
    assert r.headers["X-Content-SHA256"] == digest
    r = orch.get(f"/file/module/datafile/nothere")
    assert r.status == 400, r
    assert r.json()["err"] == "file 'nothere' missing from module 'datafile'"


# ---------------------------------------------------------------- bad input

def test_bad_wasm_is_refused_with_offset_storing_nothing(orchestrator, wat):
    orch = orchestrator()
    truncated = b"\0asm\x01\0\0\0\x01\x05\x01\x60"
    r = orch.create_module("broken", truncated)
    body = assert_error(r, 400, "malformed WebAssembly module at byte")
    assert body["error"]["kind"] == "malformed"
    assert 8 < body["error"]["offset"] <= len(truncated)
    assert f"at byte {body['error']['offset']} " in body["errorText"]

    # well-formed but invalid: a () -> i32 function with an empty body
    invalid = bytes.fromhex("0061736d01000000" "010501600001 7f" "03020100" "0a040102000b"
                            .replace(" ", ""))
    body = assert_error(orch.create_module("invalid", invalid), 400, "invalid WebAssembly")
    assert body["error"]["kind"] == "invalid"

    assert_error(orch.create_module("text", b"hello, I am text", content_type="text/plain"),
                 400, "is not WebAssembly", "text/plain")
    assert_error(orch.create_module("octets", b"MZ\x90\0 not wasm",
                                    content_type="application/octet-stream"),
                 400, "is not WebAssembly")
    assert orch.get("/file/module").json() == []
    assert blob_files(orch) == []


def test_create_needs_a_name_and_one_binary(orchestrator, example):
    orch = orchestrator()
    wasm = example("fibo").read_bytes()
    assert_error(orch.form("POST", "/file/module",
                           files=[("module", "f.wasm", wasm, "application/wasm")]),
                 400, "name: missing")
    assert_error(orch.form("POST", "/file/module", fields=[("name", "fibo")]),
                 400, "no .wasm file")
    assert_error(orch.form("POST", "/file/module", fields=[("name", "fibo")],
                           files=[("a", "a.wasm", wasm, "application/wasm"),
                                  ("b", "b.wasm", wasm, "application/wasm")]),
                 400, "expected one file part")
    assert_error(orch.create_module("../../etc", wasm), 400, "name '../../etc'")
    assert orch.create_module("fibo", wasm).status == 201
    assert_error(orch.create_module("fibo", wasm), 409, "'fibo' already exists")
    assert len(orch.get("/file/module").json()) == 1


def test_describe_errors_store_nothing(orchestrator, example):
    orch = orchestrator()
    mid = orch.upload_module("fibo", example("fibo"))
    assert orch.describe_module(mid, fd("fibo")).status == 200
    before = orch.module(mid)

    assert_error(orch.describe_module(mid, {"fib": {"method": "GET", "output": "integer",
                                                     "parameters": []}}),
                 400, "exports no function 'fib'", "fibo")
    assert_error(orch.describe_module(mid, {"fibo": {"method": "GET", "output": "integer"}}),
                 400, "takes 1 parameter")
    assert_error(orch.form("POST", f"/file/module/{mid}/upload", fields=[("functions", "{oops")]),
                 400, "not valid JSON")
    assert_error(orch.describe_module(mid, {"fibo": {"method": "TELEPORT", "output": "integer",
                                                      "parameters": [{"name": "param0",
                                                                      "type": "integer"}]}}),
                 400, "'TELEPORT'")
    assert_error(orch.describe_module(mid, fd("fibo"), files=[("stray", "x.bin", b"x")]),
                 400, "file part 'stray' is not a mount")
    described = dict(fd("fibo"))
    described["fibo"] = dict(described["fibo"], mounts=[{"name": "in", "stage": "execution"}])
    assert_error(orch.describe_module(mid, described,
                                      files=[("in", "m.wasm", b"\0asm", "application/wasm")]),
                 400, "cannot be a module binary")
    assert orch.module(mid) == before


def test_unknown_module_is_404_json(orchestrator):
    orch = orchestrator()
    unknown = "0123456789abcdef01234567"
    for method, path in [("GET", f"/file/module/{unknown}"), ("GET", "/file/module/nosuch"),
                         ("GET", f"/file/module/{unknown}/description"),
                         ("GET", f"/file/module/{unknown}/wasm"),
                         ("GET", f"/file/module/{unknown}/data"),
                         ("DELETE", f"/file/module/{unknown}")]:
        assert_error(request(method, orch.base + path), 404, "no module")
    assert_error(orch.describe_module(unknown, {"f": {"method": "GET", "output": "integer"}}),
                 404, unknown)


def test_upload_limit(orchestrator, example):
    orch = orchestrator(args=["--max-upload", "4K"])
    r = orch.create_module("big", example("datafile"))   # over 20 KiB
    assert r.status == 413, r
    assert orch.get("/file/module").json() == []


# ------------------------------------------------------------------ delete

def test_delete_frees_files(orchestrator, example):
    orch = orchestrator(args=["--gc-grace", "0"])
    a = orch.upload_module("fibo", example("fibo"))
    orch.upload_module("grayscale", example("grayscale"))
    orch.upload_module("camera", example("camera"))
    assert len(blob_files(orch)) == 3
    r = orch.delete(f"/file/module/{a}")
    assert r.status == 204, r
    assert orch.get(f"/file/module/{a}").status == 404
    assert len(blob_files(orch)) == 2
    r = orch.delete("/file/module")
    assert r.status == 200 and r.json()["deletedCount"] == 2, r
    assert orch.get("/file/module").json() == []
    assert blob_files(orch) == []


def test_module_in_use_cannot_be_deleted(cluster, example):
    orch, _ = cluster(1)
    mid = orch.upload_module("fibo", example("fibo"))
    assert orch.describe_module(mid, fd("fibo")).status == 200
    r = orch.post("/file/manifest", json_body={
        "name": "uses-fibo", "sequence": [{"device": None, "module": "fibo", "func": "fibo"}]})
    if r.status == 404 and "errorText" in r.json() and "/file/manifest" in r.body.decode():
        pytest.skip("POST /file/manifest is not served yet")
    assert r.status == 201, r
    assert_error(orch.delete(f"/file/module/{mid}"), 409, "'uses-fibo'")
    r = orch.delete("/file/module")
    assert r.status == 200 and r.json()["deletedCount"] == 0, r
    assert orch.module(mid)["name"] == "fibo"
