#!/usr/bin/env bash
# Benchmark: procpulse-agent GET /api/v1/snapshot under wrk, side by side with Debian's
# prometheus-node-exporter GET /metrics on the same machine, plus the agent's idle cost.
#
#   ci/bench/agent.sh     (AGENT_BENCH_SECONDS=30 AGENT_BENCH_CONNECTIONS=300
#                          AGENT_BENCH_IDLE_SECONDS=60 AGENT_BENCH_THREADS=2)
#
# Both servers read the real /proc of this machine (the agent in its procfs fallback
# unless the procpulse modules are loaded). wrk and the server share the 2 cores.
# CPU time per request = (utime+stime of the server process from /proc/<pid>/stat,
# after - before) / requests wrk completed. node_exporter runs twice: with its default
# collectors (what a fleet runs) and with only the collectors that cover a snapshot's
# content (cpu, stat, meminfo, loadavg).
# SPEC §8 bar: >= 20,000 snapshots/s with 300 connections, p99 < 10 ms; idle < 0.5 % of
# a core and < 15 MB RSS. Ends with RESULT lines.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
DUR=${AGENT_BENCH_SECONDS:-30}
CONNS=${AGENT_BENCH_CONNECTIONS:-300}
THREADS=${AGENT_BENCH_THREADS:-2}
IDLE=${AGENT_BENCH_IDLE_SECONDS:-60}
AGENT_PORT=${AGENT_BENCH_PORT:-18520}
NODE_PORT=${AGENT_BENCH_NODE_PORT:-18521}

