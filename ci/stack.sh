#!/usr/bin/env bash
# procpulse main job: builds and runs the seeds' whole flow on the embedded default
# (SQLite, local processes), prints a summary, and keeps the stack up until Ctrl-C,
# which stops every process it started.
#
#   ci/stack.sh [options]
#
#   --monitor auto|vm|host  the monitored machine: `vm` boots the Rust-enabled kernel in
#                           QEMU with the procpulse modules and the agent (ci/vm.sh;
#                           builds the kernel once, ~5 min, then cached); `host` runs the
#                           agent on this machine with the /proc fallback; `auto` (default)
#                           uses the VM when the kernel builds and boots, else the host
#   --run-time T            collect phase length (default 30s; the seeds ran 3m)
#   --target-records N      stop collecting at N unique records (default 1000; seeds 2000)
#   --users N               collect users (default 300)
#   --replay-users N        replay users (default 150)
#   --replay-wait MIN..MAX  replay think time (default 1s..4s, the seeds' between(1, 4))
#   --state-dir DIR         database, record file, reports, logs (default .cache/stack)
#   --base-port P           ports P (agent), P+1/P+2 (ingest a/b), P+3 (split),
#                           P+4 (dashboard); default 5200 8001 8002 8080 4000 (docs/design.md §6)
#   --no-wait               print the summary, then stop everything and exit
#   --then CMD              after the summary, run CMD (bash) while the stack is still up,
#                           with DASHBOARD_URL and STATS_FILE set; its status counts
#
# Exit status: 0 when every collected record was stored exactly once; non-zero otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

MONITOR=${PROCPULSE_MONITOR:-auto}
RUN_TIME=30s
TARGET=1000
USERS=300
REPLAY_USERS=150
REPLAY_WAIT=1s..4s
STATE_DIR=${PROCPULSE_STATE_DIR:-$ROOT/.cache/stack}
WAIT=1
THEN=""
AGENT_PORT=5200 A_PORT=8001 B_PORT=8002 SPLIT_PORT=8080 WEB_PORT=4000
while [ $# -gt 0 ]; do
  case $1 in
    --monitor) MONITOR=$2; shift 2 ;;
    --run-time) RUN_TIME=$2; shift 2 ;;
    --target-records) TARGET=$2; shift 2 ;;
    --users) USERS=$2; shift 2 ;;
    --replay-users) REPLAY_USERS=$2; shift 2 ;;
    --replay-wait) REPLAY_WAIT=$2; shift 2 ;;
    --state-dir) STATE_DIR=$2; shift 2 ;;
    --base-port) p=$2; AGENT_PORT=$p A_PORT=$((p + 1)) B_PORT=$((p + 2)) SPLIT_PORT=$((p + 3)) WEB_PORT=$((p + 4)); shift 2 ;;
    --no-wait) WAIT=0; shift ;;
    --then) THEN=$2; shift 2 ;;
    -h|--help) sed -n '2,29p' "$0"; exit 0 ;;
    *) echo "stack.sh: unknown flag $1 (see --help)" >&2; exit 2 ;;
  esac
