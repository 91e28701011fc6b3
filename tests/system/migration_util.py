"""Helpers for the orchestrator's migration and checkpoint tests.

`DeviceProxy` is a device as the orchestrator sees it: an HTTP server on 127.0.0.1 in
front of a real `liquid supervisor` (started without an orchestrator), registered with
the orchestrator under its own port. Every request is recorded (method, path, headers,
body); a test can answer some itself (`intercept`) — for example the supervisor's side
of a migration, before that side exists — and everything else reaches the supervisor
unchanged, so deployments and executions are real.

    proxy = DeviceProxy(supervisor.base, "s1").start()
    proxy.register(orch)
    proxy.intercept("POST", r"/deploy/[^/]+/modules/[^/]+/migrate", lambda req: (200, {...}))
"""
import http.client
import http.server
import json
import re
import threading
import time
import urllib.parse

from supervisor_util import free_port, request

# not passed on; Host is, so the supervisor names the proxy in the URLs it builds
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length"}


class Recorded:
    def __init__(self, method, path, headers, body):
        self.method = method
        self.path = path                    # with the query
        self.headers = headers              # lower-case names
        self.body = body
        self.time = time.time()

    @property
    def route(self):
        return urllib.parse.urlsplit(self.path).path

    @property
    def query(self):
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.method} {self.path}>"


class DeviceProxy:
    def __init__(self, backend, name, port=None):
        self.backend = urllib.parse.urlsplit(backend)
        self.name = name
        self.port = port or free_port()
        self.requests = []
        self.intercepts = []
        self.lock = threading.Lock()
        self.server = None

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def intercept(self, method, pattern, answer):
        """answer(recorded) -> (status, JSON-able body or bytes[, headers]) or None to
        forward. Newer intercepts win."""
        self.intercepts.insert(0, (method, re.compile(pattern + r"$"), answer))

    def seen(self, method=None, pattern=None):
        with self.lock:
            return [r for r in self.requests
                    if (method is None or r.method == method)
                    and (pattern is None or re.match(pattern + r"$", r.route))]

    def register(self, orch):
        r = request("POST", orch.base + "/file/device/discovery/register",
                    json_body={"name": self.name, "port": self.port, "addresses": ["127.0.0.1"]})
        assert r.status in (200, 201, 204), r
        return self

    def start(self):
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = b""
                    while True:
                        size = int(self.rfile.readline().strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()
                            return out
                        out += self.rfile.read(size)
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _answer(self, status, headers, body):
                self.send_response(status)
                for k, v in headers:
                    if k.lower() not in HOP_HEADERS:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self):
                body = self._body()
                rec = Recorded(self.command, self.path,
                               {k.lower(): v for k, v in self.headers.items()}, body)
                with proxy.lock:
                    proxy.requests.append(rec)
                for method, pattern, answer in list(proxy.intercepts):
                    if method == self.command and pattern.match(rec.route):
                        out = answer(rec)
                        if out is not None:
                            status, payload = out[0], out[1]
                            extra = list(out[2].items()) if len(out) > 2 else []
                            data = payload if isinstance(payload, bytes) else \
                                json.dumps(payload).encode()
                            return self._answer(status, [("Content-Type", "application/json")]
                                                + extra, data)
                if rec.route == "/register" and self.command == "POST":
                    # the orchestrator offering itself: the proxy is the registered device
                    return self._answer(200, [("Content-Type", "application/json")], b"{}")
                conn = http.client.HTTPConnection(proxy.backend.hostname, proxy.backend.port,
                                                  timeout=300)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    res = conn.getresponse()
                    data = res.read()
                    extra = [("Custom-Orchestrator-Set", "true")] if rec.route == "/health" else []
                    self._answer(res.status, res.getheaders() + extra, data)
                except OSError as e:
                    self._answer(502, [("Content-Type", "application/json")],
                                 json.dumps({"errorText": f"proxy: {e}"}).encode())
                finally:
                    conn.close()

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def proxied_cluster(cluster, liquid_bin, tmp_path, names=("s1", "s2"), orch_args=(),
                    sup_args=()):
    """An orchestrator and one DeviceProxy per name, each in front of a real supervisor
    that has no orchestrator of its own. Returns (orch, {name: proxy}, {name: supervisor})."""
    from supervisor_util import Supervisor
    orch, _ = cluster(0, orch_args=orch_args)
    proxies, sups = {}, {}
    for name in names:
        sv = Supervisor(liquid_bin, tmp_path / f"{name}-instance", name=name, log_dir=tmp_path,
                        args=list(sup_args))
        cluster.supervisors.append(sv)
        sv.start()
        proxy = DeviceProxy(sv.base, name).start()
        proxy.register(orch)
        proxies[name], sups[name] = proxy, sv
    orch.wait_devices(list(names))
    return orch, proxies, sups
