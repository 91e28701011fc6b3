#!/usr/bin/env bash
# Liquid's front door. Two commands (see README.md):
#
#   ./dev.sh demo    install what is missing, build, and run Liquid's main job
#   ./dev.sh test    install what is missing, build, and run every test
#
# Build trees: build/ (optimised, -Werror), build-asan/ (AddressSanitizer + UBSan),
# build-fuzz/ (clang + libFuzzer). JOBS overrides the parallelism.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
jobs=${JOBS:-$(nproc)}

configure_and_build() {   # DIR [cmake args...] [-- TARGET...]
  local dir=$1; shift
  local args=() targets=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do args+=("$1"); shift; done
  [ $# -gt 0 ] && shift && targets=(--target "$@")
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${args[@]}" >/dev/null
  cmake --build "$dir" -j "$jobs" "${targets[@]}"
}

cmd=${1:-}
case "$cmd" in
  demo)
    scripts/bootstrap.sh
    configure_and_build build
    exec scripts/demo.sh build
    ;;
  test)
    scripts/bootstrap.sh
    configure_and_build build
    (cd build && ctest --output-on-failure -j "$jobs")
    echo "== AddressSanitizer + UBSan build: unit and spec tests"
    configure_and_build build-asan -DLIQUID_SANITIZE=ON
    (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
       ctest --output-on-failure -j "$jobs" -L 'unit|spec')
    echo "== libFuzzer: a short run of each target"
    # Only the fuzzer and its seeds: the rest of this tree is tested above.
    configure_and_build build-fuzz -DLIQUID_FUZZ=ON -DCMAKE_C_COMPILER=clang-14 \
      -- fuzz_module fuzz_seeds
    (cd build-fuzz && ctest --output-on-failure -L fuzz)
    ;;
  *)
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
