#!/usr/bin/env bash
# End-to-end test of the whole local stack (issue #7): runs a short version of the
# README's main-job command (ci/stack.sh) on private ports and checks that
#  - every collected record is stored exactly once (ci/stack_summary.py, against SQLite),
#  - the a/b split is 50/50 within ±2% (round-robin nginx; loadgen --split-tolerance 2%),
#  - the dashboard in headless Chromium is live and lists the stored hosts and split.
# The monitored machine is the QEMU guest with the Rust modules when the kernel is cached
# (ci/kmod-test.sh builds it), else the host agent (PROCPULSE_MONITOR overrides).
set -euo pipefail
cd "$(dirname "$0")/.."
export CI_LOG_DIR=${CI_LOG_DIR:-/tmp/procpulse-logs}
state=$(mktemp -d /tmp/procpulse-stack-test.XXXXXX)
trap 'rm -rf "$state"' EXIT

monitor=${PROCPULSE_MONITOR:-}
if [ -z "$monitor" ]; then
  if ls /var/cache/procpulse/kernels/default-* >/dev/null 2>&1 || [ -n "${PROCPULSE_CACHE_DIR:-}" ]; then monitor=auto; else monitor=host; fi
fi
# Node and Chromium for the dashboard check only: the stack itself needs neither.
ci/deps.sh base web >/dev/null
(cd web && [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error)
# The debug binaries the other stages built (a release build would add minutes to CI).
if [ -z "${PROCPULSE_BIN_DIR:-}" ]; then
  cargo build -j2 -q --locked -p procpulse-agent -p procpulse-ingest -p procpulse-broadcaster -p procpulse-loadgen
  PROCPULSE_BIN_DIR=$(ci/target-dir.sh)/debug
  export PROCPULSE_BIN_DIR
fi
status=0
ci/stack.sh --no-wait --monitor "$monitor" --state-dir "$state" --base-port 18200 \
  --run-time 20s --target-records 400 --replay-wait 0s..1s \
  --then "node web/tests/stack-check.mjs" || status=$?
cp "$state/summary.txt" "$CI_LOG_DIR/stack-summary.txt" 2>/dev/null || true
if [ $status -eq 0 ]; then echo "stack e2e: 1 passed, 0 failed"; else echo "stack e2e: 0 passed, 1 failed"; fi
exit $status
