#!/usr/bin/env bash
# Benchmark (issue 15, history): 10 hosts × 1 Hz × 30 days of synthetic history, then
#   1. generation: raw `samples` rows for the last 7 days (6.05 M rows) and rollup_1m /
#      rollup_1h rows for all 30 days, computed by the storage crate's own aggregation,
#      written directly into the database (userland/storage/examples/gen_history.rs);
#   2. size: bytes of the database after the 30 days (SQLite: the file after a WAL
#      checkpoint, per table from dbstat; MariaDB: data_length + index_length from
#      information_schema after ANALYZE) against raw rows kept for all 30 days —
#      bytes per raw row measured on the 7-day table, times the 30-day row count
#      (extrapolated, not generated: 25.9 M rows would take ~20 GB per backend);
#   3. queries: the release broadcaster on that database, GET /api/v1/history for one
#      host 30 d, all hosts 30 d, one host 24 h and one host 15 min (the raw tier);
#      a warm-up, then HISTORY_BENCH_REQUESTS sequential requests each on one keep-alive
#      connection (curl, time_total = first byte sent to last byte received); p50/p99.
#      Bars: 30 d one host p99 < 50 ms, all hosts < 250 ms, 15 min < 10 ms. The last
#      15 minutes are in the broadcaster's in-memory window and answered from it (checked
#      with its counters); the same span an hour back is timed too (the database path,
#      no bar);
#   4. ingest with the maintainer running vs not: ci/bench/ingest.sh's load client and
#      settings (batched writes, pool 64, 150 clients, v2 snapshots) on the generated
#      database. HISTORY_BENCH_ROUNDS rounds of three 60 s runs: "without"
#      (--no-maintenance), "steady" (the maintainer folds the load's rows once they are
#      5 s old — settle 5 s rather than the default 30 s, so that the fold runs through
#      the measured minute instead of starting half-way; the work per row is the same —
#      and deletes the few rows that expired since the previous run) and "expired"
#      (retention lowered by a day: ≈ 864 k raw rows and a day of rollups to delete
#      while the load runs, besides the fold). Before every run the
#      raw watermark is set to the newest row (no backlog to fold) and after an
#      "expired" run SQL deletes what its maintainer had not reached, so every run starts
#      the same. Bar: at most 10 % fewer rows/s, as the median over rounds of a
#      maintained run ÷ its round's "without"; also rows per CPU-second (ingest +
#      database + client, as ingest.sh), and the maintainer's delete batches (ingest's
#      procpulse_maintenance_delete_batch_seconds histogram and its pass log lines).
#      The load client spreads its rows over HISTORY_BENCH_LOAD_HOSTS hosts, each row
#      collected when sent (a fleet at ~1 Hz a host at these rates), so the fold sees
#      what it sees in use: each host's minute holds about a minute of its rows.
#
#   ci/bench/history.sh [sqlite|mysql|both]      (default both; mysql = MariaDB)
#
# Env: HISTORY_BENCH_HOSTS (10), HISTORY_BENCH_DAYS (30), HISTORY_BENCH_RAW_DAYS (7),
#      HISTORY_BENCH_REQUESTS (200), HISTORY_BENCH_INGEST_SECONDS (60),
#      HISTORY_BENCH_ROUNDS (3; 0 skips the ingest comparison), HISTORY_BENCH_CLIENTS
#      (150), HISTORY_BENCH_SNAPSHOT (v2), HISTORY_BENCH_LOAD_HOSTS (10000),
#      HISTORY_BENCH_MARIADB_DIR (<repo>/.cache/mariadb-bench: the private instance
#      ci/bench/ingest.sh uses, not the tests'; database procpulse_bench_history, dropped
#      at the end), HISTORY_BENCH_LOG_DIR (unset; a directory to copy the servers' logs
#      and metrics into). Nothing else is kept: the SQLite file lives in a temp dir.
# Ends with RESULT lines.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
case "${1:-both}" in
  sqlite) BACKENDS=sqlite ;;
  mysql | mariadb) BACKENDS=mariadb ;;
  both) BACKENDS="sqlite mariadb" ;;
  *) echo "usage: $0 [sqlite|mysql|both]" >&2; exit 2 ;;
