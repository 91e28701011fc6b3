#!/usr/bin/env bash
# Benchmarks of `liquid supervisor` -> its section of bench/RESULTS.md (see bench.py).
#   bench/supervisor/run.sh                 build/liquid, 5 runs each
#   LIQUID=build-x/liquid BUILD=build-x bench/supervisor/run.sh --runs 7
#   bench/supervisor/run.sh --no-write      print only
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${BUILD:-$repo/build}
liquid=${LIQUID:-$build/liquid}
[ -x "$liquid" ] || { echo "run.sh: $liquid not found; build first (cmake --build $build)" >&2; exit 1; }
[ -f "$build/tests/wat/supervisor_faults.wasm" ] || {
  echo "run.sh: $build/tests/wat/supervisor_faults.wasm not built" >&2; exit 1; }
exec /usr/bin/python3 "$here/bench.py" --liquid "$liquid" --build-dir "$build" "$@"