done
case $MONITOR in auto|vm|host) ;; *) echo "stack.sh: --monitor must be auto, vm or host" >&2; exit 2 ;; esac

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
# shellcheck source=ci/progress.sh
. ci/progress.sh
# shellcheck source=ci/lib.sh
. ci/lib.sh # wait_http URL SECS: on a timeout it says so and fails, and set -e ends the script (EXIT trap)
die() { printf 'stack.sh: %s\n' "$*" >&2; exit 1; }
PIDS=() SPLIT_DIR="" VM_PIDFILE=""
# shellcheck disable=SC2329 # run by the EXIT trap; shellcheck 0.11 misses that before an explicit exit
stop_all() {
  trap - EXIT INT TERM
  say "stopping the stack"
  [ ${#PIDS[@]} -eq 0 ] || kill -TERM "${PIDS[@]}" 2>/dev/null || true
  [ -z "$SPLIT_DIR" ] || ci/nginx-split.sh --stop "$SPLIT_DIR" >/dev/null 2>&1 || true
  if [ -n "$VM_PIDFILE" ] && [ -f "$VM_PIDFILE" ]; then kill -TERM "$(cat "$VM_PIDFILE")" 2>/dev/null || true; fi
  [ ${#PIDS[@]} -eq 0 ] || wait "${PIDS[@]}" 2>/dev/null || true
}
trap stop_all EXIT
trap 'exit 130' INT TERM

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in $AGENT_PORT $A_PORT $B_PORT $SPLIT_PORT $WEB_PORT; do
  port_free "$p" || die "port $p on 127.0.0.1 is in use (choose others with --base-port)"
done

say "installing dependencies (ci/deps.sh base sqlite nginx: the SQLite stack needs no MariaDB, Node or Chromium)"
ci/deps.sh base sqlite nginx
mkdir -p "$STATE_DIR/logs"
LOGS=$STATE_DIR/logs
rm -f "$STATE_DIR"/procpulse.db* "$STATE_DIR"/records.ndjson "$STATE_DIR"/*.json "$STATE_DIR"/*.html

BIN=${PROCPULSE_BIN_DIR:-}
if [ -z "$BIN" ]; then
  say "building release binaries (cargo build --release)"
  cargo build --release --locked -p procpulse-agent -p procpulse-ingest \
    -p procpulse-broadcaster -p procpulse-loadgen
  BIN=$(ci/target-dir.sh)/release
fi

# --- the monitored machine -----------------------------------------------------------
MONITOR_DESC=""
start_vm() {
  VM_PIDFILE=$STATE_DIR/vm.pid
  say "booting the Rust-enabled kernel in QEMU with the procpulse modules (ci/vm.sh; first run builds the kernel)"
  with_progress "  VM" "$LOGS/vm.log" \
    ci/vm.sh --daemon --port "$AGENT_PORT" --pid-file "$VM_PIDFILE" --log "$LOGS/vm-console.log"
}
case $MONITOR in
  vm) start_vm || die "the VM did not come up (see $LOGS/vm.log)"
      MONITOR_DESC="QEMU guest, Rust kernel modules" ;;
  auto) if start_vm; then MONITOR_DESC="QEMU guest, Rust kernel modules"
        else say "the VM did not come up (see $LOGS/vm.log); using this host's /proc instead"; MONITOR=host; fi ;;
esac
if [ "$MONITOR" = host ]; then
  say "starting the agent on this host (127.0.0.1:$AGENT_PORT)"
  # 50 top rows: the dashboard's process table offers 10, 25 or 50.
  "$BIN/procpulse-agent" --listen "127.0.0.1:$AGENT_PORT" --snapshot-top 50 >"$LOGS/agent.log" 2>&1 &
  PIDS+=($!)
  MONITOR_DESC="this host, agent on /proc"
fi
wait_http "http://127.0.0.1:$AGENT_PORT/healthz" 60
SOURCE=$(curl -fsS "http://127.0.0.1:$AGENT_PORT/api/v1/snapshot" | jq -r .source)
say "monitored machine: $MONITOR_DESC — snapshots report source \"$SOURCE\""

# --- ingest a/b behind the nginx split, broadcaster --------------------------------------
DB_URL="sqlite://$STATE_DIR/procpulse.db"
say "starting ingest route a (direct) on :$A_PORT and route b (batched) on :$B_PORT, one SQLite file"
"$BIN/procpulse-ingest" --listen "127.0.0.1:$A_PORT" --database-url "$DB_URL" --route a --write-mode direct >"$LOGS/ingest-a.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$A_PORT/readyz" 30 # a runs the migrations before b starts
"$BIN/procpulse-ingest" --listen "127.0.0.1:$B_PORT" --database-url "$DB_URL" --route b --write-mode batched >"$LOGS/ingest-b.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$B_PORT/readyz" 30

say "starting the nginx 50/50 split on :$SPLIT_PORT"
eval "$(ci/nginx-split.sh "$SPLIT_PORT" "127.0.0.1:$A_PORT" "127.0.0.1:$B_PORT")"
SPLIT_DIR=$NGINX_SPLIT_DIR

say "starting the broadcaster, which serves the dashboard built into it and evaluates procpulse's default alert rules (userland/alerts/rules.example.toml), on :$WEB_PORT"
"$BIN/procpulse-broadcaster" --listen "127.0.0.1:$WEB_PORT" --database-url "$DB_URL" \
  --alert-rules "$ROOT/userland/alerts/rules.example.toml" --public-url "http://127.0.0.1:$WEB_PORT" >"$LOGS/broadcaster.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$WEB_PORT/readyz" 30
DASHBOARD="http://127.0.0.1:$WEB_PORT/"
say "dashboard: $DASHBOARD (open it now to watch the replay arrive)"

# --- the load test ----------------------------------------------------------------------
say "phase 1, collect: $USERS users GET snapshots for up to $RUN_TIME or $TARGET records"
"$BIN/procpulse-loadgen" collect --host "http://127.0.0.1:$AGENT_PORT" --users "$USERS" \
  --run-time "$RUN_TIME" --target-records "$TARGET" --out "$STATE_DIR/records.ndjson" \
  --report-file "$STATE_DIR/collect.json" -q 2>&1 | tee "$LOGS/collect.log"
COLLECTED=$(wc -l <"$STATE_DIR/records.ndjson")

say "phase 2, replay: $REPLAY_USERS users POST each of $COLLECTED records once through the split"
replay_status=0
"$BIN/procpulse-loadgen" replay --host "http://127.0.0.1:$SPLIT_PORT" --users "$REPLAY_USERS" \
  --wait "$REPLAY_WAIT" --in "$STATE_DIR/records.ndjson" --split-tolerance 2% \
  --report-file "$STATE_DIR/replay.json" --no-reset-metrics -q 2>&1 | tee "$LOGS/replay.log" || replay_status=$?

# --- summary ----------------------------------------------------------------------------
sleep 1 # one broadcaster poll, so the dashboard shows the last rows too
STATS=$(curl -fsS "http://127.0.0.1:$A_PORT/api/v1/stats")
printf '%s\n' "$STATS" >"$STATE_DIR/stats.json"
summary=$(python3 ci/stack_summary.py --records "$STATE_DIR/records.ndjson" --db "$STATE_DIR/procpulse.db" \
  --stats "$STATE_DIR/stats.json" --replay-log "$LOGS/replay.log" --replay-report "$STATE_DIR/replay.json" \
  --collect-report "$STATE_DIR/collect.json" --monitor "$MONITOR_DESC" --source "$SOURCE" --dashboard "$DASHBOARD") &&
  summary_status=0 || summary_status=$?
printf '%s\n' "$summary" | tee "$STATE_DIR/summary.txt"

status=0
[ "$summary_status" -eq 0 ] || status=1
[ "$replay_status" -eq 0 ] || status=1
if [ -n "$THEN" ]; then
  say "running: $THEN"
  DASHBOARD_URL=$DASHBOARD STATS_FILE=$STATE_DIR/stats.json bash -c "$THEN" || status=1
fi
if [ "$WAIT" = 1 ]; then
  say "the stack is up (dashboard $DASHBOARD); press Ctrl-C to stop it"
  wait "${PIDS[@]}" 2>/dev/null || true
fi
exit $status
