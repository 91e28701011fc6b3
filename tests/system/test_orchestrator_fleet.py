"""The orchestrator's fleet on loopback (real `liquid orchestrator` and `liquid
supervisor` processes, mDNS off, supervisors registering directly):

- a registered supervisor is introduced: its description and health are stored and
  served as the reference's Device documents, with Liquid's state and round-trip time;
- a supervisor killed with kill -9 becomes suspect, then lost after exactly lost_after
  failed checks, and active again after active_after good checks once restarted; the
  event stream shows each change, in order;
- blacklisting stops its checks and makes it lost; unblacklisting brings it back;
- /events replays after a sequence number (query or Last-Event-ID), /events/recent
  answers JSON, /metrics is valid Prometheus text whose counters never go back;
- supervisors' logs arrive at /device/logs; bad input of every kind gets a 4xx naming
  the problem and stores nothing.
"""
import json
import signal
import time
import urllib.parse

import pytest

from fleet_util import EventStream, parse_prometheus, sample, wait_device
from orchestrator_util import cluster, orchestrator  # noqa: F401 (fixtures)
from supervisor_util import Supervisor, free_port, request
from supervisor_util import supervisors  # noqa: F401 (fixture)

FAST = ["--health-interval", "200ms", "--suspect-after", "1", "--lost-after", "3",
        "--active-after", "2"]


def error_text(response):
    body = response.json()
    assert set(body) >= {"errorText", "error"}, body
    return body["errorText"]


# ------------------------------------------------------------ introduction

def test_registered_supervisors_are_introduced_with_description_and_health(cluster):
    orch, sups = cluster(2, orch_args=FAST)
    devices = {d["name"]: d for d in orch.devices()}
    assert set(devices) == {"s1", "s2"}
    for sv in sups:
        d = devices[sv.name]
        assert len(d["_id"]) == 24 and all(c in "0123456789abcdef" for c in d["_id"])
        assert d["communication"]["port"] == sv.port
        assert "127.0.0.1" in d["communication"]["addresses"]
        # What the supervisor itself describes, stored as it said it.
        own = sv.get("/.well-known/wasmiot-device-description").json()
        assert d["description"]["supervisorInterfaces"] == own["supervisorInterfaces"]
        assert "platform" in d["description"]
        report = d["health"]["report"]
        assert 0 <= report["cpuUsage"] <= 1 and 0 <= report["memoryUsage"] <= 1
        assert d["health"]["timeOfQuery"].endswith("Z")
        assert (d["status"], d["state"], d["blacklisted"]) == ("active", "active", False)
        assert d["rttMs"] > 0
        assert d["okHealthCheckCount"] >= 1 and d["failedHealthCheckCount"] == 0
        assert isinstance(d["statusLog"], list)

    # One device by id or by name; an unknown one is a 404 in the reference's body.
    s1 = devices["s1"]
    assert orch.get(f"/file/device/{s1['_id']}").json()["name"] == "s1"
    assert orch.get("/file/device/s1").json()["_id"] == s1["_id"]
    missing = orch.get("/file/device/nosuch")
    assert missing.status == 404
    assert "nosuch" in error_text(missing)

    # The health loop goes on: newer reports, more good checks.
    first = s1["health"]["timeOfQuery"]
    time.sleep(0.6)
    later = orch.get("/file/device/s1").json()
    assert later["health"]["timeOfQuery"] > first
    assert later["okHealthCheckCount"] > s1["okHealthCheckCount"]


