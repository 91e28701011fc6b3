"""The orchestrator's side of moving functions, against real supervisors (and, for the
supervisor's part of a migration, a proxy answering for it): the migrate API refuses
what it cannot do with a 4xx that says why and changes nothing; a migration sends the
target its node with the next epoch, asks the source to move the module, stores the
placement with a record, pushes routes upstream and removes the source's copy; a
refused transfer leaves the deployment as it was; the route lookup answers where a
step runs; health probes grant a lease naming what each device should hold.
"""
import json
import signal
import threading

from migration_util import proxied_cluster
from orchestrator_util import cluster, orchestrator  # noqa: F401 (fixtures)
from placement_util import (IMAGES, add_modules, create, deploy, deployment, device_ids, events,
                            execute, placed_devices, step, supervisor_deployments, wait_until)
from supervisor_util import request

FAST = ["--health-interval", "300ms"]


def test_migrate_refuses_what_it_cannot_do_and_changes_nothing(cluster, example):
    orch, (s1, s2) = cluster(2, orch_args=FAST)
    add_modules(orch, example, ("counter", "fibo"))
    dep = create(orch, "count", step("counter", "increment", "s1"))
    undeployed = create(orch, "later", step("fibo", "fibo", "s1"))
    deploy(orch, dep)
    before = deployment(orch, dep)

    def refused(ref, body, status, *words):
        r = orch.post(f"/file/manifest/{ref}/migrate", json_body=body)
        assert r.status == status, r
        text = r.json()["errorText"]
        for w in words:
            assert w in text, text
        return text

    refused("nope", {"step": 0}, 404, "no deployment 'nope'")
    refused(dep, {"step": 3}, 404, "no step 3", "0 to 0")
    refused(dep, {"module": "fibo"}, 404, "no step running module 'fibo'")
    refused(dep, {"step": 0, "device": "s9"}, 404, "no device 's9'")
    refused(dep, {"step": 0, "device": "s1"}, 400, "already runs on 's1'")
    refused(dep, {}, 400, "{\"step\": N}")
    refused(dep, {"step": "0"}, 400, "{\"step\": N}")
    refused(dep, {"step": -1}, 400, "count from 0")
    refused(undeployed, {"step": 0}, 409, "is not deployed")
    r = orch.post(f"/file/manifest/{dep}/migrate", body=b"{not json",
                  headers={"Content-Type": "application/json"})
    assert r.status == 400 and "JSON object" in r.json()["errorText"], r

    # a blacklisted device cannot take it
    assert orch.post("/file/device/s2/blacklist").status in (200, 204)
    refused(dep, {"step": 0, "device": "s2"}, 409, "'s2' cannot take it", "blacklisted")
    # with no device given the solver finds none: the source is leaving, s2 blacklisted
    refused(dep, {"module": "counter"}, 409, "no other device can run step 0")

    after = deployment(orch, dep)
    assert after["epoch"] == before["epoch"] and after["sequence"] == before["sequence"]
    assert placed_devices(orch, dep) == ["s1"] and dep not in supervisor_deployments(s2)
    # the counter on s1 kept counting through all of it
    assert execute(orch, dep)["result"] == {"result": "1"}


def test_capability_the_target_lacks_is_named(cluster, example, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "a.jpg").write_bytes(b"\xff\xd8\xff\xd9")
    orch, _ = cluster(2, orch_args=FAST, sup_args_by_name={"s1": ["--camera-dir", str(frames)]})
    add_modules(orch, example, ("camera",))
    dep = create(orch, "cam", step("camera", "take_image_predefined_path", "s1"))
    deploy(orch, dep)
    r = orch.post(f"/file/manifest/{dep}/migrate", json_body={"step": 0, "device": "s2"})
    assert r.status == 409, r
    assert "'s2' cannot run step 0" in r.json()["errorText"]
    assert "camera" in r.json()["errorText"]
    assert placed_devices(orch, dep) == ["s1"]


def moved_answer(rec):
    body = rec.json()
    return 200, {"status": "moved", "target": body["target"], "bytes": 1234,
                 "unavailableMs": 7.5, "resumedCall": None}


