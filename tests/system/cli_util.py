"""Helpers for the `liquid` CLI's system tests: one real orchestrator with two real
supervisors on loopback (one of them with a camera), shared by a test module, and a
way to run `liquid VERB ...` against it.

    from cli_util import fleet, cli    # fixtures
    def test_x(cli):
        done = cli("device", "list")
"""
import os
import pathlib
import signal
import subprocess

import pytest

from conftest import REPO
from orchestrator_util import Orchestrator
from supervisor_util import Supervisor

IMAGES = REPO / "tests" / "data" / "images"
DESCRIPTIONS = REPO / "examples" / "descriptions"
MANIFESTS = REPO / "examples" / "manifests"


class Fleet:
    def __init__(self, orch, supervisors, directory):
        self.orch = orch
        self.supervisors = supervisors
        self.directory = directory

    @property
    def url(self):
        return self.orch.base


@pytest.fixture(scope="module")
def fleet(liquid_bin, tmp_path_factory):
    """An orchestrator and supervisors `cam` (camera: the test JPEGs) and `edge`,
    registered directly and active; stopped after the module's tests."""
    directory = tmp_path_factory.mktemp("cli")
    orch = Orchestrator(liquid_bin, directory / "orch-data", log_dir=directory).start()
    camera = directory / "camera"
    camera.mkdir()
    for frame in ("scene_64x48_420", "gray_33x17"):
        (camera / f"{frame}.jpg").write_bytes((IMAGES / f"{frame}.jpg").read_bytes())
    supervisors = []
    try:
        for name, extra in (("cam", ["--camera-dir", str(camera)]), ("edge", [])):
            sv = Supervisor(liquid_bin, directory / f"{name}-instance", name=name,
                            log_dir=directory,
                            args=["--address", "127.0.0.1", "--orchestrator-url", orch.base,
                                  *extra])
            supervisors.append(sv.start())
        orch.wait_devices(["cam", "edge"])
        yield Fleet(orch, supervisors, directory)
    finally:
        for sv in supervisors:
            sv.stop(signal.SIGKILL)
        orch.stop(signal.SIGKILL)


def run_cli(liquid_bin, url, *args, timeout=120, env=None):
    """Runs `liquid ARGS` with LIQUID_ORCHESTRATOR_URL=url; returns the CompletedProcess."""
    environment = dict(os.environ, **(env or {}))
    if url is None:
        environment.pop("LIQUID_ORCHESTRATOR_URL", None)
    else:
        environment["LIQUID_ORCHESTRATOR_URL"] = url
    return subprocess.run([str(liquid_bin), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=environment)


@pytest.fixture
def cli(liquid_bin, fleet):
    """cli("device", "list") runs the CLI against the module's fleet."""
    def run(*args, **kw):
        return run_cli(liquid_bin, fleet.url, *args, **kw)
    return run


def ok(done):
    """The output of a CLI run that must have succeeded."""
    assert done.returncode == 0, f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return done.stdout


def table(text):
    """Parses an aligned table (header line first) into dicts, using the header's column
    starts; also checks that every cell starts at its column's offset."""
    lines = [line for line in text.splitlines() if line.strip()]
    header = lines[0]
    starts = [i for i, c in enumerate(header) if c != " " and (i == 0 or header[i - 1] == " ")]
    names = header.split()
    assert len(starts) == len(names), f"header with spaces in a name: {header!r}"
    rows = []
    for line in lines[1:]:
        cells = []
        for k, start in enumerate(starts):
            end = starts[k + 1] if k + 1 < len(starts) else len(line)
            assert start == 0 or line[start - 1] == " ", f"cell not aligned at {start}: {line!r}"
            cells.append(line[start:end].strip())
        rows.append(dict(zip(names, cells)))
    return rows
