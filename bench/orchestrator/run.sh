#!/usr/bin/env bash
# Benchmarks of `liquid orchestrator`'s placement -> its section of bench/RESULTS.md
# (see bench.py).
#   bench/orchestrator/run.sh                 build/liquid, 5 runs each
#   LIQUID=build-x/liquid BUILD=build-x bench/orchestrator/run.sh --runs 7
#   bench/orchestrator/run.sh --no-write      print only
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=${BUILD:-$repo/build}
liquid=${LIQUID:-$build/liquid}
[ -x "$liquid" ] || { echo "run.sh: $liquid not found; build first (cmake --build $build)" >&2; exit 1; }
[ -f "$build/examples/fibo.wasm" ] || { echo "run.sh: $build/examples/fibo.wasm not built" >&2; exit 1; }
mkdir -p "$repo/bench/out"
solver_sources=("$repo"/src/orchestrator/solver.c "$repo"/src/orchestrator/solver_filter.c
                "$repo"/src/orchestrator/solver_separable.c "$repo"/src/orchestrator/solver_explain.c
                "$repo"/src/orchestrator/solver_chain.c)
gcc -O2 -Wall -Wextra -Werror -I"$repo/src" -o "$repo/bench/out/solver_bench" \
    "$here/solver_bench.c" "${solver_sources[@]}" -ljansson -lm
exec /usr/bin/python3 "$here/bench.py" --liquid "$liquid" --build-dir "$build" \
    --solver-bench "$repo/bench/out/solver_bench" "$@"
