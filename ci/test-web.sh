#!/usr/bin/env bash
# Tests the browser dashboard (web/):
#   1. unit tests of its pure parts (vitest),
#   2. the served size: web/app has no build step, so the files the page loads are what ships,
#   3. the end-to-end tests: headless Debian Chromium (playwright-core) against the REAL
#      procpulse-ingest (routes a and b) and procpulse-broadcaster on a private SQLite file:
#      tests/e2e.test.mjs (live view), tests/e2e-history.test.mjs (range picker over rollup
#      rows written with the sqlite3 CLI, fleet page with 1,000 hosts) and
#      tests/e2e-alerts.test.mjs (the broadcaster's --alert-rules: the host view's alerts panel
#      and the fleet page's alerts column; skipped, saying so, by a broadcaster without the flag).
# Node: any version web/package.json "engines" allows (Debian 12's own Node 18 included).
# Screenshots and service logs go to ${CI_LOG_DIR:-/tmp/procpulse-logs}/web-e2e{,-history,-alerts}.
# Usage: ci/test-web.sh [--unit-only]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WEB="$ROOT/web"
LOG_DIR="${CI_LOG_DIR:-/tmp/procpulse-logs}"
mkdir -p "$LOG_DIR/web-e2e"
export CI_LOG_DIR="$LOG_DIR"
# shellcheck source=web-lib.sh
. "$ROOT/ci/web-lib.sh"
# shellcheck source=lib.sh
. "$ROOT/ci/lib.sh" # step; its results (pass/FAIL) are in STEP_RESULT
STEP_LABEL=web

unit_only=0
case ${1:-} in
  "") ;;
  --unit-only) unit_only=1 ;;
  *) echo "usage: ci/test-web.sh [--unit-only]" >&2; exit 2 ;;
esac

# sqlite: the history test writes rollup rows with the sqlite3 CLI.
"$ROOT/ci/deps.sh" base sqlite web
web_node_check
echo "web: node $(node --version), npm $(npm --version), $(/usr/bin/chromium --version 2>/dev/null)"

fail=0 # the cargo build, which is not a step
cd "$WEB"
web_npm_ci

step unit npx vitest run
step size node tests/served.mjs

if [ "$unit_only" -eq 0 ]; then
  if [ -z "${PROCPULSE_BIN_DIR:-}" ]; then
    echo "== web: cargo build procpulse-ingest procpulse-broadcaster"
    (cd "$ROOT" && cargo build -j2 -q -p procpulse-ingest -p procpulse-broadcaster --bins) \
      || { STEP_RESULT[cargo-build]=FAIL; fail=1; }
    PROCPULSE_BIN_DIR="$("$ROOT/ci/target-dir.sh")/debug"
    export PROCPULSE_BIN_DIR
  fi
  if [ "${STEP_RESULT[cargo-build]:-pass}" = pass ]; then
    # The suite has its own 240 s timeout; `timeout` bounds the whole run. The test stops every
    # process it started in its after() hook.
    step e2e timeout 300 node --test tests/e2e.test.mjs
    step e2e-history timeout 300 node --test tests/e2e-history.test.mjs
    step e2e-alerts timeout 300 node --test tests/e2e-alerts.test.mjs
  else
    STEP_RESULT[e2e]=skipped-after-failure
    STEP_RESULT[e2e-history]=skipped-after-failure
    STEP_RESULT[e2e-alerts]=skipped-after-failure
  fi
fi

echo "=== web summary"
for k in "${!STEP_RESULT[@]}"; do echo "  $k: ${STEP_RESULT[$k]}"; done | sort
echo "  screenshots and logs: $LOG_DIR/web-e2e, $LOG_DIR/web-e2e-history, $LOG_DIR/web-e2e-alerts"
[ "$STEP_FAILED" -eq 0 ] || fail=1
exit "$fail"
