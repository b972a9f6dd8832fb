#!/usr/bin/env bash
# Benchmark: procpulse-ingest acknowledged rows/s and latency, direct vs batched (group
# commit), on MariaDB and SQLite, with 150 and 1,000 concurrent clients each POSTing
# single snapshots (fresh sample_ids) over keep-alive connections.
#
#   ci/bench/ingest.sh        (INGEST_BENCH_SECONDS=10 INGEST_BENCH_CLIENTS="150 1000"
#                              INGEST_BENCH_BACKENDS="mariadb sqlite"
#                              INGEST_BENCH_SNAPSHOT=v1|v2|v2-64)
#
# INGEST_BENCH_SNAPSHOT picks the body every client posts: v1 (default, the v1 fixture),
# v2 (model/tests/fixtures/snapshot_v2.json: 4 CPUs, modes, pressure, 3 top entries) or
# v2-64 (the same on a 64-CPU host).
#
# The load client is userland/ingest/examples/ingest_load.rs (hyper, one connection per
# client); it shares the machine's 2 cores with ingest and the database. A request counts
# only when answered 200, i.e. after its commit; durability stays on (MariaDB
# innodb_flush_log_at_trx_commit=1, SQLite WAL with synchronous=FULL). After each run the
# stored row count is checked against the acknowledged count. Each run starts once the
# previous one's background flushing is done (settle).
# Bar (docs/design.md §8, the earlier version this script checks): batched >= 10,000
# acknowledged rows/s on MariaDB and >= 5x direct (the 5x is retired).
# Ends with RESULT lines.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
DUR=${INGEST_BENCH_SECONDS:-10}
CLIENTS=${INGEST_BENCH_CLIENTS:-"150 1000"}
BACKENDS=${INGEST_BENCH_BACKENDS:-"mariadb sqlite"}
PORT=${INGEST_BENCH_PORT:-18800}
POOL=${INGEST_BENCH_POOL:-64}
SNAPSHOT=${INGEST_BENCH_SNAPSHOT:-v1}

