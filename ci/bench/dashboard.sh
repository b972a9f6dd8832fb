#!/usr/bin/env bash
# Dashboard benchmark: bundle size, first paint (Chromium Performance API, cold profile), and
# redraw cost / animation-frame interval with 1 h of 1 s points per host while points stream in.
# Runs headless Debian Chromium via playwright-core on loopback; ends with RESULT lines.
# Usage: ci/bench/dashboard.sh   (env BENCH_STREAM_SECONDS, default 10)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
"$ROOT/ci/deps.sh" base web >&2
# Vite 7 needs Node >= 20.19 (the machine image's NodeSource nodejs; Debian 12's own is 18).
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
  || { echo "web: Node $(node --version) is too old: Vite 7 needs >= 20.19" >&2; exit 1; }
cd "$ROOT/web"
stamp="node_modules/.procpulse-lock-sha"
want_sha="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want_sha" ]; then
  npm ci --no-audit --no-fund --loglevel=error >&2
  echo "$want_sha" >"$stamp"
fi
npm run build --silent >&2
mkdir -p "${CI_LOG_DIR:-/tmp/procpulse-logs}"
timeout 300 node tests/bench.mjs
