"""Helpers for the supervisor's system tests: the test plays the orchestrator.

It serves module binaries and data files from a small HTTP server thread
(`FileServer`), starts real `liquid supervisor` processes on 127.0.0.1 with mDNS off
(`Supervisor`), and POSTs mini-manifests built with `node()`, `endpoint()` and
`mount()` — the shapes of wasmiot-api.md §2.5.

Fixtures (import them into a test module): `file_server`, `supervisors`.
"""
import hashlib
import http.server
import json
import os
import pathlib
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------- HTTP

class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body.decode())

    def __repr__(self):
        return f"<HTTP {self.status} {self.body[:300]!r}>"


def multipart(files=(), fields=()):
    """files: (field, filename, bytes); fields: (name, text). Returns (content type, body)."""
    boundary = "liquid-test-" + uuid.uuid4().hex
    out = bytearray()
    for name, text in fields:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                f"{text}\r\n").encode()
    for field, filename, data in files:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; "
                f"filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                ).encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", bytes(out)


def request(method, url, json_body=None, body=None, files=None, fields=None, headers=None,
            timeout=60):
    """One HTTP exchange; any status (4xx/5xx too) comes back as a Response."""
    headers = dict(headers or {})
    if json_body is not None:
        body = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    elif files is not None or fields is not None:
        headers["Content-Type"], body = multipart(files or (), fields or ())
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return Response(r.status, dict(r.headers), r.read())
    except urllib.error.HTTPError as e:
        return Response(e.code, dict(e.headers), e.read())


# ---------------------------------------------------------- the file server

class FileServer:
    """Serves files from a directory, like the orchestrator's /file/module/{id}/wasm.

    `put(name, data)` adds a file; `fail(name, status)` makes a name answer an error;
    `delay(name, seconds)` makes it slow; `requests` lists the paths asked for."""

    def __init__(self, directory, host="127.0.0.1"):
        self.host = host
        self.directory = pathlib.Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.failures = {}
        self.delays = {}
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = urllib.parse.unquote(self.path.lstrip("/").split("?")[0])
                server.requests.append(name)
                time.sleep(server.delays.get(name, 0))
                status = server.failures.get(name)
                path = server.directory / name
                if status is None and not path.is_file():
                    status = 404
                if status:
                    self.send_response(status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = path.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def put(self, name, data):
        if isinstance(data, (str, pathlib.Path)) and pathlib.Path(data).is_file():
            data = pathlib.Path(data).read_bytes()
        (self.directory / name).write_bytes(data)
        return self.url(name)

    def delay(self, name, seconds):
        """Makes fetching name take this long (a slow orchestrator or network)."""
        self.delays[name] = seconds
        return self.url(name)

    def fail(self, name, status):
        self.failures[name] = status
        return self.url(name)

    def url(self, name):
        return f"http://{self.host}:{self.port}/{name}"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# -------------------------------------------------------------- the supervisor

class Supervisor:
    """A real `liquid supervisor` process on 127.0.0.1 with mDNS off."""

    def __init__(self, liquid_bin, instance_dir, name="s1", port=None, args=(), env=None,
                 bind="127.0.0.1", log_dir=None, wrapper=()):
        self.liquid_bin = str(liquid_bin)
        self.instance_dir = pathlib.Path(instance_dir)
        self.name = name
        self.port = port or free_port()
        self.bind = bind
        self.args = list(args)
        self.env = dict(os.environ, **(env or {}))
        self.log_path = pathlib.Path(log_dir or self.instance_dir.parent) / f"{name}.log"
        self.proc = None
        self.host = "127.0.0.1" if bind in ("127.0.0.1", "0.0.0.0") else bind
        self.wrapper = list(wrapper)    # a command the supervisor runs under (it must exec)

    @property
    def base(self):
        return f"http://{self.host}:{self.port}"

    def command(self):
        return [*self.wrapper, self.liquid_bin, "supervisor", "--bind", self.bind, "--port",
                str(self.port), "--no-mdns", "--instance-dir", str(self.instance_dir), "--name",
                self.name, *self.args]

    def start(self, timeout=30):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT,
                                     env=self.env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"supervisor {self.name} exited with {self.proc.returncode}:"
                                     f"\n{self.log_text()}")
            try:
                if request("GET", self.base + "/health", timeout=2).status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"supervisor {self.name} did not answer /health:\n{self.log_text()}")

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

    def log_text(self):
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    # HTTP
    def get(self, path, **kw):
        return request("GET", self.base + path, **kw)

    def post(self, path, **kw):
        return request("POST", self.base + path, **kw)

    def delete(self, path, **kw):
        return request("DELETE", self.base + path, **kw)

    def deploy(self, manifest, **kw):
        return self.post("//deploy", json_body=manifest, **kw)

    def call(self, dep, module, function, params=None, method="GET", files=None, fields=None,
             **kw):
        query = ("?" + urllib.parse.urlencode(params)) if params else ""
        return request(method, f"{self.base}/{dep}/modules/{module}/{function}{query}",
                       files=files, fields=fields, **kw)

    def history(self, request_id=None, wait_ms=None):
        path = "/request-history" + (f"/{request_id}" if request_id else "")
        if wait_ms:
            path += f"?wait={wait_ms}"
        return self.get(path)

    def wait_history(self, request_id, timeout=30):
        """Polls until the entry is done (200) or failed (500)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = self.history(request_id)
            if r.status != 404:
                return r
            time.sleep(0.05)
        raise AssertionError(f"history entry {request_id} never finished")


def request_id_of(result_url):
    return result_url.rstrip("/").rsplit("/", 1)[1]


def follow(result_url, timeout=30):
    """Follows a resultUrl as an orchestrator does: 404 means pending."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = request("GET", result_url)
        if r.status != 404:
            return r
        time.sleep(0.05)
    raise AssertionError(f"{result_url} never finished")


