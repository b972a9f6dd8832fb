#!/usr/bin/env bash
# Tests of procpulse-broadcaster: unit tests plus the integration tests (tests/it), which
# run the real broadcaster in-process against a real SQLite file and a private MariaDB
# (ci/mariadb.sh) with real tokio-tungstenite WebSocket clients on 127.0.0.1, and alerts
# delivered to a real Alertmanager (Debian's prometheus-alertmanager) on 127.0.0.1.
#
# Usage: ci/test-broadcaster.sh
# Uses PROCPULSE_TEST_MYSQL_URL when set; otherwise starts the private MariaDB (and stops
# it again at exit if this script started it). CI=1 is exported so that a missing MariaDB
# fails the MariaDB tests instead of skipping them.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

"$ROOT/ci/deps.sh" base db alerts >&2

STARTED_DB=0
# shellcheck disable=SC2329 # run by the EXIT trap; shellcheck 0.11 misses that before an explicit exit
cleanup() {
  if [ "$STARTED_DB" = 1 ]; then "$ROOT/ci/mariadb.sh" stop >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

if [ -z "${PROCPULSE_TEST_MYSQL_URL:-}" ]; then
  "$ROOT/ci/mariadb.sh" status || STARTED_DB=1
  PROCPULSE_TEST_MYSQL_URL="$("$ROOT/ci/mariadb.sh" start)"
  export PROCPULSE_TEST_MYSQL_URL
fi
export CI=1

status=0
cargo test -j2 -p procpulse-broadcaster -p procpulse-alerts --locked 2>&1 | tee /tmp/test-broadcaster.$$.log || status=$?
summary=$(grep -E '^test result:' /tmp/test-broadcaster.$$.log | awk '{p+=$4; f+=$6} END {printf "%d passed, %d failed", p, f}')
rm -f /tmp/test-broadcaster.$$.log
if [ "$status" -eq 0 ]; then
  echo "test-broadcaster: OK ($summary; SQLite + MariaDB)"
else
  echo "test-broadcaster: FAILED ($summary)" >&2
fi
exit "$status"
