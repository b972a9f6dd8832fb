#!/usr/bin/env bash
# Benchmark: acknowledged rows/s, latency and CPU per row of procpulse-ingest (direct and
# batched) side by side with the seeds' own stacks — a Flask and an Express API doing one
# INSERT per request into the same `samples` table (ci/bench/baselines/) — and with the
# database's own ceiling (multi-row INSERTs from one local client, no HTTP), at this
# machine's flush latency and at a simulated 1 ms flush (ci/bench/slowsync/, an
# LD_PRELOAD shim under MariaDB: Cloud SQL's flush takes about a millisecond).
#
#   ci/bench/ingest.sh   (INGEST_BENCH_SECONDS=10 INGEST_BENCH_CLIENTS="150 1000"
#                         INGEST_BENCH_BACKENDS="mariadb sqlite"
#                         INGEST_BENCH_STACKS="flask express direct batched"
#                         INGEST_BENCH_FLUSH="native 1ms" INGEST_BENCH_LIMIT=1
#                         INGEST_BENCH_SNAPSHOT=v1|v2|v2-64)
#
# INGEST_BENCH_SNAPSHOT picks the body every client posts: v1 (default, the v1 fixture),
# v2 (model/tests/fixtures/snapshot_v2.json: 4 CPUs, modes, pressure, 3 top entries) or
# v2-64 (the same on a 64-CPU host). The baselines store v1 fields only: compare them on v1.
#
# The load client is userland/ingest/examples/ingest_load.rs (hyper, one keep-alive
# connection per client); it shares the machine's 2 cores with the server and the
# database. A request counts only when answered 200, i.e. after its commit; durability
# stays on (MariaDB innodb_flush_log_at_trx_commit=1, SQLite WAL with synchronous=FULL).
# After each run the stored row count is checked against the acknowledged count. Each run
# starts once the previous one's background flushing is done (settle). SQLite runs only
# procpulse's two modes (the seeds' stacks are MySQL applications), at the native flush.
#
# The limit: the rows procpulse batched stored in its run with the first client count, dumped
# (mariadb-dump, multi-row INSERTs of several sizes) and loaded into a fresh copy of the
# table (same indexes) by the `mariadb` client over the socket, each statement its own
# commit; the best size is the ceiling, and procpulse batched is reported as a percentage
# of it, with CPU per row split by process (where the rest goes).
# Bar (docs/design.md §8): measured beside the seeds' stacks and the ceiling, at both flush
# latencies. Ends with RESULT lines.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
DUR=${INGEST_BENCH_SECONDS:-10}
CLIENTS=${INGEST_BENCH_CLIENTS:-"150 1000"}
BACKENDS=${INGEST_BENCH_BACKENDS:-"mariadb sqlite"}
STACKS=${INGEST_BENCH_STACKS:-"flask express direct batched"}
FLUSHES=${INGEST_BENCH_FLUSH:-"native 1ms"}
LIMIT=${INGEST_BENCH_LIMIT:-1}
read -r LIMIT_CLIENTS _ <<<"$CLIENTS" # the ceiling reloads the batched rows of this run
PORT=${INGEST_BENCH_PORT:-18800}
POOL=${INGEST_BENCH_POOL:-64}
SNAPSHOT=${INGEST_BENCH_SNAPSHOT:-v1}
# Statement sizes tried for the ceiling (mariadb-dump --net-buffer-length, bytes): from a
# few rows to thousands of rows per INSERT.
LIMIT_SIZES=${INGEST_BENCH_LIMIT_SIZES:-"16384 131072 1048576 8388608"}

