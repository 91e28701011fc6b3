"""Moving a function with its state between supervisors (docs/migration.md), on
loopback with real `liquid supervisor` processes (mDNS off); the test plays the
orchestrator: it deploys, raises epochs, and asks the source to migrate.

Epochs: a node, routes or a call with an older epoch is refused (409 stale epoch); a
call with a newer epoch waits a moment for the device to be told of it, and makes the
device drop its copy if it is not; chained calls carry the epoch.
"""
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request

from supervisor_util import (endpoint, file_server, module_entry, mount, node,  # noqa: F401
                             request, request_id_of, supervisors)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def unfollowed(url, headers=None):
    """A GET whose 3xx answer comes back as it is (urllib follows 307 by itself)."""
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers=headers or {}), timeout=30) as r:
            return r.status, dict(r.headers), json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read() or b"null")


def counter_node(sv, files, example, dep="count", epoch=None, to=None):
    url = files.put("counter.wasm", example("counter").read_bytes())
    fns = []
    for fn, params in (("increment", ()), ("get", ()), ("add", (("n", "integer"),))):
        fns.append({"module": "counter", "function": fn,
                    "endpoint": endpoint(sv.base, dep, "counter", fn, params=params),
                    "to": to if fn == "increment" else None})
    extra = {} if epoch is None else {"epoch": epoch}
    return node(dep, [module_entry("counter", url)], fns, **extra)


def increment_to(sv, dep, value):
    for _ in range(value):
        r = sv.call(dep, "counter", "increment")
        assert r.status == 200, r
    return r.json()["result"]["result"]


# ------------------------------------------------------------------ epochs

def test_older_epoch_refused_for_node_routes_and_calls(supervisors, file_server, example):
    s1 = supervisors("s1")
    assert s1.deploy(counter_node(s1, file_server, example, epoch=7)).status == 200
    assert s1.get("/deploy/count").json()["manifest"]["epoch"] == 7

    r = s1.deploy(counter_node(s1, file_server, example, epoch=5))
    assert r.status == 409, r
    assert r.json()["errorText"] == ("stale epoch: this device holds epoch 7, the request "
                                     "carries 5")
    manifest = counter_node(s1, file_server, example, epoch=5)
    routes = {"endpoints": manifest["endpoints"], "instructions": manifest["instructions"],
              "epoch": 6}
    r = request("PUT", s1.base + "/deploy/count/routes", json_body=routes)
    assert r.status == 409 and "holds epoch 7" in r.json()["errorText"], r
    r = s1.call("count", "counter", "increment", headers={"X-Liquid-Epoch": "6"})
    assert r.status == 409 and "stale epoch" in r.json()["errorText"], r
    r = s1.call("count", "counter", "increment", headers={"X-Liquid-Epoch": "seven"})
    assert r.status == 400 and "X-Liquid-Epoch" in r.json()["errorText"], r
    # the same epoch serves, and a route change may raise it (persisted with the node)
    assert s1.call("count", "counter", "increment", headers={"X-Liquid-Epoch": "7"}).status == 200
    routes["epoch"] = 8
    assert request("PUT", s1.base + "/deploy/count/routes", json_body=routes).status == 200
    s1.stop()
    s1.start()
    assert s1.get("/deploy/count").json()["manifest"]["epoch"] == 8
    assert s1.call("count", "counter", "get").json()["result"] == {"result": "1"}


def test_newer_epoch_on_a_call_drops_the_copy(supervisors, file_server, example):
    s1 = supervisors("s1")
    assert s1.deploy(counter_node(s1, file_server, example, epoch=3)).status == 200
    assert increment_to(s1, "count", 2) == "2"
    r = s1.call("count", "counter", "increment", headers={"X-Liquid-Epoch": "4"})
    assert r.status == 409, r
    assert r.json()["errorText"] == ("stale epoch: this device holds epoch 3, the request "
                                     "carries 4")
    # the copy is gone and stays gone: every call is refused, nothing is served
    assert s1.get("/deploy/count").status == 404
    for headers in ({}, {"X-Liquid-Epoch": "3"}, {"X-Liquid-Epoch": "4"}):
        r = s1.call("count", "counter", "get", headers=headers)
        assert r.status == 409 and "stale epoch" in r.json()["errorText"], r
    # an older node is still refused; the current epoch places it here again afresh
    assert s1.deploy(counter_node(s1, file_server, example, epoch=3)).status == 409
    assert s1.deploy(counter_node(s1, file_server, example, epoch=4)).status == 200
    assert s1.call("count", "counter", "increment").json()["result"] == {"result": "1"}


def test_newer_epoch_on_a_call_waits_for_the_routes_that_carry_it(supervisors, file_server,
                                                                  example):
    # The orchestrator tells every device of a deployment its new epoch; a device told
    # first may call one not told yet. That call waits for the news instead of dropping
    # a copy that is still placed here.
    s1 = supervisors("s1")
    node3 = counter_node(s1, file_server, example, epoch=3)
    assert s1.deploy(node3).status == 200
    assert increment_to(s1, "count", 2) == "2"
    answers = []
    caller = threading.Thread(target=lambda: answers.append(
        s1.call("count", "counter", "increment", headers={"X-Liquid-Epoch": "4"})))
    caller.start()
    time.sleep(0.3)
    assert not answers, "the call with the newer epoch did not wait for it"
    routes = {"endpoints": node3["endpoints"], "instructions": node3["instructions"], "epoch": 4}
    assert request("PUT", s1.base + "/deploy/count/routes", json_body=routes).status == 200
    caller.join(timeout=30)
    assert answers and answers[0].status == 200, answers
    assert answers[0].json()["result"]["result"] == "3"       # the same copy, its count
    assert s1.get("/deploy/count").json()["manifest"]["epoch"] == 4


def test_chained_call_carries_the_epoch(supervisors, file_server, example):
    s1, s2 = supervisors("s1"), supervisors("s2")
    assert s2.deploy(counter_node(s2, file_server, example, dep="ch", epoch=2)).status == 200
    to = endpoint(s2.base, "ch", "counter", "add", params=(("n", "integer"),))
    assert s1.deploy(counter_node(s1, file_server, example, dep="ch", epoch=2,
                                  to=to)).status == 200
    r = s1.call("ch", "counter", "increment")     # s1: 1, then s2.add(1)
    assert r.status == 200 and r.json()["result"] == {"result": "1"}, r
    # s1 is moved on to epoch 3; its next chained call tells s2 that s2's copy is stale
    routes = {k: counter_node(s1, file_server, example, dep="ch", to=to)[k]
              for k in ("endpoints", "instructions")}
    routes["epoch"] = 3
    assert request("PUT", s1.base + "/deploy/ch/routes", json_body=routes).status == 200
    r = s1.call("ch", "counter", "increment")
    assert r.status == 502 and "stale epoch" in r.json()["errorText"], r
    assert s2.get("/deploy/ch").status == 404


