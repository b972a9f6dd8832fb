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
# The module path (module-format fixture files) is also measured against the same server
# answering /healthz, the cost of HTTP alone (goal: <= 1.3x its CPU per request).
# Bar (docs/design.md §8, the earlier version this script checks): >= 20,000 snapshots/s
# with 300 connections, p99 < 10 ms; idle < 0.5 % of a core and < 15 MB RSS. Ends with RESULT lines.
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR=${AGENT_BENCH_SECONDS:-30}
CONNS=${AGENT_BENCH_CONNECTIONS:-300}
THREADS=${AGENT_BENCH_THREADS:-2}
IDLE=${AGENT_BENCH_IDLE_SECONDS:-60}
AGENT_PORT=${AGENT_BENCH_PORT:-18520}
NODE_PORT=${AGENT_BENCH_NODE_PORT:-18521}

ci/deps.sh base bench >/dev/null
cargo build --release -j2 -q -p procpulse-agent
AGENT_BIN=$(ci/target-dir.sh)/release/procpulse-agent
WORK=$(mktemp -d "${TMPDIR:-/tmp}/agent-bench.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=wrk-lib.sh
. ci/bench/wrk-lib.sh # and through it ci/lib.sh: wait_http, cpu_seconds (the real CLK_TCK)

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
# The floor: the same server answering /healthz (a constant 200), i.e. the cost of HTTP
# alone, in the same run; the module path's CPU per snapshot over it (goal <= 1.3x).
run_wrk agent_healthz "$AGENT_PID" "http://127.0.0.1:$AGENT_PORT/healthz"
H_RPS=$RPS H_P99=$P99_MS H_CPU=$CPU_US_PER_REQ

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
c0=$(cpu_seconds "$AGENT_PID"); max_rss=0
for _ in $(seq 1 "$IDLE"); do
  sleep 1
  r=$(rss_kb "$AGENT_PID"); [ "$r" -gt "$max_rss" ] && max_rss=$r
done
c1=$(cpu_seconds "$AGENT_PID")
IDLE_CPU=$(awk -v a="$c0" -v b="$c1" -v s="$IDLE" 'BEGIN { printf "%.3f", (b - a) / s * 100 }')
IDLE_RSS_MB=$(awk -v k="$max_rss" 'BEGIN { printf "%.1f", k / 1024 }')

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
cat <<EOF2

agent: source=$SOURCE, snapshot ${SNAP_BYTES} bytes, ${CONNS} connections, ${DUR}s, wrk -t$THREADS
  agent GET /api/v1/snapshot      ${A_RPS} req/s  p99 ${A_P99} ms  ${A_CPU} us CPU/req  (RSS under load $((A_RSS_LOADED / 1024)) MB)
  agent, module-format files      ${K_RPS} req/s  p99 ${K_P99} ms  ${K_CPU} us CPU/req  (fixture tree, not real modules)
  agent GET /healthz (same server) ${H_RPS} req/s  p99 ${H_P99} ms  ${H_CPU} us CPU/req  (HTTP alone)
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
echo "RESULT agent_healthz_rps $H_RPS req/s"
echo "RESULT agent_healthz_cpu_per_request $H_CPU us"
echo "RESULT agent_kmod_files_vs_healthz_cpu_per_request_ratio $(awk -v a="$K_CPU" -v b="$H_CPU" 'BEGIN { printf "%.2f", a / b }') x"
echo "RESULT node_exporter_default_rps $N_RPS req/s"
echo "RESULT node_exporter_default_cpu_per_request $N_CPU us"
echo "RESULT node_exporter_minimal_cpu_per_request $M_CPU us"
echo "RESULT node_exporter_default_vs_agent_cpu_per_request_ratio $(ratio "$N_CPU" "$A_CPU") x"
echo "RESULT node_exporter_minimal_vs_agent_cpu_per_request_ratio $(ratio "$M_CPU" "$A_CPU") x"
echo "RESULT agent_idle_cpu $IDLE_CPU %core"
echo "RESULT agent_idle_rss $IDLE_RSS_MB MB"
