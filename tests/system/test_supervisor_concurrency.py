"""Concurrency a user relies on: calls into one module are serialized (no update is
lost), and a redeploy is built beside the running version, which serves — with its
state — until the new one is ready, then the swap is immediate."""
import concurrent.futures
import threading
import time

from supervisor_util import (endpoint, file_server, module_entry, node,  # noqa: F401
                             supervisors)


def counter_node(sv, dep, url):
    return node(dep, [module_entry("counter", url)], [
        {"module": "counter", "function": "add",
         "endpoint": endpoint(sv.base, dep, "counter", "add", params=(("n", "integer"),))},
        {"module": "counter", "function": "get",
         "endpoint": endpoint(sv.base, dep, "counter", "get", params=())}])


def value(answer):
    assert answer.status == 200, answer
    return int(answer.json()["result"]["result"])


def test_calls_into_one_module_are_serialized(supervisors, file_server, example):
    sv = supervisors("busy")
    url = file_server.put("counter.wasm", example("counter").read_bytes())
    assert sv.deploy(counter_node(sv, "c", url)).status == 200
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        gets = list(pool.map(lambda i: sv.call("c", "counter", "add", {"n": 1}), range(200)))
        posts = list(pool.map(lambda i: sv.call("c", "counter", "add", {"n": 1}, method="POST",
                                                body=b""), range(100)))
    # every GET saw a distinct count: each add ran alone
    assert sorted(value(a) for a in gets) == list(range(1, 201))
    for p in posts:
        assert sv.wait_history(p.json()["resultUrl"].rsplit("/", 1)[1]).status == 200
    assert value(sv.call("c", "counter", "get")) == 300


def test_redeploy_serves_the_old_version_until_the_new_one_is_ready(supervisors, file_server,
                                                                      example):
    sv = supervisors("swapping")
    data = example("counter").read_bytes()
    assert sv.deploy(counter_node(sv, "c", file_server.put("v1.wasm", data))).status == 200
    assert value(sv.call("c", "counter", "add", {"n": 10})) == 10

    slow = file_server.put("v2.wasm", data)
    file_server.delay("v2.wasm", 1.5)
    outcome = {}
    redeploy = threading.Thread(
        target=lambda: outcome.setdefault("r", sv.deploy(counter_node(sv, "c", slow))))
    redeploy.start()
    time.sleep(0.3)
    # the new version is being fetched: the old one serves, with its memory
    served = [value(sv.call("c", "counter", "add", {"n": 1})) for _ in range(5)]
    assert served == [11, 12, 13, 14, 15]
    assert "r" not in outcome, "the redeploy answered before its module arrived"
    assert sv.get("/deploy/c").json()["version"] == 1
    redeploy.join(30)
    assert outcome["r"].status == 200
    # the swap is done when the deploy answers: the new version starts from zero
    assert sv.get("/deploy/c").json()["version"] == 2
    assert value(sv.call("c", "counter", "get")) == 0
