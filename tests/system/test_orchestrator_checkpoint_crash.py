"""Crash recovery with real supervisors (docs/migration.md, "Crash"): a counter whose
device is killed with -9 carries on from its newest checkpoint on the device that
replaces it, and an /execute that was running on the killed device returns the result
of its second run, on the new placement, with both attempts on record.
"""
import signal
import threading
import time

from orchestrator_util import cluster, orchestrator  # noqa: F401 (fixtures)
from placement_util import (add_modules, create, deploy, deployment, events, execute,
                            placed_devices, step, wait_until)
from test_orchestrator_checkpoint import checkpoint, put, saved_state

FAST = ["--health-interval", "300ms"]


def test_killed_counter_continues_from_its_checkpoint(cluster, example, liquid, tmp_path):
    orch, (s1, s2) = cluster(2, orch_args=FAST)
    add_modules(orch, example, ("counter",))
    dep = create(orch, "count", step("counter", "add", "s1"))
    deploy(orch, dep)
    assert execute(orch, dep, {"param0": 41})["result"] == {"result": "41"}
    # what s1's checkpoints would hold now: the counter's state at 41
    r = put(orch, dep, "counter", checkpoint(saved_state(liquid, example, tmp_path, 41)),
            deployment(orch, dep)["epoch"])
    assert r.status == 200, r

    s1.stop(signal.SIGKILL)
    wait_until(lambda: placed_devices(orch, dep) == ["s2"], timeout=30,
               what="the counter to move to s2")
    result = execute(orch, dep, {"param0": 1})
    assert result["result"] == {"result": "42"}
    assert result["resultUrl"].startswith(s2.base)
    restored = [e for e in events(orch, "checkpoint.restored") if e["subject"] == dep]
    assert restored and restored[-1]["data"]["module"] == "counter"


def test_execution_in_flight_on_a_killed_device_returns_a_result(cluster, example):
    orch, (s1, s2) = cluster(2, orch_args=FAST)
    add_modules(orch, example, ("compute",))
    dep = create(orch, "long", step("compute", "run", "s1"))
    deploy(orch, dep)
    iterations = 60_000_000      # about 2 s here
    answer = {}

    def run():
        answer["response"] = orch.post(f"/execute/{dep}", json_body={"param0": iterations},
                                       timeout=120)
    caller = threading.Thread(target=run)
    started = time.time()
    caller.start()
    time.sleep(0.5)
    assert caller.is_alive(), "the computation ended before the device could be killed"
    s1.stop(signal.SIGKILL)
    caller.join(timeout=120)
    response = answer["response"]
    assert response.status == 200, response
    first = response.json()
    assert first["resultUrl"].startswith(s2.base)
    record = orch.get(f"/execute/{first['executionId']}").json()
    assert record["status"] == "success" and len(record["attempts"]) == 1
    assert record["attempts"][0]["failedStep"] == 0
    assert "cannot be reached" in record["attempts"][0]["error"]
    assert time.time() - started < 60
    # the same input on the new placement gives the same result: the rerun was whole
    again = execute(orch, dep, {"param0": iterations})
    assert again["result"] == first["result"]
    metrics = orch.get("/metrics").body.decode()
    assert "liquid_executions_retried_total 1" in metrics


def test_supervisor_checkpoints_and_the_counter_survives_kill_9(cluster, example):
    """No help from the test this time: s1's own checkpoints reach the orchestrator."""
    orch, (s1, s2) = cluster(2, orch_args=FAST)
    add_modules(orch, example, ("counter",))
    dep = create(orch, "count", step("counter", "add", "s1"))
    deploy(orch, dep)
    assert execute(orch, dep, {"param0": 41})["result"] == {"result": "41"}
    wait_until(lambda: [e for e in events(orch, "checkpoint.stored") if e["subject"] == dep],
               timeout=15, what="s1 to checkpoint the counter")
    s1.stop(signal.SIGKILL)
    wait_until(lambda: placed_devices(orch, dep) == ["s2"], timeout=30,
               what="the counter to move to s2")
    assert execute(orch, dep, {"param0": 1})["result"] == {"result": "42"}