def test_migration_steps_in_order_with_epochs(cluster, liquid_bin, tmp_path, example):
    """counter.add on s1 -> fibo on s2; fibo migrates to s3. s3 gets its node with
    epoch N+1 first, then s2 is asked to move the module to s3 with that epoch and a
    transfer id; then the placement is stored, s1 gets routes with N+1 pointing at s3,
    and s2, which runs nothing else of it, loses its copy."""
    orch, proxies, sups = proxied_cluster(cluster, liquid_bin, tmp_path, ("s1", "s2", "s3"),
                                          orch_args=FAST)
    add_modules(orch, example, ("counter", "fibo"))
    dep = create(orch, "count-fib", step("counter", "add", "s1"), step("fibo", "fibo", "s2"))
    deploy(orch, dep)
    assert [s["result"] for s in execute(orch, dep, {"param0": 5})["steps"]] == ["5", "8"]
    epoch = deployment(orch, dep)["epoch"]
    posted = [r.json() for r in proxies["s1"].seen("POST", "/deploy")]
    assert posted and posted[-1]["epoch"] == epoch

    proxies["s2"].intercept("POST", r"/deploy/[^/]+/modules/[^/]+/migrate", moved_answer)
    r = orch.post(f"/file/manifest/{dep}/migrate", json_body={"module": "fibo", "device": "s3"})
    assert r.status == 200, r
    record = r.json()
    ids = device_ids(orch)
    assert record["status"] == "completed" and record["step"] == 1
    assert (record["from"], record["to"]) == (ids["s2"], ids["s3"])
    assert record["bytes"] == 1234 and record["unavailableMs"] == 7.5
    assert record["epoch"] == epoch + 1

    node = proxies["s3"].seen("POST", "/deploy")[-1]
    ask = proxies["s2"].seen("POST", r"/deploy/.*/migrate")[-1]
    routes = proxies["s1"].seen("PUT", r"/deploy/.*/routes")[-1]
    removal = proxies["s2"].seen("DELETE", r"/deploy/.*")[-1]
    assert node.time <= ask.time <= routes.time <= removal.time
    assert node.json()["epoch"] == epoch + 1
    assert ask.route == f"/deploy/{dep}/modules/fibo/migrate"
    assert ask.json() == {"target": proxies["s3"].base, "epoch": epoch + 1,
                          "transferId": record["id"], "targetModule": "fibo"}
    assert routes.json()["epoch"] == epoch + 1
    next_hop = routes.json()["instructions"]["modules"]["counter"]["add"]["to"]
    assert next_hop["url"] == proxies["s3"].base

    doc = deployment(orch, dep)
    assert placed_devices(orch, dep) == ["s1", "s3"] and doc["epoch"] == epoch + 1
    assert doc["migrations"][-1] == record and doc["isInFailover"] is False
    types = [e["type"] for e in events(orch) if e["subject"] == dep]
    assert types.index("migration.started") < types.index("migration.completed")
    assert "route.changed" in types
    # the chain runs through s3 now; the counter on s1 kept its memory (5 + 1 = 6)
    result = execute(orch, dep, {"param0": 1})
    assert [s["result"] for s in result["steps"]] == ["6", "13"]
    assert result["resultUrl"].startswith(proxies["s3"].base)
    step1 = [r for r in proxies["s1"].seen("POST", rf"/{dep}/modules/counter/add")]
    assert step1[-1].headers.get("x-liquid-epoch") == str(epoch + 1)

    # a second one, back to s2 with the solver choosing (s3 is leaving, s1 would do
    # too: either is fine, never s3)
    proxies["s3"].intercept("POST", r"/deploy/[^/]+/modules/[^/]+/migrate", moved_answer)
    r = orch.post(f"/file/manifest/{dep}/migrate", json_body={"step": 1})
    assert r.status == 200, r
    assert r.json()["to"] != ids["s3"] and deployment(orch, dep)["epoch"] == epoch + 2
    assert len(deployment(orch, dep)["migrations"]) == 2


def test_refused_transfer_leaves_the_deployment_as_it_was(cluster, liquid_bin, tmp_path,
                                                          example):
    orch, proxies, sups = proxied_cluster(cluster, liquid_bin, tmp_path, ("s1", "s2"),
                                          orch_args=FAST)
    add_modules(orch, example, ("counter",))
    dep = create(orch, "count", step("counter", "increment", "s1"))
    deploy(orch, dep)
    assert execute(orch, dep)["result"] == {"result": "1"}
    before = deployment(orch, dep)
    proxies["s1"].intercept("POST", r"/deploy/[^/]+/modules/[^/]+/migrate",
                            lambda rec: (502, {"errorText": "target answered 409: digest "
                                                            "mismatch"}))
    r = orch.post(f"/file/manifest/{dep}/migrate", json_body={"step": 0})
    assert r.status == 502, r
    assert "'s1' (the source) could not move the module to 's2'" in r.json()["errorText"]
    assert "digest mismatch" in r.json()["errorText"]
    assert r.json()["migration"]["status"] == "failed"
    # the target got the node and lost it again; nothing else changed
    assert proxies["s2"].seen("POST", "/deploy") and proxies["s2"].seen("DELETE", r"/deploy/.*")
    assert dep not in supervisor_deployments(sups["s2"])
    after = deployment(orch, dep)
    assert after["sequence"] == before["sequence"] and after["epoch"] == before["epoch"]
    assert after["migrations"][-1]["status"] == "failed"
    failed = [e for e in events(orch, "migration.failed") if e["subject"] == dep]
    assert failed and "digest mismatch" in failed[-1]["data"]["reason"]
    assert execute(orch, dep)["result"] == {"result": "2"}
    metrics = orch.get("/metrics").body.decode()
    assert 'liquid_migrations_total{outcome="failed"} 1' in metrics


