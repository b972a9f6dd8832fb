#!/usr/bin/env bash
# Benchmark (issue 16, alerts): what evaluating 20 rules over 1,000 hosts costs.
#   1. the evaluator alone: CPU nanoseconds per sample (userland/alerts/examples/eval_cost.rs:
#      1,000 hosts at 1 Hz, the 20 rules of userland/alerts/bench/rules-20.toml, values
#      random-walking across the thresholds; the loop building the samples is timed alone
#      and subtracted);
#   2. the pipeline with and without it, side by side: the release ingest (route b,
#      batched, SQLite — the embedded default) under ci/bench/ingest.sh's load client
#      (ALERTS_BENCH_CLIENTS clients, v2 snapshots spread over ALERTS_BENCH_HOSTS hosts,
#      each collected when sent) for ALERTS_BENCH_SECONDS, with the release broadcaster
#      following the same database (500 ms polls, as deployed): "without" (no rules) and
#      "with" (--alert-rules rules-20.toml, delivering to a real Alertmanager on loopback:
#      three of the rules fire on every host of this load, so ~3,000 alerts are sent and
#      re-sent each minute). ALERTS_BENCH_ROUNDS rounds, the two runs alternating.
#      Reported: ingest rows/s (median of rounds, and with ÷ without), the broadcaster's
#      CPU per delivered row (its /proc stat, real CLK_TCK), and rows evaluated.
#
#   ci/bench/alerts.sh
#
# Env: ALERTS_BENCH_SAMPLES (5000000), ALERTS_BENCH_SECONDS (60), ALERTS_BENCH_ROUNDS (3),
#      ALERTS_BENCH_CLIENTS (150), ALERTS_BENCH_HOSTS (1000). Ends with RESULT lines.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
SAMPLES=${ALERTS_BENCH_SAMPLES:-5000000}
SECONDS_PER_RUN=${ALERTS_BENCH_SECONDS:-60}
ROUNDS=${ALERTS_BENCH_ROUNDS:-3}
CLIENTS=${ALERTS_BENCH_CLIENTS:-150}
HOSTS=${ALERTS_BENCH_HOSTS:-1000}
RULES=$ROOT/userland/alerts/bench/rules-20.toml

# shellcheck source=../lib.sh
. "$ROOT/ci/lib.sh"
log() { ci_log "$@"; }
ci/deps.sh base sqlite alerts >/dev/null
log "building (release)"
cargo build --release -j2 -q -p procpulse-alerts --example eval_cost \
  -p procpulse-ingest --bin procpulse-ingest --example ingest_load \
  -p procpulse-broadcaster --bin procpulse-broadcaster
