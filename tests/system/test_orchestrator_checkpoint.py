"""Checkpoints at the orchestrator (docs/migration.md, "Checkpoints" and "Crash"): a
supervisor's checkpoint — only the memory chunks that changed, and the rest of the
state — is applied to the one before it and kept whole; a checkpoint on a base the
orchestrator does not hold is answered `unknown base`, one of an older epoch `stale
epoch`, a malformed one 400, and none of them changes what is kept. When the device of
a checkpointed module is killed, failover sends the new device the newest checkpoint
before any route points at it.

The states are real: `liquid run --snapshot` saves the counter example at 41.
"""
import hashlib
import signal
import struct

from migration_util import proxied_cluster
from orchestrator_util import cluster, orchestrator  # noqa: F401 (fixtures)
from placement_util import (add_modules, create, deploy, deployment, device_ids, events,
                            execute, placed_devices, step, wait_until)

FAST = ["--health-interval", "300ms"]
PAGE = 65536
CHUNK = 4096


# ------------------------------------------------------------ the formats

def saved_state(liquid, example, tmp_path, value):
    """The counter's state after add(value), as a supervisor saves it (LQSNAP1)."""
    path = tmp_path / f"counter-{value}.snap"
    r = liquid("run", "--invoke", "add", "--snapshot", path, example("counter"), value)
    assert r.returncode == 0, r.stderr
    return path.read_bytes()


def split_state(state):
    assert state[:8] == b"LQSNAP1\0"
    (n,) = struct.unpack_from("<Q", state, 8)
    return state[16:16 + n], state[16 + n:]


def engine_memory(engine):
    """(memory 0 bytes, offset of memory 0's end) of an LQSN snapshot."""
    at = 44
    (count,) = struct.unpack_from("<I", engine, at)
    assert count == 1
    (pages,) = struct.unpack_from("<I", engine, at + 4)
    at += 8
    memory = bytearray(pages * PAGE)
    for p in range(pages):
        if engine[at]:
            memory[p * PAGE:(p + 1) * PAGE] = engine[at + 1:at + 1 + PAGE]
            at += 1 + PAGE
        else:
            at += 1
    return bytes(memory), at


def strip_memory(engine):
    """The snapshot with memory 0 of zero pages, as a checkpoint's rest carries it."""
    _, end = engine_memory(engine)
    body = engine[:48] + struct.pack("<I", 0) + engine[end:-32]
    return body + hashlib.sha256(body).digest()


def bundle(sections):
    out = b"LQSB" + struct.pack("<II", 1, len(sections))
    for kind, name, data in sections:
        out += struct.pack("<BI", kind, len(name)) + name + struct.pack("<Q", len(data)) + data
    return out


def parse_bundle(data):
    assert data[:4] == b"LQSB"
    _, n = struct.unpack_from("<II", data, 4)
    at, out = 12, []
    for _ in range(n):
        kind, name_len = struct.unpack_from("<BI", data, at)
        at += 5
        name = data[at:at + name_len]
        at += name_len
        (size,) = struct.unpack_from("<Q", data, at)
        at += 8
        out.append((kind, name, data[at:at + size]))
        at += size
    assert at == len(data)
    return out


