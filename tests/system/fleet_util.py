"""Helpers for the fleet's system tests (and those that build on them):

- `EventStream`: follows GET /events (server-sent events) in a thread and lets a test
  wait for an event matching a predicate;
- `parse_prometheus(text)`: checks and reads the Prometheus text format of /metrics;
- `wait_device(orch, name, state)`: polls GET /file/device/{name} until its Liquid state;
- for the simulated LAN of testnet.sh: `enter_host(net, host)` moves the calling
  process into a host's network namespace (so urllib reaches the hosts directly), and
  `mdns_fleet(net, liquid, ...)` starts an orchestrator on h1 and supervisors on
  h2..hN that find each other by mDNS alone, returning a `Fleet` to drive them.
"""
import ctypes
import json
import os
import pathlib
import queue
import re
import signal
import subprocess
import threading
import time
import urllib.request

from supervisor_util import request


# ------------------------------------------------------------------ events

class EventStream:
    """Reads GET {base}/events[?after=N] in a thread; every event is kept in order as
    {"id": int|None, "event": str, "data": parsed JSON or text}."""

    def __init__(self, base, after=None, last_event_id=None, timeout=120):
        url = base + "/events" + (f"?after={after}" if after is not None else "")
        headers = {"Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        self.response = urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                               timeout=timeout)
        self.headers = dict(self.response.headers)
        self.events = []
        self.comments = []
        self.ended = False
        self._queue = queue.Queue()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        fields = {}
        try:
            for raw in self.response:
                line = raw.decode().rstrip("\r\n")
                if line == "":
                    if fields:
                        self._queue.put(self._event(fields))
                    fields = {}
                elif line.startswith(":"):
                    self.comments.append(line[1:].strip())
                else:
                    name, _, value = line.partition(":")
                    fields.setdefault(name, []).append(value[1:] if value.startswith(" ")
                                                       else value)
        except (OSError, ValueError, AttributeError):
            pass        # closed (AttributeError: http.client after close())
        self._queue.put(None)

    @staticmethod
    def _event(fields):
        data = "\n".join(fields.get("data", []))
        try:
            data = json.loads(data)
        except ValueError:
            pass
        ident = fields.get("id", [None])[0]
        return {"id": int(ident) if ident is not None else None,
                "event": fields.get("event", ["message"])[0], "data": data}

    def _pump(self, timeout):
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            return False
        if item is None:
            self.ended = True
        else:
            self.events.append(item)
        return True

    def wait_for(self, predicate, timeout=30, what="an event"):
        """The first event (seen before or arriving within timeout) for which
        predicate(event) is true."""
        checked = 0
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events[checked:]:
                if predicate(event):
                    return event
            checked = len(self.events)
            if self.ended:
                raise AssertionError(f"the event stream ended before {what}: {self.events}")
            left = deadline - time.monotonic()
            if left <= 0 or not self._pump(left):
                raise AssertionError(f"no {what} within {timeout} s; saw "
                                     f"{[(e['id'], e['event']) for e in self.events]}")

    def wait_type(self, type_, subject=None, timeout=30):
        return self.wait_for(lambda e: e["event"] == type_ and
                             (subject is None or e["data"].get("subject") == subject),
                             timeout, what=f"{type_} event" + (f" about {subject}"
                                                                if subject else ""))

    def drain(self, seconds=0.2):
        """Collects what arrives within `seconds`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.ended:
            self._pump(max(0.01, deadline - time.monotonic()))
        return self.events

    def of(self, subject):
        """(id, type) of every event about subject so far."""
        return [(e["id"], e["event"]) for e in self.events
                if isinstance(e["data"], dict) and e["data"].get("subject") == subject]

    def close(self):
        try:
            self.response.close()
        except OSError:
            pass


# ----------------------------------------------------------------- metrics

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)')


def _labels(text, line):
    labels, pos = {}, 0
    while pos < len(text):
        m = _LABEL.match(text, pos)
        assert m, f"bad labels in metrics line: {line!r}"
        labels[m.group(1)] = m.group(2)
        pos = m.end()
    return labels


def parse_prometheus(text):
    """Checks the text exposition format (0.0.4) and returns (types, samples):
    types {family: type}, samples {(name, frozenset(labels.items())): float}."""
    types, helps, samples = {}, set(), {}
    assert text.endswith("\n"), "the exposition must end with a line break"
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            assert name not in helps, f"HELP given twice for {name}"
            helps.add(name)
            continue
        if line.startswith("# TYPE "):
            _, _, name, type_ = line.split(" ")
            assert type_ in ("counter", "gauge", "histogram", "summary", "untyped"), line
            assert name not in types, f"TYPE given twice for {name}"
            types[name] = type_
            continue
        assert not line.startswith("#"), f"unexpected comment: {line!r}"
        m = _SAMPLE.match(line)
        assert m, f"not a metrics sample: {line!r}"
        name, labels, value = m.group(1), _labels(m.group(2) or "", line), m.group(3)
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in types or family in types, f"sample before its TYPE: {line!r}"
        key = (name, frozenset(labels.items()))
        assert key not in samples, f"sample given twice: {line!r}"
        samples[key] = float(value)
    for name, type_ in types.items():
        if type_ == "counter":
            assert name.endswith("_total"), f"counter {name} should end in _total"
        if type_ == "histogram":
            buckets = sorted(((float(dict(k[1])["le"]), v) for k, v in samples.items()
                              if k[0] == name + "_bucket"), key=lambda b: b[0])
            assert buckets and buckets[-1][0] == float("inf"), f"{name} lacks le=+Inf"
            counts = [v for _, v in buckets]
            assert counts == sorted(counts), f"{name} buckets are not cumulative: {buckets}"
            assert samples[(name + "_count", frozenset())] == counts[-1]
    return types, samples


def sample(samples, name, **labels):
    return samples[(name, frozenset(labels.items()))]


# ----------------------------------------------------------------- devices

def device(orch_base, name):
    r = request("GET", f"{orch_base}/file/device/{name}")
    return r.json() if r.status == 200 else None


def wait_device(orch_base, name, state, timeout=30):
    """Polls until device `name` has Liquid state `state`; returns its document."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = device(orch_base, name)
        if last and last.get("state") == state:
            return last
        time.sleep(0.05)
    raise AssertionError(f"device {name} not {state} within {timeout} s; last: "
                         f"{last and {k: last.get(k) for k in ('state', 'statusLog')}}")


# ------------------------------------------------------ the simulated LAN

CLONE_NEWNET = 0x40000000


def enter_host(net, host):
    """Moves this process into host's network namespace (call before starting
    threads: each thread keeps the namespace it was created in). Sockets made
    afterwards reach every host of the test network."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/h{host}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into h{host} failed")
    finally:
        os.close(fd)


class Fleet:
    """An orchestrator on h1 and supervisors on h2..hN of a testnet, found by mDNS."""

    def __init__(self, net, liquid, orch, orch_base, supervisors, scratch):
        self.net = net
        self.liquid = liquid
        self.orch = orch                    # Popen of the orchestrator (on h1)
        self.base = orch_base               # "http://10.77.0.1:3000"
        self.supervisors = supervisors      # {"s2": (host, Popen)}
        self.scratch = scratch

    def supervisor_url(self, name):
        host, _ = self.supervisors[name]
        return f"http://{self.net.address(host)}:8080"

    def log(self, name="orchestrator"):
        path = self.scratch / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def restart(self, name, *extra):
        """Starts a stopped supervisor again on its host, same name and instance."""
        host, _ = self.supervisors[name]
        self.supervisors[name] = (host, start_supervisor(self.net, self.liquid, host, name,
                                                         self.scratch, *extra))

    def kill(self, name, sig=signal.SIGKILL):
        """kill -9 (by default) a supervisor; returns its log."""
        _, proc = self.supervisors[name]
        self.net.stop(proc, sig=sig)
        return self.log(name)


def _log_file(scratch, name):
    # A file, not a pipe: a pipe nobody reads fills up and stops the process.
    return open(scratch / f"{name}.log", "ab")


def start_supervisor(net, liquid, host, name, scratch, *extra):
    """`liquid supervisor` on host with mDNS on, logging to scratch/NAME.log."""
    return net.spawn(host, [liquid, "supervisor", "--name", name, "--port", "8080",
                            "--address", net.address(host), "--instance-dir",
                            scratch / f"{name}-instance", *extra],
                     stdout=subprocess.DEVNULL, stderr=_log_file(scratch, name))


def mdns_fleet(net, liquid, supervisors=3, interval="500ms", orch_args=(), sup_args=(),
               timeout=60):
    """Starts `liquid orchestrator` on h1 (mDNS on, health every `interval`) and
    `liquid supervisor`s named s2..s{supervisors+1} on h2.., none told of the other,
    enters h1's namespace and waits until the orchestrator has found every supervisor
    by mDNS and sees it active. Returns a Fleet."""
    scratch = pathlib.Path(net.scratch)
    enter_host(net, 1)
    base = f"http://{net.address(1)}:3000"
    orch = net.spawn(1, [liquid, "orchestrator", "--port", "3000", "--public-host",
                         f"http://{net.address(1)}", "--data-dir", scratch / "orchestrator",
                         "--health-interval", interval, *orch_args],
                     stdout=subprocess.DEVNULL, stderr=_log_file(scratch, "orchestrator"))
    deadline = time.monotonic() + timeout
    while True:
        try:
            if request("GET", base + "/file/device", timeout=2).status == 200:
                break
        except OSError:
            pass
        if orch.poll() is not None or time.monotonic() > deadline:
            raise AssertionError("the orchestrator did not start:\n" +
                                 (scratch / "orchestrator.log").read_text(errors="replace"))
        time.sleep(0.1)
    sups = {}
    for host in range(2, supervisors + 2):
        name = f"s{host}"
        sups[name] = (host, start_supervisor(net, liquid, host, name, scratch, *sup_args))
    for name in sups:
        wait_device(base, name, "active", timeout=max(1, deadline - time.monotonic()))
    return Fleet(net, liquid, orch, base, sups, scratch)
