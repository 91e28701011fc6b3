#!/usr/bin/env bash
# Liquid's main job on its embedded defaults. Until the orchestrator exists this is
# the engine: it runs the example program examples/hello.c, built for wasm32-wasi,
# with `liquid run`, giving it arguments, an environment variable and a sandboxed
# directory it can read and write.
set -euo pipefail
build=${1:-build}
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
echo "Liquid is a fleet of devices; today, one of them:" > "$data/welcome.txt"

echo "\$ liquid run --dir $data::/data --env GREETING=hello $build/examples/hello.wasm world"
"$build/liquid" run --dir "$data::/data" --env GREETING=hello \
  "$build/examples/hello.wasm" world
echo "--- files the program left in its sandbox ($data):"
ls -l "$data"
