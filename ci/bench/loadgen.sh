#!/usr/bin/env bash
# Benchmark: procpulse-loadgen (goose) vs Locust (HttpUser and FastHttpUser), same target,
# same users, same duration, one core each.
#
# Target: a private nginx serving one static, valid snapshot at /api/v1/snapshot, pinned
# to core 0, so the target is not the bottleneck and all three generators face the same
# server. Each generator runs the collect phase (GET, parse, validate, de-duplicate by
# sample_id) with no wait, pinned to core 1 (taskset -c 1). Requests/s is each tool's
# own count over its own run; CPU seconds are user+sys of the generator process tree, and
# CPU seconds per 10,000 requests is the figure least disturbed by other load on the
# machine. Rounds are interleaved (goose, HttpUser, FastHttpUser, goose, ...); the best
# round of each generator is reported.
#
#   ci/bench/loadgen.sh   (LOADGEN_BENCH_SECONDS=20 LOADGEN_BENCH_USERS=300 LOADGEN_BENCH_ROUNDS=2)
#
# Ends with RESULT lines; bar (docs/design.md §8): >= 10x Locust HttpUser, >= 2x
# FastHttpUser (issue #5).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
SECONDS_EACH=${LOADGEN_BENCH_SECONDS:-20}
USERS=${LOADGEN_BENCH_USERS:-300}
PORT=${LOADGEN_BENCH_PORT:-18380}
ROUNDS=${LOADGEN_BENCH_ROUNDS:-2}

ci/deps.sh base db >/dev/null
# The pinned Locust, shared with ci/test-loadgen-csv.sh.
VENV=$("$ROOT/ci/venv.sh" locust "$ROOT/userland/loadgen/bench/requirements.txt")
cargo build --release -j2 -q -p procpulse-loadgen
LOADGEN=$(ci/target-dir.sh)/release/procpulse-loadgen

WORK=$(mktemp -d "${TMPDIR:-/tmp}/loadgen-bench.XXXXXX")
chmod 711 "$WORK"
NGINX_PID=""
cleanup() {
  [ -n "$NGINX_PID" ] && kill -QUIT "$NGINX_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# One valid snapshot (docs/design.md §3), taken a minute ago.
now=$(date -u -d '-1 minute' +%Y-%m-%dT%H:%M:%S.000Z)
cat >"$WORK/snapshot.json" <<JSON
{"sample_id":"bench-static-000000001","host":"bench","collected_at":"$now","source":"procfs","cpu":{"usage_percent":12.5,"cores":2,"load1":0.5,"load5":0.4,"load15":0.3},"ram":{"total_kb":24000000,"free_kb":20000000,"available_kb":21000000,"used_kb":3000000,"cached_kb":500000,"swap_total_kb":0,"swap_free_kb":0,"used_percent":12.5},"procs":{"total":120,"running":2,"sleeping":100,"disk_sleep":0,"stopped":0,"traced":0,"zombie":0,"dead":0,"idle":18,"threads":300},"top":[{"pid":1,"ppid":0,"comm":"init","state":"S","rss_kb":9000,"cpu_percent":0.0}]}
JSON
chmod 644 "$WORK/snapshot.json"
user_line=""; [ "$(id -u)" -eq 0 ] && user_line="user nobody nogroup;"
mkdir -p "$WORK/tmp"; [ "$(id -u)" -eq 0 ] && chown nobody:nogroup "$WORK/tmp"
cat >"$WORK/nginx.conf" <<CONF
$user_line
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path $WORK/tmp/body;
  proxy_temp_path $WORK/tmp/proxy;
  fastcgi_temp_path $WORK/tmp/fastcgi;
  uwsgi_temp_path $WORK/tmp/uwsgi;
  scgi_temp_path $WORK/tmp/scgi;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$PORT;
    location = /api/v1/snapshot { default_type application/json; alias $WORK/snapshot.json; }
  }
}
CONF
taskset -c 0 nginx -p "$WORK" -e "$WORK/error.log" -c "$WORK/nginx.conf"
for _ in $(seq 50); do [ -s "$WORK/nginx.pid" ] && break; sleep 0.1; done
NGINX_PID=$(cat "$WORK/nginx.pid")
curl -fsS "http://127.0.0.1:$PORT/api/v1/snapshot" >/dev/null
HOST="http://127.0.0.1:$PORT"
# The cores are shared with whatever else runs: say how busy the machine was.
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# measure NAME CMD... : runs CMD on core 1, records "user sys" CPU seconds of its tree.
measure() {
  local name=$1; shift
  echo "== $name: $* " >&2
  local TIMEFORMAT='%U %S'
  { time taskset -c 1 "$@" >"$WORK/$name.log" 2>&1; } 2>"$WORK/$name.time" || {
    echo "$name failed:" >&2; tail -20 "$WORK/$name.log" >&2; exit 1; }
  awk '{printf "%.2f", $1 + $2}' "$WORK/$name.time" >"$WORK/$name.cpu"
}