ci/deps.sh base db bench >/dev/null
cargo build --release -j2 -q -p procpulse-ingest --bin procpulse-ingest --example ingest_load
TARGET=$(ci/target-dir.sh)
BIN=$TARGET/release/procpulse-ingest
LOAD=$TARGET/release/examples/ingest_load
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ingest-bench.XXXXXX")
# A MariaDB of its own (not the one tests share), so nothing else writes to it and its
# CPU time is all this benchmark's.
MDIR=${INGEST_BENCH_MARIADB_DIR:-$ROOT/.cache/mariadb-bench}
export PROCPULSE_MARIADB_DIR=$MDIR
SOCK=$MDIR/mysqld.sock
SERVER_PID=""
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
  fi
}
cleanup() {
  stop_server
  if [[ " $BACKENDS " == *" mariadb "* ]]; then ci/mariadb.sh stop >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=../lib.sh
. "$ROOT/ci/lib.sh"

# utime+stime in seconds of a process and all its descendants (gunicorn and node's
# cluster serve from worker processes).
tree_cpu() {
  local pid=$1 total child
  total=$(cpu_seconds "$pid")
  for child in $(ps -o pid= --ppid "$pid" 2>/dev/null); do
    total=$(awk -v a="$total" -v b="$(tree_cpu "$child")" 'BEGIN { printf "%.6f", a + b }')
  done
  echo "$total"
}
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

root_sql() { mariadb --no-defaults --protocol=socket --socket="$SOCK" -uroot -N "$@"; }

# start_mariadb native|1ms: (re)starts the private server, with the 1 ms flush shim or not.
SLOWSYNC_STATS=$WORK/slowsync.stats
start_mariadb() {
  ci/mariadb.sh stop >/dev/null 2>&1 || true
  case $1 in
    native) BASE_URL=$(ci/mariadb.sh start) ;;
    1ms)
      local so; so=$(ci/bench/slowsync/build.sh)
      rm -f "$SLOWSYNC_STATS"
      BASE_URL=$(LD_PRELOAD=$so SLOWSYNC_US=1000 SLOWSYNC_STATS=$SLOWSYNC_STATS ci/mariadb.sh start) ;;
    *) echo "ingest bench: unknown flush '$1' (native 1ms)" >&2; exit 2 ;;
  esac
}

# Lets the previous run's background work finish so that runs are independent: InnoDB
# flushes the ~10k pages a run dirties (and purges the dropped database) for tens of
# seconds afterwards, which cost the next run up to a third of its rate when not waited for.
settle() { # backend
  if [ "$1" = mariadb ]; then
    local dirty
    for _ in $(seq 1 90); do
      dirty=$(root_sql -e "SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'" | awk '{print $2}')
      [ "${dirty:-0}" -lt 100 ] && break
      sleep 1
    done
  fi
  sync
  sleep 2
}

# empty_db backend name -> URL of an empty database.
empty_db() {
  local backend=$1 name=$2
  case $backend in
    mariadb)
      root_sql -e "DROP DATABASE IF EXISTS \`$name\`; CREATE DATABASE \`$name\`;"
      echo "${BASE_URL%/*}/$name" ;;
    sqlite)
      rm -f "$WORK/$name".db*
      echo "sqlite://$WORK/$name.db" ;;
  esac
}

# fresh_db backend name -> URL of an empty database with procpulse's schema (the
# migrations run by starting ingest once), so every stack writes the same table.
# procpulse's own stacks need only empty_db: the timed ingest migrates as it starts.
fresh_db() {
  local url
  url=$(empty_db "$1" "$2")
  RUST_LOG=warn "$BIN" --listen "127.0.0.1:$PORT" --database-url "$url" >/dev/null 2>"$WORK/migrate.log" &
  SERVER_PID=$!
  wait_http "http://127.0.0.1:$PORT/readyz" 30 || { cat "$WORK/migrate.log" >&2; exit 1; }
  stop_server
  echo "$url"
}

declare -A RPS P50 P99 CPU_US
results=()