def file_chain(producer, consumer, files, wat, dep="fch", epoch=2):
    """producer's produce() writes image.jpeg, which goes to consumer's consume() as a
    multipart part (tests/wat/supervisor_files.wat)."""
    url = files.put("files.wasm", wat("supervisor_files").read_bytes())
    consume = endpoint(consumer.base, dep, "f", "consume", method="post", params=(),
                       request_body={"media_type": "multipart/form-data"})
    produce = endpoint(producer.base, dep, "f", "produce", params=(), media_type="image/jpeg")
    consumer_node = node(dep, [module_entry("f", url)], [
        {"module": "f", "function": "consume", "endpoint": consume,
         "mounts": {"execution": [mount("image.jpeg", "execution")]}}], epoch=epoch)
    producer_node = node(dep, [module_entry("f", url)], [
        {"module": "f", "function": "produce", "endpoint": produce, "to": consume,
         "mounts": {"output": [mount("image.jpeg", "output", "image/jpeg")]}}], epoch=epoch)
    return producer_node, consumer_node


def test_chained_call_with_files_carries_the_epoch(supervisors, file_server, wat):
    s1, s2 = supervisors("s1"), supervisors("s2")
    producer_node, consumer_node = file_chain(s1, s2, file_server, wat)
    assert s2.deploy(consumer_node).status == 200
    assert s1.deploy(producer_node).status == 200
    r = s1.call("fch", "f", "produce")
    assert r.status == 200 and "result" in r.json()["result"], (r, s1.log_text())
    # s1 moves on to epoch 3: the file it forwards tells s2 that s2's copy is stale
    routes = {k: producer_node[k] for k in ("endpoints", "instructions")}
    routes["epoch"] = 3
    assert request("PUT", s1.base + "/deploy/fch/routes", json_body=routes).status == 200
    r = s1.call("fch", "f", "produce")
    assert r.status == 502 and "stale epoch" in r.json()["errorText"], r
    assert s2.get("/deploy/fch").status == 404
    [entry] = [e for e in s2.history().json()]
    assert entry["success"]       # only the call made at epoch 2 ran there


# ------------------------------------------------------- planned migration

def migrate(source, target, dep, module, epoch, transfer="t1", **kw):
    return source.post(f"/deploy/{dep}/modules/{module}/migrate",
                       json_body={"target": target.base, "epoch": epoch, "transferId": transfer},
                       **kw)


def test_counter_moves_at_41_and_answers_42_on_the_target(supervisors, file_server, example):
    s1, s2 = supervisors("s1"), supervisors("s2")
    assert s1.deploy(counter_node(s1, file_server, example, epoch=1)).status == 200
    assert increment_to(s1, "count", 41) == "41"
    # the orchestrator's step 1: the target gets the new node (fresh module), epoch 2
    assert s2.deploy(counter_node(s2, file_server, example, epoch=2)).status == 200
    r = migrate(s1, s2, "count", "counter", 2)
    assert r.status == 200, (r, s1.log_text())
    body = r.json()
    assert body["status"] == "moved" and body["target"] == s2.base
    assert body["bytes"] > 0 and body["unavailableMs"] >= 0 and body["resumedCall"] is None
    r = s2.call("count", "counter", "increment")
    assert r.status == 200 and r.json()["result"] == {"result": "42"}, r
    # the heap moved too: every change is in the module's own history
    assert s2.call("count", "counter", "changes").status == 404   # not an endpoint
    # later calls on the source are redirected, with the query, to the same path
    status, headers, body = unfollowed(s1.base + "/count/modules/counter/add?n=5")
    assert status == 307, body
    assert headers["Location"] == f"{s2.base}/count/modules/counter/add?n=5"
    assert body == {"status": "moved", "location": headers["Location"]}
    status, headers, _ = unfollowed(s1.base + "/module_results/count/counter/x.txt")
    assert status == 307 and headers["Location"].startswith(s2.base + "/module_results/")
    # a client that follows redirects gets its answer from the target
    r = s1.call("count", "counter", "add", {"n": 5})
    assert r.status == 200 and r.json()["result"] == {"result": "47"}, r
    # a second migration of the moved module is refused; the source never serves it again
    assert migrate(s1, s2, "count", "counter", 3).status == 409
    assert s2.call("count", "counter", "get").json()["result"] == {"result": "47"}


def test_failed_transfer_leaves_the_source_serving_unchanged(supervisors, file_server,
                                                             example):
    s1, s2 = supervisors("s1"), supervisors("s2")
    assert s1.deploy(counter_node(s1, file_server, example, epoch=1)).status == 200
    assert increment_to(s1, "count", 3) == "3"
    # target does not have the module deployed: it refuses the state
    r = migrate(s1, s2, "count", "counter", 2)
    assert r.status == 502, r
    assert s2.base in r.json()["errorText"] and "not deployed" in r.json()["errorText"]
    assert s1.call("count", "counter", "increment").json()["result"] == {"result": "4"}
    # target down
    s2.stop()
    r = migrate(s1, s2, "count", "counter", 2, transfer="t2")
    assert r.status == 502 and "cannot reach" in r.json()["errorText"], r
    r = s1.call("count", "counter", "increment")
    assert r.json()["result"] == {"result": "5"}, s1.log_text()


