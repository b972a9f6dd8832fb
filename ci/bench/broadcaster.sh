#!/usr/bin/env bash
# Benchmark (docs/design.md §8, broadcaster): N concurrent WebSocket clients (default 10,000) on one
# broadcaster over SQLite at its default poll interval; rows inserted at a steady rate
# through the storage write path (ingest's), one transaction each. Measures, at every
# client, the time from just before each insert to delivery (p50/p99), the broadcaster's
# RSS growth per client, and its idle cost — CPU and database polls per second (one
# indexed query each) with no rows arriving, at 0 clients and with all N connected. Then,
# side by side, the same broadcaster polling every 2 s and 5 s — the intervals of the
# seeds' Socket.IO design, which polled the database every 2–5 s — with fewer clients, to
# show what the polling interval alone costs in latency.
#
# Usage: ci/bench/broadcaster.sh
# Env: BENCH_CLIENTS (10000), BENCH_SECONDS (30), BENCH_HOSTS (10 rows/s),
#      BENCH_POLL_MS (the binary's default), BENCH_IDLE_SECONDS (20; 0 skips the idle
#      measurements), BENCH_COMPARE_CLIENTS (1000; 0 skips the 2 s / 5 s comparison runs)
# The harness and the server share the machine's cores, and loopback TCP charges the
# receiving side's kernel work to the sender: the figures are an upper bound.
# Ends with RESULT lines. Bars: p99 < 250 ms and <= 12 KiB per client at 10,000 clients.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
CLIENTS=${BENCH_CLIENTS:-10000}
RUN_SECONDS=${BENCH_SECONDS:-30}
HOSTS=${BENCH_HOSTS:-10}
COMPARE_CLIENTS=${BENCH_COMPARE_CLIENTS:-1000}
POLL_MS=${BENCH_POLL_MS:-}
IDLE_SECONDS=${BENCH_IDLE_SECONDS:-20}

"$ROOT/ci/deps.sh" base >&2
cargo build -j2 --release -p procpulse-broadcaster --bin procpulse-broadcaster --example ws_bench >&2
TARGET=$(ci/target-dir.sh)
BIN="$TARGET/release/procpulse-broadcaster"
HARNESS="$TARGET/release/examples/ws_bench"

# Each client is one socket in both processes.
ulimit -n "$(( CLIENTS * 2 + 4096 ))" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -gt "$CLIENTS" ] || { echo "broadcaster.sh: ulimit -n $(ulimit -n) is below $CLIENTS" >&2; exit 1; }
# 10,000 connections from one source address fit the default ephemeral range (28,000
# ports); spread over several loopback addresses when more are asked for.
SOURCES=$(( CLIENTS / 20000 + 1 ))

WORK=$(mktemp -d /tmp/procpulse-bench-bcast.XXXXXX)
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=../lib.sh
. "$ROOT/ci/lib.sh" # free_port, wait_http

# run_one NAME POLL_MS CLIENTS -> writes $WORK/NAME.out
# (POLL_MS empty: the binary's default interval) [IDLE_SECONDS]
run_one() {
  local name=$1 poll=$2 clients=$3 idle=${4:-0} port db poll_flag=()
  port=$(free_port)
  db="sqlite://$WORK/$name.db"
  [ -n "$poll" ] && poll_flag=(--poll-interval-ms "$poll")
  RUST_LOG=warn "$BIN" --listen "127.0.0.1:$port" --database-url "$db" "${poll_flag[@]}" --max-clients "$clients" \
    >"$WORK/$name.server.log" 2>&1 &
  SERVER_PID=$!
  wait_http "http://127.0.0.1:$port/readyz" 10
  # The binary's own default, as its --help states it (defined once, in the binary).
  [ -n "$poll" ] || poll=$("$BIN" --help | grep -A4 -- '--poll-interval-ms' | sed -n 's/.*\[default: \([0-9]*\)\].*/\1/p' | head -1)
  echo "broadcaster.sh: $name: $clients clients, poll ${poll} ms, $HOSTS rows/s for ${RUN_SECONDS}s" >&2
  local s0 s1
  s0=$(cpu_seconds "$SERVER_PID")
  { TIMEFORMAT='harness_cpu_s %U %S'; time "$HARNESS" --addr "127.0.0.1:$port" --database-url "$db" --server-pid "$SERVER_PID" \
    --clients "$clients" --hosts "$HOSTS" --seconds "$RUN_SECONDS" --source-addrs "$SOURCES" \
    --drain-seconds "$(( poll / 1000 + 3 ))" --idle-seconds "$idle" >"$WORK/$name.out"; } 2>"$WORK/$name.time" ||
    { echo "broadcaster.sh: the harness failed:" >&2; cat "$WORK/$name.time" >&2; exit 1; }
  s1=$(cpu_seconds "$SERVER_PID")
  awk '$1 == "harness_cpu_s" { printf "harness_cpu_s %.2f\n", $2 + $3 }' "$WORK/$name.time" >>"$WORK/$name.out"
  awk -v a="$s0" -v b="$s1" 'BEGIN { printf "server_cpu_s %.2f\n", b - a }' >>"$WORK/$name.out"
  cat "$WORK/$name.out" >&2
  curl -fsS "http://127.0.0.1:$port/metrics" | grep -E '^procpulse_broadcaster_(clients|lagged_total|dropped_clients_total|frames_sent_total) ' >&2 || true
  kill -TERM "$SERVER_PID"
  local rc=0
  wait "$SERVER_PID" || rc=$?
  SERVER_PID=""
  [ "$rc" -eq 0 ] || { echo "broadcaster.sh: broadcaster exited $rc on SIGTERM" >&2; tail -20 "$WORK/$name.server.log" >&2; exit 1; }
}
val() { awk -v k="$2" '$1 == k {print $2}' "$WORK/$1.out"; }

