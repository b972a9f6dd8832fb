# shellcheck shell=bash
# Helpers shared by the agent benchmarks (ci/bench/agent.sh, ci/bench/agent-compare.sh):
# a process's RSS and one wrk run with the server's CPU time per request; it sources
# ci/lib.sh (cpu_seconds, wait_http: 10 s unless told). Source it after setting WORK,
# THREADS, CONNS and DUR.

# shellcheck source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

to_ms() { # wrk latency like 1.23ms / 456.00us / 1.01s
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
    else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.3f", v * 60000 }
    else { sub(/s$/, "", v); printf "%.3f", v * 1000 } }'
}

# run_wrk NAME PID URL → sets RPS, P99_MS, CPU_US_PER_REQ, REQS; wrk's output goes to
# stderr and $WORK/NAME.wrk.
# shellcheck disable=SC2034 # the results are read by the sourcing script
run_wrk() {
  local name=$1 pid=$2 url=$3 out=$WORK/$1.wrk
  local c0; c0=$(cpu_seconds "$pid")
  wrk -t"$THREADS" -c"$CONNS" -d"${DUR}s" --timeout 10s --latency "$url" >"$out"
  local c1; c1=$(cpu_seconds "$pid")
  RPS=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  REQS=$(awk '/requests in/ {print $1}' "$out")
  P99_MS=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
  local errs; errs=$(awk '/Non-2xx|Socket errors/' "$out")
  CPU_US_PER_REQ=$(awk -v a="$c0" -v b="$c1" -v n="$REQS" 'BEGIN { printf "%.2f", (b - a) * 1e6 / n }')
  echo "== $name: $url" >&2
  cat "$out" >&2
  [ -z "$errs" ] || echo "$(basename "$0"): $name had errors: $errs" >&2
}
