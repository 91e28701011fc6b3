"""Keeping deployments running: a supervisor killed with -9 goes lost, each step it ran
is placed again (the manifest's failovers first), the device before it gets new
routes without losing its module's memory, and the next execution succeeds; a pinned
step goes home when its device comes back; an execution cut by a dying device runs
again once failover has placed its step elsewhere; a step no device can take waits,
with the reason, for one.
"""
import signal

from orchestrator_util import cluster, orchestrator  # noqa: F401 (fixtures)
from placement_util import (IMAGES, add_modules, create, deploy, deployment, device_ids,
                            events, execute, placed_devices, step, supervisor_deployments,
                            wait_until)
from supervisor_util import Supervisor, request

FAST = ["--health-interval", "300ms"]


def restart_like(cluster, old, liquid_bin, orch):
    """The same supervisor (name, port, instance directory) started again."""
    sv = Supervisor(liquid_bin, old.instance_dir, name=old.name, port=old.port,
                    log_dir=old.log_path.parent, args=["--orchestrator-url", orch.base])
    cluster.supervisors.append(sv)
    return sv.start()


def moved_off(orch, dep, name, step_index=0):
    return lambda: placed_devices(orch, dep)[step_index] != name and placed_devices(orch, dep)


def test_killed_device_is_replaced_and_the_next_execution_succeeds(cluster, example):
    orch, sups = cluster(3, orch_args=FAST)
    add_modules(orch, example, ("fibo",))
    dep = create(orch, "fib", step("fibo", "fibo"))
    deploy(orch, dep)
    assert execute(orch, dep, {"param0": 12})["result"] == {"result": "233"}
    victim_name = placed_devices(orch, dep)[0]
    victim = next(s for s in sups if s.name == victim_name)
    victim_id = device_ids(orch)[victim_name]
    victim.stop(signal.SIGKILL)

    now = wait_until(moved_off(orch, dep, victim_name), timeout=30, what="the step to move")
    result = execute(orch, dep, {"param0": 12})
    assert result["result"] == {"result": "233"}
    assert result["isInFailover"] is True
    new_home = next(s for s in sups if s.name == now[0])
    assert dep in supervisor_deployments(new_home)
    assert result["resultUrl"].startswith(new_home.base)
    doc = deployment(orch, dep)
    assert doc["isInFailover"] is True and doc["staleDevices"] == [victim_id]
    lost = [e for e in events(orch, "device.lost") if e["subject"] == victim_id]
    moved = [e for e in events(orch, "deployment.failover") if e["subject"] == dep]
    assert lost and moved
    assert moved[0]["seq"] > lost[0]["seq"]
    assert moved[0]["data"]["moves"] == [{"step": 0, "from": victim_id,
                                          "to": doc["sequence"][0]["device"], "module": "fibo"}]


def test_failovers_first_and_the_step_before_keeps_its_memory(cluster, example, liquid_bin):
    """counter.add on s1 -> fibo on s2 (failovers: s3). Killing s2 moves fibo to s3, the
    first failover, though s1 would be cheaper; s1 only gets new routes, so its counter
    goes on counting. When s2 is back, the pinned step goes home."""
    orch, (s1, s2, s3) = cluster(3, orch_args=FAST)
    add_modules(orch, example, ("fibo", "counter"))
    dep = create(orch, "count-fib", step("counter", "add", "s1"),
                 step("fibo", "fibo", "s2", failovers=["s3"]))
    ids = device_ids(orch)
    assert deployment(orch, dep)["failoversBySequence"] == [[ids["s1"]], [ids["s2"], ids["s3"]]]
    deploy(orch, dep)
    assert execute(orch, dep, {"param0": 3})["result"] == {"result": "3"}      # fibo(3)
    version = request("GET", f"{s1.base}/deploy/{dep}").json()["version"]

    s2.stop(signal.SIGKILL)
    wait_until(lambda: placed_devices(orch, dep) == ["s1", "s3"], timeout=30,
               what="fibo to move to s3")
    failover = [e for e in events(orch, "deployment.failover") if e["subject"] == dep][-1]
    assert failover["data"]["nodesDeployed"] == 1 and failover["data"]["routesUpdated"] == 1
    # the counter was 3; +2 is 5 only if s1's module kept its memory: fibo(5) = 8
    result = execute(orch, dep, {"param0": 2})
    assert result["result"] == {"result": "8"}
    assert [s["result"] for s in result["steps"]] == ["5", "8"]
    node = request("GET", f"{s1.base}/deploy/{dep}").json()
    assert node["version"] == version       # routes changed, nothing redeployed
    to = node["manifest"]["instructions"]["modules"]["counter"]["add"]["to"]
    assert to["url"] == s3.base

    restart_like(cluster, s2, liquid_bin, orch)
    wait_until(lambda: placed_devices(orch, dep) == ["s1", "s2"], timeout=30,
               what="the pinned step to come home")
    assert [e for e in events(orch, "deployment.recovered") if e["subject"] == dep]
    assert deployment(orch, dep)["isInFailover"] is False
    result = execute(orch, dep, {"param0": 1})
    assert result["result"] == {"result": "13"}     # counter 6: fibo(6)
    assert result["isInFailover"] is False
    wait_until(lambda: dep not in supervisor_deployments(s3), timeout=10,
               what="s3 to drop its copy")