run_one() { # backend flush stack clients
  local backend=$1 flush=$2 stack=$3 clients=$4 url db
  local key="${backend}_${flush}_${stack}_c${clients}"
  db="procpulse_bench_${flush}_${stack}_${clients}"
  case $backend-$stack in sqlite-flask|sqlite-express) return 0 ;; esac # MySQL applications
  settle "$backend"
  case $stack in
    direct|batched)
      url=$(empty_db "$backend" "$db")
      RUST_LOG=warn "$BIN" --listen "127.0.0.1:$PORT" --database-url "$url" --route b \
        --write-mode "$stack" --db-pool-size "$POOL" --db-timeout-ms 10000 \
        2>"$WORK/server.log" &
      SERVER_PID=$!
      wait_http "http://127.0.0.1:$PORT/readyz" 30 || { tail -20 "$WORK/server.log" >&2; exit 1; } ;;
    flask|express)
      url=$(fresh_db "$backend" "$db")
      BASELINE_LISTEN="127.0.0.1:$PORT" BASELINE_DATABASE_URL="$url" \
        ci/bench/baselines/run.sh "$stack" >"$WORK/server.log" 2>&1 &
      SERVER_PID=$!
      # /readyz answers 200 once the baseline reaches the database (installs first: slow
      # the first time).
      wait_http "http://127.0.0.1:$PORT/readyz" 300 || { tail -20 "$WORK/server.log" >&2; exit 1; }
      sleep 1 ;; # every worker up, not only the first to answer
    *) echo "ingest bench: unknown stack '$stack'" >&2; exit 2 ;;
  esac
  local json load_avg db_pid="" s0 s1 d0=0 d1=0
  load_avg=$(cut -d' ' -f1 /proc/loadavg)
  [ "$backend" = mariadb ] && db_pid=$(cat "$MDIR/mysqld.pid")
  s0=$(tree_cpu "$SERVER_PID"); [ -n "$db_pid" ] && d0=$(cpu_seconds "$db_pid")
  json=$("$LOAD" --target "127.0.0.1:$PORT" --clients "$clients" --seconds "$DUR" --prefix "$stack-$flush-$clients" --snapshot "$SNAPSHOT")
  s1=$(tree_cpu "$SERVER_PID"); [ -n "$db_pid" ] && d1=$(cpu_seconds "$db_pid")
  stop_server
  local stored
  case $backend in
    mariadb) stored=$(root_sql -e "SELECT COUNT(*) FROM \`$db\`.samples") ;;
    sqlite) stored=$(sqlite3 "$WORK/$db.db" "SELECT COUNT(*) FROM samples") ;;
  esac
  local acked rps p50 p99 mean non200 errs client_cpu cpu cpu_us
  acked=$(jq -r .acknowledged <<<"$json"); rps=$(jq -r '.rows_per_second | floor' <<<"$json")
  p50=$(jq -r '.p50_ms * 100 | round / 100' <<<"$json"); p99=$(jq -r '.p99_ms * 100 | round / 100' <<<"$json")
  mean=$(jq -r '.mean_ms * 100 | round / 100' <<<"$json")
  non200=$(jq -r .non_200 <<<"$json"); errs=$(jq -r .errors <<<"$json")
  client_cpu=$(jq -r .cpu_seconds <<<"$json")
  # CPU spent by server + database + load client per acknowledged row: independent of
  # what else runs on the machine, unlike rows/s.
  cpu=$(awk -v s="$(sub "$s0" "$s1")" -v d="$(sub "$d0" "$d1")" -v c="$client_cpu" 'BEGIN { printf "%.2f", s + d + c }')
  cpu_us=$(awk -v n="$acked" -v c="$cpu" 'BEGIN { printf "%.1f", (n > 0 ? c / n * 1e6 : 0) }')
  if [ "$stored" -lt "$acked" ]; then
    echo "ingest bench: $key stored $stored < acknowledged $acked" >&2; exit 1
  fi
  printf '%-8s %-6s %-8s %5s clients: %7s rows/s  p50 %7s ms  p99 %8s ms  mean %7s ms  %6s us CPU/row  (acked %s, stored %s, non-200 %s, errors %s, cpu %ss = server %s + db %s + client %s, loadavg %s)\n' \
    "$backend" "$flush" "$stack" "$clients" "$rps" "$p50" "$p99" "$mean" "$cpu_us" "$acked" "$stored" "$non200" "$errs" "$cpu" \
    "$(sub "$s0" "$s1")" "$(sub "$d0" "$d1")" "$client_cpu" "$load_avg" >&2
  RPS[$key]=$rps; P50[$key]=$p50; P99[$key]=$p99; CPU_US[$key]=$cpu_us
  results+=("$key")
  # The batched rows of the first client count are the ceiling's input; every other
  # database goes.
  if [ "$backend" = mariadb ] && [ "$stack-$clients" != "batched-$LIMIT_CLIENTS" ]; then
    root_sql -e "DROP DATABASE IF EXISTS \`$db\`;"
  fi
  return 0
}

