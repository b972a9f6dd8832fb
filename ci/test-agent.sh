#!/usr/bin/env bash
# Tests of the agent part: procpulse-model parsers (unit + proptest), procpulse-stress
# (real processes), procpulse-agent (in-process server on fixture trees and on this
# machine's /proc with procpulse-stress holding 5 zombies and 3 stopped processes,
# compared with `ps`, and the snapshot v2 fields against /proc and `ps`), then a smoke
# test of the real agent binary: env-var flags, every route, v2 fields, SIGTERM → exit 0.
#
#   ci/test-agent.sh
#
# Ends with "N passed, N failed" (steps). Exit status non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
ci/deps.sh base >/dev/null

# shellcheck source=lib.sh
. ci/lib.sh # step, step_summary, free_port, wait_http

# The live test runs the stress binary from the same target dir.
TARGET=$(ci/target-dir.sh)
step "build agent + stress" cargo build -j2 -q -p procpulse-agent -p procpulse-stress
step "procpulse-model tests" cargo test -j2 -q -p procpulse-model
step "procpulse-stress tests" cargo test -j2 -q -p procpulse-stress
step "procpulse-agent tests" cargo test -j2 -q -p procpulse-agent

smoke() {
  local work port pid rc
  work=$(mktemp -d "${TMPDIR:-/tmp}/agent-smoke.XXXXXX")
  port=$(free_port)
  PROCPULSE_LISTEN=127.0.0.1:$port PROCPULSE_SOURCE=procfs PROCPULSE_HOSTNAME=smoke-host \
    PROCPULSE_SAMPLE_INTERVAL_MS=200 PROCPULSE_THREADS=3 PROCPULSE_PIN_THREADS=true "$TARGET/debug/procpulse-agent" >"$work/log" 2>&1 &
  pid=$!
  local ok=1
  wait_http "http://127.0.0.1:$port/readyz" 10 || ok=0
  curl -fsS "http://127.0.0.1:$port/api/v1/snapshot" >"$work/snap.json" || ok=0
  jq -e '.host == "smoke-host" and .source == "procfs" and (.sample_id | test("^smoke-host-[0-9a-f]{6}-[0-9]{9}$")) and .procs.total > 0 and .ram.total_kb > 0' "$work/snap.json" >/dev/null || { echo "bad snapshot: $(cat "$work/snap.json")"; ok=0; }
  curl -fsS "http://127.0.0.1:$port/api/v1/processes?top=5&sort=rss" | jq -e '.processes | length == 5' >/dev/null || ok=0
  # Snapshot v2: modes once the sampler has a window (200 ms), one per_cpu entry per
  # online CPU, pressure iff /proc/pressure/cpu is readable, named top rows.
  sleep 0.5
  curl -fsS "http://127.0.0.1:$port/api/v1/snapshot" >"$work/v2.json" || ok=0
  local psi=false cpus_online
  cat /proc/pressure/cpu >/dev/null 2>&1 && psi=true
  cpus_online=$(grep -c '^cpu[0-9]' /proc/stat)
  jq -e --argjson psi "$psi" --argjson n "$cpus_online" '
    (.cpu.modes | [.user, .nice, .system, .idle, .iowait, .irq, .softirq, .steal] | add | . > 99.5 and . < 100.5)
    and (.cpu.per_cpu | length == $n) and ((.pressure != null) == $psi)
    and (.ram.buffers_kb != null) and (.top | length == 10)
    and (.top | all(.user != null and .threads >= 1 and .nice != null))' "$work/v2.json" >/dev/null \
    || { echo "bad v2 snapshot: $(cat "$work/v2.json")"; ok=0; }
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || ok=0
  # Saved first: `curl | grep -q` under pipefail fails when grep exits before curl is done.
  curl -fsS "http://127.0.0.1:$port/metrics" >"$work/metrics.txt" || ok=0
  grep -q '^procpulse_memory_total_bytes ' "$work/metrics.txt" || { echo "metrics lack host memory"; ok=0; }
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/nope")" = 404 ] || ok=0
  [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/api/v1/snapshot")" = 405 ] || ok=0
  # 3 server threads, each on its own SO_REUSEPORT socket; 60 connections, 60 distinct ids.
  [ "$(grep -c Listening "$work/log")" = 3 ] || { echo "expected 3 listening threads"; ok=0; }
  seq 60 | xargs -P 20 -I{} curl -fsS "http://127.0.0.1:$port/api/v1/snapshot" -o "$work/many.{}.json" || ok=0
  [ "$(cat "$work"/many.*.json | jq -r .sample_id | sort -u | wc -l)" = 60 ] || { echo "sample_ids not distinct"; ok=0; }
  # Pinning: server thread i on the i-th allowed CPU (round robin); the sampler at nice 10.
  local cpus; read -ra cpus < <(python3 -c 'import os; print(*sorted(os.sched_getaffinity(0)))')
  for t in /proc/"$pid"/task/*; do
    case "$(cat "$t/comm")" in
      agent-http-1) want=${cpus[$((1 % ${#cpus[@]}))]} ;;
      agent-http-2) want=${cpus[$((2 % ${#cpus[@]}))]} ;;
      *) continue ;;
    esac
    [ "$(awk '/^Cpus_allowed_list/ {print $2}' "$t/status")" = "$want" ] || { echo "$(cat "$t/comm") not pinned to CPU $want"; ok=0; }
  done
  awk '{ sub(/.*\) /, ""); print $17 }' /proc/"$pid"/task/*/stat | grep -qx 10 || { echo "no sampler thread at nice 10"; ok=0; }
  # A second agent on the same port is refused (SO_REUSEPORT must not let it join).
  if PROCPULSE_LISTEN=127.0.0.1:$port "$TARGET/debug/procpulse-agent" >"$work/second.log" 2>&1; then
    echo "a second agent started on a port in use"; ok=0
  fi
  grep -q "in use" "$work/second.log" || { echo "second agent: no 'in use' error: $(cat "$work/second.log")"; ok=0; }
  # More top rows than a snapshot may hold is refused with the range.
  if PROCPULSE_SNAPSHOT_TOP=51 "$TARGET/debug/procpulse-agent" >"$work/top51.log" 2>&1; then
    echo "--snapshot-top 51 accepted"; ok=0
  fi
  grep -q "0..=50" "$work/top51.log" || { echo "--snapshot-top 51: no range in the error: $(cat "$work/top51.log")"; ok=0; }
  kill -TERM "$pid"
  rc=0
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then echo "agent did not exit after SIGTERM"; kill -9 "$pid"; ok=0; fi
  wait "$pid" || rc=$?
  [ "$rc" = 0 ] || { echo "agent exited $rc after SIGTERM"; ok=0; }
  [ "$(grep -c "Server drained" "$work/log")" = 3 ] || { echo "not every server thread drained"; ok=0; }
  [ "$ok" = 1 ] || cat "$work/log"
  rm -rf "$work"
  [ "$ok" = 1 ]
}
step "agent binary smoke (flags via env, routes, SIGTERM exit 0)" smoke

echo
step_summary agent