run_one main "$POLL_MS" "$CLIENTS" "$IDLE_SECONDS"
if [ "$COMPARE_CLIENTS" -gt 0 ]; then
  run_one poll2s 2000 "$COMPARE_CLIENTS"
  run_one poll5s 5000 "$COMPARE_CLIENTS"
fi

failed=$(val main clients_failed)
[ "$failed" = 0 ] || { echo "broadcaster.sh: $failed clients failed" >&2; exit 1; }
echo "RESULT broadcaster_clients $(val main clients) clients"
echo "RESULT broadcaster_connect_time $(val main connect_seconds) s"
echo "RESULT broadcaster_memory_per_client $(val main kib_per_client) KiB"
echo "RESULT broadcaster_rss_with_clients $(( $(val main rss_end_kb) / 1024 )) MiB"
echo "RESULT broadcaster_commit_to_delivery_p50 $(val main latency_p50_ms) ms"
echo "RESULT broadcaster_commit_to_delivery_p99 $(val main latency_p99_ms) ms"
echo "RESULT broadcaster_commit_to_delivery_max $(val main latency_max_ms) ms"
echo "RESULT broadcaster_rows_per_client_min $(val main min_rows_per_client) rows_of_$(val main rows_inserted)"
echo "RESULT broadcaster_harness_cpu $(val main harness_cpu_s) s"
echo "RESULT broadcaster_server_cpu $(val main server_cpu_s) s"
if [ "$IDLE_SECONDS" -gt 0 ]; then
  echo "RESULT broadcaster_idle_0_clients_cpu $(val main idle_0_clients_cpu_percent) %core"
  echo "RESULT broadcaster_idle_0_clients_polls $(val main idle_0_clients_polls_per_second) queries/s"
  echo "RESULT broadcaster_idle_${CLIENTS}_clients_cpu $(val main idle_all_clients_cpu_percent) %core"
  echo "RESULT broadcaster_idle_${CLIENTS}_clients_polls $(val main idle_all_clients_polls_per_second) queries/s"
fi
if [ "$COMPARE_CLIENTS" -gt 0 ]; then
  echo "RESULT poll_2s_commit_to_delivery_p50 $(val poll2s latency_p50_ms) ms"
  echo "RESULT poll_2s_commit_to_delivery_p99 $(val poll2s latency_p99_ms) ms"
  echo "RESULT poll_5s_commit_to_delivery_p50 $(val poll5s latency_p50_ms) ms"
  echo "RESULT poll_5s_commit_to_delivery_p99 $(val poll5s latency_p99_ms) ms"
  python3 - "$(val main latency_p99_ms)" "$(val poll2s latency_p99_ms)" "$(val poll5s latency_p99_ms)" <<'PY'
import sys
ours, p2, p5 = map(float, sys.argv[1:])
print(f"RESULT p99_ratio_poll_2s_vs_default {p2/ours:.1f} x")
print(f"RESULT p99_ratio_poll_5s_vs_default {p5/ours:.1f} x")
PY
fi