esac
HOSTS=${HISTORY_BENCH_HOSTS:-10}
DAYS=${HISTORY_BENCH_DAYS:-30}
RAW_DAYS=${HISTORY_BENCH_RAW_DAYS:-7}
REQUESTS=${HISTORY_BENCH_REQUESTS:-200}
INGEST_SECONDS=${HISTORY_BENCH_INGEST_SECONDS:-60}
ROUNDS=${HISTORY_BENCH_ROUNDS:-3}
CLIENTS=${HISTORY_BENCH_CLIENTS:-150}
SNAPSHOT=${HISTORY_BENCH_SNAPSHOT:-v2}
LOAD_HOSTS=${HISTORY_BENCH_LOAD_HOSTS:-10000}
MYDB=procpulse_bench_history
HOST1=bench-01

ci/deps.sh base db >/dev/null
INGEST_BUILD=()
[ "$ROUNDS" -gt 0 ] && INGEST_BUILD=(-p procpulse-ingest --bin procpulse-ingest --example ingest_load)
cargo build --release -j2 -q -p procpulse-storage --example gen_history \
  -p procpulse-broadcaster --bin procpulse-broadcaster "${INGEST_BUILD[@]}"
TARGET=$(ci/target-dir.sh)
GEN=$TARGET/release/examples/gen_history
BCAST=$TARGET/release/procpulse-broadcaster
INGEST=$TARGET/release/procpulse-ingest
LOAD=$TARGET/release/examples/ingest_load
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/history-bench.XXXXXX")
MDIR=${HISTORY_BENCH_MARIADB_DIR:-$ROOT/.cache/mariadb-bench}
export PROCPULSE_MARIADB_DIR=$MDIR
SOCK=$MDIR/mysqld.sock
started_db=0
SERVER_PID=""
stop_server() {
  if [ -n "$SERVER_PID" ]; then kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  SERVER_PID=""
}
root_sql() { mariadb --no-defaults --protocol=socket --socket="$SOCK" -uroot -N "$@"; }
cleanup() {
  stop_server
  if [[ " $BACKENDS " == *" mariadb "* ]] && root_sql -e "SELECT 1" >/dev/null 2>&1; then
    root_sql -e "DROP DATABASE IF EXISTS \`$MYDB\`" || true
  fi
  if [ "$started_db" = 1 ]; then ci/mariadb.sh stop >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=../lib.sh
. "$ROOT/ci/lib.sh"
log() { ci_log "$@"; }
cpu_of() { cpu_seconds "$1"; } # the real CLK_TCK (was 100, hard-coded)
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
iso_minus() { date -u -d "$1 - $2" +%Y-%m-%dT%H:%M:%SZ; } # RFC 3339 instant, "30 days"
sql_time() { date -u -d "$1" '+%Y-%m-%d %H:%M:%S'; }          # as both backends store it

declare -A R # RESULT name → "value unit"
result() { R[$1]="$2 $3"; ORDER+=("$1"); }
ORDER=()

# Statements on the benchmark's database: sql_on BACKEND URL SQL → tab-separated rows.
sql_on() {
  case $1 in
    sqlite) sqlite3 -separator $'\t' "${2#sqlite://}" "$3" ;;
    mariadb) root_sql -D "$MYDB" -e "$3" ;;
  esac
}

settle() { # backend: lets the previous step's background flushing finish (as ingest.sh)
  if [ "$1" = mariadb ]; then
    local dirty
    for _ in $(seq 1 120); do
      dirty=$(root_sql -e "SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'" | awk '{print $2}')
      [ "${dirty:-0}" -lt 100 ] && break
      sleep 1
    done
  else
    sqlite3 "${URL#sqlite://}" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
  fi
  sync
  sleep 2
}

