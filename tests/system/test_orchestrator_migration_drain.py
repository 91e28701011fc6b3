"""Migrations a supervisor asks for (docs/migration.md, "Triggers"): a device shutting
down drains — every step on it, of every deployment, moves elsewhere before the
answer, and nothing new is placed on it until it has been lost and comes back — and a
device's rule moves one module away, at most once per step per minute. The
supervisor's half of each migration is answered by a recording proxy.
"""
from migration_util import proxied_cluster
from orchestrator_util import cluster, orchestrator  # noqa: F401 (fixtures)
from placement_util import (add_modules, create, deploy, deployment, device_ids, events,
                            placed_devices, step)

FAST = ["--health-interval", "300ms"]


def moved(rec):
    return 200, {"status": "moved", "target": rec.json()["target"], "bytes": 10,
                 "unavailableMs": 1.0, "resumedCall": None}


def test_drain_moves_every_step_and_keeps_new_ones_off(cluster, liquid_bin, tmp_path, example):
    orch, proxies, _ = proxied_cluster(cluster, liquid_bin, tmp_path, ("s1", "s2", "s3"),
                                       orch_args=FAST)
    add_modules(orch, example, ("counter", "fibo"))
    a = create(orch, "a", step("counter", "add", "s1"), step("fibo", "fibo", "s2"))
    b = create(orch, "b", step("fibo", "fibo", "s1"))
    deploy(orch, a)
    deploy(orch, b)
    proxies["s1"].intercept("POST", r"/deploy/.*/migrate", moved)

    r = orch.post("/liquid/drain", json_body={"device": "s1"}, timeout=120)
    assert r.status == 200, r
    answer = r.json()
    assert answer["name"] == "s1" and answer["failed"] == 0
    assert sorted((m["deployment"], m["step"]) for m in answer["migrations"]) == \
        sorted([(a, 0), (b, 0)])
    assert all(m["answer"]["trigger"] == "drain" for m in answer["migrations"])
    assert "s1" not in placed_devices(orch, a) + placed_devices(orch, b)
    assert [e for e in events(orch, "device.draining") if e["data"]["name"] == "s1"]

    # nothing new goes to s1 while it shuts down, asked for or not
    c = create(orch, "c", step("fibo", "fibo"))
    assert placed_devices(orch, c) != ["s1"]
    r = orch.post(f"/file/manifest/{a}/migrate", json_body={"step": 1, "device": "s1"})
    assert r.status == 409 and "leaving" in r.json()["errorText"], r

    assert orch.post("/liquid/drain", json_body={}).status == 400
    assert orch.post("/liquid/drain", json_body={"device": "s9"}).status == 404


def test_move_away_is_rate_limited_per_step(cluster, liquid_bin, tmp_path, example):
    orch, proxies, _ = proxied_cluster(cluster, liquid_bin, tmp_path, ("s1", "s2"),
                                       orch_args=FAST)
    add_modules(orch, example, ("fibo",))
    dep = create(orch, "f", step("fibo", "fibo", "s1"))
    deploy(orch, dep)
    for p in proxies.values():
        p.intercept("POST", r"/deploy/.*/migrate", moved)
    body = {"device": "s1", "deployment": dep, "module": "fibo", "reason": "cpu 0.95 for 10 s"}

    r = orch.post("/liquid/move-away", json_body=dict(body, device="s2"))
    assert r.status == 409 and "does not run on device 's2'" in r.json()["errorText"], r
    r = orch.post("/liquid/move-away", json_body=body)
    assert r.status == 200, r
    assert r.json()["trigger"] == "move-away" and r.json()["reason"] == "cpu 0.95 for 10 s"
    assert placed_devices(orch, dep) == ["s2"]
    # s2 asks at once too: the step moved a moment ago, it stays
    r = orch.post("/liquid/move-away", json_body=dict(body, device="s2"))
    assert r.status == 429, r
    assert int(r.headers["Retry-After"]) > 0 and "ask again" in r.json()["errorText"]
    assert placed_devices(orch, dep) == ["s2"]
    assert orch.post("/liquid/move-away", json_body={"device": "s2"}).status == 400
    ids = device_ids(orch)
    done = [e for e in events(orch, "migration.completed") if e["subject"] == dep]
    assert len(done) == 1 and (done[0]["data"]["from"], done[0]["data"]["to"]) == \
        (ids["s1"], ids["s2"])
    assert deployment(orch, dep)["migrations"][0]["trigger"] == "move-away"
