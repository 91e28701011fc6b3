"""What the benchmark drivers in bench/*/bench.py share: a line describing this
machine, and writing one driver's section of bench/RESULTS.md between its
<!-- NAME:begin --> and <!-- NAME:end --> markers (report.py keeps those sections
when it rewrites the engine's part of the file)."""
import os
import pathlib
import platform
import re


def machine():
    cpu = "unknown"
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = int(re.search(r"MemTotal:\s+(\d+)", pathlib.Path("/proc/meminfo").read_text()).group(1))
    return f"{cpu}, {os.cpu_count()} cores, {mem // 1024 // 1024} GiB RAM, Linux {platform.release()}"


def write_section(path, text, begin, end):
    """Replaces the text between begin and end (markers included) with text, or
    appends text when the file has no such section yet."""
    old = path.read_text() if path.exists() else ""
    if begin in old and end in old:
        new = old[:old.index(begin)] + text.rstrip("\n") + old[old.index(end) + len(end):]
    else:
        new = old + ("\n" if old and not old.endswith("\n\n") else "") + text
    path.write_text(new)