def test_target_refuses_a_wrong_digest_and_a_stale_epoch(supervisors, file_server, example):
    s2 = supervisors("s2")
    assert s2.deploy(counter_node(s2, file_server, example, epoch=4)).status == 200
    url = s2.base + "/deploy/count/modules/counter/state?transfer=x&epoch=4"
    r = request("PUT", url, body=b"LQSB" + b"\0" * 20,
                headers={"X-Liquid-Digest": "sha256:" + "0" * 64, **OCTETS})
    assert r.status == 409 and "digest mismatch" in r.json()["errorText"], r
    assert s2.get("/deploy/count/modules/counter/state?transfer=x").json()["received"] == 0
    import hashlib
    junk = b"LQSB\1\0\0\0\1\0\0\0"      # one section announced, none there
    r = request("PUT", url, body=junk,
                headers={"X-Liquid-Digest": "sha256:" + hashlib.sha256(junk).hexdigest(),
                         **OCTETS})
    assert r.status == 400 and "truncated" in r.json()["errorText"], r
    r = request("PUT", url.replace("epoch=4", "epoch=3"), body=junk,
                headers={"X-Liquid-Digest": "sha256:" + hashlib.sha256(junk).hexdigest(),
                         **OCTETS})
    assert r.status == 409 and "stale epoch" in r.json()["errorText"], r
    assert s2.call("count", "counter", "increment").json()["result"] == {"result": "1"}


OCTETS = {"Content-Type": "application/octet-stream"}


def compute_node(sv, files, example, dep="cmp", epoch=None):
    url = files.put("compute.wasm", example("compute").read_bytes())
    ep = endpoint(sv.base, dep, "compute", "run", params=(("iterations", "integer"),))
    extra = {"limits": {"timeoutMs": 120000}}
    if epoch is not None:
        extra["epoch"] = epoch
    return node(dep, [module_entry("compute", url)],
                [{"module": "compute", "function": "run", "endpoint": ep}], **extra)


ITERATIONS = 60_000_000


def test_long_computation_moves_mid_call_and_its_caller_gets_the_result(
        supervisors, file_server, example, liquid):
    s1, s2 = supervisors("s1"), supervisors("s2")
    assert s1.deploy(compute_node(s1, file_server, example, epoch=1)).status == 200
    assert s2.deploy(compute_node(s2, file_server, example, epoch=2)).status == 200
    expected = liquid("run", "--invoke", "run", str(example("compute")), str(ITERATIONS))
    expected = expected.stdout.strip()

    answer = {}

    def call():
        answer["r"] = s1.call("cmp", "compute", "run", {"iterations": ITERATIONS}, timeout=120)

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.5)                     # well inside the call
    r = migrate(s1, s2, "cmp", "compute", 2)
    assert r.status == 200, (r, s1.log_text())
    resumed = r.json()["resumedCall"]
    assert resumed, r
    caller.join(120)
    got = answer["r"]
    assert got.status == 200, (got, s1.log_text(), s2.log_text())
    assert got.json()["result"] == {"result": expected}
    assert request_id_of(got.json()["resultUrl"]) == resumed
    # both histories hold the call, done, under its one id; it ran on the target
    e1, e2 = s1.history(resumed).json(), s2.history(resumed).json()
    assert e1["success"] and e2["success"] and e1["result"] == e2["result"] == expected


class BreakingProxy:
    """A TCP proxy to target that cuts the connection once, after `cut_after` bytes
    from the client, then passes everything (a network that fails mid-transfer)."""

    def __init__(self, target_port, cut_after):
        import socket
        self.target_port = target_port
        self.cut_after = cut_after
        self.cuts = 0
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        import socket
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self.pipe, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self.pipe, args=(server, client, False),
                             daemon=True).start()

    def pipe(self, src, dst, upstream):
        import socket
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if upstream and not self.cuts and self.cut_after is not None:
                    if len(data) >= self.cut_after:
                        dst.sendall(data[:self.cut_after])
                        self.cuts += 1
                        break
                    self.cut_after -= len(data)
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def stop(self):
        self.listener.close()


def test_broken_transfer_continues_from_the_parts_kept(supervisors, file_server, example):
    s1 = supervisors("s1", args=["--transfer-part", "8K"])
    s2 = supervisors("s2")
    assert s1.deploy(counter_node(s1, file_server, example, epoch=1)).status == 200
    assert increment_to(s1, "count", 41) == "41"
    assert s2.deploy(counter_node(s2, file_server, example, epoch=2)).status == 200
    proxy = BreakingProxy(s2.port, cut_after=30000)   # inside the 4th part
    try:
        r = s1.post("/deploy/count/modules/counter/migrate",
                    json_body={"target": proxy.base, "epoch": 2, "transferId": "broken"})
        assert r.status == 200, (r, s1.log_text(), s2.log_text())
        assert proxy.cuts == 1
        assert r.json()["bytes"] > 30000
    finally:
        proxy.stop()
    assert s2.call("count", "counter", "increment").json()["result"] == {"result": "42"}
    # the target kept nothing of the finished transfer
    assert s2.get("/deploy/count/modules/counter/state?transfer=broken").json() == {
        "received": 0, "digest": None}


def test_parts_survive_and_continue_by_hand(supervisors, file_server, example):
    """The target's side alone: parts are kept under the transfer id (across a restart
    of the target), GET says how much, and a part that does not follow is refused."""
    import hashlib
    s1, s2 = supervisors("s1"), supervisors("s2")
    assert s1.deploy(counter_node(s1, file_server, example, epoch=1)).status == 200
    assert increment_to(s1, "count", 7) == "7"
    assert s2.deploy(counter_node(s2, file_server, example, epoch=2)).status == 200
    # take the bundle as s1 would send it: by migrating through a recording server
    recorded = {}

    class Recorder(__import__("http.server").server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"received": 0}')

        def do_PUT(self):
            n = int(self.headers["Content-Length"])
            recorded["digest"] = self.headers["X-Liquid-Digest"]
            recorded["bytes"] = self.rfile.read(n)
            self.send_response(500)     # refuse: s1 keeps serving
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"errorText": "recording only"}')

        def log_message(self, *a):
            pass

    import http.server
    rec = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=rec.serve_forever, daemon=True).start()
    try:
        r = s1.post("/deploy/count/modules/counter/migrate", json_body={
            "target": f"http://127.0.0.1:{rec.server_address[1]}", "epoch": 2,
            "transferId": "rec"})
        assert r.status == 502 and "recording only" in r.json()["errorText"], r
    finally:
        rec.shutdown()
    bundle, digest = recorded["bytes"], recorded["digest"]
    assert digest == "sha256:" + hashlib.sha256(bundle).hexdigest()
    assert s1.call("count", "counter", "increment").json()["result"] == {"result": "8"}

    url = s2.base + "/deploy/count/modules/counter/state?transfer=hand&epoch=2"
    half, total = len(bundle) // 2, len(bundle)

    def put(first, last):
        return request("PUT", url, body=bundle[first:last + 1], headers={
            **OCTETS, "X-Liquid-Digest": digest,
            "Content-Range": f"bytes {first}-{last}/{total}"})

    r = put(0, half - 1)
    assert r.status == 202 and r.json()["received"] == half, r
    s2.stop()
    s2.start()
    status = s2.get("/deploy/count/modules/counter/state?transfer=hand").json()
    assert status == {"received": half, "digest": digest}
    r = put(half + 10, total - 1)               # does not follow what was kept
    assert r.status == 416 and r.json()["received"] == half, r
    r = put(half, total - 1)
    assert r.status == 200 and r.json() == {"status": "restored", "resumedCall": None}, r
    assert s2.call("count", "counter", "get").json()["result"] == {"result": "7"}


