#!/usr/bin/env bash
# Dashboard benchmark: served size (web/app as written, no build step), first paint (Chromium
# Performance API, cold profile), redraw cost / animation-frame interval with 1 h of 1 s
# points per host while points stream in, and the fleet page with 1,000 hosts (first frame
# with the whole table, cold profile; update cost and DOM update batches per 1 s poll).
# Runs headless Debian Chromium via playwright-core on loopback; ends with RESULT lines.
# Usage: ci/bench/dashboard.sh   (env BENCH_STREAM_SECONDS, default 10)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WEB="$ROOT/web"
# shellcheck source=../web-lib.sh
. "$ROOT/ci/web-lib.sh"
"$ROOT/ci/deps.sh" base web >&2
web_node_check
web_npm_ci >&2
mkdir -p "${CI_LOG_DIR:-/tmp/procpulse-logs}"
cd "$WEB"
timeout 300 node tests/bench.mjs
