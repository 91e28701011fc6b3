"""A program built by Rust's wasm32-wasi standard library runs under `liquid run`.

Rust's std uses WASI differently from wasi-libc (its own preopen lookup, fd_readdir
cookies, its own sleep through poll_oneoff), so it is a second client to satisfy.
Needs a rustc with the wasm32-wasi standard library (Debian: rustc and
libstd-rust-dev-wasm32); skipped where there is none.
"""
import pathlib
import shutil
import subprocess

import pytest

PROGRAM = r"""
use std::env;
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::time::{Duration, Instant, SystemTime};

fn main() {
    let args: Vec<String> = env::args().collect();
    println!("args: {:?}", &args[1..]);
    println!("GREETING={:?}", env::var("GREETING").ok());
    let dir = &args[1];
    let path = format!("{}/rust.txt", dir);
    {
        let mut f = fs::File::create(&path).expect("create");
        writeln!(f, "written by rust").unwrap();
    }
    let mut f = fs::OpenOptions::new().read(true).write(true).open(&path).unwrap();
    f.seek(SeekFrom::Start(8)).unwrap();
    let mut s = String::new();
    f.read_to_string(&mut s).unwrap();
    println!("read back: {:?}", s);
    fs::create_dir_all(format!("{}/a/b", dir)).unwrap();
    fs::rename(&path, format!("{}/a/b/moved.txt", dir)).unwrap();
    let mut names: Vec<String> = fs::read_dir(format!("{}/a/b", dir)).unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    println!("a/b: {:?}", names);
    let meta = fs::metadata(format!("{}/a/b/moved.txt", dir)).unwrap();
    println!("size {} file {}", meta.len(), meta.is_file());
    fs::remove_file(format!("{}/a/b/moved.txt", dir)).unwrap();
    fs::remove_dir(format!("{}/a/b", dir)).unwrap();
    fs::remove_dir(format!("{}/a", dir)).unwrap();
    let t = Instant::now();
    std::thread::sleep(Duration::from_millis(30));
    println!("slept: {}", t.elapsed() >= Duration::from_millis(30));
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap();
    println!("plausible date: {}", now.as_secs() > 1_600_000_000);
    println!("escape: {}", fs::read_to_string(format!("{}/../outside", dir)).is_err());
    std::process::exit(9);
}
"""


def rustc_with_wasi():
    for candidate in ("/usr/bin/rustc", shutil.which("rustc")):
        if not candidate:
            continue
        try:
            sysroot = subprocess.run([candidate, "--print", "sysroot"], capture_output=True,
                                     text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            continue
        if (pathlib.Path(sysroot) / "lib" / "rustlib" / "wasm32-wasi").is_dir():
            return candidate
    return None


def test_rust_std_program(liquid, tmp_path):
    rustc = rustc_with_wasi()
    if not rustc:
        pytest.skip("no rustc with the wasm32-wasi standard library "
                    "(Debian: rustc libstd-rust-dev-wasm32)")
    source = tmp_path / "tour.rs"
    source.write_text(PROGRAM)
    module = tmp_path / "tour.wasm"
    built = subprocess.run([rustc, "--target", "wasm32-wasi", "-O", str(source), "-o",
                            str(module)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr

    box = tmp_path / "box"
    box.mkdir()
    (tmp_path / "outside").write_text("secret")
    r = liquid("run", "--dir", f"{box}::/d", "--env", "GREETING=hej", module, "/d", "x", "y")
    assert r.returncode == 9, r.stderr
    assert r.stdout.splitlines() == [
        'args: ["/d", "x", "y"]',
        'GREETING=Some("hej")',
        'read back: "by rust\\n"',
        'a/b: ["moved.txt"]',
        "size 16 file true",
        "slept: true",
        "plausible date: true",
        "escape: true",
    ]
    assert list(box.iterdir()) == []