# --- 1. generation -------------------------------------------------------------------
generate() { # backend
  local b=$1 json
  log "$b: generating $HOSTS hosts × $DAYS days (raw: last $RAW_DAYS days), load $(loadavg)"
  json=$("$GEN" --database-url "$URL" --hosts "$HOSTS" --days "$DAYS" --raw-days "$RAW_DAYS")
  echo "$json" >&2
  END=$(jq -r .end <<<"$json")
  RAW_ROWS=$(jq -r .raw_rows <<<"$json")
  result "history_${b}_generate_seconds" "$(jq -r '.seconds | floor' <<<"$json")" s
  result "history_${b}_generated_raw_rows" "$RAW_ROWS" rows
  result "history_${b}_generated_rollup_1m_rows" "$(jq -r .rollup_1m_rows <<<"$json")" rows
  result "history_${b}_generated_rollup_1h_rows" "$(jq -r .rollup_1h_rows <<<"$json")" rows
}

# --- 2. size ---------------------------------------------------------------------------
# Prints "<table> <bytes>" for every table (each with its indexes) and last
# "TOTAL <bytes>" for the whole database.
table_bytes() { # backend
  case $1 in
    sqlite)
      local f=${URL#sqlite://}
      sqlite3 "$f" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
      sqlite3 -separator ' ' "$f" "SELECT coalesce(m.tbl_name, d.name), sum(d.pgsize) FROM dbstat d
        LEFT JOIN sqlite_master m ON m.name = d.name GROUP BY 1 ORDER BY 1"
      echo "TOTAL $(stat -c %s "$f")" ;;
    mariadb)
      root_sql -D "$MYDB" -e "ANALYZE TABLE samples, rollup_1m, rollup_1h" >/dev/null
      root_sql -e "SELECT table_name, data_length + index_length FROM information_schema.TABLES
        WHERE table_schema = '$MYDB' ORDER BY 1" | tr '\t' ' '
      root_sql -e "SELECT 'TOTAL', sum(data_length + index_length) FROM information_schema.TABLES
        WHERE table_schema = '$MYDB'" | tr '\t' ' '
      log "mariadb: the .ibd files hold $(du -cb "$MDIR/data/$MYDB"/*.ibd | tail -1 | cut -f1) bytes" ;;
  esac
}

measure_size() { # backend
  local b=$1 sizes samples m1 h1 per_raw raw30 rows30 DB_BYTES
  sizes=$(table_bytes "$b")
  DB_BYTES=$(awk '$1 == "TOTAL" {print $2}' <<<"$sizes")
  while read -r t n; do log "$b: $t $n bytes"; done <<<"$sizes"
  samples=$(awk '$1 == "samples" {print $2}' <<<"$sizes")
  m1=$(awk '$1 == "rollup_1m" {print $2}' <<<"$sizes")
  h1=$(awk '$1 == "rollup_1h" {print $2}' <<<"$sizes")
  per_raw=$(awk -v s="$samples" -v n="$RAW_ROWS" 'BEGIN { printf "%.1f", s / n }')
  rows30=$(( HOSTS * DAYS * 86400 ))
  raw30=$(awk -v p="$per_raw" -v n="$rows30" 'BEGIN { printf "%.0f", p * n }')
  result "history_${b}_db_bytes_after_${DAYS}d" "$DB_BYTES" bytes
  result "history_${b}_samples_bytes_${RAW_DAYS}d_raw" "$samples" bytes
  result "history_${b}_rollup_1m_bytes" "$m1" bytes
  result "history_${b}_rollup_1h_bytes" "$h1" bytes
  result "history_${b}_bytes_per_raw_row" "$per_raw" bytes
  result "history_${b}_bytes_per_rollup_1m_row" "$(awk -v s="$m1" -v n="$(( HOSTS * DAYS * 1440 ))" 'BEGIN { printf "%.1f", s / n }')" bytes
  result "history_${b}_raw_${DAYS}d_forever_bytes_extrapolated" "$raw30" bytes
  result "history_${b}_saving_vs_raw_forever" "$(awk -v a="$raw30" -v d="$DB_BYTES" 'BEGIN { printf "%.1f", (1 - d / a) * 100 }')" "%"
}

