#!/usr/bin/env bash
# Benchmarks of moving functions with their state between simulated hosts -> the
# migration section of bench/RESULTS.md (see bench.py). Needs ../shared/tools/testnet.sh
# (root, or run inside `unshare -r`).
#   bench/migration/run.sh                  build/liquid, 5 runs each
#   LIQUID=build-x/liquid BUILD=build-x bench/migration/run.sh --runs 7
#   bench/migration/run.sh --runs 1 --sizes 1 --no-write     a quick look, print only
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${BUILD:-$repo/build}
liquid=${LIQUID:-$build/liquid}
[ -x "$liquid" ] || { echo "run.sh: $liquid not found; build first (cmake --build $build)" >&2; exit 1; }
for m in ballast counter; do
  [ -f "$build/examples/$m.wasm" ] || { echo "run.sh: $build/examples/$m.wasm not built" >&2; exit 1; }
done
exec /usr/bin/python3 "$here/bench.py" --liquid "$liquid" --build-dir "$build" "$@"