def test_killed_supervisor_goes_suspect_then_lost_and_returns_when_restarted(cluster):
    orch, (s1, s2) = cluster(2, orch_args=FAST)
    stream = EventStream(orch.base)
    s1_id = orch.get("/file/device/s1").json()["_id"]
    s1.kill()
    killed_at = time.monotonic()
    suspect = stream.wait_type("device.suspect", s1_id, timeout=30)
    lost = stream.wait_type("device.lost", s1_id, timeout=30)
    lost_after = time.monotonic() - killed_at
    assert suspect["data"]["data"]["previous"] == "active"
    assert lost["data"]["data"]["previous"] == "suspect"
    reason = lost["data"]["data"]["reason"]
    assert "3 failed health checks in a row" in reason, reason
    # Three failed checks at 200 ms: well inside ten intervals even on a busy machine.
    assert lost_after < 10 * 0.2 + 5, lost_after
    doc = orch.get("/file/device/s1").json()
    assert (doc["state"], doc["status"]) == ("lost", "inactive")
    assert doc["health"]["report"] is None
    assert [e["status"] for e in doc["statusLog"][:2]] == ["lost", "suspect"]
    # The other device is untouched.
    assert orch.get("/file/device/s2").json()["state"] == "active"

    s1.start()      # same port and name: the same device comes back
    active = stream.wait_type("device.active", s1_id, timeout=30)
    assert "2 good health checks in a row" in active["data"]["data"]["reason"]
    assert wait_device(orch.base, "s1", "active")["_id"] == s1_id
    changes = [t for _, t in stream.of(s1_id)]
    assert changes == ["device.suspect", "device.lost", "device.active"], changes
    ids = [i for i, _ in stream.of(s1_id)]
    assert ids == sorted(ids)
    stream.close()


def test_blacklisted_device_is_not_checked_until_unblacklisted(cluster):
    orch, (s1,) = cluster(1, orch_args=FAST)
    s1_id = orch.get("/file/device/s1").json()["_id"]
    r = orch.post(f"/file/device/{s1_id}/blacklist")
    assert r.status == 200
    assert r.json() == {"message": "Device blacklisted", "deviceId": s1_id}
    doc = orch.get("/file/device/s1").json()
    assert (doc["blacklisted"], doc["state"], doc["status"]) == (True, "lost", "inactive")
    checked = doc["health"]["timeOfQuery"]
    time.sleep(1.0)     # five intervals without a check
    assert orch.get("/file/device/s1").json()["health"]["timeOfQuery"] == checked

    r = orch.post("/file/device/s1/unblacklist")       # by name too
    assert r.status == 200 and r.json()["deviceId"] == s1_id
    doc = wait_device(orch.base, "s1", "active")
    assert doc["blacklisted"] is False
    kinds = [e["type"] for e in orch.get("/events/recent?limit=10").json()
             if e["subject"] == s1_id]
    assert kinds[-3:] == ["device.blacklisted", "device.unblacklisted", "device.active"]

    r = orch.post("/file/device/nosuch/blacklist")
    assert r.status == 404 and "nosuch" in error_text(r)


def test_delete_one_and_all(cluster):
    orch, _ = cluster(2, orch_args=FAST)
    s1_id = orch.get("/file/device/s1").json()["_id"]
    r = orch.delete(f"/file/device/{s1_id}")
    assert r.status == 200 and r.json() == {"deletedCount": 1, "deviceId": s1_id}
    assert [d["name"] for d in orch.devices()] == ["s2"]
    assert orch.delete(f"/file/device/{s1_id}").status == 404
    r = orch.delete("/file/device")
    assert r.status == 200 and r.json() == {"deletedCount": 1}
    assert orch.devices() == []
    kinds = [e["type"] for e in orch.get("/events/recent").json()]
    assert kinds.count("device.deleted") == 2


def test_supervisor_restarted_on_another_port_is_the_same_device(cluster, liquid_bin,
                                                                  tmp_path):
    orch, (s1,) = cluster(1, orch_args=FAST)
    before = orch.get("/file/device/s1").json()
    s1.stop()
    moved = Supervisor(liquid_bin, s1.instance_dir, name="s1", log_dir=tmp_path,
                       args=["--orchestrator-url", orch.base])
    try:
        moved.start()
        deadline = time.time() + 30
        while time.time() < deadline:
            doc = orch.get("/file/device/s1").json()
            if doc["communication"]["port"] == moved.port and doc["state"] == "active":
                break
            time.sleep(0.1)
        assert doc["_id"] == before["_id"]
        assert doc["communication"]["port"] == moved.port, doc
        assert doc["state"] == "active"
        kinds = [e["type"] for e in orch.get("/events/recent").json()
                 if e["subject"] == before["_id"]]
        assert "device.updated" in kinds
    finally:
        moved.stop(signal.SIGKILL)