# -------------------------------------------------------------- rerouting

class FakeOrchestrator:
    """Answers what a supervisor asks of its orchestrator for issue 5: route lookups
    (set `routes[(dep, module)] = base`), checkpoints (kept in `checkpoints`), drain
    and move-away (recorded); everything else (registration, logs) is 200 {}."""

    def __init__(self):
        import http.server
        self.routes, self.checkpoints, self.posts, self.lookups = {}, [], [], []
        self.drain_delay = 0
        self.refuse_base = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def body(self):
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_GET(self):
                parts = self.path.split("?")[0].strip("/").split("/")
                if parts[:2] == ["liquid", "route"]:
                    outer.lookups.append(tuple(parts[2:4]))
                    base = outer.routes.get(tuple(parts[2:4]))
                    if not base:
                        return self.answer(404, {"errorText": "no such step"})
                    return self.answer(200, {"url": f"{base}/{parts[2]}/modules/{parts[3]}/x",
                                             "device": "d", "epoch": 1})
                self.answer(200, {})

            def do_PUT(self):
                data = self.body()
                outer.checkpoints.append((self.path, dict(self.headers), data))
                if outer.refuse_base and self.headers.get("X-Liquid-Base") != "none":
                    outer.refuse_base -= 1
                    return self.answer(409, {"errorText": "unknown base"})
                digest = "sha256:%064x" % len(outer.checkpoints)
                self.answer(200, {"digest": digest, "bytes": len(data)})

            def do_POST(self):
                data = self.body()
                outer.posts.append((self.path, data))
                if self.path == "/liquid/drain":
                    time.sleep(outer.drain_delay)
                self.answer(200, {})

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def chain_of_counters(s1, s2, files, example, dep="ch"):
    """s1.increment -> s2.add(result), both counters, epoch 1."""
    to = endpoint(s2.base, dep, "counter", "add", params=(("n", "integer"),))
    assert s2.deploy(counter_node(s2, files, example, dep=dep, epoch=1)).status == 200
    assert s1.deploy(counter_node(s1, files, example, dep=dep, epoch=1, to=to)).status == 200


def next_hop_of(sv, dep="ch"):
    manifest = sv.get(f"/deploy/{dep}").json()["manifest"]
    return manifest["instructions"]["modules"]["counter"]["increment"]["to"]["url"]


def test_chain_follows_a_moved_next_hop_and_keeps_the_route(supervisors, file_server, example):
    s1, s2, s3 = supervisors("s1"), supervisors("s2"), supervisors("s3")
    chain_of_counters(s1, s2, file_server, example)
    assert s1.call("ch", "counter", "increment").json()["result"] == {"result": "1"}
    assert s3.deploy(counter_node(s3, file_server, example, dep="ch", epoch=2)).status == 200
    assert migrate(s2, s3, "ch", "counter", 2).status == 200
    # s2 answers 307; s1 (no orchestrator) follows the Location and keeps it
    r = s1.call("ch", "counter", "increment")       # s1: 2, s3.add(2): 1 + 2
    assert r.status == 200 and r.json()["result"] == {"result": "3"}, (r, s1.log_text())
    assert next_hop_of(s1) == s3.base
    assert "event=route.changed" in s1.log_text()
    # the orchestrator's route push (epoch 2) finds the route already in place
    manifest = s1.get("/deploy/ch").json()["manifest"]
    routes = {"endpoints": manifest["endpoints"], "instructions": manifest["instructions"],
              "epoch": 2}
    assert request("PUT", s1.base + "/deploy/ch/routes", json_body=routes).status == 200
    s2.stop()                                       # no longer needed at all
    r = s1.call("ch", "counter", "increment")       # s1: 3, s3.add(3): 6
    assert r.status == 200 and r.json()["result"] == {"result": "6"}, r


def test_unreachable_next_hop_is_looked_up_at_the_orchestrator(supervisors, file_server,
                                                               example):
    orch = FakeOrchestrator()
    try:
        s1 = supervisors("s1", args=["--orchestrator-url", orch.base])
        s2, s3 = supervisors("s2"), supervisors("s3")
        chain_of_counters(s1, s2, file_server, example)
        assert s3.deploy(counter_node(s3, file_server, example, dep="ch", epoch=1)).status == 200
        s2.kill()
        orch.routes[("ch", "counter")] = s3.base
        r = s1.call("ch", "counter", "increment")   # s1: 1, s3.add(1): 1
        assert r.status == 200 and r.json()["result"] == {"result": "1"}, (r, s1.log_text())
        assert orch.lookups == [("ch", "counter")]
        assert next_hop_of(s1) == s3.base
        # with nowhere to go, the failure names the unreachable hop
        s3.kill()
        orch.routes.clear()
        r = s1.call("ch", "counter", "increment")
        assert r.status == 502 and "cannot be reached" in r.json()["errorText"], r
    finally:
        orch.stop()


# ------------------------------------------------------------ lease, fencing

def probe(sv, lease_ms, epochs):
    r = sv.get("/health", headers={"X-Liquid-Lease-Ms": str(lease_ms),
                                   "X-Liquid-Epochs": epochs})
    assert r.status == 200, r


