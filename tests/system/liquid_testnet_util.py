"""Helpers for issue 5's multi-host tests and benchmarks (moving functions with their
state between devices), on a private simulated LAN made by testnet.sh (testnet.py).

`LiquidNet(net, liquid, build_dir, ...)` runs inside a test body: it enters h1's network
namespace, starts `liquid orchestrator` on h1 (10.77.0.1:3000) and one `liquid
supervisor` per name on the next hosts (s1 on h2, s2 on h3, ...), all with mDNS off and
the supervisors registering directly with the orchestrator (only the tests of discovery
need multicast), waits until every supervisor is active, and then drives them: modules
added as a user would, manifests, deploys, executions through /execute, migrations,
events, a supervisor stopped with a signal or its link cut, a request sent from inside
a host (which still reaches a device whose link to the others is cut).

    def body(net, liquid, build_dir):
        ln = LiquidNet(net, liquid, build_dir, supervisors=("s1", "s2"))
        ln.add_module("counter")
        dep = ln.create("count", step("counter", "increment", "s1"))
        ln.deploy(dep)
        assert ln.execute(dep).json()["result"] == {"result": "1"}

Every process logs to a file in the network's scratch directory, which goes when the
body ends; `ln.logs()` gives the tail of each, for the message of a failed assert
(`ln.check(condition, what)`). With LIQUID_TESTNET_LOG_DIR set, the logs are kept in a
new directory under it instead (to read a sanitizer build's reports, say).
"""
import json
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from fleet_util import enter_host
from orchestrator_util import Orchestrator
from supervisor_util import request

REPO = pathlib.Path(__file__).resolve().parents[2]
DESCRIPTIONS = REPO / "examples" / "descriptions"
ORCH_HOST = 1
ORCH_PORT = 3000
SUP_PORT = 8080


def step(module, func, device=None, **extra):
    return {"device": device, "module": module, "func": func, **extra}


