"""Liquid's mDNS interoperates with Avahi, in both directions, on a simulated LAN.

Avahi runs on h2 (its own D-Bus system bus); Liquid runs on h1. What Liquid advertises,
avahi-browse on the other host resolves (instance, address, port, TXT) and forgets at
the goodbye; what avahi-publish announces, `liquid mdns browse` finds and loses. All
multicast stays inside testnet.sh's private network.
"""
import json
import time

import testnet

AVAHI_TOOLS = ("avahi-daemon", "avahi-browse", "avahi-publish", "dbus-daemon")


def parse_avahi_browse(stdout):
    """`avahi-browse -rpt` lines -> {instance: resolved record} (resolved '=' lines only)."""
    found = {}
    for line in stdout.splitlines():
        fields = line.split(";", 9)
        if fields[0] != "=" or len(fields) < 10:
            continue
        txt = [item.strip('"') for item in fields[9].split('" "')] if fields[9] else []
        found[fields[3]] = {"interface": fields[1], "protocol": fields[2], "type": fields[4],
                            "host": fields[6], "address": fields[7], "port": int(fields[8]),
                            "txt": sorted(txt)}
    return found


def avahi_sees(net, host, instance):
    out = net.run(host, ["avahi-browse", "-rpt", "_webthing._tcp"], timeout=30)
    return parse_avahi_browse(out.stdout).get(instance)


# ------------------------------------------------------------- Liquid -> Avahi

def advertise_then_withdraw(net, liquid):
    net.start_avahi(2)
    address = net.address(1)
    advertiser = net.spawn(1, [liquid, "mdns", "advertise", "liquid-s1", "8080", address,
                               "--txt", "path=/", "--txt", "tls=0", "--txt", f"address={address}"])
    seen = testnet.wait_for(lambda: avahi_sees(net, 2, "liquid-s1"), timeout=30,
                            what="avahi-browse on h2 to resolve liquid-s1")
    _, stderr = net.stop(advertiser)
    assert advertiser.returncode == 0, stderr
    # The goodbye (TTL 0) makes Avahi drop the service after about a second, long
    # before the records' own TTL (120 s and more) would.
    start = time.monotonic()
    testnet.wait_for(lambda: avahi_sees(net, 2, "liquid-s1") is None, timeout=20,
                     what="Avahi to forget liquid-s1 after its goodbye")
    return {"seen": seen, "forgotten_after": time.monotonic() - start, "log": stderr}


def test_avahi_browse_on_another_host_resolves_our_advertisement(liquid_bin):
    testnet.require(*AVAHI_TOOLS)
    result = testnet.run(advertise_then_withdraw, hosts=2, liquid=str(liquid_bin))
    seen = result["seen"]
    assert seen["address"] == "10.77.0.1"
    assert seen["port"] == 8080
    assert seen["type"] == "_webthing._tcp"
    assert seen["txt"] == ["address=10.77.0.1", "path=/", "tls=0"]
    assert result["forgotten_after"] < 15
    assert "event=mdns.goodbye" in result["log"]


# ------------------------------------------------------------- Avahi -> Liquid

def browse_avahi_publication(net, liquid):
    net.start_avahi(2)
    browser = net.spawn(1, [liquid, "mdns", "browse", "--type", "_webthing._tcp"])
    publisher = net.spawn(2, ["avahi-publish", "-s", "Avahi Thing", "_webthing._tcp", "9090",
                              "path=/", "tls=0", f"address={net.address(2)}"])
    lines = testnet.Lines(browser.stdout)
    events = []

    def wait_event(kind, timeout):
        deadline = time.monotonic() + timeout
        while True:
            line = lines.next(timeout=max(0.1, deadline - time.monotonic()))
            assert line is not None, "liquid mdns browse ended early: " + browser.stderr.read()
            events.append(json.loads(line))
            if events[-1]["event"] == kind:
                return

    wait_event("found", timeout=30)
    net.stop(publisher)     # avahi-publish withdraws its service when it ends
    wait_event("lost", timeout=30)
    net.stop(browser)
    return events


def test_our_browser_finds_and_loses_a_service_avahi_publishes(liquid_bin):
    testnet.require(*AVAHI_TOOLS)
    events = testnet.run(browse_avahi_publication, hosts=2, liquid=str(liquid_bin))
    found = [e for e in events if e["event"] == "found"]
    assert found[0] == {"event": "found", "instance": "Avahi Thing", "host": "h2.local",
                        "address": "10.77.0.2", "port": 9090,
                        "txt": {"path": "/", "tls": "0", "address": "10.77.0.2"}}
    assert events[-1] == {"event": "lost", "instance": "Avahi Thing"}
