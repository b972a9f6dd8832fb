#!/usr/bin/env bash
# Tests of procpulse-loadgen (issue #5): unit tests of the pure parts (record file, shared
# cursor, tally/progress, split tolerance, flag mapping), then integration tests of the
# real binary against real services on loopback — the agent, two ingest routes (a direct,
# b batched) on one SQLite file behind the nginx split of ci/nginx-split.sh — including
# Ctrl-C during collect. Every process a test starts is stopped by the test itself. Then
# ci/test-loadgen-csv.sh: --csv against the real (pinned) Locust's files.
#
#   ci/test-loadgen.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ci/deps.sh base db >/dev/null

echo "== nginx-split.sh: syntax, --print, port check"
bash -n ci/nginx-split.sh ci/bench/loadgen.sh
# --print needs no nginx and must name both upstreams round-robin.
conf=$(ci/nginx-split.sh --print 18080 127.0.0.1:18001 127.0.0.1:18002)
if ! grep -q "server 127.0.0.1:18001;" <<<"$conf" || ! grep -q "server 127.0.0.1:18002;" <<<"$conf"; then
  echo "nginx-split.sh --print: upstreams missing" >&2; exit 1
fi
if ci/nginx-split.sh 80 127.0.0.1:1 127.0.0.1:2 >/dev/null 2>&1; then
  echo "nginx-split.sh accepted a privileged port" >&2; exit 1
fi

echo "== build: agent, ingest, loadgen (debug)"
cargo build -j2 -q -p procpulse-agent -p procpulse-ingest -p procpulse-loadgen

echo "== cargo test -p procpulse-loadgen"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test -j2 -q -p procpulse-loadgen -- --test-threads=2 2>&1 | tee "$log" || status=$?
passed=$(grep -o '[0-9]* passed' "$log" | awk '{s += $1} END {print s + 0}')
failed=$(grep -o '[0-9]* failed' "$log" | awk '{s += $1} END {print s + 0}')
echo "loadgen: $passed passed, $failed failed"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then
  echo "ci/test-loadgen.sh: FAILED" >&2
  exit 1
fi

echo "== ci/test-loadgen-csv.sh: --csv vs Locust"
ci/test-loadgen-csv.sh
echo "ci/test-loadgen.sh: OK"