# --- 3. queries ------------------------------------------------------------------------
# time_query BACKEND NAME QUERY BAR_MS EXPECT_TIER EXPECT_HOSTS
time_query() {
  local b=$1 name=$2 q=$3 bar=$4 tier=$5 hosts=$6 url ans got_tier got_hosts points
  url="http://127.0.0.1:$PORT/api/v1/history?$q"
  ans=$WORK/answer.json
  curl -fsS "$url" >"$ans" || { log "$b $name: $url failed: $(curl -sS "$url" | head -c 300)"; exit 1; }
  got_tier=$(jq -r .tier "$ans")
  got_hosts=$(jq -r '[(.points // .samples)[].host] | unique | length' "$ans")
  points=$(jq -r '(.points // .samples) | length' "$ans")
  if [ "$got_tier" != "$tier" ] || [ "$got_hosts" != "$hosts" ] || [ "$(jq -r .truncated "$ans")" != false ]; then
    log "$b $name: expected tier $tier, $hosts hosts, not truncated; got tier $got_tier, $got_hosts hosts, truncated $(jq -r .truncated "$ans")"
    exit 1
  fi
  local args=() _
  for _ in $(seq 1 "$REQUESTS"); do args+=(-o /dev/null "$url"); done
  # Warm-up: a fifth of the requests, then the measured ones, all on one connection.
  curl -sS -w '%{http_code} %{time_total}\n' "${args[@]:0:$(( REQUESTS * 3 / 5 ))}" >/dev/null
  curl -sS -w '%{http_code} %{time_total}\n' "${args[@]}" >"$WORK/times"
  if awk '$1 != 200' "$WORK/times" | grep -q .; then log "$b $name: non-200 answers"; exit 1; fi
  local p50 p99 max
  read -r p50 p99 max < <(awk '{print $2 * 1000}' "$WORK/times" | sort -g | awk '{ v[NR] = $1 }
    END { i50 = int(NR * 0.50 + 0.999999); i99 = int(NR * 0.99 + 0.999999); printf "%.2f %.2f %.2f\n", v[i50], v[i99], v[NR] }')
  log "$b $name: tier $got_tier, $got_hosts hosts, $points points, $(stat -c %s "$ans") bytes; p50 $p50 ms, p99 $p99 ms, max $max ms (bar: p99 < $bar ms), load $(loadavg)"
  result "history_${b}_${name}_p50" "$p50" ms
  result "history_${b}_${name}_p99" "$p99" ms
  if [ "$bar" != - ]; then
    result "history_${b}_${name}_p99_under_${bar}ms" "$(awk -v p="$p99" -v b="$bar" 'BEGIN { print (p < b) ? "yes" : "no" }')" ""
  fi
}

queries() { # backend
  local b=$1 from30 from24 from15
  PORT=$(free_port)
  RUST_LOG=warn "$BCAST" --listen "127.0.0.1:$PORT" --database-url "$URL" >"$WORK/broadcaster.log" 2>&1 &
  SERVER_PID=$!
  wait_http "http://127.0.0.1:$PORT/readyz" 120
  from30=$(iso_minus "$END" "$DAYS days"); from24=$(iso_minus "$END" "24 hours"); from15=$(iso_minus "$END" "15 minutes")
  time_query "$b" one_host_30d "host=$HOST1&from=$from30&to=$END" 50 1h 1
  time_query "$b" all_hosts_30d "from=$from30&to=$END" 250 1h "$HOSTS"
  time_query "$b" one_host_24h "host=$HOST1&from=$from24&to=$END" - 1m 1
  # Memory answers a loaded host once the broadcaster has checked its start-up load (a
  # cursor grace, 10 s, after it): wait for the first such answer.
  local i m
  for i in $(seq 1 120); do
    curl -fsS -o /dev/null "http://127.0.0.1:$PORT/api/v1/history?host=$HOST1&from=$from15&to=$END"
    m=$(curl -fsS "http://127.0.0.1:$PORT/metrics")
    grep -q '^procpulse_broadcaster_history_raw_hosts_from_memory_total [1-9]' <<<"$m" && break
    [ "$i" -lt 120 ] || { log "$b: the 15-minute range never came from memory"; exit 1; }
    sleep 0.5
  done
  time_query "$b" one_host_15m "host=$HOST1&from=$from15&to=$END" 10 raw 1
  # The same span an hour back is outside the broadcaster's in-memory window: the
  # database answers (no bar; the cost of a raw range memory does not hold).
  time_query "$b" one_host_15m_an_hour_ago \
    "host=$HOST1&from=$(iso_minus "$END" "75 minutes")&to=$(iso_minus "$END" "60 minutes")" - raw 1
  local counts mem dbs
  counts=$(curl -fsS "http://127.0.0.1:$PORT/metrics")
  mem=$(awk '/^procpulse_broadcaster_history_raw_hosts_from_memory_total / { print $2 }' <<<"$counts")
  dbs=$(awk '/^procpulse_broadcaster_history_raw_hosts_from_database_total / { print $2 }' <<<"$counts")
  log "$b raw answers: $mem from memory (the last 15 minutes), $dbs from the database (an hour ago, and the 15 minutes before the check)"
  # Each raw query ran more than REQUESTS times: the timed 15-minute ones must have been
  # memory's.
  if [ "${mem%.*}" -lt "$REQUESTS" ] || [ "${dbs%.*}" -lt "$REQUESTS" ]; then
    log "$b: the 15-minute answers did not come from memory, or the hour-ago ones not from the database"; exit 1
  fi
  stop_server
}

# --- 4. ingest with and without the maintainer ------------------------------------------
# Marks every stored raw row folded (the watermark to the newest received_at, in SQL),
# so that each run starts with no backlog: without it a maintained run would also fold
# what the run before it stored. Not measured; the load's rows of earlier runs are then
# simply never rolled up (the queries above have run by then).
skip_backlog() { # backend
  sql_on "$1" "$URL" "UPDATE history_tiers SET rolled_up_to = (SELECT MAX(received_at) FROM samples)
    WHERE tier = 'raw'"
}

# Deletes, directly in SQL, what the retention of RAW_DAYS / ROLLUP_DAYS ends and the
# "expired" round's maintainer had not reached in its minute, and records the cutoffs in
# history_tiers.deleted_before as the maintainer would: not measured, it only gives every
# round the same starting point (one day expired for "expired", a trickle for "steady").
finish_deletes() { # backend raw_days rollup_days
  local b=$1 raw rollup
  raw=$(sql_time "now - $2 days"); rollup=$(sql_time "now - $3 days")
  case $b in
    sqlite)
      sql_on "$b" "$URL" "DELETE FROM samples WHERE received_at < '$raw';
        DELETE FROM rollup_1m WHERE bucket < '$rollup'; DELETE FROM rollup_1h WHERE bucket < '$rollup';" ;;
    mariadb)
      while [ "$(sql_on "$b" "$URL" "DELETE FROM samples WHERE received_at < '$raw' LIMIT 50000; SELECT ROW_COUNT()")" -gt 0 ]; do :; done
      sql_on "$b" "$URL" "DELETE FROM rollup_1m WHERE bucket < '$rollup'; DELETE FROM rollup_1h WHERE bucket < '$rollup'" ;;
  esac
  sql_on "$b" "$URL" "UPDATE history_tiers SET deleted_before = '$raw' WHERE tier = 'raw'
      AND (deleted_before IS NULL OR deleted_before < '$raw');
    UPDATE history_tiers SET deleted_before = '$rollup' WHERE tier IN ('1m', '1h')
      AND (deleted_before IS NULL OR deleted_before < '$rollup')"
}

