"""Moving a function with its state between supervisors (docs/migration.md), on
loopback with real `liquid supervisor` processes (mDNS off); the test plays the
orchestrator: it deploys, raises epochs, and asks the source to migrate.

Epochs: a node, routes or a call with an older epoch is refused (409 stale epoch); a
call with a newer epoch makes the device drop its copy; chained calls carry the epoch.
"""
import json
import threading
import time

from supervisor_util import (endpoint, file_server, module_entry, node, request,  # noqa: F401
                             request_id_of, supervisors)


def counter_node(sv, files, example, dep="count", epoch=None, to=None):
    url = files.put("counter.wasm", example("counter").read_bytes())
    fns = []
    for fn, params in (("increment", ()), ("get", ()), ("add", (("n", "integer"),))):
        fns.append({"module": "counter", "function": fn,
                    "endpoint": endpoint(sv.base, dep, "counter", fn, params=params),
                    "to": to if fn == "increment" else None})
    extra = {} if epoch is None else {"epoch": epoch}
    return node(dep, [module_entry("counter", url)], fns, **extra)


def increment_to(sv, dep, value):
    for _ in range(value):
        r = sv.call(dep, "counter", "increment")
        assert r.status == 200, r
    return r.json()["result"]["result"]


# ------------------------------------------------------------------ epochs

def test_older_epoch_refused_for_node_routes_and_calls(supervisors, file_server, example):
    s1 = supervisors("s1")
    assert s1.deploy(counter_node(s1, file_server, example, epoch=7)).status == 200
    assert s1.get("/deploy/count").json()["manifest"]["epoch"] == 7

    r = s1.deploy(counter_node(s1, file_server, example, epoch=5))
    assert r.status == 409, r
    assert r.json()["errorText"] == ("stale epoch: this device holds epoch 7, the request "
                                     "carries 5")
    manifest = counter_node(s1, file_server, example, epoch=5)
    routes = {"endpoints": manifest["endpoints"], "instructions": manifest["instructions"],
              "epoch": 6}
    r = request("PUT", s1.base + "/deploy/count/routes", json_body=routes)
    assert r.status == 409 and "holds epoch 7" in r.json()["errorText"], r
    r = s1.call("count", "counter", "increment", headers={"X-Liquid-Epoch": "6"})
    assert r.status == 409 and "stale epoch" in r.json()["errorText"], r
    r = s1.call("count", "counter", "increment", headers={"X-Liquid-Epoch": "seven"})
    assert r.status == 400 and "X-Liquid-Epoch" in r.json()["errorText"], r
    # the same epoch serves, and a route change may raise it (persisted with the node)
    assert s1.call("count", "counter", "increment", headers={"X-Liquid-Epoch": "7"}).status == 200
    routes["epoch"] = 8
    assert request("PUT", s1.base + "/deploy/count/routes", json_body=routes).status == 200
    s1.stop()
    s1.start()
    assert s1.get("/deploy/count").json()["manifest"]["epoch"] == 8
    assert s1.call("count", "counter", "get").json()["result"] == {"result": "1"}


def test_newer_epoch_on_a_call_drops_the_copy(supervisors, file_server, example):
    s1 = supervisors("s1")
    assert s1.deploy(counter_node(s1, file_server, example, epoch=3)).status == 200
    assert increment_to(s1, "count", 2) == "2"
    r = s1.call("count", "counter", "increment", headers={"X-Liquid-Epoch": "4"})
    assert r.status == 409, r
    assert r.json()["errorText"] == ("stale epoch: this device holds epoch 3, the request "
                                     "carries 4")
    # the copy is gone and stays gone: every call is refused, nothing is served
    assert s1.get("/deploy/count").status == 404
    for headers in ({}, {"X-Liquid-Epoch": "3"}, {"X-Liquid-Epoch": "4"}):
        r = s1.call("count", "counter", "get", headers=headers)
        assert r.status == 409 and "stale epoch" in r.json()["errorText"], r
    # an older node is still refused; the current epoch places it here again afresh
    assert s1.deploy(counter_node(s1, file_server, example, epoch=3)).status == 409
    assert s1.deploy(counter_node(s1, file_server, example, epoch=4)).status == 200
    assert s1.call("count", "counter", "increment").json()["result"] == {"result": "1"}


def test_chained_call_carries_the_epoch(supervisors, file_server, example):
    s1, s2 = supervisors("s1"), supervisors("s2")
    assert s2.deploy(counter_node(s2, file_server, example, dep="ch", epoch=2)).status == 200
    to = endpoint(s2.base, "ch", "counter", "add", params=(("n", "integer"),))
    assert s1.deploy(counter_node(s1, file_server, example, dep="ch", epoch=2,
                                  to=to)).status == 200
    r = s1.call("ch", "counter", "increment")     # s1: 1, then s2.add(1)
    assert r.status == 200 and r.json()["result"] == {"result": "1"}, r
    # s1 is moved on to epoch 3; its next chained call tells s2 that s2's copy is stale
    routes = {k: counter_node(s1, file_server, example, dep="ch", to=to)[k]
              for k in ("endpoints", "instructions")}
    routes["epoch"] = 3
    assert request("PUT", s1.base + "/deploy/ch/routes", json_body=routes).status == 200
    r = s1.call("ch", "counter", "increment")
    assert r.status == 502 and "stale epoch" in r.json()["errorText"], r
    assert s2.get("/deploy/ch").status == 404