goose_run() { # NAME -> appends "NAME requests rps cpu failed" to results
  measure "$1" "$LOADGEN" collect --host "$HOST" --users "$USERS" --increase-rate "$USERS" \
    --run-time "${SECONDS_EACH}s" --wait 0s --target-records 1000000000 \
    --out "$WORK/$1.ndjson" --no-print-metrics -q
  # "collect: 1 of ... | requests N (R/s over S s) | invalid I | duplicates D | failed F"
  sed -n 's/.*| requests \([0-9]*\) (\([0-9.]*\)\/s over [0-9.]* s) | invalid \([0-9]*\) | duplicates [0-9]* | failed \([0-9]*\).*/\1 \2 \3 \4/p' "$WORK/$1.log" |
    while read -r n rps invalid failed; do
      echo "goose $n $rps $(cat "$WORK/$1.cpu") $((invalid + failed))"
    done >>"$WORK/results"
}
locust_run() { # NAME CLIENT -> appends "locust_CLIENT requests rps cpu failed" to results
  LOCUST_PHASE=collect LOCUST_CLIENT=$2 LOCUST_WAIT=0,0 LOCUST_TARGET_RECORDS=1000000000 \
    LOCUST_OUT="$WORK/$1.ndjson" \
    measure "$1" "$VENV/bin/locust" -f userland/loadgen/bench/locustfile.py --headless \
    -u "$USERS" -r "$USERS" -t "${SECONDS_EACH}s" -H "$HOST" --csv "$WORK/$1" --only-summary \
    --loglevel WARNING
  python3 - "$WORK/$1_stats.csv" "locust_$2" "$(cat "$WORK/$1.cpu")" >>"$WORK/results" <<'PY'
import csv, sys
for row in csv.DictReader(open(sys.argv[1])):
    if row["Name"] == "Aggregated":
        print(sys.argv[2], row["Request Count"], "%.1f" % float(row["Requests/s"]), sys.argv[3],
              row["Failure Count"])
PY
}
# Interleaved rounds, so a change in the machine's load hits every generator alike.
: >"$WORK/results"
for round in $(seq "$ROUNDS"); do
  goose_run "goose-$round"
  locust_run "locust_http-$round" http
  locust_run "locust_fast-$round" fast
done
# best TOOL -> "requests rps cpu failed" of its fastest round
best() { awk -v t="$1" '$1 == t && $3 > r { r = $3; l = $2 " " $3 " " $4 " " $5 } END { print l }' "$WORK/results"; }
read -r goose_requests goose_rps goose_cpu goose_failed < <(best goose)
read -r http_requests http_rps http_cpu http_failed < <(best locust_http)
read -r fast_requests fast_rps fast_cpu fast_failed < <(best locust_fast)

for v in goose_requests goose_rps http_requests http_rps fast_requests fast_rps; do
  [ -n "${!v:-}" ] && [ "${!v%.*}" -gt 0 ] || { echo "no figure for $v" >&2; exit 1; }
done
per10k() { awk -v c="$1" -v n="$2" 'BEGIN { printf "%.2f", c * 10000 / n }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
goose_10k=$(per10k "$goose_cpu" "$goose_requests")
http_10k=$(per10k "$http_cpu" "$http_requests")
fast_10k=$(per10k "$fast_cpu" "$fast_requests")

echo
echo "all rounds (tool requests req/s cpu-seconds failed):"
sed 's/^/  /' "$WORK/results"
echo "best round of each:"
printf '%-22s %10s %10s %12s %12s %8s\n' generator requests req/s cpu-seconds cpu-s/10k failed
printf '%-22s %10s %10s %12s %12s %8s\n' "procpulse-loadgen" "$goose_requests" "$goose_rps" "$goose_cpu" "$goose_10k" "$goose_failed"
printf '%-22s %10s %10s %12s %12s %8s\n' "locust HttpUser" "$http_requests" "$http_rps" "$http_cpu" "$http_10k" "$http_failed"
printf '%-22s %10s %10s %12s %12s %8s\n' "locust FastHttpUser" "$fast_requests" "$fast_rps" "$fast_cpu" "$fast_10k" "$fast_failed"
echo "(target: nginx static snapshot on core 0; generators on core 1; $USERS users, ${SECONDS_EACH}s each,"
echo " no wait, best of $ROUNDS interleaved rounds; load average after: $(cut -d' ' -f1-3 /proc/loadavg))"
echo
echo "RESULT loadgen_goose_rps $goose_rps req/s"
echo "RESULT loadgen_locust_http_rps $http_rps req/s"
echo "RESULT loadgen_locust_fast_rps $fast_rps req/s"
echo "RESULT loadgen_goose_cpu_per_10k $goose_10k cpu-s"
echo "RESULT loadgen_locust_http_cpu_per_10k $http_10k cpu-s"
echo "RESULT loadgen_locust_fast_cpu_per_10k $fast_10k cpu-s"
echo "RESULT loadgen_vs_locust_http $(ratio "$goose_rps" "$http_rps") x"
echo "RESULT loadgen_vs_locust_fast $(ratio "$goose_rps" "$fast_rps") x"
echo "RESULT loadgen_vs_locust_http_cpu $(ratio "$http_10k" "$goose_10k") x"
echo "RESULT loadgen_vs_locust_fast_cpu $(ratio "$fast_10k" "$goose_10k") x"
