"""Shared pieces of the system tests: where `liquid` and the built modules are.

CTest sets LIQUID_BIN (the executable) and LIQUID_BUILD_DIR (the build tree, which
holds examples/NAME.wasm and tests/wat/NAME.wasm). Run by hand, they default to
the build/ directory of the repository.
"""
import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


def _build_dir():
    return pathlib.Path(os.environ.get("LIQUID_BUILD_DIR", REPO / "build"))


@pytest.fixture(scope="session")
def build_dir():
    path = _build_dir()
    if not path.is_dir():
        pytest.fail(f"build directory {path} does not exist: build first or set LIQUID_BUILD_DIR")
    return path


@pytest.fixture(scope="session")
def liquid_bin(build_dir):
    path = pathlib.Path(os.environ.get("LIQUID_BIN", build_dir / "liquid"))
    if not path.is_file():
        pytest.fail(f"liquid executable {path} not found: build first or set LIQUID_BIN")
    return path


@pytest.fixture(scope="session")
def example(build_dir):
    """example("hello") -> path of the built examples/hello.c module."""
    def find(name):
        path = build_dir / "examples" / f"{name}.wasm"
        assert path.is_file(), f"{path} was not built"
        return path
    return find


@pytest.fixture(scope="session")
def wat(build_dir):
    """wat("wasi_trap") -> path of the module built from tests/wat/wasi_trap.wat."""
    def find(name):
        path = build_dir / "tests" / "wat" / f"{name}.wasm"
        assert path.is_file(), f"{path} was not built"
        return path
    return find


@pytest.fixture(scope="session")
def liquid(liquid_bin):
    """liquid("run", ...) runs the executable and returns the CompletedProcess (text)."""
    def run(*args, timeout=120, cwd=None, input=None):
        return subprocess.run([str(liquid_bin), *map(str, args)], capture_output=True,
                              text=True, timeout=timeout, cwd=cwd, input=input)
    return run