# ------------------------------------------------------ mini-manifest builders

def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def module_entry(name, binary_url, other=None, **extra):
    entry = {"id": uuid.uuid4().hex[:24], "name": name,
             "urls": {"binary": binary_url, "description": binary_url + "/description",
                      "other": other or {}}}
    entry.update(extra)
    return entry


def endpoint(base, dep, module, function, method="get", params=(("param0", "integer"),),
             media_type="application/json", schema_type="integer", request_body=None):
    request_part = {"parameters": [
        {"name": n, "in": "query", "description": "Auto-generated description",
         "required": True, "schema": {"type": t}} for n, t in params]}
    if request_body:
        request_part["request_body"] = request_body
    response = {"media_type": media_type}
    response["schema"] = ({"type": schema_type} if media_type == "application/json"
                          else {"type": "string", "format": "binary"})
    return {"url": base, "path": f"/{dep}/modules/{module}/{function}", "method": method,
            "request": request_part, "response": response}


def mount(path, stage, media_type="application/octet-stream"):
    return {"path": path, "media_type": media_type, "stage": stage}


def node(dep, modules, functions, **extra):
    """functions: dicts {module, function, endpoint, to (Endpoint or None), mounts}."""
    manifest = {"deploymentId": dep, "modules": modules, "endpoints": {},
                "instructions": {"modules": {}}, "mounts": {}}
    for f in functions:
        m, fn = f["module"], f["function"]
        manifest["endpoints"].setdefault(m, {})[fn] = f["endpoint"]
        manifest["instructions"]["modules"].setdefault(m, {})[fn] = {
            "from": f["endpoint"], "to": f.get("to")}
        mounts = f.get("mounts") or {}
        manifest["mounts"].setdefault(m, {})[fn] = {
            "execution": mounts.get("execution", []), "deployment": mounts.get("deployment", []),
            "output": mounts.get("output", [])}
    manifest.update(extra)
    return manifest


def single_function(sv, files, dep, module, wasm_path, function, params=(("param0", "integer"),),
                    method="get", **extra):
    """A deployment of one module with one numeric function on supervisor sv."""
    url = files.put(f"{dep}-{module}.wasm", pathlib.Path(wasm_path).read_bytes())
    ep = endpoint(sv.base, dep, module, function, method=method, params=params)
    return node(dep, [module_entry(module, url)],
                [{"module": module, "function": function, "endpoint": ep}], **extra)


# ------------------------------------------------------------------- fixtures

@pytest.fixture
def file_server(tmp_path):
    server = FileServer(tmp_path / "files")
    yield server
    server.stop()


@pytest.fixture
def supervisors(liquid_bin, tmp_path):
    """supervisors(name, **kw) starts a supervisor; all are stopped after the test."""
    started = []

    def start(name="s1", instance_dir=None, **kw):
        sv = Supervisor(liquid_bin, instance_dir or tmp_path / f"{name}-instance", name=name,
                        log_dir=tmp_path, **kw)
        started.append(sv)
        return sv.start()

    start.all = started
    yield start
    for sv in started:
        if sv.proc and sv.proc.poll() is None:
            sv.stop(signal.SIGKILL)
