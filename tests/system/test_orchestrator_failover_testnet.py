"""Issue 4, Done-when 2, on a simulated LAN (testnet.sh): an orchestrator on h1 and
three supervisors on h2-h4 find each other by mDNS alone (two of them have a camera);
a two-step manifest camera -> grayscale with `device: null` is placed, deployed and
executed; the supervisor running it is killed with kill -9, the orchestrator marks
it lost, re-places the steps on the other device that can run them (the camera step
needs a camera: not h4), and the next execution succeeds; the event stream shows
each step.

It builds on the fleet's `mdns_fleet` (test_orchestrator_fleet_testnet.py).
"""
import json
import pathlib

import testnet
from fleet_util import EventStream, mdns_fleet, start_supervisor, wait_device
from orchestrator_util import Orchestrator
from placement_util import DESCRIPTIONS, IMAGES


class RemoteOrchestrator(Orchestrator):
    """The HTTP helpers of Orchestrator, for one running at another address."""

    def __init__(self, base):
        super().__init__("liquid", "/nonexistent")
        self._base = base

    @property
    def base(self):
        return self._base


def deploy_execute_kill_execute(net, liquid, build_dir):
    fleet = mdns_fleet(net, liquid, supervisors=0, interval="500ms")
    stream = EventStream(fleet.base, after=0)
    frames = pathlib.Path(net.scratch) / "frames"
    frames.mkdir()
    (frames / "frame.jpg").write_bytes((IMAGES / "scene_64x48_420.jpg").read_bytes())
    for host, camera in ((2, True), (3, True), (4, False)):
        name = f"s{host}"
        extra = ["--camera-dir", str(frames)] if camera else []
        fleet.supervisors[name] = (host, start_supervisor(net, liquid, host, name,
                                                          fleet.scratch, *extra))
    for name in ("s2", "s3", "s4"):
        wait_device(fleet.base, name, "active", timeout=60)

    orch = RemoteOrchestrator(fleet.base)
    for module in ("camera", "grayscale"):
        mid = orch.upload_module(module, pathlib.Path(build_dir) / "examples" / f"{module}.wasm")
        functions = json.loads((DESCRIPTIONS / f"{module}.json").read_text())
        assert orch.describe_module(mid, functions).status == 200
    r = orch.post("/file/manifest", json_body={"name": "cam-gray", "sequence": [
        {"device": None, "module": "camera", "func": "take_image_predefined_path"},
        {"device": None, "module": "grayscale", "func": "grayscale"}]})
    assert r.status == 201, r
    dep = json.loads(r.body)
    names = {d["_id"]: d["name"] for d in orch.devices()}

    def placement():
        doc = orch.get(f"/file/manifest/{dep}").json()
        return [names[s["device"]] for s in doc["sequence"]], doc

    before, doc = placement()
    reasons = doc["placement"]["steps"][0]["others"]
    r = orch.post(f"/file/manifest/{dep}", timeout=120)
    assert r.status == 200, r
    first = orch.post(f"/execute/{dep}", json_body={})
    assert first.status == 200, first

    victim = before[0]
    victim_id = next(i for i, n in names.items() if n == victim)
    fleet.kill(victim)
    lost = stream.wait_type("device.lost", victim_id, timeout=30)
    moved = stream.wait_type("deployment.failover", dep, timeout=30)
    after, doc = placement()
    second = orch.post(f"/execute/{dep}", json_body={})
    assert second.status == 200, second
    finished = stream.wait_for(lambda e: e["event"] == "execution.finished" and
                               e["data"]["subject"] == second.json()["executionId"],
                               timeout=30, what="the second execution's event")
    stream.drain(0.5)
    stream.close()
    return {"before": before, "after": after, "victim": victim, "reasons": reasons,
            "first": first.json(), "second": second.json(), "lost": lost, "moved": moved,
            "finished": finished, "isInFailover": doc["isInFailover"],
            "events": [{"type": e["event"], "subject": e["data"].get("subject")
                        if isinstance(e["data"], dict) else None,
                        "id": e["id"]} for e in stream.events],
            "deployment": dep, "log": fleet.log()[-4000:]}


def test_mdns_fleet_deploys_executes_and_survives_a_kill(liquid_bin, build_dir):
    testnet.require()
    result = testnet.run(deploy_execute_kill_execute, hosts=4, timeout=300,
                         liquid=str(liquid_bin), build_dir=str(build_dir))
    # placed jointly: both steps on one camera device (a file hop costs more)
    before, after = result["before"], result["after"]
    assert before[0] in {"s2", "s3"} and before[1] == before[0], result["log"]
    rejected = {o["deviceName"]: o["verdict"] for o in result["reasons"]}
    assert rejected["s4"] == "rejected: missing capability"
    for execution in (result["first"], result["second"]):
        steps = execution["steps"]
        assert [s["success"] for s in steps] == [True, True]
        assert steps[1]["outputs"][0].endswith("/grayscale/result.pgm")
    # re-placed on the other camera device, never on s4
    survivor = ({"s2", "s3"} - {result["victim"]}).pop()
    assert after == [survivor, survivor], result["log"]
    assert result["second"]["resultUrl"].startswith(f"http://10.77.0.{survivor[1:]}:8080/")
    assert result["isInFailover"] is True
    assert result["lost"]["id"] < result["moved"]["id"] < result["finished"]["id"]

    # the event stream shows each step, in order
    dep = result["deployment"]
    kinds = [e["type"] for e in result["events"]]
    order = ["device.found", "deployment.created", "deployment.step_deployed",
             "deployment.deployed", "execution.finished", "device.suspect", "device.lost",
             "deployment.failover", "execution.finished"]
    at = 0
    for kind in order:
        assert kind in kinds[at:], (kind, kinds)
        at = kinds.index(kind, at) + 1
    assert kinds.count("device.found") >= 3
    assert [e for e in result["events"]
            if e["type"] == "deployment.step_deployed" and e["subject"] == dep][:2]