# ------------------------------------------------------------ registration

def test_registration_bad_input_is_refused_and_nothing_is_stored(orchestrator):
    orch = orchestrator(args=FAST)
    path = "/file/device/discovery/register"
    cases = [
        ({"body": b"{not json", "headers": {"Content-Type": "application/json"}}, "JSON"),
        ({"json_body": {"port": 8080}}, "name: missing"),
        ({"json_body": {"name": "x"}}, "port: missing"),
        ({"json_body": {"name": "x", "port": "8080"}}, "port: expected an integer"),
        ({"json_body": {"name": "x", "port": 0}}, "port: expected 1 to 65535"),
        ({"json_body": {"name": "a/b", "port": 80}}, "slash"),
        ({"json_body": {"name": "x", "port": 80, "addresses": ["1.2.3.4/x"]}},
         "addresses[0]"),
        ({"json_body": {"name": "x", "port": 80, "addresses": "10.0.0.1"}},
         "addresses: expected an array"),
    ]
    for kwargs, message in cases:
        r = orch.post(path, **kwargs)
        assert r.status == 400, (kwargs, r)
        assert message in error_text(r), (message, r)
    # A device that does not answer is not kept (the reference deletes it).
    r = orch.post(path, json_body={"name": "ghost", "port": free_port(),
                                   "addresses": ["127.0.0.1"]})
    assert r.status == 502
    assert "ghost" in error_text(r) and "wasmiot-device-description" in error_text(r)
    assert orch.devices() == []
    assert orch.get("/events/recent").json() == []


def test_the_reference_registration_record_defaults_to_the_peer_address(orchestrator,
                                                                         supervisors):
    orch = orchestrator(args=FAST)
    sv = supervisors("plain")       # no --orchestrator-url: it does not register itself
    # The Rust supervisor's record, without addresses: the request's address is used.
    r = orch.post("/file/device/discovery/register",
                  json_body={"name": "plain", "type": "webthing", "port": sv.port,
                             "properties": {"path": "/", "tls": "0"}})
    assert r.status == 204, r
    doc = orch.get("/file/device/plain").json()
    assert doc["communication"]["addresses"] == ["127.0.0.1"]
    assert doc["state"] == "active"
    # Its health said it had no orchestrator: it was told ours (§2.3, §2.4).
    deadline = time.time() + 10
    while time.time() < deadline:
        if sv.get("/health").headers.get("Custom-Orchestrator-Set") == "true":
            break
        time.sleep(0.1)
    assert sv.get("/health").headers.get("Custom-Orchestrator-Set") == "true"


# ------------------------------------------------------------------ events

def test_event_stream_replays_and_recent_answers_json(cluster):
    orch, (s1,) = cluster(1, orch_args=FAST)
    s1_id = orch.get("/file/device/s1").json()["_id"]
    orch.post(f"/file/device/{s1_id}/blacklist")
    orch.post(f"/file/device/{s1_id}/unblacklist")
    recent = orch.get("/events/recent?limit=100").json()
    seqs = [e["seq"] for e in recent]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert recent[0]["type"] == "device.found" and recent[0]["subject"] == s1_id
    assert recent[0]["data"]["name"] == "s1"
    for e in recent:
        assert set(e) == {"seq", "time", "type", "subject", "data"}

    # Everything from the start, then live; then only what came after an id.
    everything = EventStream(orch.base, after=0)
    assert everything.headers["Content-Type"].startswith("text/event-stream")
    got = everything.wait_for(lambda e: e["id"] == seqs[-1], timeout=10)
    assert [e["id"] for e in everything.events] == seqs
    assert got["data"]["seq"] == seqs[-1]
    resumed = EventStream(orch.base, last_event_id=seqs[1])
    resumed.wait_for(lambda e: e["id"] == seqs[-1], timeout=10)
    assert [e["id"] for e in resumed.events] == seqs[2:]
    # New events reach both.
    orch.post(f"/file/device/{s1_id}/blacklist")
    for stream in (everything, resumed):
        e = stream.wait_for(lambda e: e["id"] > seqs[-1], timeout=10)
        assert e["event"] == "device.blacklisted"
        stream.close()

    one = orch.get(f"/events/recent?after={seqs[0]}&limit=1").json()
    assert [e["seq"] for e in one] == [seqs[1]]
    for bad in ("limit=0", "limit=abc", "limit=100001", "after=-1", "after=x"):
        r = orch.get(f"/events/recent?{bad}")
        assert r.status == 400, (bad, r)
    r = orch.get("/events?after=soon")
    assert r.status == 400 and "after" in error_text(r)
    r = request("GET", orch.base + "/events", headers={"Last-Event-ID": "x1"})
    assert r.status == 400 and "Last-Event-ID" in error_text(r)


