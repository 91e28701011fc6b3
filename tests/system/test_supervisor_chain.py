"""Chaining (wasmiot-api.md §2.9) between supervisors on this machine: a primitive
result becomes the next step's first parameter; output files travel as multipart
parts named after the mount; the caller gets the pipeline's final result; each
device's history holds its own step; a failing next step fails the request."""
from supervisor_util import (endpoint, file_server, follow, free_port, module_entry,  # noqa: F401
                             mount, node, request, request_id_of, supervisors)

STEP_ONE_FILE = b"picture from step one\n"    # what supervisor_files.wasm's produce() writes


def fibo_step(sv, dep, files, example, to=None):
    url = files.put("fibo.wasm", example("fibo").read_bytes())
    return node(dep, [module_entry("fibo", url)], [
        {"module": "fibo", "function": "fibo",
         "endpoint": endpoint(sv.base, dep, "fibo", "fibo"), "to": to}])


def test_three_step_chain_of_numbers(supervisors, file_server, example):
    dep = "chain3"
    s1, s2, s3 = supervisors("one"), supervisors("two"), supervisors("three")
    ep2 = endpoint(s2.base, dep, "fibo", "fibo")
    ep3 = endpoint(s3.base, dep, "fibo", "fibo")
    assert s3.deploy(fibo_step(s3, dep, file_server, example)).status == 200
    assert s2.deploy(fibo_step(s2, dep, file_server, example, to=ep3)).status == 200
    assert s1.deploy(fibo_step(s1, dep, file_server, example, to=ep2)).status == 200

    r = s1.call(dep, "fibo", "fibo", {"param0": 5})        # fibo(5)=8, fibo(8)=34, fibo(34)
    assert r.status == 200, (r, s1.log_text())
    assert r.json()["result"] == {"result": "9227465"}
    [e1], [e2], [e3] = s1.history().json(), s2.history().json(), s3.history().json()
    assert (e1["result"], e2["result"], e3["result"]) == ("8", "34", "9227465")
    assert e2["request_args"] == {"param0": "8"} and e3["request_args"] == {"param0": "34"}
    assert e1["chainResult"] == e2["chainResult"] == {"result": "9227465"}
    assert e1["next"] == s2.base + "/request-history/" + e2["request_id"]
    assert all(e["success"] for e in (e1, e2, e3))


def test_file_chain_with_post(supervisors, file_server, wat):
    dep = "files"
    camera, consumer = supervisors("producer"), supervisors("consumer")
    url = file_server.put("files.wasm", wat("supervisor_files").read_bytes())
    consume = endpoint(consumer.base, dep, "f", "consume", method="post", params=(),
                       request_body={"media_type": "multipart/form-data"})
    produce = endpoint(camera.base, dep, "f", "produce", params=(), media_type="image/jpeg")
    assert consumer.deploy(node(dep, [module_entry("f", url)], [
        {"module": "f", "function": "consume", "endpoint": consume,
         "mounts": {"execution": [mount("image.jpeg", "execution")]}}])).status == 200
    assert camera.deploy(node(dep, [module_entry("f", url)], [
        {"module": "f", "function": "produce", "endpoint": produce, "to": consume,
         "mounts": {"output": [mount("image.jpeg", "output", "image/jpeg")]}}])).status == 200

    # a POST answers at once; the entry, once done, holds the pipeline's result
    r = camera.call(dep, "f", "produce", method="POST", body=b"")
    assert r.status == 200 and set(r.json()) == {"resultUrl"}
    entry = follow(r.json()["resultUrl"])
    assert entry.status == 200, (entry, camera.log_text())
    e1 = entry.json()
    assert e1["result"] is None        # a file result: see outputs
    assert e1["outputs"] == [f"{camera.base}/module_results/{dep}/f/image.jpeg"]
    assert e1["chainResult"] == {"result": str(sum(STEP_ONE_FILE))}
    assert request("GET", e1["outputs"][0]).body == STEP_ONE_FILE
    # the consumer got the file under its mount name and recorded its own step
    [e2] = consumer.history().json()
    assert e2["result"] == str(sum(STEP_ONE_FILE)) and e2["method"] == "POST"
    assert list(e2["request_files"]) == ["image.jpeg"]
    assert e1["next"] == consumer.base + "/request-history/" + e2["request_id"]
    # the GET form gives the same final result inline
    r = camera.call(dep, "f", "produce")
    assert r.json()["result"] == {"result": str(sum(STEP_ONE_FILE))}


