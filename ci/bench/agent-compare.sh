#!/usr/bin/env bash
# Benchmark: this checkout's procpulse-agent against the agent of an earlier commit, side
# by side on the same machine: GET /api/v1/snapshot under wrk on the real /proc (procfs
# source) and on the module-format fixture files (kmod source), rounds alternating
# before/after so drift hits both alike. Reports the median of the rounds.
#
#   ci/bench/agent-compare.sh REV   (AGENT_BENCH_SECONDS=20 AGENT_BENCH_CONNECTIONS=300
#                                    AGENT_BENCH_THREADS=2 AGENT_COMPARE_ROUNDS=3)
#
# REV is built in a git worktree under .cache/agent-before (own target directory, so
# this checkout's build is untouched). Both agents serve the snapshot they were built
# for (their default top size); bytes per snapshot are reported for each.
# Issue 13 bar: the v2 snapshot may cost at most 15 % more CPU per request.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
REV=${1:?usage: ci/bench/agent-compare.sh REV}
DUR=${AGENT_BENCH_SECONDS:-20}
CONNS=${AGENT_BENCH_CONNECTIONS:-300}
THREADS=${AGENT_BENCH_THREADS:-2}
ROUNDS=${AGENT_COMPARE_ROUNDS:-3}
PORT=${AGENT_BENCH_PORT:-18522}

ci/deps.sh base bench >/dev/null
git rev-parse --verify -q "$REV^{commit}" >/dev/null || { echo "agent-compare.sh: unknown commit $REV" >&2; exit 2; }
BEFORE_DIR=$ROOT/.cache/agent-before
if [ ! -d "$BEFORE_DIR/.git" ] && [ ! -f "$BEFORE_DIR/.git" ]; then
  git worktree add --detach "$BEFORE_DIR" "$REV" >/dev/null
else
  git -C "$BEFORE_DIR" checkout -q --detach "$REV"
fi
echo "agent-compare.sh: building $REV in $BEFORE_DIR and this checkout ($(git rev-parse --short HEAD)$(git diff --quiet || echo +dirty))" >&2
(cd "$BEFORE_DIR" && CARGO_TARGET_DIR=$ROOT/.cache/agent-before-target cargo build --release -j2 -q -p procpulse-agent)
cargo build --release -j2 -q -p procpulse-agent
declare -A BIN=([before]=$ROOT/.cache/agent-before-target/release/procpulse-agent
  [after]=$(ci/target-dir.sh)/release/procpulse-agent)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/agent-compare.XXXXXX")
AGENT_PID=""
cleanup() {
  [ -z "$AGENT_PID" ] || { kill "$AGENT_PID" 2>/dev/null; wait "$AGENT_PID" 2>/dev/null; } || true
  rm -rf "$WORK"
}
trap cleanup EXIT
# shellcheck source=wrk-lib.sh
. ci/bench/wrk-lib.sh
cp -r userland/agent/tests/fixtures/proc/kmod "$WORK/kmodroot"

declare -A CPU RPS_ALL P99_ALL BYTES
for round in $(seq 1 "$ROUNDS"); do
  for which in before after; do
    for src in procfs kmod; do
      args=(--listen "127.0.0.1:$PORT" --hostname bench)
      [ "$src" = procfs ] || args+=(--source kmod --proc-root "$WORK/kmodroot")
      "${BIN[$which]}" "${args[@]}" >"$WORK/$which-$src.log" 2>&1 &
      AGENT_PID=$!
      wait_http "http://127.0.0.1:$PORT/readyz"
      sleep 1.2 # one sampler interval, so modes and per-CPU figures are in the snapshot
      BYTES[$which-$src]=$(curl -fsS "http://127.0.0.1:$PORT/api/v1/snapshot" | wc -c)
      run_wrk "$which-$src-$round" "$AGENT_PID" "http://127.0.0.1:$PORT/api/v1/snapshot" 2>/dev/null
      CPU[$which-$src]+="$CPU_US_PER_REQ "; RPS_ALL[$which-$src]+="$RPS "; P99_ALL[$which-$src]+="$P99_MS "
      echo "round $round $which $src: $RPS req/s, p99 $P99_MS ms, $CPU_US_PER_REQ us CPU/req, ${BYTES[$which-$src]} B" >&2
      kill "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true; AGENT_PID=""
    done
  done
done

median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
echo
printf '%-8s %-7s %10s %9s %13s %8s\n' source build "req/s" "p99 ms" "us CPU/req" bytes
for src in procfs kmod; do
  for which in before after; do
    printf '%-8s %-7s %10s %9s %13s %8s\n' "$src" "$which" "$(median "${RPS_ALL[$which-$src]}")" \
      "$(median "${P99_ALL[$which-$src]}")" "$(median "${CPU[$which-$src]}")" "${BYTES[$which-$src]}"
  done
done
for src in procfs kmod; do
  b=$(median "${CPU[before-$src]}") a=$(median "${CPU[after-$src]}")
  echo "RESULT agent_${src}_cpu_per_request_before $b us"
  echo "RESULT agent_${src}_cpu_per_request_after $a us"
  echo "RESULT agent_${src}_cpu_per_request_change $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%+.1f", (a / b - 1) * 100 }') %"
  echo "RESULT agent_${src}_snapshot_bytes_before ${BYTES[before-$src]} B"
  echo "RESULT agent_${src}_snapshot_bytes_after ${BYTES[after-$src]} B"
done