ci/deps.sh base bench >/dev/null
cargo build --release -j2 -q -p procpulse-agent
AGENT_BIN=$ROOT/target/release/procpulse-agent
WORK=$(mktemp -d "${TMPDIR:-/tmp}/agent-bench.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

ticks() { # utime+stime of a pid, clock ticks
  local s; s=$(cat "/proc/$1/stat"); s=${s##*) }
  awk '{print $12 + $13}' <<<"$s"
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
HZ=$(getconf CLK_TCK)

wait_http() { # url
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "agent.sh: $1 never answered" >&2; return 1
}

to_ms() { # wrk latency like 1.23ms / 456.00us / 1.01s
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
    else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.3f", v * 60000 }
    else { sub(/s$/, "", v); printf "%.3f", v * 1000 } }'
}

# run_wrk NAME PID URL → sets RPS, P99_MS, CPU_US_PER_REQ, REQS
run_wrk() {
  local name=$1 pid=$2 url=$3 out=$WORK/$1.wrk
  local t0; t0=$(ticks "$pid")
  wrk -t"$THREADS" -c"$CONNS" -d"${DUR}s" --timeout 10s --latency "$url" >"$out"
  local t1; t1=$(ticks "$pid")
  RPS=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  REQS=$(awk '/requests in/ {print $1}' "$out")
  P99_MS=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
  local errs; errs=$(awk '/Non-2xx|Socket errors/' "$out")
  CPU_US_PER_REQ=$(awk -v a="$t0" -v b="$t1" -v hz="$HZ" -v n="$REQS" \
    'BEGIN { printf "%.2f", (b - a) / hz * 1e6 / n }')
  echo "== $name: $url" >&2
  cat "$out" >&2
  [ -z "$errs" ] || echo "agent.sh: $name had errors: $errs" >&2
}

# --- the agent under load
"$AGENT_BIN" --listen "127.0.0.1:$AGENT_PORT" --hostname bench >"$WORK/agent.log" 2>&1 &
AGENT_PID=$!; PIDS+=("$AGENT_PID")
wait_http "http://127.0.0.1:$AGENT_PORT/readyz"
curl -fsS "http://127.0.0.1:$AGENT_PORT/api/v1/snapshot" >"$WORK/sample.json"
SOURCE=$(jq -r .source "$WORK/sample.json")
SNAP_BYTES=$(wc -c <"$WORK/sample.json")
run_wrk agent "$AGENT_PID" "http://127.0.0.1:$AGENT_PORT/api/v1/snapshot"
A_RPS=$RPS A_P99=$P99_MS A_CPU=$CPU_US_PER_REQ
A_RSS_LOADED=$(rss_kb "$AGENT_PID")

# --- the agent's own overhead: module-format files (the kmod fixture tree in a temp dir,
# regular files, so no kernel-side generation cost), for comparison with the real path.
kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true
cp -r userland/agent/tests/fixtures/proc/kmod "$WORK/kmodroot"
"$AGENT_BIN" --listen "127.0.0.1:$AGENT_PORT" --hostname bench --source kmod \
  --proc-root "$WORK/kmodroot" >"$WORK/agent-kmod.log" 2>&1 &
AGENT_PID=$!; PIDS+=("$AGENT_PID")
wait_http "http://127.0.0.1:$AGENT_PORT/readyz"
run_wrk agent_kmod_files "$AGENT_PID" "http://127.0.0.1:$AGENT_PORT/api/v1/snapshot"
K_RPS=$RPS K_P99=$P99_MS K_CPU=$CPU_US_PER_REQ

# --- node_exporter, default collectors
prometheus-node-exporter --web.listen-address="127.0.0.1:$NODE_PORT" --web.max-requests=0 \
  --collector.textfile.directory="$WORK" >"$WORK/node.log" 2>&1 &
NODE_PID=$!; PIDS+=("$NODE_PID")
wait_http "http://127.0.0.1:$NODE_PORT/metrics"
run_wrk node_default "$NODE_PID" "http://127.0.0.1:$NODE_PORT/metrics"
N_RPS=$RPS N_P99=$P99_MS N_CPU=$CPU_US_PER_REQ
kill "$NODE_PID"; wait "$NODE_PID" 2>/dev/null || true

# --- node_exporter, only the collectors that cover a snapshot
prometheus-node-exporter --web.listen-address="127.0.0.1:$NODE_PORT" --web.max-requests=0 \
  --collector.disable-defaults --collector.cpu --collector.stat --collector.meminfo \
  --collector.loadavg --web.disable-exporter-metrics >"$WORK/node-min.log" 2>&1 &
NODE_PID=$!; PIDS+=("$NODE_PID")
wait_http "http://127.0.0.1:$NODE_PORT/metrics"
run_wrk node_minimal "$NODE_PID" "http://127.0.0.1:$NODE_PORT/metrics"
M_RPS=$RPS M_P99=$P99_MS M_CPU=$CPU_US_PER_REQ
kill "$NODE_PID"; wait "$NODE_PID" 2>/dev/null || true

# --- the agent idle: a fresh process on /proc, sampled every second
kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true
"$AGENT_BIN" --listen "127.0.0.1:$AGENT_PORT" --hostname bench >"$WORK/agent-idle.log" 2>&1 &
AGENT_PID=$!; PIDS+=("$AGENT_PID")
wait_http "http://127.0.0.1:$AGENT_PORT/readyz"
t0=$(ticks "$AGENT_PID"); max_rss=0
for _ in $(seq 1 "$IDLE"); do
  sleep 1
  r=$(rss_kb "$AGENT_PID"); [ "$r" -gt "$max_rss" ] && max_rss=$r
done
t1=$(ticks "$AGENT_PID")
IDLE_CPU=$(awk -v a="$t0" -v b="$t1" -v hz="$HZ" -v s="$IDLE" 'BEGIN { printf "%.3f", (b - a) / hz / s * 100 }')
IDLE_RSS_MB=$(awk -v k="$max_rss" 'BEGIN { printf "%.1f", k / 1024 }')

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
cat <<EOF2

agent: source=$SOURCE, snapshot ${SNAP_BYTES} bytes, ${CONNS} connections, ${DUR}s, wrk -t$THREADS
  agent GET /api/v1/snapshot      ${A_RPS} req/s  p99 ${A_P99} ms  ${A_CPU} us CPU/req  (RSS under load $((A_RSS_LOADED / 1024)) MB)
  agent, module-format files      ${K_RPS} req/s  p99 ${K_P99} ms  ${K_CPU} us CPU/req  (fixture tree, not real modules)
  node_exporter /metrics default  ${N_RPS} req/s  p99 ${N_P99} ms  ${N_CPU} us CPU/req
  node_exporter /metrics minimal  ${M_RPS} req/s  p99 ${M_P99} ms  ${M_CPU} us CPU/req
  idle over ${IDLE}s: ${IDLE_CPU} % of a core, max RSS ${IDLE_RSS_MB} MB
EOF2
echo "RESULT agent_snapshot_rps $A_RPS req/s"
echo "RESULT agent_snapshot_p99 $A_P99 ms"
echo "RESULT agent_cpu_per_request $A_CPU us"
echo "RESULT agent_kmod_files_rps $K_RPS req/s"
echo "RESULT agent_kmod_files_p99 $K_P99 ms"
echo "RESULT agent_kmod_files_cpu_per_request $K_CPU us"
echo "RESULT node_exporter_default_rps $N_RPS req/s"
echo "RESULT node_exporter_default_cpu_per_request $N_CPU us"
echo "RESULT node_exporter_minimal_cpu_per_request $M_CPU us"
echo "RESULT node_exporter_default_vs_agent_cpu_per_request_ratio $(ratio "$N_CPU" "$A_CPU") x"
echo "RESULT node_exporter_minimal_vs_agent_cpu_per_request_ratio $(ratio "$M_CPU" "$A_CPU") x"
echo "RESULT agent_idle_cpu $IDLE_CPU %core"
echo "RESULT agent_idle_rss $IDLE_RSS_MB MB"
