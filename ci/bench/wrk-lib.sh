# shellcheck shell=bash
# Helpers shared by the agent benchmarks (ci/bench/agent.sh, ci/bench/agent-compare.sh):
# CPU ticks of a process, waiting for an HTTP endpoint, and one wrk run with the
# server's CPU time per request. Source it after setting WORK, THREADS, CONNS and DUR.

HZ=$(getconf CLK_TCK)

ticks() { # utime+stime of a pid, clock ticks
  local s; s=$(cat "/proc/$1/stat"); s=${s##*) }
  awk '{print $12 + $13}' <<<"$s"
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

wait_http() { # url
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "$(basename "$0"): $1 never answered" >&2; return 1
}

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
  [ -z "$errs" ] || echo "$(basename "$0"): $name had errors: $errs" >&2
}