# ingest_round BACKEND MODE ROUND RAW_DAYS ROLLUP_DAYS: one load run of ingest with
# MODE = without (--no-maintenance), steady or expired (the maintainer with raw rows
# kept RAW_DAYS and rollups ROLLUP_DAYS); appends "rows/s rows/CPU-s" to
# $WORK/rounds.MODE.
ingest_round() {
  local b=$1 mode=$2 round=$3 raw_days=$4 rollup_days=$5 port flags=() json db_pid="" c0i c1i c0d=0 c1d=0
  skip_backlog "$b"
  settle "$b"
  port=$(free_port)
  if [ "$mode" = without ]; then
    flags=(--no-maintenance)
  else
    # Settle 5 s, not the default 30 s: the fold then runs through the measured minute
    # (with 30 s it would start half-way); the work per folded row is the same.
    flags=(--retention "${raw_days}d" --rollup-1m-retention "${rollup_days}d" --rollup-1h-retention "${rollup_days}d"
      --maintenance-settle 5s)
  fi
  local expired0 cut
  cut=$(sql_time "now - $raw_days days")
  expired0=$(sql_on "$b" "$URL" "SELECT COUNT(*) FROM samples WHERE received_at < '$cut'")
  # The maintainer logs one JSON line per pass that did anything (rows folded and
  # deleted, batches, the longest batch).
  RUST_LOG=warn,procpulse_storage::maintain=info "$INGEST" --listen "127.0.0.1:$port" \
    --database-url "$URL" --route b --write-mode batched --db-pool-size 64 \
    --db-timeout-ms 10000 --log-format json "${flags[@]}" 2>"$WORK/ingest.$mode.$round.log" &
  SERVER_PID=$!
  wait_http "http://127.0.0.1:$port/readyz" 60
  [ "$b" = mariadb ] && db_pid=$(cat "$MDIR/mysqld.pid")
  c0i=$(cpu_of "$SERVER_PID"); [ -n "$db_pid" ] && c0d=$(cpu_of "$db_pid")
  local load0; load0=$(loadavg)
  json=$("$LOAD" --target "127.0.0.1:$port" --clients "$CLIENTS" --seconds "$INGEST_SECONDS" \
    --prefix "hist-$mode-$round-$$" --snapshot "$SNAPSHOT" --hosts "$LOAD_HOSTS")
  c1i=$(cpu_of "$SERVER_PID"); [ -n "$db_pid" ] && c1d=$(cpu_of "$db_pid")
  curl -fsS "http://127.0.0.1:$port/metrics" >"$WORK/metrics.$mode.$round" || true
  stop_server
  local expired1 rps p99 acked non200 cpu rpc
  expired1=$(sql_on "$b" "$URL" "SELECT COUNT(*) FROM samples WHERE received_at < '$cut'")
  rps=$(jq -r '.rows_per_second | floor' <<<"$json"); p99=$(jq -r '.p99_ms * 100 | round / 100' <<<"$json")
  acked=$(jq -r .acknowledged <<<"$json"); non200=$(jq -r '.non_200 + .errors' <<<"$json")
  # CPU of ingest (maintainer included) + database + load client per acknowledged row,
  # as ingest.sh reports it: what the maintainer costs, whatever else the 2 cores run.
  cpu=$(awk -v a="$c0i" -v b="$c1i" -v c="$c0d" -v d="$c1d" -v e="$(jq -r .cpu_seconds <<<"$json")" \
    'BEGIN { printf "%.2f", (b - a) + (d - c) + e }')
  rpc=$(awk -v n="$acked" -v c="$cpu" 'BEGIN { printf "%d", (c > 0 ? n / c : 0) }')
  echo "$rps $rpc" >>"$WORK/rounds.$mode"
  log "$b ingest, maintenance $mode, round $round: $rps rows/s, $rpc rows/CPU-s, p99 $p99 ms (acked $acked, non-200/errors $non200; CPU $cpu s: ingest $(awk -v a="$c0i" -v b="$c1i" 'BEGIN{printf "%.1f", b-a}') s, db $(awk -v a="$c0d" -v b="$c1d" 'BEGIN{printf "%.1f", b-a}') s; raw rows received before ${cut}: $expired0 → $expired1; load $load0 → $(loadavg))"
  if [ "$mode" != without ]; then
    log "  maintainer passes: $(pass_summary "$WORK/ingest.$mode.$round.log")"
  fi
}