class RemoteOrchestrator(Orchestrator):
    """The HTTP helpers of Orchestrator, for one running at another address."""

    def __init__(self, base):
        super().__init__("liquid", "/nonexistent")
        self._base = base

    @property
    def base(self):
        return self._base


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def unfollowed(method, url, timeout=10, headers=None):
    """One exchange whose 3xx answer comes back as it is (urllib follows 307 itself).
    Returns (status, headers, body text); status None when nothing answered."""
    opener = urllib.request.build_opener(_NoRedirect)
    req = urllib.request.Request(url, method=method, headers=headers or {},
                                 data=b"" if method == "POST" else None)
    try:
        with opener.open(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode(errors="replace")
    except OSError as e:
        return None, {}, str(e)


class LiquidNet:
    def __init__(self, net, liquid, build_dir, supervisors=("s1", "s2", "s3"),
                 interval="300ms", orch_args=(), sup_args=(), sup_args_by_name=None,
                 timeout=60):
        self.net = net
        self.liquid = str(liquid)
        self.build_dir = pathlib.Path(build_dir)
        self.scratch = pathlib.Path(net.scratch)
        self.log_dir = self.scratch
        if os.environ.get("LIQUID_TESTNET_LOG_DIR"):
            root = pathlib.Path(os.environ["LIQUID_TESTNET_LOG_DIR"])
            root.mkdir(parents=True, exist_ok=True)
            self.log_dir = pathlib.Path(tempfile.mkdtemp(prefix=time.strftime("%H%M%S-"),
                                                         dir=root))
        self.hosts = {name: ORCH_HOST + 1 + i for i, name in enumerate(supervisors)}
        self.procs = {}
        self.sup_args = list(sup_args)
        self.sup_args_by_name = sup_args_by_name or {}
        enter_host(net, ORCH_HOST)
        self.base = f"http://{net.address(ORCH_HOST)}:{ORCH_PORT}"
        self.orch = RemoteOrchestrator(self.base)
        self.procs["orchestrator"] = net.spawn(
            ORCH_HOST, [self.liquid, "orchestrator", "--port", ORCH_PORT, "--no-mdns",
                        "--public-host", f"http://{net.address(ORCH_HOST)}", "--data-dir",
                        self.scratch / "orchestrator", "--health-interval", interval,
                        *orch_args],
            stdout=subprocess.DEVNULL, stderr=self._log_file("orchestrator"))
        self._wait_answer(self.base + "/file/device", "orchestrator", timeout)
        for name in supervisors:
            self.start(name)
        self.wait_active(supervisors, timeout)

    # ------------------------------------------------------------ processes
    def _log_file(self, name):
        # a file, not a pipe: a pipe nobody reads fills up and stops the process
        return open(self.log_dir / f"{name}.log", "ab")

    def _wait_answer(self, url, name, timeout):
        deadline = time.monotonic() + timeout
        while True:
            try:
                if request("GET", url, timeout=2).status == 200:
                    return
            except OSError:
                pass
            proc = self.procs[name]
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{name} did not start (exit {proc.poll()}):\n"
                                     f"{self.log(name)[-3000:]}")
            time.sleep(0.05)

    def url(self, name):
        """A supervisor's base URL, as the orchestrator and the other hosts reach it."""
        return f"http://{self.net.address(self.hosts[name])}:{SUP_PORT}"

    def start(self, name, *extra):
        """Starts (or starts again, same instance directory) supervisor `name`."""
        host = self.hosts[name]
        args = [self.liquid, "supervisor", "--name", name, "--port", SUP_PORT, "--address",
                self.net.address(host), "--no-mdns", "--orchestrator-url", self.base,
                "--instance-dir", self.scratch / f"{name}-instance", *self.sup_args,
                *self.sup_args_by_name.get(name, ()), *extra]
        self.procs[name] = self.net.spawn(host, args, stdout=subprocess.DEVNULL,
                                          stderr=self._log_file(name))
        self._wait_answer(self.url(name) + "/health", name, 30)
        return self.procs[name]

    def signal(self, name, sig=signal.SIGKILL):
        """Sends sig to a supervisor without waiting for it to exit."""
        self.procs[name].send_signal(sig)

    def wait_exit(self, name, timeout=60):
        return self.procs[name].wait(timeout=timeout)

    def cut(self, name):
        """Cuts host `name`'s link (its processes go on, unreachable)."""
        subprocess.run(["ip", "-n", "sw", "link", "set", f"v{self.hosts[name]}", "down"],
                       check=True)

    def restore(self, name):
        subprocess.run(["ip", "-n", "sw", "link", "set", f"v{self.hosts[name]}", "up"],
                       check=True)

    def call_on_host(self, name, method, url, timeout=10):
        """One request sent from inside supervisor `name`'s own host (so it reaches that
        supervisor while its link is cut); redirects are not followed. Returns
        (status or None, body text)."""
        code = ("import json, sys; sys.path.insert(0, %r); import liquid_testnet_util as u; "
                "s, h, b = u.unfollowed(%r, %r, %r); print(json.dumps([s, h, b]))"
                % (str(pathlib.Path(__file__).parent), method, url, timeout))
        done = self.net.run(self.hosts[name], [sys.executable, "-c", code], timeout=timeout + 20)
        assert done.returncode == 0, done.stderr
        status, headers, body = json.loads(done.stdout)
        return status, headers, body

    def log(self, name="orchestrator"):
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def logs(self, tail=6000):
        return "\n".join(f"--- {name}.log (tail)\n{self.log(name)[-tail:]}"
                         for name in ["orchestrator", *self.hosts])

    def check(self, condition, what):
        """assert with every process's log tail in the message."""
        if not condition:
            raise AssertionError(f"{what}\n{self.logs()}")

    # -------------------------------------------------------------- devices
    def devices(self):
        return self.orch.devices()

    def ids(self):
        return {d["name"]: d["_id"] for d in self.devices()}

    def names(self):
        return {d["_id"]: d["name"] for d in self.devices()}

    def device_state(self, name):
        r = self.orch.get(f"/file/device/{name}")
        return r.json().get("state") if r.status == 200 else None

    def wait_active(self, names, timeout=60):
        wait_until(lambda: all(self.device_state(n) == "active" for n in names), timeout,
                   what=f"{list(names)} active", on_timeout=self.logs)

    # ----------------------------------------------- modules and deployments
    def add_module(self, name, description=None):
        """Uploads build/examples/NAME.wasm and describes it with
        examples/descriptions/NAME.json; returns the module id."""
        mid = self.orch.upload_module(name, self.build_dir / "examples" / f"{name}.wasm")
        functions = description or json.loads((DESCRIPTIONS / f"{name}.json").read_text())
        r = self.orch.describe_module(mid, functions)
        assert r.status == 200, r
        return mid

    def create(self, name, *steps):
        r = self.orch.post("/file/manifest", json_body={"name": name, "sequence": list(steps)})
        assert r.status == 201, r
        return json.loads(r.body)

    def deploy(self, dep):
        r = self.orch.post(f"/file/manifest/{dep}", timeout=120)
        self.check(r.status == 200, f"deploy answered {r}")
        return r.json()

    def deployment(self, dep):
        r = self.orch.get(f"/file/manifest/{dep}")
        assert r.status == 200, r
        return r.json()

    def placed(self, dep):
        """The device name of each step."""
        names = self.names()
        return [names.get(s["device"], s["device"]) for s in self.deployment(dep)["sequence"]]

    def execute(self, dep, args=None, timeout=150):
        """POST /execute/{dep}; the Response (any status)."""
        return self.orch.post(f"/execute/{dep}", json_body=args or {}, timeout=timeout)

    def execution(self, execution_id):
        r = self.orch.get(f"/execute/{execution_id}")
        assert r.status == 200, r
        return r.json()

    def executions(self, dep):
        r = self.orch.get(f"/execute?deployment={dep}&limit=1000")
        assert r.status == 200, r
        return r.json()

    def migrate(self, dep, timeout=300, **body):
        """POST /file/manifest/{dep}/migrate {step|module, device?}; the Response."""
        return self.orch.post(f"/file/manifest/{dep}/migrate", json_body=body, timeout=timeout)

    def node_on(self, name, dep):
        """What supervisor `name` holds of deployment dep (GET /deploy/{id}), or None."""
        r = request("GET", f"{self.url(name)}/deploy/{dep}", timeout=10)
        return r.json() if r.status == 200 else None

    def call(self, name, dep, module, function, method="GET", params=None, timeout=10):
        """A call straight to a supervisor, redirects not followed: (status, headers,
        body text), status None when it cannot be reached."""
        query = ("?" + urllib.parse.urlencode(params)) if params else ""
        return unfollowed(method, f"{self.url(name)}/{dep}/modules/{module}/{function}{query}",
                          timeout=timeout)

    # ---------------------------------------------------------------- events
    def events(self, *types, subject=None, after=0):
        r = self.orch.get(f"/events/recent?limit=10000&after={after}")
        assert r.status == 200, r
        return [e for e in r.json() if (not types or e["type"] in types)
                and (subject is None or e.get("subject") == subject)]

    def last_event_seq(self):
        events = self.orch.get("/events/recent?limit=1").json()
        return events[-1]["seq"] if events else 0

    def wait_event(self, type_, subject=None, after=0, timeout=60, where=None):
        """The first event of that type (and subject) after seq `after` for which
        where(event) holds."""
        def found():
            for e in self.events(type_, subject=subject, after=after):
                if where is None or where(e):
                    return e
            return None
        return wait_until(found, timeout, what=f"a {type_} event" +
                          (f" about {subject}" if subject else ""), on_timeout=self.logs)