# ----------------------------------------------------------------- metrics

def test_metrics_are_prometheus_text_and_counters_only_grow(cluster):
    orch, (s1, s2) = cluster(2, orch_args=FAST)
    r = orch.get("/metrics")
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    types, first = parse_prometheus(r.body.decode())
    assert types["liquid_devices"] == "gauge"
    assert types["liquid_health_checks_total"] == "counter"
    assert types["liquid_execution_duration_seconds"] == "histogram"
    assert sample(first, "liquid_devices", state="active") == 2
    assert sample(first, "liquid_devices", state="lost") == 0
    assert sample(first, "liquid_events_published_total", type="device.found") == 2
    assert sample(first, "liquid_deployments", active="true") == 0

    s2.kill()
    wait_device(orch.base, "s2", "lost")
    _, second = parse_prometheus(orch.get("/metrics").body.decode())
    assert sample(second, "liquid_devices", state="active") == 1
    assert sample(second, "liquid_devices", state="lost") == 1
    assert sample(second, "liquid_health_check_failures_total") >= 3
    assert sample(second, "liquid_events_published_total", type="device.lost") == 1
    for (name, labels), value in first.items():
        if types.get(name) == "counter" or name.endswith(("_total", "_bucket", "_count")):
            assert second[(name, labels)] >= value, (name, labels)
    assert sample(second, "liquid_health_checks_total") > sample(first,
                                                                 "liquid_health_checks_total")


# ------------------------------------------------------------- device logs

def test_supervisor_logs_arrive_and_bad_log_posts_are_refused(cluster):
    orch, (s1,) = cluster(1, orch_args=FAST)
    # The supervisor forwards its own log lines once it knows us (§2.12).
    deadline = time.time() + 30
    logs = []
    while time.time() < deadline:
        logs = orch.get("/device/logs?device=s1").json()
        if logs:
            break
        time.sleep(0.2)
    assert logs, "no log line from s1 arrived"
    assert all(entry["deviceName"] == "s1" and entry["dateReceived"].endswith("Z")
               for entry in logs)

    entry = {"timestamp": "2026-01-01T00:00:00Z", "loglevel": "INFO", "message": "hello",
             "deviceName": "handmade", "deviceIP": "10.0.0.9"}
    form = urllib.parse.urlencode({"logData": json.dumps(entry)}).encode()
    r = orch.post("/device/logs", body=form,
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 200, r
    assert r.json()["message"] == "Log received"
    mine = orch.get("/device/logs?device=handmade").json()
    assert len(mine) == 1 and mine[0]["message"] == "hello"
    since = mine[0]["dateReceived"]
    assert orch.get(f"/device/logs?device=handmade&after={since}").json() == []
    assert len(orch.get("/device/logs?limit=1").json()) == 1

    bad = [
        (urllib.parse.urlencode({"logData": "{oops"}).encode(), "logData: not JSON"),
        (urllib.parse.urlencode({"logData": "[1,2]"}).encode(), "expected a JSON object"),
        (urllib.parse.urlencode({"other": "x"}).encode(), "logData: missing"),
    ]
    for body, message in bad:
        r = orch.post("/device/logs", body=body,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status == 400 and message in error_text(r), (message, r)
    r = orch.get("/device/logs?after=yesterday")
    assert r.status == 400 and "after" in error_text(r)
    r = orch.get("/device/logs?limit=0")
    assert r.status == 400 and "limit" in error_text(r)
    assert len(orch.get("/device/logs?device=handmade").json()) == 1
