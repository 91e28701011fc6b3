#!/usr/bin/env bash
# Runs `liquid spectest` over every spec file converted in a build tree and prints a
# Markdown table per file, then the totals (for the README).
#
#   scripts/spec-summary.sh BUILD_DIR
#
# Pass rate = passed / (passed + failed + skipped by tests/spec/skips.txt): the
# text-format assertions (no .wat parser) are left out, as in the 26,213 the issue
# counts. Exit status 0 iff no file failed or crashed.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-}
if [ -z "$build" ] || [ ! -x "$build/liquid" ]; then
  echo "usage: $0 BUILD_DIR   (a build tree with liquid and tests/spec/*/*.json)" >&2
  exit 2
fi
skips=$here/tests/spec/skips.txt
shopt -s nullglob
files=("$build"/tests/spec/*/*.json)
if [ ${#files[@]} -eq 0 ]; then
  echo "$0: no converted spec files in $build/tests/spec (build the spec_json target)" >&2
  exit 2
fi

# Assertions of a JSON file that are not about text-format modules.
assertions_in() {
  /usr/bin/python3 - "$1" <<'PY'
import json, sys
commands = json.load(open(sys.argv[1]))["commands"]
print(sum(1 for c in commands
          if (c["type"].startswith("assert_") or c["type"] == "action")
          and c.get("module_type") != "text"))
PY
}

total_pass=0 total_fail=0 total_skip=0 total_text=0 bad_files=0
printf '| file | passed | failed | skipped |\n|---|---:|---:|---:|\n'
for json in "${files[@]}"; do
  name=$(basename "$json" .json)
  output=$("$build/liquid" spectest --skips "$skips" "$json" 2>&1)
  status=$?
  tally=$(printf '%s\n' "$output" | tail -n 1)
  if [[ $tally =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped$ ]]; then
    pass=${BASH_REMATCH[1]} fail=${BASH_REMATCH[2]} skip=${BASH_REMATCH[3]}
    text=$(printf '%s\n' "$output" |
           sed -n 's/^\([0-9]*\) of the skipped are text-format modules.*/\1/p' | tail -n 1)
    text=${text:-0}
    total_pass=$((total_pass + pass)) total_fail=$((total_fail + fail))
    total_skip=$((total_skip + skip)) total_text=$((total_text + text))
    [ "$fail" -gt 0 ] && bad_files=$((bad_files + 1))
    printf '| %s | %d | %d | %d |\n' "$name" "$pass" "$fail" "$skip"
  else
    # No tally: liquid crashed (status > 128 is a signal) or refused the file. Its
    # binary-module assertions all count as failed so the rate cannot look better.
    bad_files=$((bad_files + 1))
    lost=$(assertions_in "$json")
    total_fail=$((total_fail + lost))
    printf '| %s | CRASH (exit %d) | %d | |\n' "$name" "$status" "$lost"
  fi
done
counted=$((total_pass + total_fail + total_skip - total_text))
printf '| **total** | **%d** | **%d** | **%d** |\n\n' "$total_pass" "$total_fail" "$total_skip"
echo "${#files[@]} files; $total_text skipped assertions are text-format modules (no .wat parser)."
if [ "$counted" -gt 0 ]; then
  awk -v p="$total_pass" -v n="$counted" \
    'BEGIN { printf "pass rate: %d of %d binary-module assertions = %.2f%%\n", p, n, 100 * p / n }'
fi
[ "$bad_files" -eq 0 ]