# Sums of the maintainer's pass log lines: passes, rows folded and deleted per tier,
# delete batches, the longest batch (ms).
pass_summary() { # log files...
  jq -rs '[.[] | select(.fields.message? == "History maintenance pass") | .fields]
    | "\(length) passes, folded \(map(.folded_rows) | add // 0), deleted raw \(map(.deleted_raw) | add // 0) / 1m \(map(.deleted_1m) | add // 0) / 1h \(map(.deleted_1h) | add // 0) in \(map(.delete_batches) | add // 0) batches, longest batch \(map(.max_delete_batch_ms) | max // 0 | . * 100 | round / 100) ms"' \
    "$@" 2>/dev/null || echo "(no pass lines)"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# change_pct A B COLUMN: the median over rounds of (A / B − 1) × 100, signed.
change_pct() {
  paste -d' ' <(cut -d' ' -f"$3" "$1") <(cut -d' ' -f"$3" "$2") | awk '{ print ($1 / $2 - 1) * 100 }' \
    | median | awk '{ printf "%+.1f", $1 }'
}

# Each round runs without, steady, expired back to back, so each maintained run is
# compared with the "without" run of its own round (same machine state, within minutes):
# the bar is the median of those ratios. Rows/s swing with whatever else runs on the 2
# cores; rows per CPU-second do not. "steady" keeps the retention the previous round
# left (its maintainer folds the load's rows and deletes the few rows that expired
# since); "expired" lowers it by a day (raw rows and rollups).
ingest_compare() { # backend
  local b=$1 r raw_days=$RAW_DAYS rollup_days=$DAYS mode
  : >"$WORK/rounds.without"; : >"$WORK/rounds.steady"; : >"$WORK/rounds.expired"
  for r in $(seq 1 "$ROUNDS"); do
    ingest_round "$b" without "$r" "$raw_days" "$rollup_days"
    ingest_round "$b" steady "$r" "$raw_days" "$rollup_days"
    raw_days=$(( raw_days - 1 )); rollup_days=$(( rollup_days - 1 ))
    ingest_round "$b" expired "$r" "$raw_days" "$rollup_days"
    finish_deletes "$b" "$raw_days" "$rollup_days"
  done
  local without=$WORK/rounds.without
  result "history_${b}_ingest_without_maintenance_rows_per_second" "$(cut -d' ' -f1 "$without" | median)" rows/s
  result "history_${b}_ingest_without_maintenance_rows_per_cpu_second" "$(cut -d' ' -f2 "$without" | median)" rows/CPU-s
  for mode in steady expired; do
    result "history_${b}_ingest_${mode}_maintenance_rows_per_second" "$(cut -d' ' -f1 "$WORK/rounds.$mode" | median)" rows/s
    result "history_${b}_ingest_${mode}_maintenance_vs_without" "$(change_pct "$WORK/rounds.$mode" "$without" 1)" "%"
    result "history_${b}_ingest_${mode}_maintenance_rows_per_cpu_second" "$(cut -d' ' -f2 "$WORK/rounds.$mode" | median)" rows/CPU-s
    result "history_${b}_ingest_${mode}_maintenance_cpu_per_row_vs_without" "$(change_pct "$without" "$WORK/rounds.$mode" 2)" "%"
  done
  delete_batches "$b"
}

# The maintainer's delete batches over the maintained runs: how many, the mean, p50/p99
# (upper bounds: the bucket of ingest's procpulse_maintenance_delete_batch_seconds histogram
# that holds them) and the longest (from the pass log lines).
delete_batches() { # backend
  local b=$1 max
  compgen -G "$WORK/metrics.expired.*" >/dev/null || return 0
  python3 - "$b" "$WORK"/metrics.steady.* "$WORK"/metrics.expired.* <<'PY' || true
import re, sys
backend, files = sys.argv[1], sys.argv[2:]
buckets, count, total = {}, 0.0, 0.0
for f in files:
    for line in open(f):
        m = re.match(r'^procpulse_\w*delete_batch_seconds_bucket\{le="([^"]+)"\} (\S+)', line)
        if m:
            buckets[m.group(1)] = buckets.get(m.group(1), 0.0) + float(m.group(2))
        m = re.match(r'^procpulse_\w*delete_batch_seconds_count (\S+)', line)
        if m:
            count += float(m.group(1))
        m = re.match(r'^procpulse_\w*delete_batch_seconds_sum (\S+)', line)
        if m:
            total += float(m.group(1))
if count == 0:
    sys.exit(0)
def q(p):
    for le, n in sorted((float(k), v) for k, v in buckets.items()):
        if n >= p * count:
            return f"{le * 1000:g}"
    return "inf"
print(f"RESULT history_{backend}_delete_batches {count:.0f} batches")
print(f"RESULT history_{backend}_delete_batch_mean {total / count * 1000:.2f} ms")
print(f"RESULT history_{backend}_delete_batch_p50_at_most {q(0.5)} ms")
print(f"RESULT history_{backend}_delete_batch_p99_at_most {q(0.99)} ms")
PY
  max=$(jq -rs '[.[] | select(.fields.message? == "History maintenance pass") | .fields.max_delete_batch_ms] | max // empty | . * 100 | round / 100' \
    "$WORK"/ingest.steady.*.log "$WORK"/ingest.expired.*.log 2>/dev/null || true)
  [ -z "$max" ] || echo "RESULT history_${b}_delete_batch_max $max ms"
}

# --- the run ---------------------------------------------------------------------------
# Each backend's RESULT lines are printed as soon as it is done.
EXTRA=$WORK/extra.results
for b in $BACKENDS; do
  : >"$EXTRA"; ORDER=()
  rm -f "$WORK"/*.log "$WORK"/metrics.*
  case $b in
    sqlite) URL="sqlite://$WORK/history.db" ;;
    mariadb)
      ci/mariadb.sh status || started_db=1
      base=$(ci/mariadb.sh start)
      root_sql -e "DROP DATABASE IF EXISTS \`$MYDB\`; CREATE DATABASE \`$MYDB\`;"
      URL="${base%/*}/$MYDB" ;;
  esac
  generate "$b"
  settle "$b"
  measure_size "$b"
  queries "$b"
  [ "$ROUNDS" -gt 0 ] && ingest_compare "$b" >>"$EXTRA"
  if [ -n "${HISTORY_BENCH_LOG_DIR:-}" ]; then
    mkdir -p "$HISTORY_BENCH_LOG_DIR/$b"
    cp "$WORK"/*.log "$WORK"/metrics.* "$HISTORY_BENCH_LOG_DIR/$b/" 2>/dev/null || true
  fi
  case $b in
    sqlite) rm -f "$WORK"/history.db* ;;
    mariadb) root_sql -e "DROP DATABASE IF EXISTS \`$MYDB\`" ;;
  esac
  echo
  for k in "${ORDER[@]}"; do echo "RESULT $k ${R[$k]}"; done
  cat "$EXTRA"
done
