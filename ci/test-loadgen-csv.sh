#!/usr/bin/env bash
# Locust compatibility of procpulse-loadgen's --csv (issue 19): the pinned Locust
# (userland/loadgen/bench/requirements.txt, venv made by ci/venv.sh) and our collect each
# run ~5 s against one loopback server that counts the snapshots it serves
# (ci/loadgen/snapshot_server.py); ci/loadgen/csv_check.py then compares the two sets of
# CSV files (headers byte for byte, row shape) and our counts with the server's.
# Bounded: each generator under `timeout 60`, the server exits by itself after 300 s.
#
#   ci/test-loadgen-csv.sh        (called by ci/test-loadgen.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=$(ci/venv.sh locust userland/loadgen/bench/requirements.txt)
cargo build -j2 -q -p procpulse-loadgen
LOADGEN=$(ci/target-dir.sh)/debug/procpulse-loadgen

WORK=$(mktemp -d "${TMPDIR:-/tmp}/loadgen-csv.XXXXXX")
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

python3 ci/loadgen/snapshot_server.py "$WORK/port" 300 &
SERVER_PID=$!
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
[ -s "$WORK/port" ] || { echo "snapshot server did not start" >&2; exit 1; }
URL="http://127.0.0.1:$(cat "$WORK/port")"
served() { curl -fsS --max-time 5 "$URL/count"; }

echo "== Locust $("$VENV/bin/locust" --version 2>&1 | awk '{print $2; exit}'): 5 users, 5 s, --csv"
before=$(served)
LOCUST_PHASE=collect LOCUST_WAIT=0.05,0.1 LOCUST_TARGET_RECORDS=1000000 LOCUST_OUT="$WORK/locust.ndjson" \
  timeout 60 "$VENV/bin/locust" -f userland/loadgen/bench/locustfile.py --headless -u 5 -r 5 -t 5s \
  -H "$URL" --csv "$WORK/locust" --only-summary --loglevel WARNING >"$WORK/locust.log" 2>&1 ||
  { cat "$WORK/locust.log" >&2; echo "locust failed" >&2; exit 1; }
locust_served=$(( $(served) - before ))

echo "== procpulse-loadgen collect: 5 users, 5 s, --csv"
before=$(served)
timeout 60 "$LOADGEN" collect --host "$URL" --users 5 --increase-rate 5 --run-time 5s \
  --wait 50ms..100ms --target-records 1000000 --out "$WORK/ours.ndjson" --csv "$WORK/ours" -q \
  >"$WORK/ours.log" 2>&1 || { cat "$WORK/ours.log" >&2; echo "loadgen failed" >&2; exit 1; }
our_served=$(( $(served) - before ))

python3 ci/loadgen/csv_check.py "$WORK/locust" "$WORK/ours" "$our_served" "$locust_served"
