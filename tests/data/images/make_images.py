#!/usr/bin/env python3
"""Remakes the test images of this directory (see README.md). Needs cjpeg and djpeg
(Debian: libjpeg-turbo-progs), which the build and the tests do not: their outputs
are committed."""
import math
import pathlib
import subprocess

HERE = pathlib.Path(__file__).resolve().parent


def scene(width, height):
    """A deterministic RGB picture: gradients, a disc and stripes, so every frequency
    and every colour channel carries something."""
    rows = []
    for y in range(height):
        row = bytearray()
        for x in range(width):
            r = (x * 255) // max(1, width - 1)
            g = (y * 255) // max(1, height - 1)
            b = 128 + int(100 * math.sin((x + 2 * y) / 3.0))
            if (x - width / 2) ** 2 + (y - height / 2) ** 2 < (min(width, height) / 4) ** 2:
                r, g, b = 250, 240, 30
            if x % 11 == 0:
                r, g, b = 20, 20, 20
            row += bytes((r, g, b))
        rows.append(bytes(row))
    return rows


def write_ppm(path, width, height, rows):
    path.write_bytes(b"P6\n%d %d\n255\n" % (width, height) + b"".join(rows))


def make(name, width, height, *cjpeg_args):
    ppm = HERE / f"{name}.ppm"
    write_ppm(ppm, width, height, scene(width, height))
    jpeg = HERE / f"{name}.jpg"
    with open(jpeg, "wb") as out:
        subprocess.run(["cjpeg", "-baseline", "-quality", "90", *cjpeg_args, str(ppm)],
                       stdout=out, check=True)
    with open(HERE / f"{name}.expected.pgm", "wb") as out:
        subprocess.run(["djpeg", "-grayscale", "-pnm", str(jpeg)], stdout=out, check=True)
    ppm.unlink()


if __name__ == "__main__":
    make("scene_64x48_420", 64, 48)                                   # cjpeg's default 2x2
    make("scene_50x30_444_restart", 50, 30, "-sample", "1x1", "-restart", "1")
    make("scene_40x24_422", 40, 24, "-sample", "2x1")
    make("gray_33x17", 33, 17, "-grayscale")
    make("scene_32x16_progressive", 32, 16, "-progressive")           # refused by grayscale.c
