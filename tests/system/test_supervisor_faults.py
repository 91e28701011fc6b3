"""A call that traps, runs out of time, runs out of fuel or out of memory is a failed
request — 500 with the engine's message, and a history entry that says so (500) — never
a success (the Rust reference swallows traps; we must not). The module keeps serving."""
import time

import pytest

from supervisor_util import (endpoint, file_server, module_entry, node,  # noqa: F401
                             request, request_id_of, supervisors)

DEP = "faults"


def faults_manifest(sv, files, wat, limits=None, module_limits=None, modules=("m",)):
    """Module(s) of supervisor_faults.wasm, each with every function, under limits."""
    url = files.put("faults.wasm", wat("supervisor_faults").read_bytes())
    entries, functions = [], []
    for name in modules:
        entry = module_entry(name, url)
        if module_limits and name in module_limits:
            entry["limits"] = module_limits[name]
        entries.append(entry)
        for fn, params in [("noop", ()), ("trap", ()), ("spin", ()),
                           ("divide", (("a", "integer"), ("b", "integer"))),
                           ("grow", (("pages", "integer"),)), ("count", (("n", "integer"),))]:
            functions.append({"module": name, "function": fn,
                              "endpoint": endpoint(sv.base, DEP, name, fn, params=params)})
    manifest = node(DEP, entries, functions)
    if limits:
        manifest["limits"] = limits
    return manifest


def assert_failed(sv, response, message):
    assert response.status == 500, response
    body = response.json()
    assert message in body["errorText"], body
    entry = request("GET", body["resultUrl"])
    assert entry.status == 500, entry
    e = entry.json()
    assert e["success"] is False
    assert message in e["result"], e
    return e


def test_trap_timeout_fuel_memory_each_fail_with_their_message(supervisors, file_server, wat):
    sv = supervisors("faulty")
    # "m": the deployment's 300 ms deadline, its own fuel and memory limits;
    # "t": the deadline alone (fuel could run out first in a tight loop)
    manifest = faults_manifest(sv, file_server, wat, limits={"timeoutMs": 300},
                               module_limits={"m": {"fuel": 1_000_000,
                                                    "maxMemoryBytes": 4 * 65536}},
                               modules=("m", "t"))
    assert sv.deploy(manifest).status == 200, sv.log_text()
    assert sv.call(DEP, "m", "noop").json()["result"] == {"result": "1"}

    e = assert_failed(sv, sv.call(DEP, "m", "trap"), "trap trapped: unreachable")
    assert "offset 0x" in e["result"]
    assert_failed(sv, sv.call(DEP, "m", "divide", {"a": 1, "b": 0}), "divide trapped")

    started = time.time()
    e = assert_failed(sv, sv.call(DEP, "t", "spin"), "deadline exceeded")
    assert "300 ms" in e["result"]
    assert time.time() - started < 5, "the 300 ms deadline was not applied"

    # fuel: a million instructions is enough for count(1000), not for count(10^9)
    assert sv.call(DEP, "m", "count", {"n": 1000}).json()["result"] == {"result": "1000"}
    assert_failed(sv, sv.call(DEP, "m", "count", {"n": 10**9}), "fuel exhausted")

    # memory: 4 pages allowed, the module has 1; growing past the limit traps
    assert sv.call(DEP, "m", "grow", {"pages": 2}).json()["result"] == {"result": "1"}
    assert_failed(sv, sv.call(DEP, "m", "grow", {"pages": 8}), "grow trapped: memory")

    # state survived the traps: noop counts on, the grown memory stayed
    assert sv.call(DEP, "m", "noop").json()["result"] == {"result": "2"}
    assert sv.call(DEP, "m", "grow", {"pages": 0}).json()["result"] == {"result": "3"}
    failures = [h for h in sv.history().json() if not h["success"]]
    assert len(failures) == 5


def test_post_timeout_is_a_failed_entry(supervisors, file_server, wat):
    sv = supervisors("faulty-post", args=["--timeout", "250ms"])
    assert sv.deploy(faults_manifest(sv, file_server, wat)).status == 200
    r = sv.call(DEP, "m", "spin", method="POST", body=b"")
    assert r.status == 200
    rid = request_id_of(r.json()["resultUrl"])
    entry = sv.wait_history(rid)
    assert entry.status == 500
    assert "deadline exceeded" in entry.json()["result"]
    assert "250 ms" in entry.json()["result"]


def test_shutdown_interrupts_a_call_that_outlasts_the_grace(supervisors, file_server, wat):
    sv = supervisors("stopper", args=["--timeout", "0", "--shutdown-grace", "300ms"])
    assert sv.deploy(faults_manifest(sv, file_server, wat)).status == 200
    r = sv.call(DEP, "m", "spin", method="POST", body=b"")
    rid = request_id_of(r.json()["resultUrl"])
    time.sleep(0.3)
    started = time.time()
    assert sv.stop() == 0
    assert time.time() - started < 10
    log = sv.log_text()
    assert "event=supervisor.interrupting" in log
    assert "interrupted" in log
    sv.start()
    entry = sv.history(rid)
    assert entry.status == 500 and "interrupted" in entry.json()["result"]
    # the module did not keep half-done memory: it starts afresh and serves
    assert sv.call(DEP, "m", "noop").json()["result"] == {"result": "1"}


@pytest.mark.parametrize("flag,value,message", [
    ("--port", "70000", "--port: expected an integer from 0 to 65535, got '70000'"),
    ("--timeout", "soon", "--timeout: expected a duration"),
    ("--max-upload", "12Q", "--max-upload: expected a size"),
    ("--orchestrator-url", "orch:3000", "--orchestrator-url 'orch:3000': expected an http(s) URL"),
    ("--no-such-flag", None, "unknown option '--no-such-flag'"),
])
def test_bad_flags_are_usage_errors(liquid, flag, value, message):
    args = ["supervisor", flag] + ([value] if value else [])
    r = liquid(*args)
    assert r.returncode == 2
    assert message in r.stderr
    assert "--help" in r.stderr


def test_unwritable_instance_dir_is_a_clear_error(liquid, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    r = liquid("supervisor", "--no-mdns", "--port", "0", "--instance-dir", str(blocker / "x"))
    assert r.returncode == 1
    assert "cannot create directory" in r.stderr and str(blocker) in r.stderr


def test_a_flood_of_posts_is_refused_beyond_the_queue(supervisors, file_server, wat):
    sv = supervisors("flooded", args=["--workers", "1", "--max-queued", "2", "--timeout",
                                      "600ms"])
    assert sv.deploy(faults_manifest(sv, file_server, wat)).status == 200
    answers = [sv.call(DEP, "m", "spin", method="POST", body=b"") for _ in range(6)]
    statuses = [a.status for a in answers]
    # one running, two waiting; the rest refused, saying why
    assert statuses.count(200) in (3, 4), statuses       # 4 if the first finished meanwhile
    refused = [a for a in answers if a.status == 503]
    assert refused and "calls are already waiting on this device" in refused[0].json()["errorText"]
    for a in answers:
        if a.status == 200:
            entry = sv.wait_history(request_id_of(a.json()["resultUrl"]))
            assert entry.status == 500 and "deadline exceeded" in entry.json()["result"]
