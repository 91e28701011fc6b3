"""The Wasm-IoT example modules that need no host functions, run with `liquid run
--invoke` in a sandbox directory as a supervisor would run them: fibo gives the
reference trace's answers, grayscale decodes the test JPEGs to what libjpeg decodes
(tests/data/images, see its README) and datafile computes on its data file. The
camera module needs the camera host functions: tests/unit/test_host_camera.c runs it.
"""
import pathlib

import pytest

from conftest import REPO

IMAGES = REPO / "tests" / "data" / "images"


def invoke(liquid, module, function, *args, directory=None):
    options = ["--dir", f"{directory}::."] if directory else []
    done = liquid("run", *options, "--invoke", function, module, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip(), done.stderr


# ------------------------------------------------------------------------- fibo

@pytest.mark.parametrize("n, expected", [("12", "233"), ("5", "8"), ("0", "1"), ("1", "1"),
                                         ("91", "7540113804746346429"), ("92", "-1"),
                                         ("-3", "0")])
def test_fibo_gives_the_reference_answers(liquid, example, n, expected):
    assert invoke(liquid, example("fibo"), "fibo", n)[0] == expected


def test_fibo_module_also_subtracts(liquid, example):
    assert invoke(liquid, example("fibo"), "subtract", "10", "33")[0] == "-23"


# -------------------------------------------------------------------- grayscale

def read_pgm(path):
    data = pathlib.Path(path).read_bytes()
    magic, size, depth, pixels = data.split(b"\n", 3)
    assert magic == b"P5" and depth == b"255", f"{path} is not an 8-bit binary PGM"
    width, height = map(int, size.split())
    assert len(pixels) == width * height
    return width, height, pixels


def run_grayscale(liquid, example, tmp_path, image_bytes):
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    if image_bytes is not None:
        (sandbox / "image.jpeg").write_bytes(image_bytes)
    result, stderr = invoke(liquid, example("grayscale"), "grayscale", directory=sandbox)
    return int(result), stderr, sandbox


@pytest.mark.parametrize("name", ["scene_64x48_420", "scene_50x30_444_restart",
                                  "scene_40x24_422", "gray_33x17"])
def test_grayscale_decodes_like_libjpeg(liquid, example, tmp_path, name):
    mean, _, sandbox = run_grayscale(liquid, example, tmp_path,
                                     (IMAGES / f"{name}.jpg").read_bytes())
    width, height, pixels = read_pgm(sandbox / "result.pgm")
    ew, eh, expected = read_pgm(IMAGES / f"{name}.expected.pgm")
    assert (width, height) == (ew, eh)
    # Our IDCT is floating point, libjpeg's default an integer one: a level apart at most.
    worst = max(abs(a - b) for a, b in zip(pixels, expected))
    assert worst <= 2, f"a pixel differs by {worst} from libjpeg's"
    assert mean == round(sum(pixels) / len(pixels))
    assert abs(mean - sum(expected) / len(expected)) <= 1


def test_grayscale_refuses_a_progressive_jpeg(liquid, example, tmp_path):
    mean, stderr, sandbox = run_grayscale(liquid, example, tmp_path,
                                          (IMAGES / "scene_32x16_progressive.jpg").read_bytes())
    assert mean == -2
    assert "progressive, lossless and arithmetic-coded JPEGs are not supported" in stderr
    assert not (sandbox / "result.pgm").exists()


@pytest.mark.parametrize("damage, expected_error", [
    (lambda jpeg: b"not a jpeg at all", "is not a JPEG file"),
    (lambda jpeg: jpeg[:40], "cut short"),
    (lambda jpeg: jpeg[:2] + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" + jpeg[2:],
     "a scan before the frame header"),
])
def test_grayscale_says_what_is_wrong_with_a_damaged_file(liquid, example, tmp_path, damage,
                                                          expected_error):
    jpeg = (IMAGES / "scene_64x48_420.jpg").read_bytes()
    mean, stderr, _ = run_grayscale(liquid, example, tmp_path, damage(jpeg))
    assert mean == -3
    assert expected_error in stderr


def test_grayscale_without_an_image(liquid, example, tmp_path):
    mean, stderr, _ = run_grayscale(liquid, example, tmp_path, None)
    assert mean == -1
    assert "cannot read image.jpeg" in stderr


# --------------------------------------------------------------------- datafile

CSV = "time,kwh,note\n1,10,a\n2, 25 ,b\n3,-5,c\nsummary,7,x\n\n4,100\n"


def test_datafile_sums_a_column_of_its_data_file(liquid, example, tmp_path):
    (tmp_path / "data").write_text(CSV)
    module = example("datafile")
    assert invoke(liquid, module, "total", "0", directory=tmp_path)[0] == "10"
    assert invoke(liquid, module, "total", "1", directory=tmp_path)[0] == "130"
    assert invoke(liquid, module, "total", "2", directory=tmp_path)[0] == "0"
    assert invoke(liquid, module, "rows", directory=tmp_path)[0] == "4"
    assert invoke(liquid, module, "total", "-1", directory=tmp_path)[0] == "-2"


def test_datafile_without_its_data_file(liquid, example, tmp_path):
    result, stderr = invoke(liquid, example("datafile"), "total", "1", directory=tmp_path)
    assert result == "-1"
    assert "cannot read the deployment file 'data'" in stderr
