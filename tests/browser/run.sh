#!/usr/bin/env bash
# Runs the dashboard's browser tests (CTest label `browser`): Playwright's
# playwright-core, installed from the committed lockfile into node_modules/ when
# missing, drives Debian's /usr/bin/chromium (never a downloaded browser) against a
# real `liquid orchestrator` and supervisors. LIQUID_BIN and LIQUID_BUILD_DIR say
# where liquid and the example modules were built (CTest sets them); screenshots go to
# LIQUID_BUILD_DIR/browser-artifacts/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -x /usr/bin/chromium ]; then
  echo "browser tests: /usr/bin/chromium is missing; scripts/bootstrap.sh installs it" >&2
  exit 1
fi
if [ ! -f "$here/node_modules/playwright-core/package.json" ]; then
  (cd "$here" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
exec node --test --test-reporter=spec "$here"/*.test.mjs