def checkpoint(state, chunks=None, files=()):
    """An LQCP of a saved state: the listed chunks (default: every non-zero one)."""
    engine, wasi = split_state(state)
    memory, _ = engine_memory(engine)
    stripped = strip_memory(engine)
    rest_state = b"LQSNAP1\0" + struct.pack("<Q", len(stripped)) + stripped + wasi
    rest = bundle([(1, b"", rest_state)] + [(2, n, d) for n, d in files])
    if chunks is None:
        chunks = [i for i in range(len(memory) // CHUNK)
                  if any(memory[i * CHUNK:(i + 1) * CHUNK])]
    out = b"LQCP" + struct.pack("<IIQI", 1, CHUNK, len(memory), len(chunks))
    for i in chunks:
        out += struct.pack("<I", i) + memory[i * CHUNK:(i + 1) * CHUNK]
    return out + struct.pack("<Q", len(rest)) + rest


def changed_chunks(a, b):
    ma, _ = engine_memory(split_state(a)[0])
    mb, _ = engine_memory(split_state(b)[0])
    return [i for i in range(len(mb) // CHUNK) if ma[i * CHUNK:(i + 1) * CHUNK] !=
            mb[i * CHUNK:(i + 1) * CHUNK]]


def put(orch, dep, module, body, epoch, base=None):
    return orch.put(f"/liquid/checkpoints/{dep}/{module}", body=body,
                    headers={"X-Liquid-Epoch": str(epoch), "X-Liquid-Base": base or "none",
                             "Content-Type": "application/octet-stream"})


def blob_path(orch, digest):
    hexd = digest.split(":")[-1]
    return orch.data_dir / "blobs" / hexd[:2] / hexd[2:]


# ------------------------------------------------------------ tests

def test_checkpoints_build_on_their_base(cluster, example, liquid, tmp_path):
    orch, _ = cluster(2, orch_args=FAST)
    add_modules(orch, example, ("counter",))
    dep = create(orch, "count", step("counter", "add", "s1"))
    deploy(orch, dep)
    epoch = deployment(orch, dep)["epoch"]
    s41 = saved_state(liquid, example, tmp_path, 41)

    first = checkpoint(s41, files=[(b"notes.txt", b"hello")])
    r = put(orch, dep, "counter", first, epoch)
    assert r.status == 200, r
    d1 = r.json()["digest"]
    full = blob_path(orch, d1).read_bytes()
    assert d1 == "sha256:" + hashlib.sha256(full).hexdigest() and r.json()["bytes"] == len(full)
    sections = parse_bundle(full)
    engine, wasi = split_state(sections[0][2])
    assert engine == split_state(s41)[0] and wasi == split_state(s41)[1]
    assert sections[1] == (2, b"notes.txt", b"hello")

    # the next one: the same state moved on by one add; only the changed chunks go
    engine41, _ = split_state(s41)
    memory, _ = engine_memory(engine41)
    s43 = saved_state(liquid, example, tmp_path, 43)
    changed = changed_chunks(s41, s43)
    assert 0 < len(changed) < len(memory) // CHUNK
    second = checkpoint(s43, chunks=changed, files=[(b"notes.txt", b"hello")])
    assert len(second) < len(first)
    r = put(orch, dep, "counter", second, epoch, base=d1)
    assert r.status == 200, r
    d2 = r.json()["digest"]
    full2 = blob_path(orch, d2).read_bytes()
    assert split_state(parse_bundle(full2)[0][2])[0] == split_state(s43)[0]
    assert not blob_path(orch, d1).exists(), "the replaced checkpoint is removed"

    # refused, each without touching what is kept
    r = put(orch, dep, "counter", second, epoch, base=d1)
    assert r.status == 409 and r.json()["errorText"] == "unknown base", r
    r = put(orch, dep, "counter", first, epoch - 1)
    assert r.status == 409 and "stale epoch" in r.json()["errorText"], r
    r = put(orch, dep, "counter", first[:-10], epoch)
    assert r.status == 400 and "refused" in r.json()["errorText"], r
    r = put(orch, dep, "counter", b"LQCX" + first[4:], epoch)
    assert r.status == 400 and "not a checkpoint" in r.json()["errorText"], r
    r = put(orch, dep, "counter", first, "seven")
    assert r.status == 400 and "X-Liquid-Epoch" in r.json()["errorText"], r
    assert put(orch, dep, "nothing", first, epoch).status == 404
    assert put(orch, "nope", "counter", first, epoch).status == 404
    assert blob_path(orch, d2).read_bytes() == full2

    stored = [e for e in events(orch, "checkpoint.stored") if e["subject"] == dep]
    assert [e["data"]["bytes"] for e in stored] == [len(first), len(second)]
    assert stored[-1]["data"]["fullSize"] == len(full2)
    metrics = orch.get("/metrics").body.decode()
    assert "liquid_checkpoints_total 2" in metrics
    assert f"liquid_checkpoint_bytes_total {len(first) + len(second)}" in metrics


def test_failover_sends_the_newest_checkpoint_before_routes(cluster, example, liquid,
                                                            liquid_bin, tmp_path):
    """counter on s1 -> fibo on s2, checkpointed at 41. s1 dies; the counter goes to s3,
    which receives the checkpoint (digest checked) before s2 is pointed at it."""
    orch, proxies, sups = proxied_cluster(cluster, liquid_bin, tmp_path, ("s1", "s2", "s3"),
                                          orch_args=FAST)
    add_modules(orch, example, ("counter", "fibo"))
    dep = create(orch, "count-fib", step("counter", "add", "s1", failovers=["s3"]),
                 step("fibo", "fibo", "s2"))
    deploy(orch, dep)
    epoch = deployment(orch, dep)["epoch"]
    r = put(orch, dep, "counter", checkpoint(saved_state(liquid, example, tmp_path, 41)), epoch)
    assert r.status == 200, r
    digest = r.json()["digest"]

    restored = []

    def take_state(rec):
        restored.append(rec)
        return 200, {"status": "restored", "resumedCall": None}
    proxies["s3"].intercept("PUT", r"/deploy/[^/]+/modules/[^/]+/state", take_state)

    sups["s1"].stop(signal.SIGKILL)
    proxies["s1"].stop()
    wait_until(lambda: placed_devices(orch, dep) == ["s3", "s2"], timeout=30,
               what="the counter to move to s3")
    assert len(restored) == 1
    rec = restored[0]
    assert rec.route == f"/deploy/{dep}/modules/counter/state"
    assert rec.query["epoch"] == str(epoch + 1) and rec.query["transfer"]
    assert rec.headers["x-liquid-digest"] == digest
    assert "sha256:" + hashlib.sha256(rec.body).hexdigest() == digest
    node = proxies["s3"].seen("POST", "/deploy")[-1]
    routes = proxies["s2"].seen("PUT", r"/deploy/.*/routes")[-1]
    assert node.time <= rec.time <= routes.time
    ids = device_ids(orch)
    done = [e for e in events(orch, "checkpoint.restored") if e["subject"] == dep]
    assert done and done[-1]["data"]["device"] == ids["s3"]
    assert done[-1]["data"]["digest"] == digest.split(":")[1]
    failover = [e for e in events(orch, "deployment.failover") if e["subject"] == dep][-1]
    assert failover["data"]["checkpointsRestored"] == 1
    # the chain runs on the new placement (the proxy took the state in s3's stead, so
    # its counter starts from 0)
    assert [s["result"] for s in execute(orch, dep, {"param0": 1})["steps"]] == ["1", "1"]