ci/deps.sh base db >/dev/null
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
started_db=0
INGEST_PID=""
cleanup() {
  if [ -n "$INGEST_PID" ]; then kill "$INGEST_PID" 2>/dev/null || true; wait "$INGEST_PID" 2>/dev/null || true; fi
  if [ "$started_db" = 1 ]; then ci/mariadb.sh stop >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=../lib.sh
. "$ROOT/ci/lib.sh"
cpu_of() { cpu_seconds "$1"; } # utime+stime in seconds, the real CLK_TCK (was 100, hard-coded)

root_sql() { mariadb --no-defaults --protocol=socket --socket="$SOCK" -uroot -N "$@"; }

if [[ " $BACKENDS " == *" mariadb "* ]]; then
  ci/mariadb.sh status || started_db=1
  BASE_URL=$(ci/mariadb.sh start)
fi

declare -A RPS P50 P99 RPC
results=()

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

run_one() { # backend mode clients
  local backend=$1 mode=$2 clients=$3 url db
  settle "$backend"
  case $backend in
    mariadb)
      db="procpulse_bench_${mode}_${clients}"
      root_sql -e "DROP DATABASE IF EXISTS \`$db\`; CREATE DATABASE \`$db\`;"
      url="${BASE_URL%/*}/$db" ;;
    sqlite)
      rm -f "$WORK"/bench.db*
      url="sqlite://$WORK/bench.db" ;;
  esac
  RUST_LOG=warn "$BIN" --listen "127.0.0.1:$PORT" --database-url "$url" --route b \
    --write-mode "$mode" --db-pool-size "$POOL" --db-timeout-ms 10000 \
    2>"$WORK/ingest.log" &
  INGEST_PID=$!
  wait_http "http://127.0.0.1:$PORT/readyz" 10 || true # as before: the run goes on, and its errors show
  local json load_avg db_pid="" cpu0_ingest cpu0_db=0 cpu1_ingest cpu1_db=0
  load_avg=$(cut -d' ' -f1 /proc/loadavg)
  [ "$backend" = mariadb ] && db_pid=$(cat "$MDIR/mysqld.pid")
  cpu0_ingest=$(cpu_of "$INGEST_PID"); [ -n "$db_pid" ] && cpu0_db=$(cpu_of "$db_pid")
  json=$("$LOAD" --target "127.0.0.1:$PORT" --clients "$clients" --seconds "$DUR" --prefix "b-$mode-$clients" --snapshot "$SNAPSHOT")
  cpu1_ingest=$(cpu_of "$INGEST_PID"); [ -n "$db_pid" ] && cpu1_db=$(cpu_of "$db_pid")
  kill -TERM "$INGEST_PID"; wait "$INGEST_PID" || true; INGEST_PID=""
  local stored
  case $backend in
    mariadb) stored=$(root_sql -e "SELECT COUNT(*) FROM \`$db\`.samples") ;;
    sqlite) stored=$(sqlite3 "$WORK/bench.db" "SELECT COUNT(*) FROM samples") ;;
  esac
  local acked rps p50 p99 mean non200 errs
  acked=$(jq -r .acknowledged <<<"$json"); rps=$(jq -r '.rows_per_second | floor' <<<"$json")
  p50=$(jq -r '.p50_ms * 100 | round / 100' <<<"$json"); p99=$(jq -r '.p99_ms * 100 | round / 100' <<<"$json")
  mean=$(jq -r '.mean_ms * 100 | round / 100' <<<"$json")
  non200=$(jq -r .non_200 <<<"$json"); errs=$(jq -r .errors <<<"$json")
  # CPU spent by ingest + database + load client per acknowledged row: independent of
  # what else runs on the machine, unlike rows/s.
  local cpu rows_per_cpu
  cpu=$(awk -v a="$cpu0_ingest" -v b="$cpu1_ingest" -v c="$cpu0_db" -v d="$cpu1_db" -v e="$(jq -r .cpu_seconds <<<"$json")" \
    'BEGIN { printf "%.2f", (b - a) + (d - c) + e }')
  rows_per_cpu=$(awk -v n="$acked" -v c="$cpu" 'BEGIN { printf "%d", (c > 0 ? n / c : 0) }')
  if [ "$stored" -lt "$acked" ]; then
    echo "ingest bench: $backend/$mode/$clients stored $stored < acknowledged $acked" >&2; exit 1
  fi
  printf '%-8s %-8s %5s clients: %7s rows/s  p50 %7s ms  p99 %8s ms  mean %7s ms  %7s rows/CPU-s  (acked %s, stored %s, non-200 %s, errors %s, cpu %ss = ingest %s + db %s + client %s, loadavg %s)\n' \
    "$backend" "$mode" "$clients" "$rps" "$p50" "$p99" "$mean" "$rows_per_cpu" "$acked" "$stored" "$non200" "$errs" "$cpu" \
    "$(awk -v a="$cpu0_ingest" -v b="$cpu1_ingest" 'BEGIN { printf "%.2f", b - a }')" \
    "$(awk -v a="$cpu0_db" -v b="$cpu1_db" 'BEGIN { printf "%.2f", b - a }')" "$(jq -r .cpu_seconds <<<"$json")" "$load_avg" >&2
  local key="${backend}_${mode}_c${clients}"
  RPS[$key]=$rps; P50[$key]=$p50; P99[$key]=$p99; RPC[$key]=$rows_per_cpu
  results+=("$key")
  [ "$backend" = mariadb ] && root_sql -e "DROP DATABASE IF EXISTS \`$db\`;"
  return 0
}

for backend in $BACKENDS; do
  for clients in $CLIENTS; do
    for mode in direct batched; do
      run_one "$backend" "$mode" "$clients"
    done
  done
done

echo
for key in "${results[@]}"; do
  echo "RESULT ingest_${key}_rows_per_second ${RPS[$key]} rows/s"
  echo "RESULT ingest_${key}_p50_latency ${P50[$key]} ms"
  echo "RESULT ingest_${key}_p99_latency ${P99[$key]} ms"
  echo "RESULT ingest_${key}_rows_per_cpu_second ${RPC[$key]} rows/CPU-s"
done
for backend in $BACKENDS; do
  for clients in $CLIENTS; do
    d=${RPS[${backend}_direct_c${clients}]:-0}; b=${RPS[${backend}_batched_c${clients}]:-0}
    if [ "$d" -gt 0 ]; then
      echo "RESULT ingest_${backend}_c${clients}_batched_over_direct $(awk -v b="$b" -v d="$d" 'BEGIN { printf "%.1f", b / d }') x"
    fi
  done
done
