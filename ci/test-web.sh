#!/usr/bin/env bash
# Tests the browser dashboard (web/):
#   1. unit tests of its pure parts (vitest),
#   2. the production build (vite → web/dist, bundle size printed),
#   3. the end-to-end test: headless Debian Chromium (playwright-core) against the REAL
#      procpulse-ingest (routes a and b) and procpulse-broadcaster on a private SQLite file.
# Screenshots and service logs go to ${CI_LOG_DIR:-/tmp/procpulse-logs}/web-e2e.
# Usage: ci/test-web.sh [--unit-only]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WEB="$ROOT/web"
LOG_DIR="${CI_LOG_DIR:-/tmp/procpulse-logs}"
mkdir -p "$LOG_DIR/web-e2e"
export CI_LOG_DIR="$LOG_DIR"

unit_only=0
[ "${1:-}" = "--unit-only" ] && unit_only=1

"$ROOT/ci/deps.sh" base web
# Vite 7 needs Node >= 20.19 (the machine image's NodeSource nodejs; Debian 12's own is 18).
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
  || { echo "web: Node $(node --version) is too old: Vite 7 needs >= 20.19" >&2; exit 1; }

declare -A result=()
fail=0
step() { # name, command...
  local name="$1"; shift
  echo "=== web: $name"
  if "$@"; then result[$name]=pass; else result[$name]=FAIL; fail=1; fi
}

cd "$WEB"
# npm ci only when the lock changed since the last install (it wipes node_modules: ~5 s).
stamp="node_modules/.procpulse-lock-sha"
want_sha="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want_sha" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want_sha" >"$stamp"
fi

step unit npx vitest run
step build npm run build --silent
if [ "${result[build]}" = pass ]; then
  js=$(find dist/assets -name '*.js' -printf '%s\n' | awk '{s+=$1} END {print s}')
  css=$(find dist/assets -name '*.css' -printf '%s\n' | awk '{s+=$1} END {print s}')
  gz=$(cat dist/index.html dist/assets/*.js dist/assets/*.css | gzip -9 | wc -c)
  echo "web: bundle js=${js} B css=${css} B, all gzipped=${gz} B"
fi

if [ "$unit_only" -eq 0 ]; then
  if [ -z "${PROCPULSE_BIN_DIR:-}" ]; then
    echo "=== web: cargo build procpulse-ingest procpulse-broadcaster"
    (cd "$ROOT" && cargo build -j2 -q -p procpulse-ingest -p procpulse-broadcaster --bins) \
      || { result[cargo-build]=FAIL; fail=1; }
  fi
  if [ "${result[cargo-build]:-pass}" = pass ] && [ "${result[build]}" = pass ]; then
    # node --test kills the whole run after its own timeout; the test stops every process
    # it started in its after() hook.
    step e2e timeout 300 node --test --test-timeout=280000 tests/e2e.test.mjs
  else
    result[e2e]=skipped-after-failure
  fi
fi

echo "=== web summary"
for k in "${!result[@]}"; do echo "  $k: ${result[$k]}"; done | sort
echo "  screenshots and logs: $LOG_DIR/web-e2e"
exit "$fail"
