"""The README's main job, `scripts/demo.sh --once`: an orchestrator and three loopback
supervisors, the example modules added with the CLI, the camera -> grayscale ->
classify pipeline placed, deployed and run, its result printed, every process stopped
afterwards. And the pipeline's inference-like step, examples/classify.c, on pictures
whose class is plain by construction."""
import os
import re
import socket
import subprocess

import pytest

from conftest import REPO

IMAGES = REPO / "tests" / "data" / "images"
CLASSES = ["dark", "bright", "flat", "textured", "contrasty"]


def run_locally(liquid, example, sandbox, module, function):
    done = liquid("run", "--dir", f"{sandbox}::.", "--invoke", function, example(module))
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_demo_once_runs_the_pipeline_and_prints_its_result(build_dir, liquid, example, tmp_path):
    env = dict(os.environ, TMPDIR=str(tmp_path))
    env.pop("LIQUID_ORCHESTRATOR_URL", None)
    done = subprocess.run([str(REPO / "scripts" / "demo.sh"), str(build_dir), "--once"],
                          capture_output=True, text=True, timeout=300, env=env)
    out = done.stdout
    assert done.returncode == 0, f"{out}\n{done.stderr}"

    # Three devices, registered directly on loopback.
    devices = out.split("$ liquid device list\n", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
    assert sorted(line.split()[0] for line in devices) == ["camera-pi", "edge-1", "edge-2"]
    assert all(line.split()[1] == "active" and " 127.0.0.1:" in line for line in devices)

    # The placement with its reasons: the camera step can only go to the camera.
    placement = out.split("$ liquid deploy create", 1)[1]
    assert re.search(r"0\s+camera\.take_image_predefined_path\s+camera-pi\s", placement)
    assert "edge-1: rejected: it does not declare the capability 'camera'" in placement

    # The second run classifies the second frame of the camera's directory (frames come
    # in name order): the same as grayscale then classify run here on that frame.
    frames = sorted(p.name for p in IMAGES.glob("*.jpg") if "progressive" not in p.name)
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    (sandbox / "image.jpeg").write_bytes((IMAGES / frames[1]).read_bytes())
    run_locally(liquid, example, sandbox, "grayscale", "grayscale")
    expected = int(run_locally(liquid, example, sandbox, "classify", "classify"))
    assert (f"pipeline classified the next frame as class {expected} ({CLASSES[expected]})"
            in out)
    steps = out.split("$ liquid exec camera-pipeline", 1)[1]
    assert [line.split()[1] for line in steps.splitlines() if re.match(r"\s+\d\s", line)] == [
        "camera.take_image_predefined_path", "grayscale.grayscale", "classify.classify"]

    # Everything it started is stopped, and its files are gone.
    url = re.search(r"Starting an orchestrator at (http://127\.0\.0\.1:(\d+))", out)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", int(url.group(2))), timeout=2).close()
    assert not list(tmp_path.glob("liquid-demo.*"))


def pgm(width, height, pixel):
    return b"P5\n%d %d\n255\n" % (width, height) + bytes(
        pixel(x, y) for y in range(height) for x in range(width))


@pytest.mark.parametrize("picture, expected", [
    (pgm(32, 24, lambda x, y: 8), "dark"),
    (pgm(32, 24, lambda x, y: 250), "bright"),
    (pgm(32, 24, lambda x, y: 128), "flat"),
    (pgm(32, 24, lambda x, y: 255 * ((x + y) % 2)), "textured"),
    (pgm(32, 24, lambda x, y: 0 if x < 16 else 255), "contrasty"),
    (b"P5\n# a comment\n4 2\n255\n" + bytes([0, 0, 0, 0, 0, 0, 0, 0]), "dark"),
])
def test_classify_puts_plain_pictures_in_their_class(liquid, example, tmp_path, picture, expected):
    (tmp_path / "result.pgm").write_bytes(picture)
    assert CLASSES[int(run_locally(liquid, example, tmp_path, "classify", "classify"))] == expected


def test_classify_explains_its_features_and_is_deterministic(liquid, example, tmp_path):
    (tmp_path / "result.pgm").write_bytes((IMAGES / "scene_64x48_420.expected.pgm").read_bytes())
    first = run_locally(liquid, example, tmp_path, "classify", "classify")
    assert run_locally(liquid, example, tmp_path, "classify", "classify") == first
    assert run_locally(liquid, example, tmp_path, "classify", "class_count") == str(len(CLASSES))


@pytest.mark.parametrize("content, code, says", [
    (None, "-1", "cannot read result.pgm"),
    (b"P6\n2 2\n255\n" + bytes(12), "-2", "not an 8-bit binary PGM"),
    (b"P5\n2 2\n65535\n" + bytes(8), "-2", "not an 8-bit binary PGM"),
    (b"P5\n4 4\n255\n" + bytes(5), "-2", "ends before its 16 pixels"),
    (b"P5\n5000 5000\n255\n", "-3", "larger than"),
])
def test_classify_refuses_what_is_not_a_grayscale_picture(liquid, example, tmp_path, content,
                                                        code, says):
    if content is not None:
        (tmp_path / "result.pgm").write_bytes(content)
    done = liquid("run", "--dir", f"{tmp_path}::.", "--invoke", "classify", example("classify"))
    assert done.stdout.strip() == code
    assert says in done.stderr
