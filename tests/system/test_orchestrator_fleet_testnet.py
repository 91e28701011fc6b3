"""The fleet on a simulated LAN (testnet.sh; issue 4, Done-when 2, the fleet's half):
an orchestrator on h1 and three supervisors on h2-h4, none told of the other, find
each other by mDNS alone; the orchestrator tells each supervisor its URL (POST
/register, since their health answers say they have none); one supervisor killed
with kill -9 becomes suspect, then lost, while the others stay active; the event
stream shows each step; one stopped cleanly says goodbye and is lost at once; the
killed one, started again, is active again.

`fleet_util.mdns_fleet` does the setting up, so that tests of deployment and
failover on the same network can start from the same place.
"""
import signal

import testnet
from fleet_util import EventStream, mdns_fleet, wait_device
from supervisor_util import request


def found_by_mdns_then_one_killed(net, liquid):
    fleet = mdns_fleet(net, liquid, supervisors=3, interval="500ms")
    stream = EventStream(fleet.base, after=0)
    devices = {d["name"]: d for d in request("GET", fleet.base + "/file/device").json()}
    told = {}
    for name in fleet.supervisors:
        r = request("GET", fleet.supervisor_url(name) + "/health")
        told[name] = r.headers.get("Custom-Orchestrator-Set")

    victim = devices["s3"]["_id"]
    fleet.kill("s3")
    suspect = stream.wait_type("device.suspect", victim, timeout=30)
    lost = stream.wait_type("device.lost", victim, timeout=30)
    after = {d["name"]: d["state"]
             for d in request("GET", fleet.base + "/file/device").json()}
    wait_device(fleet.base, "s2", "active")
    stream.drain(0.5)
    events_before_goodbye = list(stream.events)

    # A supervisor that stops cleanly says goodbye over mDNS: lost at once.
    leaving = devices["s4"]["_id"]
    fleet.kill("s4", sig=signal.SIGTERM)
    goodbye = stream.wait_type("device.lost", leaving, timeout=30)

    # The killed one, started again, is found again and becomes active.
    fleet.restart("s3")
    back = stream.wait_type("device.active", victim, timeout=60)
    stream.close()
    return {"devices": devices, "told": told, "events": events_before_goodbye,
            "suspect": suspect, "lost": lost, "after": after, "victim": victim,
            "goodbye": goodbye, "back": back, "log": fleet.log()[-4000:]}


def test_three_supervisors_found_by_mdns_alone_and_one_killed_becomes_lost(liquid_bin):
    testnet.require()
    result = testnet.run(found_by_mdns_then_one_killed, hosts=4, timeout=240,
                         liquid=str(liquid_bin))
    devices = result["devices"]
    assert set(devices) == {"s2", "s3", "s4"}, result["log"]
    for name, d in devices.items():
        host = int(name[1:])
        assert f"10.77.0.{host}" in d["communication"]["addresses"]
        assert d["communication"]["port"] == 8080
        assert d["state"] == "active"
        assert "supervisorInterfaces" in d["description"]
    # Found by mDNS, not registered: nobody gave the supervisors our URL...
    found = [e for e in result["events"] if e["event"] == "device.found"]
    assert len(found) == 3
    for e in found:
        assert e["data"]["data"]["reason"].startswith("found by mDNS"), e
    # ...until the orchestrator told them, seeing their health answers.
    assert result["told"] == {"s2": "true", "s3": "true", "s4": "true"}, result["log"]

    victim = result["victim"]
    assert result["suspect"]["data"]["data"]["previous"] == "active"
    assert result["lost"]["data"]["data"]["previous"] == "suspect"
    assert result["suspect"]["id"] < result["lost"]["id"]
    assert result["after"]["s3"] == "lost"
    assert result["after"]["s2"] == result["after"]["s4"] == "active"
    # Nothing about the others changed.
    others = [e for e in result["events"]
              if e["event"] in ("device.suspect", "device.lost") and
              e["data"]["subject"] != victim]
    assert others == [], others
    assert "mDNS goodbye" in result["goodbye"]["data"]["data"]["reason"], result["goodbye"]
    assert result["back"]["data"]["data"]["previous"] == "lost"