def test_failing_next_step_fails_the_request(supervisors, file_server, example, wat):
    dep = "broken"
    s1, s2 = supervisors("first"), supervisors("second")
    gone = endpoint(f"http://127.0.0.1:{free_port()}", dep, "fibo", "fibo")
    assert s1.deploy(fibo_step(s1, dep, file_server, example, to=gone)).status == 200
    r = s1.call(dep, "fibo", "fibo", {"param0": 5})
    assert r.status == 502, r
    assert "the next step http://127.0.0.1:" in r.json()["errorText"]
    assert "cannot be reached" in r.json()["errorText"]
    e = request("GET", r.json()["resultUrl"])
    assert e.status == 500 and not e.json()["success"]

    # the next step traps: its message reaches the first caller
    url = file_server.put("faults.wasm", wat("supervisor_faults").read_bytes())
    divide = endpoint(s2.base, dep, "m", "divide", params=(("a", "integer"), ("b", "integer")))
    assert s2.deploy(node(dep, [module_entry("m", url)], [
        {"module": "m", "function": "divide", "endpoint": divide}])).status == 200
    assert s1.deploy(fibo_step(s1, dep, file_server, example, to=divide)).status == 200
    r = s1.call(dep, "fibo", "fibo", {"param0": 5})
    assert r.status == 502, r
    text = r.json()["errorText"]
    assert "answered HTTP 400" in text and "b: missing" in text    # divide(8) lacks b

    trap = endpoint(s2.base, dep, "m", "trap", params=())
    manifest = node(dep, [module_entry("m", url)], [
        {"module": "m", "function": "trap", "endpoint": trap}])
    assert s2.deploy(manifest).status == 200
    assert s1.deploy(fibo_step(s1, dep, file_server, example, to=trap)).status == 200
    r = s1.call(dep, "fibo", "fibo", {"param0": 5})
    assert r.status == 502, r
    assert "answered HTTP 500: trap trapped: unreachable" in r.json()["errorText"]
    assert [e["success"] for e in s2.history().json()][-1] is False


def test_chain_within_one_device_under_concurrent_calls(supervisors, file_server, example):
    """Each step calls the next over HTTP on the same supervisor: concurrent callers
    must not leave every HTTP worker waiting for a worker its own caller holds."""
    import concurrent.futures
    dep = "local3"
    sv = supervisors("alone")
    url = file_server.put("fibo.wasm", example("fibo").read_bytes())
    steps = ["a", "b", "c"]
    eps = {s: endpoint(sv.base, dep, s, "fibo") for s in steps}
    manifest = node(dep, [module_entry(s, url) for s in steps], [
        {"module": s, "function": "fibo", "endpoint": eps[s],
         "to": eps[steps[i + 1]] if i + 1 < len(steps) else None}
        for i, s in enumerate(steps)])
    assert sv.deploy(manifest).status == 200
    with concurrent.futures.ThreadPoolExecutor(24) as pool:
        answers = list(pool.map(lambda _: sv.call(dep, "a", "fibo", {"param0": 5}, timeout=60),
                                range(48)))
    assert [a.status for a in answers] == [200] * 48
    assert {json_result(a) for a in answers} == {"9227465"}
    assert len(sv.history().json()) == 3 * 48


def json_result(answer):
    return answer.json()["result"]["result"]
