#!/usr/bin/env bash
# Builds the benchmark programs natively and to wasm32-wasi, runs each one
# natively, under `liquid run` and under Node's WebAssembly (V8), checks that
# every run prints the native build's checksum, and writes bench/RESULTS.md.
#
# usage: bench/run.sh [--runs N] [--only NAME] [--runners LIST]
#   --runs N        runs per program and runner (default 5); medians are reported
#   --only NAME     one program; writes bench/out/RESULTS-NAME.md and leaves
#                   bench/RESULTS.md alone (its geometric means need all six)
#   --runners LIST  comma-separated subset of native,liquid,node (default: all);
#                   a partial run also writes to bench/out/ only
#   LIQUID=PATH     the liquid binary (default: build/liquid, built if missing)
#
# Runs are pinned to CPU 1 with taskset when it is available, as the reference
# figures for wasm3 and WAMR were. Timings are wall clock, process start-up
# included. Never run this to assert a speed in a test: it only records one.
set -euo pipefail

invocation="bench/run.sh $*"
bench_dir=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$bench_dir/.." && pwd)
cd "$repo"

programs=(fib sieve matmul sha256 nbody mixed)
runs=5
only=""
runners="native,liquid,node"

usage() { sed -n '5,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs)    [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --runs needs a positive number" >&2; exit 2; }
               runs=$2; shift 2 ;;
    --only)    [[ $# -ge 2 ]] || usage
               only=$2; shift 2 ;;
    --runners) [[ $# -ge 2 ]] || usage
               runners=$2; shift 2 ;;
    -h|--help) usage ;;
    *)         echo "run.sh: unknown argument \"$1\"" >&2; usage ;;
  esac
done

if [[ -n "$only" ]]; then
  [[ " ${programs[*]} " == *" $only "* ]] || { echo "run.sh: no program \"$only\"; there are: ${programs[*]}" >&2; exit 2; }
  programs=("$only")
fi
IFS=, read -r -a runner_list <<<"$runners"
for runner in "${runner_list[@]}"; do
  case "$runner" in native|liquid|node) ;; *) echo "run.sh: unknown runner \"$runner\" (native, liquid, node)" >&2; exit 2 ;; esac
done
[[ ",$runners," == *",native,"* ]] || { echo "run.sh: the native runner is required: its checksum is the one the others must match" >&2; exit 2; }
wants() { [[ ",$runners," == *",$1,"* ]]; }
all_runners=false
if wants native && wants liquid && wants node; then all_runners=true; fi

out=bench/out
mkdir -p "$out/native" "$out/wasm"
python=/usr/bin/python3
node=/usr/bin/node
native_cc=(gcc -O2 -Wall -Wextra -Werror)
wasm_cc=(clang-14 --target=wasm32-wasi -O2 -Wall -Wextra -Werror)

# --- build ---------------------------------------------------------------
for p in "${programs[@]}"; do
  "${native_cc[@]}" -o "$out/native/$p" "bench/programs/$p.c" -lm
  "${wasm_cc[@]}" -o "$out/wasm/$p.wasm" "bench/programs/$p.c" -lm
  # The comparison is scalar code against scalar code: refuse a SIMD wasm build.
  if command -v wasm-objdump >/dev/null && wasm-objdump -d "$out/wasm/$p.wasm" | grep -q 'v128\|i8x16\|f64x2\|i32x4'; then
    echo "run.sh: $out/wasm/$p.wasm contains SIMD instructions; the wasm build must be scalar" >&2
    exit 1
  fi
done

liquid=${LIQUID:-build/liquid}
if wants liquid && [[ ! -x "$liquid" ]]; then
  if [[ -n "${LIQUID:-}" ]]; then
    echo "run.sh: LIQUID=$LIQUID is not an executable file" >&2
    exit 1
  fi
  echo "run.sh: $liquid is missing; building it" >&2
  cmake -S . -B build >/dev/null
  cmake --build build -j "$(nproc)" --target liquid
fi
if wants node && [[ ! -x "$node" ]]; then
  echo "run.sh: $node is missing; install Node.js or pass --runners native,liquid" >&2
  exit 1
fi

pin=()
if command -v taskset >/dev/null && taskset -c 1 true 2>/dev/null; then
  pin=(taskset -c 1)
fi

# --- run -----------------------------------------------------------------
results=$out/results.jsonl
: >"$results"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# Runners take turns, one run each per round, so that a burst of load from
# another job slows all three alike instead of skewing one runner's ratio.
measure() {   # PROGRAM RUNNER EXPECTED-CHECKSUM COMMAND...
  local program=$1 runner=$2 expect=$3; shift 3
  "$python" bench/measure.py --program "$program" --runner "$runner" --runs 1 \
    ${expect:+--expect "$expect"} -- "${pin[@]}" "$@"
}
for p in "${programs[@]}"; do
  echo "== $p" >&2
  checksum=""
  for ((round = 1; round <= runs; round++)); do
    line=$(measure "$p" native "$checksum" "$out/native/$p")
    echo "$line" >>"$results"
    checksum=$("$python" -c 'import json,sys; print(json.loads(sys.argv[1])["checksum"])' "$line")
    if wants liquid; then
      measure "$p" liquid "$checksum" "$liquid" run "$out/wasm/$p.wasm" >>"$results"
    fi
    if wants node; then
      measure "$p" node "$checksum" "$node" --no-warnings bench/node_wasi.mjs "$out/wasm/$p.wasm" >>"$results"
    fi
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report --------------------------------------------------------------
report=bench/RESULTS.md
if [[ -n "$only" || $all_runners == false ]]; then
  report=$out/RESULTS-${only:-partial}.md
fi
"$python" bench/report.py --results "$results" --output "$report" --runs "$runs" \
  --pin "${pin[*]:-none}" --liquid "$liquid" --native-cc "${native_cc[*]}" --wasm-cc "${wasm_cc[*]}" \
  --load-before "$load_before" --load-after "$load_after" --invocation "$invocation"
echo "wrote $report" >&2