def test_route_lookup_and_lease(cluster, liquid_bin, tmp_path, example):
    orch, proxies, _ = proxied_cluster(cluster, liquid_bin, tmp_path, ("s1", "s2"),
                                       orch_args=FAST)
    add_modules(orch, example, ("counter", "fibo"))
    dep = create(orch, "count-fib", step("counter", "add", "s1"), step("fibo", "fibo", "s2"))
    r = orch.get(f"/liquid/route/{dep}/fibo")
    assert r.status == 409 and "not deployed" in r.json()["errorText"], r
    deploy(orch, dep)
    epoch = deployment(orch, dep)["epoch"]
    r = orch.get(f"/liquid/route/{dep}/fibo")
    assert r.status == 200, r
    assert r.json()["url"] == f"{proxies['s2'].base}/{dep}/modules/fibo/fibo"
    assert r.json()["deviceName"] == "s2" and r.json()["epoch"] == epoch
    assert orch.get(f"/liquid/route/{dep}/nothing").status == 404
    assert orch.get(f"/liquid/route/nope/fibo").status == 404

    # every probe grants a lease of two intervals and names what the device holds
    def lease(proxy):
        probes = proxy.seen("GET", "/health")
        return probes and probes[-1].headers.get("x-liquid-epochs") and \
            (probes[-1].headers["x-liquid-lease-ms"], probes[-1].headers["x-liquid-epochs"])
    wait_until(lambda: lease(proxies["s1"]) == ("600", f"{dep}={epoch}"), timeout=10,
               what="s1's lease to name the deployment")
    orch.delete(f"/file/manifest/{dep}")
    wait_until(lambda: lease(proxies["s2"]) == ("600", "-"), timeout=10,
               what="s2's lease to name nothing")


def test_step_1_refusing_an_older_epoch_is_called_on_the_new_placement(cluster, liquid_bin,
                                                                       tmp_path, example):
    """A migration's target that already runs step 1 holds the new epoch (and routes)
    before the orchestrator records the migration: it refuses the executor's older
    epoch, nothing ran, and the executor calls again once the new placement is stored
    — never into the target before its state has arrived."""
    orch, proxies, _ = proxied_cluster(cluster, liquid_bin, tmp_path, ("s1", "s2"),
                                       orch_args=FAST)
    add_modules(orch, example, ("fibo", "counter"))
    dep = create(orch, "fc", step("fibo", "fibo", "s1"), step("counter", "add", "s2"))
    deploy(orch, dep)
    epoch = deployment(orch, dep)["epoch"]
    assert [s["result"] for s in execute(orch, dep, {"param0": 8})["steps"]] == ["34", "34"]
    refusals = []

    def refuse_until_recorded(rec):
        if deployment(orch, dep)["epoch"] > epoch:
            return None
        refusals.append(rec)
        return 409, {"errorText": f"stale epoch: this device holds epoch {epoch + 1}, the "
                                  f"request carries {epoch}"}

    def slow_move(rec):
        # the executor's call arrives while the state is on its way
        proxies["s1"].intercept("GET", rf"/{dep}/modules/fibo/fibo", refuse_until_recorded)
        answer = {}
        caller = threading.Thread(target=lambda: answer.update(
            r=orch.post(f"/execute/{dep}", json_body={"param0": 5}, timeout=60)))
        caller.start()
        wait_until(lambda: refusals, timeout=10, what="the executor to be refused")
        slow_move.caller, slow_move.answer = caller, answer
        return None     # the real supervisor moves the counter
    proxies["s2"].intercept("POST", r"/deploy/.*/migrate", slow_move)
    r = orch.post(f"/file/manifest/{dep}/migrate", json_body={"step": 1, "device": "s1"})
    assert r.status == 200, r
    slow_move.caller.join(timeout=60)
    response = slow_move.answer["r"]
    assert response.status == 200, response
    assert [s["result"] for s in response.json()["steps"]] == ["8", "42"]
    calls = proxies["s1"].seen("GET", rf"/{dep}/modules/fibo/fibo")
    assert calls[-1].headers.get("x-liquid-epoch") == str(epoch + 1)


def test_a_first_step_taking_files_gets_the_epoch_too(cluster, liquid_bin, tmp_path, example):
    orch, proxies, _ = proxied_cluster(cluster, liquid_bin, tmp_path, ("s1",), orch_args=FAST)
    add_modules(orch, example, ("grayscale",))
    dep = create(orch, "gray", step("grayscale", "grayscale", "s1"))
    deploy(orch, dep)
    frame = (IMAGES / "gray_33x17.jpg").read_bytes()
    result = execute(orch, dep, files=[("image.jpeg", "frame.jpg", frame)])
    assert result["steps"][0]["success"]
    call = proxies["s1"].seen("POST", rf"/{dep}/modules/grayscale/grayscale")[-1]
    assert call.headers.get("x-liquid-epoch") == str(deployment(orch, dep)["epoch"])
    assert call.headers["content-type"].startswith("multipart/form-data")