def test_fenced_after_the_lease_and_dropped_when_replaced(supervisors, file_server, example):
    s1 = supervisors("s1")
    assert s1.deploy(counter_node(s1, file_server, example, dep="a", epoch=1)).status == 200
    assert s1.deploy(counter_node(s1, file_server, example, dep="b", epoch=1)).status == 200
    # no lease yet: never fenced
    time.sleep(0.5)
    assert s1.call("a", "counter", "increment").status == 200
    probe(s1, 400, "a=1,b=1")
    assert s1.call("a", "counter", "increment").json()["result"] == {"result": "2"}
    time.sleep(0.6)                                 # no probe for longer than the lease
    r = s1.call("a", "counter", "increment")
    assert r.status == 503, r
    assert r.json()["errorText"].startswith("fenced: no word from the orchestrator for 400 ms")
    # the next probe drops b (replaced at epoch 2 elsewhere) but, alone, does not end
    # the fence: it may be an old probe delivered late when a cut link came back
    probe(s1, 400, "a=1,b=2")
    r = s1.call("a", "counter", "increment")
    assert r.status == 503 and r.json()["errorText"].startswith("fenced"), r
    # the one after it confirms a (same epoch)
    probe(s1, 400, "a=1,b=2")
    assert s1.call("a", "counter", "increment").json()["result"] == {"result": "3"}
    r = s1.call("b", "counter", "increment")
    assert r.status == 409 and "stale epoch" in r.json()["errorText"], r
    assert s1.get("/deploy/b").status == 404
    # a deployment the orchestrator no longer lists goes too
    probe(s1, 400, "-")
    assert s1.get("/deploy/a").status == 404
    assert "event=deployment.dropped deployment=a" in s1.log_text()


def test_restarted_with_placed_deployments_it_waits_for_the_orchestrator(supervisors,
                                                                           file_server, example):
    # it may have been replaced while it was down: what an orchestrator placed (an epoch)
    # is served again only once the orchestrator's probes confirm it
    nobody = socket.socket()
    nobody.bind(("127.0.0.1", 0))                   # an orchestrator URL nothing answers at
    url = f"http://127.0.0.1:{nobody.getsockname()[1]}"
    s1 = supervisors("s1", args=["--orchestrator-url", url])
    assert s1.deploy(counter_node(s1, file_server, example, dep="a", epoch=1)).status == 200
    assert s1.call("a", "counter", "increment").json()["result"] == {"result": "1"}
    s1.stop()
    s1.start()
    r = s1.call("a", "counter", "increment")
    assert r.status == 503 and r.json()["errorText"].startswith("fenced"), r
    probe(s1, 2000, "a=1")
    probe(s1, 2000, "a=1")
    assert s1.call("a", "counter", "increment").json()["result"] == {"result": "2"}
    nobody.close()


def test_a_withheld_lease_fences_at_once(supervisors, file_server, example):
    # the orchestrator grants a lease only to a device it counts as active: a probe to a
    # suspect or lost one carries 1 ms, and a late grant alone does not lift the fence
    s1 = supervisors("s1")
    assert s1.deploy(counter_node(s1, file_server, example, dep="a", epoch=1)).status == 200
    probe(s1, 2000, "a=1")
    assert s1.call("a", "counter", "increment").json()["result"] == {"result": "1"}
    probe(s1, 1, "a=1")
    r = s1.call("a", "counter", "increment")
    assert r.status == 503 and r.json()["errorText"].startswith("fenced"), r
    probe(s1, 2000, "a=1")
    assert s1.call("a", "counter", "increment").status == 503
    probe(s1, 1, "a=1")                             # not two grants in a row
    probe(s1, 2000, "a=1")
    assert s1.call("a", "counter", "increment").status == 503
    probe(s1, 2000, "a=1")
    assert s1.call("a", "counter", "increment").json()["result"] == {"result": "2"}


def test_a_fresh_deployment_survives_a_probe_that_predates_it(supervisors, file_server,
                                                              example):
    s1 = supervisors("s1")
    probe(s1, 2000, "-")
    assert s1.deploy(counter_node(s1, file_server, example, dep="a", epoch=1)).status == 200
    probe(s1, 2000, "-")                            # sent before the deploy was recorded
    assert s1.call("a", "counter", "increment").status == 200


# ------------------------------------------------- drain, the CPU rule

def test_sigterm_drains_through_the_orchestrator_while_serving(supervisors, file_server,
                                                               example):
    orch = FakeOrchestrator()
    orch.drain_delay = 1.5
    try:
        s1 = supervisors("s1", args=["--orchestrator-url", orch.base])
        assert s1.deploy(counter_node(s1, file_server, example, epoch=1)).status == 200
        s1.proc.send_signal(15)
        time.sleep(0.5)                         # the orchestrator is still draining
        assert any(p == "/liquid/drain" for p, _ in orch.posts)
        r = s1.call("count", "counter", "increment")
        assert r.status == 200 and r.json()["result"] == {"result": "1"}, r
        assert s1.proc.wait(timeout=30) == 0
        [(_, body)] = [(p, b) for p, b in orch.posts if p == "/liquid/drain"]
        assert json.loads(body) == {"device": "s1"}
        log = s1.log_text()
        assert "event=supervisor.drained" in log
    finally:
        orch.stop()


def test_drain_gives_up_after_its_timeout(supervisors, file_server, example):
    orch = FakeOrchestrator()
    orch.drain_delay = 10
    try:
        s1 = supervisors("s1", args=["--orchestrator-url", orch.base,
                                     "--drain-timeout-ms", "400"])
        started = time.time()
        s1.proc.send_signal(15)
        assert s1.proc.wait(timeout=30) == 0
        assert time.time() - started < 5
        assert "event=supervisor.drain_failed" in s1.log_text()
    finally:
        orch.stop()


def test_cpu_rule_asks_to_move_modules_away(supervisors, file_server, example):
    orch = FakeOrchestrator()
    try:
        s1 = supervisors("s1", args=["--orchestrator-url", orch.base, "--move-away-cpu", "0.01",
                                     "--move-away-for-s", "1"])
        assert s1.deploy(compute_node(s1, file_server, example, epoch=1)).status == 200
        s1.call("cmp", "compute", "run", {"iterations": 100_000_000}, method="POST")
        deadline = time.time() + 15
        while time.time() < deadline and not any(
                p == "/liquid/move-away" for p, _ in orch.posts):
            time.sleep(0.2)
        asks = [json.loads(b) for p, b in orch.posts if p == "/liquid/move-away"]
        assert asks, s1.log_text()
        assert asks[0]["device"] == "s1" and asks[0]["deployment"] == "cmp"
        assert asks[0]["module"] == "compute" and asks[0]["reason"].startswith("cpu ")
    finally:
        orch.stop()


