#!/usr/bin/env bash
# Liquid's main job on its embedded defaults, on this machine only (loopback, no mDNS):
#
#   1. an orchestrator and three supervisors start; the supervisors register directly
#      with the orchestrator, and one of them, "camera-pi", has a camera: a directory of
#      the test JPEGs in tests/data/images/;
#   2. the example modules are uploaded and described with the `liquid` CLI;
#   3. a camera -> grayscale -> classify manifest whose steps name no device is solved
#      into a placement (printed with the reasons), deployed and executed;
#   4. the result is printed, and the dashboard stays open at the printed URL until
#      Ctrl-C, which stops every process this script started.
#
# usage: scripts/demo.sh [BUILD_DIR] [--once]
#   BUILD_DIR  where `liquid` and examples/*.wasm were built (default: build)
#   --once     exit after printing the result (also when CI=true); for tests
# LIQUID_DEMO_PORT sets the orchestrator's port (default 3000, or a free one if taken).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=build
once=false
[ "${CI:-}" = "true" ] && once=true
for arg in "$@"; do
  case "$arg" in
    --once) once=true ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "demo: unknown option '$arg' (see --help)" >&2; exit 2 ;;
    *) build=$arg ;;
  esac
done
case "$build" in /*) ;; *) build=$here/$build ;; esac
liquid=$build/liquid
examples=$build/examples
for need in "$liquid" "$examples/camera.wasm" "$examples/grayscale.wasm" "$examples/classify.wasm"; do
  if [ ! -f "$need" ]; then
    echo "demo: $need is missing: build first (./dev.sh demo does)" >&2
    exit 1
  fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/liquid-demo.XXXXXX")
pids=()
stop_all() {
  trap - EXIT INT TERM
  if [ ${#pids[@]} -gt 0 ]; then
    echo
    echo "stopping the orchestrator and the supervisors..."
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# A free TCP port on 127.0.0.1 (the preferred one when it is free).
free_port() {
  python3 - "${1:-0}" <<'EOF'
import socket, sys
def try_bind(port):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return s.getsockname()[1]
    except OSError:
        return None
    finally:
        s.close()
print(try_bind(int(sys.argv[1])) or try_bind(0))
EOF
}

# Prints the command as a user would type it, then runs it.
run() {
  echo
  echo "\$ liquid $*"
  "$liquid" "$@"
}

# Waits (up to $2 seconds) for a condition given as a command.
wait_for() {
  local what=$1 seconds=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      echo "demo: $what did not happen within ${seconds}s; the logs are:" >&2
      for log in "$work"/*.log; do echo "--- $log" >&2; tail -n 20 "$log" >&2; done
      exit 1
    fi
    sleep 0.2
  done
}

all_active() {
  "$liquid" device list --json | python3 -c '
import json, sys
devices = json.load(sys.stdin)
names = {d["name"] for d in devices if d.get("status") == "active" and not d.get("blacklisted")}
sys.exit(0 if {"camera-pi", "edge-1", "edge-2"} <= names else 1)'
}

# ---- 1. the processes
port=$(free_port "${LIQUID_DEMO_PORT:-3000}")
url=http://127.0.0.1:$port
export LIQUID_ORCHESTRATOR_URL=$url
echo "Starting an orchestrator at $url and three supervisors (logs in $work)"
"$liquid" orchestrator --bind 127.0.0.1 --port "$port" --no-mdns \
  --data-dir "$work/orchestrator" >"$work/orchestrator.log" 2>&1 &
pids+=($!)
wait_for "the orchestrator answering" 20 "$liquid" module list

# The camera: the baseline test frames (the progressive one is there to be refused).
mkdir -p "$work/camera"
for frame in scene_64x48_420 scene_50x30_444_restart scene_40x24_422 gray_33x17; do
  cp "$here/tests/data/images/$frame.jpg" "$work/camera/"
done
start_supervisor() {   # NAME [extra options]
  local name=$1; shift
  "$liquid" supervisor --name "$name" --bind 127.0.0.1 --address 127.0.0.1 \
    --port "$(free_port)" --no-mdns --orchestrator-url "$url" \
    --instance-dir "$work/$name" "$@" >"$work/$name.log" 2>&1 &
  pids+=($!)
}
start_supervisor camera-pi --camera-dir "$work/camera"
start_supervisor edge-1
start_supervisor edge-2
wait_for "all three supervisors registering" 30 all_active
run device list

# ---- 2. the modules
descriptions=$here/examples/descriptions
for module in camera grayscale classify fibo; do
  run module add "$examples/$module.wasm" --description "$descriptions/$module.json"
done
run module list

# ---- 3. the pipeline: every step says "device": null, so the orchestrator chooses
run deploy create "$here/examples/manifests/pipeline.json" --apply

# ---- 4. run it
run exec camera-pipeline
result=$("$liquid" exec camera-pipeline --json | python3 -c '
import json, sys
answer = json.load(sys.stdin)
result = answer.get("result")
while isinstance(result, dict) and "result" in result:
    result = result["result"]
if isinstance(result, list):
    result = next((r for r in result if r is not None), None)
print(result)')
classes=(dark bright flat textured contrasty)
name=unknown
if [[ $result =~ ^[0-9]+$ ]] && [ "$result" -lt ${#classes[@]} ]; then
  name=${classes[$result]}
fi
echo
echo "The camera -> grayscale -> classify pipeline classified the next frame as class $result ($name)."

if $once; then
  exit 0
fi
echo
echo "The dashboard is open at $url/ (devices, modules, the deployment; run it from there)."
echo "Try: LIQUID_ORCHESTRATOR_URL=$url $liquid events --follow"
echo "Press Ctrl-C to stop the orchestrator and the supervisors."
wait "${pids[0]}"
