"""A full disk: the supervisor's instance directory is a 1 MiB tmpfs (in a private mount
namespace of the supervisor's own, made with unshare). A deployment whose data file does
not fit gets 507 naming the field and the cause, and the deployment before it serves on;
calls made while the request history cannot be written are answered and kept in memory,
and reach the file once space is back. Nothing crashes, nothing accepted is lost."""
import os
import pathlib
import shutil
import subprocess
import time

import pytest

from supervisor_util import (Supervisor, endpoint, file_server, module_entry, mount,  # noqa: F401
                             node)

DEP = "disk"


def tmpfs_wrapper(directory):
    """A command prefix that runs the supervisor with `directory` on a 1 MiB tmpfs."""
    if not shutil.which("unshare"):
        pytest.skip("unshare (util-linux) is needed")
    unshare = ["unshare", "--mount", "--propagation", "private"]
    if os.geteuid() != 0:
        unshare.insert(1, "--map-root-user")
    probe = subprocess.run([*unshare, "sh", "-c", f"mount -t tmpfs -o size=1m tmpfs {directory}"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs in a private mount namespace: {probe.stderr.strip()}")
    return [*unshare, "sh", "-c", f'mount -t tmpfs -o size=1m tmpfs "{directory}" && exec "$@"',
            "sh"]


def free_bytes(sv):
    used = sv.get("/health").json()["storageUsage"]["disk"]
    return int((1 - used) * (1 << 20))


def test_full_disk(liquid_bin, tmp_path, file_server, wat):
    instance = tmp_path / "instance"
    instance.mkdir()
    sv = Supervisor(liquid_bin, instance, name="full", log_dir=tmp_path,
                    wrapper=tmpfs_wrapper(instance))
    sv.start()
    try:
        run_full_disk(sv, file_server, wat)
    finally:
        sv.stop()


def run_full_disk(sv, files, wat):
    faults = files.put("faults.wasm", wat("supervisor_faults").read_bytes())
    echo = files.put("files.wasm", wat("supervisor_files").read_bytes())
    noop = {"module": "m", "function": "noop",
            "endpoint": endpoint(sv.base, DEP, "m", "noop", params=())}
    manifest = node(DEP, [module_entry("m", faults)], [noop])
    assert sv.deploy(manifest).status == 200
    assert sv.call(DEP, "m", "noop").status == 200

    # a data file larger than the disk: 507, the field and the cause named
    big = files.put("big.bin", os.urandom(2 << 20))
    too_big = node(DEP, [module_entry("m", faults, {"data": big})], [noop])
    r = sv.deploy(too_big)
    assert r.status == 507, r
    text = r.json()["errorText"]
    assert text.startswith("modules[0].urls.other.data: cannot store the file")
    assert "No space left on device" in text
    assert sv.call(DEP, "m", "noop").json()["result"] == {"result": "2"}

    # fill the disk with a module's own files, leaving less than a page
    fill = node("filler", [module_entry("f", echo)], [
        {"module": "f", "function": "echo",
         "endpoint": endpoint(sv.base, "filler", "f", "echo", method="post", params=()),
         "mounts": {"execution": [mount("in.txt", "execution")],
                    "output": [mount("out.txt", "output")]}}])
    assert sv.deploy(fill).status == 200
    size = free_bytes(sv) - 61440 - 2048      # in.txt, and echo's copy of its first 60 KiB
    r = sv.call("filler", "f", "echo", method="POST",
                files=[("in.txt", "in.txt", b"x" * size)])
    assert r.status == 200, r
    entry = sv.wait_history(r.json()["resultUrl"].rsplit("/", 1)[1])
    assert entry.status == 200, entry
    assert free_bytes(sv) < 8192

    # calls go on; their history cannot be written, so it is kept in memory
    ids = []
    for _ in range(40):
        r = sv.call(DEP, "m", "noop")
        assert r.status == 200, r
        ids.append(r.json()["resultUrl"].rsplit("/", 1)[1])
    deadline = time.time() + 5
    while "event=history.write_failed" not in sv.log_text() and time.time() < deadline:
        time.sleep(0.05)
    log = sv.log_text()
    assert "event=history.write_failed" in log and "No space left on device" in log
    listed = [e["request_id"] for e in sv.history().json()]
    assert all(i in listed for i in ids)

    # space comes back: the next call writes everything kept in memory
    assert sv.delete("/deploy/filler").status == 200
    deadline = time.time() + 10
    while free_bytes(sv) < 200_000 and time.time() < deadline:
        time.sleep(0.05)
    assert sv.call(DEP, "m", "noop").status == 200
    assert "event=history.write_recovered" in sv.log_text()
    on_disk = pathlib.Path(f"/proc/{sv.proc.pid}/root") / str(sv.instance_dir).lstrip("/") \
        / "history.jsonl"
    text = on_disk.read_text()
    assert all(i in text for i in ids)