TARGET=$(ci/target-dir.sh)
EVAL=$TARGET/release/examples/eval_cost
INGEST=$TARGET/release/procpulse-ingest
LOAD=$TARGET/release/examples/ingest_load
BCAST=$TARGET/release/procpulse-broadcaster
AM=/usr/bin/prometheus-alertmanager
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/alerts-bench.XXXXXX")
PIDS=()
stop_all() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
}
AM_PID=""
cleanup() { # also on a failure half-way: no server (Alertmanager included) outlives the run
  stop_all
  if [ -n "$AM_PID" ]; then kill -TERM "$AM_PID" 2>/dev/null || true; wait "$AM_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

metric() { # url name → value (0 when absent)
  curl -fsS "$1/metrics" | awk -v n="$2" '$1 == n { print $2; found = 1 } END { if (!found) print 0 }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

# --- 1. the evaluator alone ------------------------------------------------------------
log "evaluator: $HOSTS hosts, $(grep -c '^\[\[rule\]\]' "$RULES") rules, $SAMPLES samples"
eval_json=$("$EVAL" --hosts "$HOSTS" --samples "$SAMPLES" --rules "$RULES")
log "evaluator: $eval_json"

# --- 2. the pipeline with and without rules --------------------------------------------
AM_PORT=$(free_port)
mkdir -p "$WORK/am"
cat >"$WORK/am/alertmanager.yml" <<EOF
route:
  receiver: blackhole
  group_by: ['alertname', 'host']
receivers:
  - name: blackhole
EOF

# run MODE ROUND: one load run; appends "rows/s bcast-µs/row evaluated" to $WORK/runs.MODE.
run() {
  local mode=$1 round=$2 db="$WORK/run.db" ip bp flags=() json
  rm -f "$db" "$db-wal" "$db-shm"
  ip=$(free_port); bp=$(free_port)
  "$INGEST" --listen "127.0.0.1:$ip" --database-url "sqlite://$db" --route b \
    --write-mode batched --log-format json 2>"$WORK/ingest.$mode.$round.log" &
  local ingest_pid=$!; PIDS+=("$ingest_pid")
  wait_http "http://127.0.0.1:$ip/readyz" 60
  if [ "$mode" = with ]; then
    flags=(--alert-rules "$RULES" --alertmanager-url "http://127.0.0.1:$AM_PORT")
  fi
  "$BCAST" --listen "127.0.0.1:$bp" --database-url "sqlite://$db" --log-format json \
    "${flags[@]}" 2>"$WORK/broadcaster.$mode.$round.log" &
  local bcast_pid=$!; PIDS+=("$bcast_pid")
  wait_http "http://127.0.0.1:$bp/readyz" 60
  local b0 b1 rows evaluated
  b0=$(cpu_seconds "$bcast_pid")
  json=$("$LOAD" --target "127.0.0.1:$ip" --clients "$CLIENTS" --seconds "$SECONDS_PER_RUN" \
    --prefix "alerts-$mode-$round-$$" --snapshot v2 --hosts "$HOSTS")
  sleep 2 # the broadcaster's last polls
  b1=$(cpu_seconds "$bcast_pid")
  rows=$(metric "http://127.0.0.1:$bp" procpulse_broadcaster_rows_delivered_total)
  evaluated=$(metric "http://127.0.0.1:$bp" procpulse_broadcaster_alerts_samples_evaluated_total)
  local firing sent
  firing=$(metric "http://127.0.0.1:$bp" procpulse_broadcaster_alerts_firing)
  sent=$(metric "http://127.0.0.1:$bp" 'procpulse_broadcaster_alerts_delivered_total{receiver="alertmanager"}')
  stop_all
  local rps us
  rps=$(jq -r '.rows_per_second | floor' <<<"$json")
  us=$(awk -v a="$b0" -v b="$b1" -v n="$rows" 'BEGIN { printf "%.2f", (n > 0 ? (b - a) * 1e6 / n : 0) }')
  echo "$rps $us $evaluated" >>"$WORK/runs.$mode"
  log "$mode, round $round: ingest $rps rows/s (p99 $(jq -r '.p99_ms' <<<"$json") ms); broadcaster $(awk -v a="$b0" -v b="$b1" 'BEGIN{printf "%.1f", b-a}') CPU-s for $rows rows = $us µs/row; evaluated $evaluated, firing $firing, delivered to Alertmanager $sent; load $(cut -d' ' -f1-3 /proc/loadavg)"
}

[ -x "$AM" ] || { log "$AM missing (ci/deps.sh alerts)"; exit 1; }
"$AM" --config.file="$WORK/am/alertmanager.yml" --storage.path="$WORK/am/data" \
  --web.listen-address="127.0.0.1:$AM_PORT" --cluster.listen-address= 2>"$WORK/am.log" &
AM_PID=$!
wait_http "http://127.0.0.1:$AM_PORT/-/ready" 30
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then run without "$r"; run with "$r"; else run with "$r"; run without "$r"; fi
done
kill -TERM "$AM_PID" 2>/dev/null || true; wait "$AM_PID" 2>/dev/null || true
AM_PID=""

col() { awk -v c="$2" '{ print $c }' "$WORK/runs.$1" | median; }
rps_without=$(col without 1); rps_with=$(col with 1)
us_without=$(col without 2); us_with=$(col with 2)
echo "RESULT alerts_eval_ns_per_sample $(jq -r .evaluate_ns_per_sample <<<"$eval_json") ns ($(jq -r .rules <<<"$eval_json") rules, $(jq -r .hosts <<<"$eval_json") hosts; $(jq -r .changes <<<"$eval_json") changes in $(jq -r .samples <<<"$eval_json") samples)"
echo "RESULT alerts_eval_ns_per_rule $(jq -r .evaluate_ns_per_rule <<<"$eval_json") ns"
echo "RESULT alerts_ingest_rows_s_without $rps_without rows/s"
echo "RESULT alerts_ingest_rows_s_with $rps_with rows/s"
echo "RESULT alerts_ingest_with_over_without $(awk -v a="$rps_with" -v b="$rps_without" 'BEGIN { printf "%.3f", a / b }') ×"
echo "RESULT alerts_broadcaster_cpu_per_row_without $us_without µs"
echo "RESULT alerts_broadcaster_cpu_per_row_with $us_with µs"
echo "RESULT alerts_broadcaster_cpu_per_row_added $(awk -v a="$us_with" -v b="$us_without" 'BEGIN { printf "%.2f", a - b }') µs"
