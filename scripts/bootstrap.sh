#!/usr/bin/env bash
# Installs the Debian packages Liquid's build and tests need, when they are missing.
# Runs apt-get as root, or through sudo. Safe to run again: it installs nothing twice.
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config git
  # the engine's test modules and the spec suite: C -> wasm32-wasi, .wast -> .json
  clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32 wabt
  # WASI compatibility with Rust's wasm32-wasi target (a system test builds a Rust program)
  rustc libstd-rust-dev-wasm32
  # services
  libjansson-dev libmicrohttpd-dev libcurl4-openssl-dev libsqlite3-dev libssl-dev
  libsodium-dev libmdnsd-dev
  # tests
  libcmocka-dev python3 python3-pytest iproute2
  # mDNS interop tests: a real Avahi (with its D-Bus system bus) on a simulated host
  # must see the supervisor's advertisement, and our browser must see Avahi's
  avahi-daemon avahi-utils dbus-daemon
  # benchmarks: requests/s of the HTTP server and the supervisor, with keep-alive
  wrk
  # the dashboard's browser test: Debian's Chromium driven by playwright-core from npm
  # (tests/browser/run.sh; never a downloaded browser)
  chromium nodejs
)
# npm: Debian packages it apart from nodejs, while NodeSource's nodejs carries its own
# (and Debian's would conflict with it), so it is asked for only when there is none.
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "bootstrap: installing ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "bootstrap: missing packages (${missing[*]}) and neither root nor sudo; install them and retry" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q
"${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