def test_bad_settings_are_refused(liquid_bin):
    import subprocess
    for args, words in ((["--move-away-cpu", "1.5"], "--move-away-cpu '1.5'"),
                        (["--transfer-part", "10"], "--transfer-part")):
        p = subprocess.run([str(liquid_bin), "supervisor", "--no-mdns", *args],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 2 and words in p.stderr, p.stderr
    help_text = subprocess.run([str(liquid_bin), "supervisor", "--help"], capture_output=True,
                               text=True, timeout=30).stdout
    for option in ("--migrate-grace-ms", "--moved-ttl-s", "--transfer-part",
                   "--drain-timeout-ms", "--move-away-cpu", "--move-away-for-s",
                   "--checkpoint-interval-ms", "--checkpoint-after-call"):
        assert option in help_text


def test_target_module_may_have_another_name(supervisors, file_server, example):
    s1, s2 = supervisors("s1"), supervisors("s2")
    assert s1.deploy(counter_node(s1, file_server, example, epoch=1)).status == 200
    assert increment_to(s1, "count", 5) == "5"
    renamed = counter_node(s2, file_server, example, epoch=2)
    text = json.dumps(renamed).replace('"counter"', '"tally"').replace("/counter/", "/tally/")
    assert s2.deploy(json.loads(text)).status == 200
    r = s1.post("/deploy/count/modules/counter/migrate", json_body={
        "target": s2.base, "epoch": 2, "transferId": "ren", "targetModule": "tally"})
    assert r.status == 200, (r, s1.log_text())
    status, headers, _ = unfollowed(s1.base + "/count/modules/counter/increment")
    assert status == 307 and headers["Location"] == s2.base + "/count/modules/tally/increment"
    assert s2.call("count", "tally", "increment").json()["result"] == {"result": "6"}


# ------------------------------------------------------------- checkpoints

def parse_lqcp(data):
    import struct
    magic, version, chunk, memory, n = struct.unpack_from("<4sIIQI", data, 0)
    assert (magic, version, chunk) == (b"LQCP", 1, 4096)
    at, chunks = 24, []
    for _ in range(n):
        (index,) = struct.unpack_from("<I", data, at)
        chunks.append(index)
        at += 4 + 4096
    (rest,) = struct.unpack_from("<Q", data, at)
    assert len(data) == at + 8 + rest
    assert data[at + 8:at + 12] == b"LQSB"
    return memory, chunks


def wait_for(predicate, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_checkpoints_send_only_what_changed(supervisors, file_server, example):
    orch = FakeOrchestrator()
    try:
        s1 = supervisors("s1", args=["--orchestrator-url", orch.base,
                                     "--checkpoint-interval-ms", "200"])
        assert s1.deploy(counter_node(s1, file_server, example, epoch=3)).status == 200
        assert increment_to(s1, "count", 1) == "1"
        assert wait_for(lambda: len(orch.checkpoints) >= 1), s1.log_text()
        path, headers, data = orch.checkpoints[0]
        assert path == "/liquid/checkpoints/count/counter"
        assert headers["X-Liquid-Epoch"] == "3" and headers["X-Liquid-Base"] == "none"
        memory, first = parse_lqcp(data)
        assert memory % 65536 == 0 and 0 < len(first) < memory // 4096
        # reading changes nothing: no checkpoint
        time.sleep(0.6)
        assert s1.call("count", "counter", "get").status == 200
        time.sleep(0.6)
        assert len(orch.checkpoints) == 1, [c[1]["X-Liquid-Base"] for c in orch.checkpoints]
        # one more change: a few chunks, on top of the last digest
        assert s1.call("count", "counter", "increment").status == 200
        assert wait_for(lambda: len(orch.checkpoints) >= 2)
        _, headers, data = orch.checkpoints[1]
        assert headers["X-Liquid-Base"] == "sha256:%064x" % 1
        _, chunks = parse_lqcp(data)
        assert 1 <= len(chunks) <= 2 and len(data) < 4 * 4096 + len(orch.checkpoints[0][2])
        # the orchestrator lost the base: a full one follows at once
        orch.refuse_base = 1
        assert s1.call("count", "counter", "increment").status == 200
        assert wait_for(lambda: len(orch.checkpoints) >= 4)
        _, headers, data = orch.checkpoints[3]
        assert headers["X-Liquid-Base"] == "none"
        assert len(parse_lqcp(data)[1]) >= len(first)
    finally:
        orch.stop()


def test_steady_load_through_a_migration_counts_every_call_once(supervisors, file_server,
                                                                example):
    s1, s2 = supervisors("s1"), supervisors("s2")
    assert s1.deploy(counter_node(s1, file_server, example, epoch=1)).status == 200
    assert s2.deploy(counter_node(s2, file_server, example, epoch=2)).status == 200
    results, errors = [], []
    lock = threading.Lock()

    def load(method):
        for _ in range(15):
            time.sleep(0.02)
            r = s1.call("count", "counter", "increment", method=method)
            if r.status == 307:         # moved: the client goes where it is told
                r = request(method, r.headers["Location"])
            if method == "POST" and r.status == 200:
                r = request("GET", r.json()["resultUrl"] + "?wait=20000")
                value = r.json().get("result") if r.status == 200 else None
            else:
                value = r.json()["result"]["result"] if r.status == 200 else None
            with lock:
                (results if value else errors).append(value or (method, r))

    threads = [threading.Thread(target=load, args=(m,)) for m in ("GET", "POST") * 3]
    for t in threads:
        t.start()
    time.sleep(0.15)
    r = migrate(s1, s2, "count", "counter", 2)
    assert r.status == 200, r
    for t in threads:
        t.join(60)
    assert not errors, errors[:3]
    values = sorted(int(v) for v in results)
    # every accepted call ran exactly once, on one copy or the other
    assert values == list(range(1, len(values) + 1)), values
    assert s2.call("count", "counter", "get").json()["result"] == {"result": str(len(values))}
    # the load straddled the move: calls ran on both copies
    assert len(s1.history().json()) > 0 and len(s2.history().json()) > 1


def test_state_of_another_module_is_refused_and_the_source_serves_on(supervisors, file_server,
                                                                     example):
    s1, s2 = supervisors("s1"), supervisors("s2")
    assert s1.deploy(counter_node(s1, file_server, example, epoch=1)).status == 200
    assert increment_to(s1, "count", 2) == "2"
    # the target's "counter" is another binary: the engine refuses the snapshot
    wrong = counter_node(s2, file_server, example, epoch=2)
    wrong["modules"][0]["urls"]["binary"] = file_server.put("other.wasm",
                                                            example("compute").read_bytes())
    wrong["endpoints"] = {"counter": {}}
    wrong["instructions"] = {"modules": {}}
    wrong["mounts"] = {}
    assert s2.deploy(wrong).status == 200
    r = migrate(s1, s2, "count", "counter", 2)
    assert r.status == 502, r
    assert "cannot restore module counter" in r.json()["errorText"], r
    assert s1.call("count", "counter", "increment").json()["result"] == {"result": "3"}


def test_a_posted_call_moved_mid_way_is_answered_at_its_result_url(supervisors, file_server,
                                                                   example, liquid):
    s1, s2 = supervisors("s1"), supervisors("s2")
    assert s1.deploy(compute_node(s1, file_server, example, epoch=1)).status == 200
    assert s2.deploy(compute_node(s2, file_server, example, epoch=2)).status == 200
    iterations = 30_000_000
    expected = liquid("run", "--invoke", "run", str(example("compute")),
                      str(iterations)).stdout.strip()
    r = s1.call("cmp", "compute", "run", {"iterations": iterations}, method="POST")
    assert r.status == 200, r
    result_url = r.json()["resultUrl"]
    time.sleep(0.3)
    r = migrate(s1, s2, "cmp", "compute", 2)
    assert r.status == 200 and r.json()["resumedCall"], r
    assert r.json()["resumedCall"] == request_id_of(result_url)
    entry = request("GET", result_url + "?wait=30000", timeout=60)
    assert entry.status == 200, (entry, s1.log_text())
    assert entry.json()["result"] == expected and entry.json()["success"] is True


def upload_node(sv, files, wat, dep="up", epoch=None):
    """tests/wat/supervisor_migrate_files.wat: spin(n) is long, consume() takes in.bin
    and adds the sum of its bytes to a total kept in memory, total() reads it."""
    url = files.put("upload.wasm", wat("supervisor_migrate_files").read_bytes())
    consume = endpoint(sv.base, dep, "u", "consume", method="post", params=(),
                       request_body={"media_type": "multipart/form-data"})
    fns = [{"module": "u", "function": "spin",
            "endpoint": endpoint(sv.base, dep, "u", "spin", params=(("n", "integer"),))},
           {"module": "u", "function": "consume", "endpoint": consume,
            "mounts": {"execution": [mount("in.bin", "execution")]}},
           {"module": "u", "function": "total",
            "endpoint": endpoint(sv.base, dep, "u", "total", params=())}]
    extra = {"limits": {"timeoutMs": 120000}}
    if epoch is not None:
        extra["epoch"] = epoch
    return node(dep, [module_entry("u", url)], fns, **extra)


def test_a_call_with_files_admitted_before_the_move_runs_on_the_target(supervisors,
                                                                       file_server, wat):
    s1, s2 = supervisors("s1"), supervisors("s2")
    assert s1.deploy(upload_node(s1, file_server, wat, epoch=1)).status == 200
    assert s2.deploy(upload_node(s2, file_server, wat, epoch=2)).status == 200
    spins = 300_000_000
    answer = {}

    def spin():
        answer["r"] = s1.call("up", "u", "spin", {"n": spins}, timeout=120)

    spinner = threading.Thread(target=spin)
    spinner.start()
    time.sleep(0.5)                     # spin holds the module
    payload = bytes(range(1, 201))      # the bytes sum to 20100
    r = s1.call("up", "u", "consume", method="POST", files=[("in.bin", "in.bin", payload)])
    assert r.status == 200, r
    result_url = r.json()["resultUrl"]  # accepted here; it waits for spin to finish
    time.sleep(0.3)
    r = migrate(s1, s2, "up", "u", 2)
    assert r.status == 200 and r.json()["resumedCall"], (r, s1.log_text())
    # the upload went to the target with its file, and its caller is answered here
    entry = request("GET", result_url + "?wait=60000", timeout=90)
    assert entry.status == 200, (entry, s1.log_text())
    assert entry.json()["success"] is True, (entry.json(), s1.log_text())
    assert entry.json()["result"] == "20100"
    assert request_id_of(result_url) == entry.json()["request_id"]
    spinner.join(120)
    assert answer["r"].status == 200, (answer["r"], s1.log_text(), s2.log_text())
    assert answer["r"].json()["result"] == {"result": str(spins)}
    # it ran once, against the moved state; the source serves nothing of it any more
    assert s2.call("up", "u", "total").json()["result"] == {"result": "20100"}
    status, headers, body = unfollowed(f"{s1.base}/up/modules/u/total")
    assert status == 307 and headers["Location"] == f"{s2.base}/up/modules/u/total", body


def test_a_restarted_source_still_redirects_and_never_serves_its_copy(supervisors,
                                                                      file_server, example):
    s1 = supervisors("s1", args=["--moved-ttl-s", "2"])
    s2 = supervisors("s2")
    # a stale copy of another deployment (a newer epoch it is not told of) is dropped too;
    # first, as the call waits a while for the news, longer than the moved TTL below
    assert s1.deploy(counter_node(s1, file_server, example, dep="old", epoch=3)).status == 200
    assert s1.call("old", "counter", "get", headers={"X-Liquid-Epoch": "4"}).status == 409
    assert s1.deploy(counter_node(s1, file_server, example, epoch=1)).status == 200
    assert increment_to(s1, "count", 3) == "3"
    assert s2.deploy(counter_node(s2, file_server, example, epoch=2)).status == 200
    assert migrate(s1, s2, "count", "counter", 2).status == 200

    s1.kill()                           # no orderly shutdown: what is on disk counts
    s1.start()
    location = f"{s2.base}/count/modules/counter/increment"
    status, headers, body = unfollowed(f"{s1.base}/count/modules/counter/increment")
    assert (status, headers["Location"], body["status"]) == (307, location, "moved"), body
    r = s1.call("old", "counter", "get")
    assert r.status == 409 and "stale epoch" in r.json()["errorText"], r
    r = migrate(s1, s2, "count", "counter", 2, transfer="t2")
    assert r.status == 409 and "already moved" in r.json()["errorText"], r
    [marker] = [m for m in json.loads((s1.instance_dir / "departures.json").read_text())
                if m["kind"] == "moved"]
    assert marker["target"] == s2.base and marker["expiresAt"] > time.time() * 1000

    # past its TTL, with the deployment still here, the reloaded copy still never serves
    time.sleep(2.5)
    s1.stop()
    s1.start()
    status, headers, body = unfollowed(f"{s1.base}/count/modules/counter/increment")
    assert (status, headers.get("Location")) == (307, location), body
    assert s2.call("count", "counter", "increment").json()["result"] == {"result": "4"}
    # placed here again: the marker is forgotten, on disk too
    assert s1.deploy(counter_node(s1, file_server, example, epoch=3)).status == 200
    s1.stop()
    s1.start()
    r = s1.call("count", "counter", "increment")
    assert r.json()["result"] == {"result": "1"}, s1.log_text()


def test_damaged_moved_markers_stop_the_start_with_a_clear_error(supervisors):
    s1 = supervisors("s1")
    s1.stop()
    (s1.instance_dir / "departures.json").write_text('[{"kind": "moved", "deployment": "d"')
    try:
        s1.start(timeout=10)
    except AssertionError as e:
        assert "departures.json are damaged" in str(e) and "remove it" in str(e), str(e)
    else:
        raise AssertionError("the supervisor started over damaged moved-module markers")


def checkpoint_logs(sv):
    return [dict(f.split("=", 1) for f in line.split() if "=" in f)
            for line in sv.log_text().splitlines() if "event=checkpoint.sent" in line]


def test_a_checkpoint_copies_only_the_changed_chunks_under_the_lock(supervisors, file_server,
                                                                   example):
    orch = FakeOrchestrator()
    try:
        s1 = supervisors("s1", args=["--orchestrator-url", orch.base,
                                     "--checkpoint-interval-ms", "200"])
        url = file_server.put("ballast.wasm", example("ballast").read_bytes())
        ep = endpoint(s1.base, "bal", "ballast", "ballast",
                      params=(("mib", "integer"), ("percent", "integer")))
        assert s1.deploy(node("bal", [module_entry("ballast", url)],
                              [{"module": "ballast", "function": "ballast", "endpoint": ep}],
                              epoch=1)).status == 200
        r = s1.call("bal", "ballast", "ballast", {"mib": 16, "percent": 0})
        assert r.json()["result"] == {"result": str(16 << 20)}, r
        assert wait_for(lambda: len(checkpoint_logs(s1)) >= 1), s1.log_text()
        [full] = checkpoint_logs(s1)
        memory = int(full["memory"])
        assert memory >= 16 << 20 and int(full["copied"]) >= 16 << 20, full
        # 1% of the ballast changes: about 1% of the memory is copied under the lock
        assert s1.call("bal", "ballast", "ballast", {"mib": 0, "percent": 1}).status == 200
        assert wait_for(lambda: len(checkpoint_logs(s1)) >= 2), s1.log_text()
        incremental = checkpoint_logs(s1)[1]
        copied = int(incremental["copied"])
        assert 4096 <= copied <= memory // 50, incremental
        _, chunks = parse_lqcp(orch.checkpoints[-1][2])
        assert len(chunks) * 4096 == copied
        assert float(incremental["locked_ms"]) >= 0
    finally:
        orch.stop()


def sandbox_of(sv, dep, module):
    [path] = (sv.instance_dir / "deployments" / dep).glob(f"v*/sandbox/{module}")
    return path


def test_subdirectories_move_with_the_module_and_links_stay(supervisors, file_server,
                                                            example, tmp_path):
    s1, s2 = supervisors("s1"), supervisors("s2")
    assert s1.deploy(counter_node(s1, file_server, example, epoch=1)).status == 200
    assert increment_to(s1, "count", 2) == "2"
    assert s2.deploy(counter_node(s2, file_server, example, epoch=2)).status == 200
    source, target = sandbox_of(s1, "count", "counter"), sandbox_of(s2, "count", "counter")
    (source / "logs" / "2026").mkdir(parents=True)
    (source / "logs" / "2026" / "day.txt").write_bytes(b"tuesday\n")
    (source / "logs" / "index").write_bytes(b"1\n")
    (source / "empty").mkdir()
    (source / "top.txt").write_bytes(b"top\n")
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"not the module's\n")
    (source / "logs" / "link.txt").symlink_to(secret)      # planted links never move
    (source / "outside").symlink_to(tmp_path)
    (target / "old").mkdir()                                # what the target had goes
    (target / "old" / "stale.txt").write_bytes(b"stale\n")

    r = migrate(s1, s2, "count", "counter", 2)
    assert r.status == 200, (r, s1.log_text())
    assert (target / "logs" / "2026" / "day.txt").read_bytes() == b"tuesday\n"
    assert (target / "logs" / "index").read_bytes() == b"1\n"
    assert (target / "empty").is_dir() and not any((target / "empty").iterdir())
    assert (target / "top.txt").read_bytes() == b"top\n"
    for gone in ("old", "outside", "logs/link.txt"):
        assert not os.path.lexists(target / gone), gone
    assert s2.call("count", "counter", "increment").json()["result"] == {"result": "3"}


def test_a_module_moved_back_serves_again_across_a_restart(supervisors, file_server, example):
    s1, s2 = supervisors("s1"), supervisors("s2")
    assert s1.deploy(counter_node(s1, file_server, example, epoch=1)).status == 200
    assert increment_to(s1, "count", 3) == "3"
    assert s2.deploy(counter_node(s2, file_server, example, epoch=2)).status == 200
    assert migrate(s1, s2, "count", "counter", 2).status == 200
    assert s2.call("count", "counter", "increment").json()["result"] == {"result": "4"}
    # back to s1's same deployment version: its routes carry the new epoch, then the state
    routes = {k: counter_node(s1, file_server, example)[k] for k in ("endpoints", "instructions")}
    routes["epoch"] = 3
    for sv in (s1, s2):
        assert request("PUT", sv.base + "/deploy/count/routes", json_body=routes).status == 200
    r = migrate(s2, s1, "count", "counter", 3)
    assert r.status == 200, (r, s2.log_text(), s1.log_text())
    r = s1.call("count", "counter", "increment")
    assert r.json()["result"] == {"result": "5"}, s1.log_text()
    s1.stop()
    s1.start()
    r = s1.call("count", "counter", "increment")
    assert r.status == 200 and r.json()["result"] == {"result": "6"}, (r, s1.log_text())