class Load:
    """`threads` threads each running fn() in a loop until stop(); every outcome is kept
    as (thread, start, end, value). fn raises to record an exception as the value."""

    def __init__(self, fn, threads=3):
        self.fn = fn
        self.outcomes = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._loop, args=(i,), daemon=True)
                        for i in range(threads)]
        for t in self.threads:
            t.start()

    def _loop(self, index):
        while not self.stopping.is_set():
            start = time.monotonic()
            try:
                value = self.fn()
            except Exception as e:          # noqa: BLE001 (recorded, judged by the test)
                value = e
            with self.lock:
                self.outcomes.append((index, start, time.monotonic(), value))

    def count(self):
        with self.lock:
            return len(self.outcomes)

    def stop(self, timeout=200):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout)
        return list(self.outcomes)


def in_background(fn, *args, **kwargs):
    """Runs fn in a thread; returns a function that joins it and gives its result
    (or raises its exception)."""
    box = {}

    def run():
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as e:          # noqa: BLE001 (re-raised by the joiner)
            box["error"] = e

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def join(timeout=300):
        thread.join(timeout)
        if thread.is_alive():
            raise AssertionError(f"{getattr(fn, '__name__', fn)} still running after {timeout} s")
        if "error" in box:
            raise box["error"]
        return box["value"]
    return join


def wait_until(check, timeout=30, interval=0.05, what="condition", on_timeout=None):
    """Polls check() until it returns something true; returns it."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    extra = ("\n" + on_timeout()) if on_timeout else ""
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})"
                         f"{extra}")