# run_limit flush: the database's own ceiling on the rows of the first batched run.
declare -A LIMIT_RPS LIMIT_CPU_US LIMIT_SIZE
run_limit() {
  local flush=$1
  local src="procpulse_bench_${flush}_batched_${LIMIT_CLIENTS}" best=0 size rows stmts
  root_sql -e "SELECT 1 FROM \`$src\`.samples LIMIT 1" >/dev/null 2>&1 || {
    echo "ingest bench: no $src to take the ceiling's rows from (run batched)" >&2; return 0; }
  for size in $LIMIT_SIZES; do
    mariadb-dump --no-defaults --protocol=socket --socket="$SOCK" -uroot --no-create-info \
      --compact --skip-tz-utc --net-buffer-length="$size" "$src" samples >"$WORK/dump.sql"
    rows=$(root_sql -e "SELECT COUNT(*) FROM \`$src\`.samples")
    stmts=$(grep -c '^INSERT' "$WORK/dump.sql")
    settle mariadb
    fresh_db mariadb procpulse_bench_limit >/dev/null
    local db_pid d0 d1 t0 t1 client_cpu
    db_pid=$(cat "$MDIR/mysqld.pid")
    d0=$(cpu_seconds "$db_pid"); t0=$(date +%s.%N)
    client_cpu=$( { TIMEFORMAT='%U %S'; time mariadb --no-defaults --protocol=socket --socket="$SOCK" -uroot \
      procpulse_bench_limit <"$WORK/dump.sql" >/dev/null; } 2>&1 | awk '{ printf "%.2f", $1 + $2 }')
    t1=$(date +%s.%N); d1=$(cpu_seconds "$db_pid")
    local stored rps cpu_us
    stored=$(root_sql -e "SELECT COUNT(*) FROM procpulse_bench_limit.samples")
    [ "$stored" = "$rows" ] || { echo "ingest bench: limit stored $stored of $rows rows" >&2; exit 1; }
    rps=$(awk -v n="$rows" -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", n / (b - a) }')
    cpu_us=$(awk -v n="$rows" -v d="$(sub "$d0" "$d1")" -v c="$client_cpu" 'BEGIN { printf "%.1f", (d + c) / n * 1e6 }')
    printf 'mariadb  %-6s limit    %8s B/statement (%s statements of ~%s rows): %7s rows/s  %6s us CPU/row (db %s s + client %s s)\n' \
      "$flush" "$size" "$stmts" "$(( rows / stmts ))" "$rps" "$cpu_us" "$(sub "$d0" "$d1")" "$client_cpu" >&2
    if [ "$rps" -gt "$best" ]; then
      best=$rps; LIMIT_RPS[$flush]=$rps; LIMIT_CPU_US[$flush]=$cpu_us; LIMIT_SIZE[$flush]="$(( rows / stmts ))"
    fi
    root_sql -e "DROP DATABASE IF EXISTS procpulse_bench_limit;"
  done
  root_sql -e "DROP DATABASE IF EXISTS \`$src\`;"
}

for backend in $BACKENDS; do
  flushes=$FLUSHES
  [ "$backend" = sqlite ] && flushes=native
  for flush in $flushes; do
    [ "$backend" = mariadb ] && start_mariadb "$flush"
    for clients in $CLIENTS; do
      for stack in $STACKS; do
        run_one "$backend" "$flush" "$stack" "$clients"
      done
    done
    if [ "$backend" = mariadb ] && [ "$LIMIT" = 1 ]; then run_limit "$flush"; fi
    if [ "$backend" = mariadb ] && [ "$flush" = 1ms ]; then
      ci/mariadb.sh stop >/dev/null 2>&1 || true # writes the shim's counters
      echo "1 ms flush shim under mysqld: $(cat "$SLOWSYNC_STATS" 2>/dev/null || echo 'no counters written')" >&2
    fi
  done
done

echo
for key in "${results[@]}"; do
  echo "RESULT ingest_${key}_rows_per_second ${RPS[$key]} rows/s"
  echo "RESULT ingest_${key}_p50_latency ${P50[$key]} ms"
  echo "RESULT ingest_${key}_p99_latency ${P99[$key]} ms"
  echo "RESULT ingest_${key}_cpu_per_row ${CPU_US[$key]} us"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
for flush in "${!LIMIT_RPS[@]}"; do
  echo "RESULT ingest_mariadb_${flush}_limit_rows_per_second ${LIMIT_RPS[$flush]} rows/s"
  echo "RESULT ingest_mariadb_${flush}_limit_cpu_per_row ${LIMIT_CPU_US[$flush]} us"
  echo "RESULT ingest_mariadb_${flush}_limit_rows_per_statement ${LIMIT_SIZE[$flush]} rows"
  b=${RPS[mariadb_${flush}_batched_c${LIMIT_CLIENTS}]:-0}
  echo "RESULT ingest_mariadb_${flush}_batched_c${LIMIT_CLIENTS}_of_limit $(awk -v b="$b" -v l="${LIMIT_RPS[$flush]}" 'BEGIN { printf "%.0f", b / l * 100 }') %"
done
for backend in $BACKENDS; do
  for flush in $FLUSHES; do
    for clients in $CLIENTS; do
      k="${backend}_${flush}"
      for ours in direct batched; do
        for theirs in flask express; do
          o=${RPS[${k}_${ours}_c${clients}]:-} t=${RPS[${k}_${theirs}_c${clients}]:-}
          [ -n "$o" ] && [ -n "$t" ] || continue
          echo "RESULT ingest_${k}_c${clients}_${ours}_over_${theirs} $(ratio "$o" "$t") x"
        done
      done
      o=${RPS[${k}_batched_c${clients}]:-} t=${RPS[${k}_direct_c${clients}]:-}
      if [ -n "$o" ] && [ -n "$t" ]; then
        echo "RESULT ingest_${k}_c${clients}_batched_over_direct $(ratio "$o" "$t") x"
      fi
    done
  done
done
