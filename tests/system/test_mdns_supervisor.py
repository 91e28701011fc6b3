"""`liquid supervisor` is found over mDNS, on a simulated LAN (testnet.sh):

- avahi-browse on another host (h2) resolves its _webthing._tcp advertisement with
  the reference TXT records (path=/, tls=0, address=<ip>), and the device answers
  HTTP at the advertised address and port;
- Liquid's own browser (the orchestrator's) on a third host finds it too;
- without health checks from an orchestrator it renews as the references do: Avahi
  sees it leave and come back;
- at shutdown its goodbye makes Avahi forget it at once.
"""
import json
import sys
import time

import testnet
from test_mdns_avahi import AVAHI_TOOLS, avahi_sees


def supervisor_command(liquid, net, name, instance_dir, *extra):
    return [liquid, "supervisor", "--name", name, "--port", "8080", "--address",
            net.address(1), "--instance-dir", instance_dir, *extra]


def http_get_from(net, host, url):
    code = ("import json, sys, urllib.request\n"
            f"print(urllib.request.urlopen({url!r}, timeout=10).read().decode())\n")
    out = net.run(host, [sys.executable, "-c", code], timeout=30)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def found_and_forgotten(net, liquid):
    net.start_avahi(2)
    browser = net.spawn(3, [liquid, "mdns", "browse"])
    supervisor = net.spawn(1, supervisor_command(liquid, net, "liquid-s1",
                                                 net.scratch / "s1"))
    seen = testnet.wait_for(lambda: avahi_sees(net, 2, "liquid-s1"), timeout=30,
                            what="avahi-browse on h2 to resolve the supervisor")
    health = http_get_from(net, 2, f"http://{seen['address']}:{seen['port']}/health")

    lines = testnet.Lines(browser.stdout)
    ours = None
    deadline = time.monotonic() + 20
    while ours is None and time.monotonic() < deadline:
        line = lines.next(timeout=max(0.1, deadline - time.monotonic()))
        event = json.loads(line) if line else {}
        if event.get("event") == "found" and event.get("instance") == "liquid-s1":
            ours = event
    _, log = net.stop(supervisor)
    start = time.monotonic()
    testnet.wait_for(lambda: avahi_sees(net, 2, "liquid-s1") is None, timeout=20,
                     what="Avahi to forget the supervisor after its goodbye")
    return {"seen": seen, "health": health, "ours": ours, "exit": supervisor.returncode,
            "forgotten_after": time.monotonic() - start, "log": log}


def require_supervisor(liquid_bin):
    import subprocess
    import pytest
    testnet.require(*AVAHI_TOOLS)
    probe = subprocess.run([str(liquid_bin), "supervisor", "--help"], capture_output=True,
                           text=True)
    if probe.returncode != 0:
        pytest.skip("this build of liquid has no supervisor command yet")


def test_avahi_and_our_browser_find_the_supervisor_and_see_it_go(liquid_bin):
    require_supervisor(liquid_bin)
    result = testnet.run(found_and_forgotten, hosts=3, liquid=str(liquid_bin))
    seen = result["seen"]
    assert (seen["address"], seen["port"], seen["type"]) == ("10.77.0.1", 8080, "_webthing._tcp")
    assert seen["txt"] == ["address=10.77.0.1", "path=/", "tls=0"]
    assert 0 <= result["health"]["cpuUsage"] <= 1
    assert result["ours"] == {"event": "found", "instance": "liquid-s1", "host": "liquid-s1.local",
                              "address": "10.77.0.1", "port": 8080,
                              "txt": {"path": "/", "tls": "0", "address": "10.77.0.1"}}
    assert result["exit"] == 0, result["log"]
    assert result["forgotten_after"] < 15


def renewal_seen_by_avahi(net, liquid):
    net.start_avahi(2)
    watch = net.spawn(2, ["avahi-browse", "-p", "_webthing._tcp"])
    supervisor = net.spawn(1, supervisor_command(liquid, net, "liquid-renew",
                                                 net.scratch / "s1", "--register-renewal", "3"))
    lines = testnet.Lines(watch.stdout)
    events = []
    deadline = time.monotonic() + 40
    # Appear, leave at the renewal (goodbye), appear again after the 5 s pause.
    while events.count("+") < 2 and time.monotonic() < deadline:
        line = lines.next(timeout=max(0.1, deadline - time.monotonic()))
        fields = (line or "").split(";")
        if len(fields) > 3 and fields[3] == "liquid-renew" and fields[0] in "+-":
            events.append(fields[0])
    _, log = net.stop(supervisor)
    net.stop(watch)
    return {"events": events, "log": log}


def test_supervisor_without_orchestrator_health_checks_readvertises(liquid_bin):
    require_supervisor(liquid_bin)
    result = testnet.run(renewal_seen_by_avahi, hosts=2, liquid=str(liquid_bin))
    assert result["events"][:3] == ["+", "-", "+"], result["log"]
    assert "event=orchestrator.renew" in result["log"]
