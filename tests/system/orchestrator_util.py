"""Helpers for the orchestrator's system tests: a real `liquid orchestrator` and real
`liquid supervisor` processes on 127.0.0.1, mDNS off, supervisors registering directly.

    from orchestrator_util import orchestrator, cluster   # fixtures
    def test_x(cluster):
        orch, sups = cluster(3)             # an orchestrator and 3 supervisors, all registered
        mid = orch.upload_module("fibo", wasm_path)
        orch.describe_module(mid, {"fibo": {"parameters": [...], "method": "GET", ...}})

`Orchestrator` wraps one process (start, stop, kill, restart on the same data
directory) and the HTTP API; `request`/`Response` are shared with supervisor_util.
"""
import json
import os
import pathlib
import signal
import subprocess
import time
import urllib.parse
import uuid

import pytest

from supervisor_util import Response, Supervisor, free_port, request  # noqa: F401 (re-exported)


def multipart(files=(), fields=()):
    """files: (field, filename, bytes, content type); fields: (name, text), in order.
    Returns (content type, body)."""
    boundary = "liquid-test-" + uuid.uuid4().hex
    out = bytearray()
    for name, text in fields:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                f"{text}\r\n").encode()
    for field, filename, data, content_type in files:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; "
                f"filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n").encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", bytes(out)


def form_request(method, url, files=(), fields=(), timeout=60):
    content_type, body = multipart(files, fields)
    return request(method, url, body=body, headers={"Content-Type": content_type},
                   timeout=timeout)


class Orchestrator:
    """A real `liquid orchestrator` on 127.0.0.1 with mDNS off."""

    def __init__(self, liquid_bin, data_dir, port=None, args=(), env=None, log_dir=None,
                 name="orchestrator"):
        self.liquid_bin = str(liquid_bin)
        self.data_dir = pathlib.Path(data_dir)
        self.port = port or free_port()
        self.args = list(args)
        self.env = dict(os.environ, **(env or {}))
        self.name = name
        self.log_path = pathlib.Path(log_dir or self.data_dir.parent) / f"{name}.log"
        self.proc = None
        self.log = None

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def command(self):
        return [self.liquid_bin, "orchestrator", "--bind", "127.0.0.1", "--port", str(self.port),
                "--no-mdns", "--data-dir", str(self.data_dir), *self.args]

    def start(self, timeout=30):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT,
                                     env=self.env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"orchestrator exited with {self.proc.returncode}:\n"
                                     f"{self.log_text()}")
            try:
                if request("GET", self.base + "/file/module", timeout=2).status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"orchestrator did not answer:\n{self.log_text()}")

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Sends sig and waits; returns the exit status."""
        if not self.proc or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.log.close()

    def kill(self):
        return self.stop(signal.SIGKILL)

    def restart(self, sig=signal.SIGTERM, timeout=30):
        """Stops (SIGTERM, or SIGKILL for a crash) and starts again on the same port and
        data directory."""
        self.stop(sig)
        return self.start(timeout)

    def log_text(self):
        if self.log and not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    # ---- HTTP
    def get(self, path, **kw):
        return request("GET", self.base + path, **kw)

    def post(self, path, **kw):
        return request("POST", self.base + path, **kw)

    def put(self, path, **kw):
        return request("PUT", self.base + path, **kw)

    def delete(self, path, **kw):
        return request("DELETE", self.base + path, **kw)

    def form(self, method, path, files=(), fields=(), **kw):
        return form_request(method, self.base + path, files, fields, **kw)

    # ---- modules
    def create_module(self, name, wasm, field="module", content_type="application/wasm",
                      filename=None):
        """POST /file/module; wasm is bytes or a path. Returns the Response."""
        data = pathlib.Path(wasm).read_bytes() if isinstance(wasm, (str, pathlib.Path)) else wasm
        return self.form("POST", "/file/module", fields=[("name", name)],
                         files=[(field, filename or f"{name}.wasm", data, content_type)])

    def upload_module(self, name, wasm, **kw):
        """Creates a module and returns its id (asserting 201)."""
        r = self.create_module(name, wasm, **kw)
        assert r.status == 201, r
        return r.json()["id"]

    def describe_module(self, module_id, functions, files=()):
        """POST /file/module/{id}/upload with the `functions` JSON field; files are
        (mount, filename, bytes[, content type]). Returns the Response."""
        parts = [(f[0], f[1], f[2], f[3] if len(f) > 3 else "application/octet-stream")
                 for f in files]
        return self.form("POST", f"/file/module/{module_id}/upload",
                         fields=[("functions", json.dumps(functions))], files=parts)

    def module(self, id_or_name):
        r = self.get(f"/file/module/{urllib.parse.quote(id_or_name, safe='')}")
        assert r.status == 200, r
        return r.json()[0]

    # ---- devices (the fleet's routes)
    def devices(self):
        r = self.get("/file/device")
        assert r.status == 200, r
        return r.json()

    def wait_devices(self, names, status="active", timeout=30):
        """Waits until every named device is known with the given status."""
        names = set(names)
        deadline = time.time() + timeout
        seen = []
        while time.time() < deadline:
            r = self.get("/file/device")
            if r.status == 200:
                seen = r.json()
                ok = {d["name"] for d in seen if d.get("status") == status}
                if names <= ok:
                    return {d["name"]: d for d in seen if d["name"] in names}
            time.sleep(0.1)
        raise AssertionError(f"devices {sorted(names)} not all {status}: "
                             f"{[(d.get('name'), d.get('status')) for d in seen]}\n"
                             f"{self.log_text()[-3000:]}")


# ------------------------------------------------------------------- fixtures

@pytest.fixture
def orchestrator(liquid_bin, tmp_path):
    """orchestrator(**kw) starts an orchestrator; every one started is stopped after."""
    started = []

    def start(data_dir=None, **kw):
        o = Orchestrator(liquid_bin, data_dir or tmp_path / f"orch{len(started)}-data",
                         log_dir=tmp_path, name=f"orchestrator{len(started)}", **kw)
        started.append(o)
        return o.start()

    start.all = started
    yield start
    for o in started:
        if o.proc and o.proc.poll() is None:
            # a clean stop, so a shutdown that hangs or crashes shows in the log (and
            # sanitizer builds report leaks); SIGKILL only when it hangs
            try:
                o.stop(signal.SIGTERM, timeout=15)
            except subprocess.TimeoutExpired:
                o.proc.kill()
                o.proc.wait()


@pytest.fixture
def cluster(liquid_bin, tmp_path, orchestrator):
    """cluster(n, orch_args=(), sup_args=()) -> (orchestrator, [supervisors s1..sn]),
    each supervisor registered directly (--orchestrator-url) and seen active.
    Supervisors get per-name extra args from sup_args_by_name={"s1": [...]}."""
    supervisors = []

    def start(n, orch_args=(), sup_args=(), sup_args_by_name=None, wait=True):
        orch = orchestrator(args=orch_args)
        for i in range(1, n + 1):
            name = f"s{i}"
            extra = list(sup_args) + list((sup_args_by_name or {}).get(name, ()))
            sv = Supervisor(liquid_bin, tmp_path / f"{name}-instance", name=name,
                            log_dir=tmp_path,
                            args=["--orchestrator-url", orch.base, *extra])
            supervisors.append(sv)
            sv.start()
        if wait and n:
            orch.wait_devices([sv.name for sv in supervisors])
        return orch, list(supervisors)

    start.supervisors = supervisors
    yield start
    for sv in supervisors:
        if sv.proc and sv.proc.poll() is None:
            sv.stop(signal.SIGKILL)
