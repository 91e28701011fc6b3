"""Planned migration end to end, with real supervisors on both sides: the counter at 41
on s1, moved to s2 through the API, answers 42 there through /execute; in a chain the
upstream device is given the new route, and the moved step's old device redirects a
caller that still knows the old address. The counter's memory moves; nothing is
executed twice.
"""

from orchestrator_util import cluster, orchestrator  # noqa: F401 (fixtures)
from placement_util import (add_modules, create, deploy, deployment, device_ids, events,
                            execute, placed_devices, step, supervisor_deployments, wait_until)
from supervisor_util import request

FAST = ["--health-interval", "300ms"]


def test_counter_at_41_answers_42_on_its_new_device(cluster, example):
    orch, (s1, s2) = cluster(2, orch_args=FAST)
    add_modules(orch, example, ("counter",))
    dep = create(orch, "count", step("counter", "add", "s1"))
    deploy(orch, dep)
    assert execute(orch, dep, {"param0": 41})["result"] == {"result": "41"}

    r = orch.post(f"/file/manifest/{dep}/migrate", json_body={"module": "counter",
                                                              "device": "s2"}, timeout=120)
    assert r.status == 200, r
    record = r.json()
    assert record["status"] == "completed" and record["toName"] == "s2"
    assert record["bytes"] > 0 and record["unavailableMs"] is not None

    result = execute(orch, dep, {"param0": 1})
    assert result["result"] == {"result": "42"}
    assert result["resultUrl"].startswith(s2.base)
    assert placed_devices(orch, dep) == ["s2"]
    assert dep in supervisor_deployments(s2)
    wait_until(lambda: dep not in supervisor_deployments(s1), timeout=10,
               what="s1 to drop its copy")
    ids = device_ids(orch)
    done = [e for e in events(orch, "migration.completed") if e["subject"] == dep]
    assert done and (done[-1]["data"]["from"], done[-1]["data"]["to"]) == (ids["s1"], ids["s2"])
    assert deployment(orch, dep)["migrations"][-1]["id"] == record["id"]

    # and back: s1 dropped its copy, and takes the step again at the newer epoch
    r = orch.post(f"/file/manifest/{dep}/migrate", json_body={"step": 0, "device": "s1"},
                  timeout=120)
    assert r.status == 200, r
    result = execute(orch, dep, {"param0": 1})
    assert result["result"] == {"result": "43"} and result["resultUrl"].startswith(s1.base)


def test_chain_follows_its_moved_step(cluster, example):
    """fibo on s1 -> counter.add on s2; the counter moves to s3. s1 is given the route
    to s3, so the chain keeps adding to the same count."""
    orch, (s1, s2, s3) = cluster(3, orch_args=FAST)
    add_modules(orch, example, ("fibo", "counter"))
    dep = create(orch, "fib-count", step("fibo", "fibo", "s1"), step("counter", "add", "s2"))
    deploy(orch, dep)
    first = execute(orch, dep, {"param0": 8})            # fibo(8) = 34
    assert [s["result"] for s in first["steps"]] == ["34", "34"]

    r = orch.post(f"/file/manifest/{dep}/migrate", json_body={"step": 1, "device": "s3"},
                  timeout=120)
    assert r.status == 200, r
    routes = request("GET", f"{s1.base}/deploy/{dep}").json()
    nxt = routes["manifest"]["instructions"]["modules"]["fibo"]["fibo"]["to"]
    assert nxt["url"] == s3.base

    second = execute(orch, dep, {"param0": 5})           # fibo(5) = 8; 34 + 8
    assert [s["result"] for s in second["steps"]] == ["8", "42"]
    assert second["resultUrl"].startswith(s3.base)
    assert placed_devices(orch, dep) == ["s1", "s3"]
    assert deployment(orch, dep)["epoch"] == r.json()["epoch"]


def test_sigterm_drains_the_device_and_the_chain_follows(cluster, example):
    """fibo on s3 -> counter.add on s1, the counter at 34. s1 gets SIGTERM: it asks the
    orchestrator to drain it, the counter moves (to s2: s3 runs fibo, but either will
    do) with its count, s3 is given the route, and s1 exits only after."""
    orch, (s1, s2, s3) = cluster(3, orch_args=FAST)
    add_modules(orch, example, ("fibo", "counter"))
    dep = create(orch, "fib-count", step("fibo", "fibo", "s3"), step("counter", "add", "s1"))
    deploy(orch, dep)
    assert [s["result"] for s in execute(orch, dep, {"param0": 8})["steps"]] == ["34", "34"]

    s1.proc.terminate()
    assert s1.proc.wait(timeout=60) == 0
    assert placed_devices(orch, dep)[1] != "s1"
    done = [e for e in events(orch, "migration.completed") if e["subject"] == dep]
    assert done and done[-1]["data"]["trigger"] == "drain"
    second = execute(orch, dep, {"param0": 5})
    assert [s["result"] for s in second["steps"]] == ["8", "42"]


def test_source_keeps_its_other_step_with_its_memory(cluster, example):
    """counter.add and fibo both on s1; the counter moves to s2. s1 keeps fibo (given
    routes, not redeployed) and the solver may not keep the moved step on s1."""
    orch, (s1, s2) = cluster(2, orch_args=FAST)
    add_modules(orch, example, ("fibo", "counter"))
    dep = create(orch, "cf", step("counter", "add", "s1"), step("fibo", "fibo", "s1"))
    deploy(orch, dep)
    assert [s["result"] for s in execute(orch, dep, {"param0": 5})["steps"]] == ["5", "8"]
    version = request("GET", f"{s1.base}/deploy/{dep}").json()["version"]
    r = orch.post(f"/file/manifest/{dep}/migrate", json_body={"step": 0})
    assert r.status == 200, r
    assert r.json()["toName"] == "s2" and placed_devices(orch, dep) == ["s2", "s1"]
    assert request("GET", f"{s1.base}/deploy/{dep}").json()["version"] == version
    result = execute(orch, dep, {"param0": 1})
    assert [s["result"] for s in result["steps"]] == ["6", "13"]


def test_drain_of_a_device_running_two_steps(cluster, example):
    orch, (s1, s2) = cluster(2, orch_args=FAST)
    add_modules(orch, example, ("fibo", "counter"))
    dep = create(orch, "cf", step("counter", "add", "s1"), step("fibo", "fibo", "s1"))
    deploy(orch, dep)
    assert [s["result"] for s in execute(orch, dep, {"param0": 5})["steps"]] == ["5", "8"]
    r = orch.post("/liquid/drain", json_body={"device": "s1"}, timeout=120)
    assert r.status == 200 and r.json()["failed"] == 0, r
    assert placed_devices(orch, dep) == ["s2", "s2"]
    assert [s["result"] for s in execute(orch, dep, {"param0": 1})["steps"]] == ["6", "13"]