def test_execution_cut_by_a_dead_device_runs_again_after_failover(cluster, example):
    # the default health interval (2 s): the execution right after the kill meets the
    # dead device before the health loop has noticed; it waits for failover and runs
    # again from its stored input (docs/migration.md, "Crash")
    orch, sups = cluster(2)
    add_modules(orch, example, ("fibo",))
    dep = create(orch, "fib", step("fibo", "fibo"))
    deploy(orch, dep)
    victim_name = placed_devices(orch, dep)[0]
    victim = next(s for s in sups if s.name == victim_name)
    victim.stop(signal.SIGKILL)

    result = execute(orch, dep, {"param0": 5})
    assert result["result"] == {"result": "8"}
    assert not result["resultUrl"].startswith(victim.base)
    assert placed_devices(orch, dep)[0] != victim_name
    record = orch.get(f"/execute/{result['executionId']}").json()
    assert record["status"] == "success" and len(record["attempts"]) == 1
    first = record["attempts"][0]
    assert first["failedStep"] == 0
    assert f"on '{victim_name}' cannot be reached" in first["error"]
    assert [e for e in events(orch, "execution.retried")
            if e["subject"] == result["executionId"]]
    # the failed call was reported to the fleet, which is how the device went lost
    peer = [e for e in events(orch, "device.suspect", "device.lost")
            if "reported by a peer" in e["data"].get("reason", "")]
    assert peer and peer[0]["data"]["name"] == victim_name


def test_blacklisted_device_hands_its_steps_over(cluster, example):
    orch, sups = cluster(2, orch_args=FAST)
    add_modules(orch, example, ("fibo",))
    dep = create(orch, "fib", step("fibo", "fibo"))
    deploy(orch, dep)
    name = placed_devices(orch, dep)[0]
    r = orch.post(f"/file/device/{device_ids(orch)[name]}/blacklist")
    assert r.status == 200, r
    wait_until(moved_off(orch, dep, name), timeout=20, what="the step to leave")
    assert execute(orch, dep, {"param0": 7})["result"] == {"result": "21"}
    # the blacklisted device still answers: its copy was removed at once
    old = next(s for s in sups if s.name == name)
    assert dep not in supervisor_deployments(old)


def test_step_without_a_capable_device_waits_for_one(cluster, example, liquid_bin, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "a.jpg").write_bytes((IMAGES / "scene_64x48_420.jpg").read_bytes())
    camera_args = ["--camera-dir", str(frames)]
    orch, (s1, s2) = cluster(2, orch_args=FAST, sup_args_by_name={"s1": camera_args})
    add_modules(orch, example, ("camera", "grayscale"))
    dep = create(orch, "cam", step("camera", "take_image_predefined_path", "s1"),
                 step("grayscale", "grayscale", "s2"))
    deploy(orch, dep)
    assert execute(orch, dep)["steps"][1]["success"]

    s1.stop(signal.SIGKILL)
    failed = wait_until(lambda: [e for e in events(orch, "deployment.failover_failed")
                                 if e["subject"] == dep], timeout=30, what="failover to fail")
    assert "does not declare the capability 'camera'" in failed[0]["data"]["reason"]
    doc = deployment(orch, dep)
    assert "camera" in doc["failoverError"] and doc["isInFailover"] is True

    back = Supervisor(liquid_bin, s1.instance_dir, name="s1", port=s1.port,
                      log_dir=s1.log_path.parent,
                      args=["--orchestrator-url", orch.base, *camera_args])
    cluster.supervisors.append(back)
    back.start()
    wait_until(lambda: not deployment(orch, dep).get("failoverError"), timeout=30,
               what="the camera to be back in use")
    result = execute(orch, dep)
    assert result["steps"][0]["success"] and result["steps"][1]["success"]
    assert result["resultUrl"].startswith(s2.base)


def test_supervisor_route_change_refuses_bad_input(cluster, example):
    orch, (s1,) = cluster(1)
    add_modules(orch, example, ("fibo",))
    dep = create(orch, "fib", step("fibo", "fibo"))
    deploy(orch, dep)
    node = request("GET", f"{s1.base}/deploy/{dep}").json()["manifest"]
    url = f"{s1.base}/deploy/{dep}/routes"
    r = request("PUT", url, json_body={"endpoints": {}})
    assert r.status == 400 and "instructions" in r.json()["errorText"], r
    r = request("PUT", f"{s1.base}/deploy/nosuch/routes",
                json_body={"endpoints": node["endpoints"], "instructions": node["instructions"]})
    assert r.status == 404, r
    ghost = dict(node["endpoints"]["fibo"]["fibo"], path=f"/{dep}/modules/fibo/ghost")
    r = request("PUT", url, json_body={
        "endpoints": {"fibo": {"ghost": ghost}},
        "instructions": {"modules": {"fibo": {"ghost": {"from": ghost, "to": None}}}}})
    assert r.status == 400 and "exports no function 'ghost'" in r.json()["errorText"], r
    # the deployment still serves as before
    assert execute(orch, dep, {"param0": 3})["result"] == {"result": "3"}
