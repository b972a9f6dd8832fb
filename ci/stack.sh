#!/usr/bin/env bash
# procpulse main job: builds and runs the local stack on the embedded default (SQLite,
# local processes) and keeps it up until Ctrl-C, which stops every process it started.
#
#   ci/stack.sh [--agent-port N] [--state-dir DIR] [--no-wait]
#
# --no-wait   start, print the snapshot and the URLs, then stop everything and exit 0
#             (used by the end-to-end test).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

AGENT_PORT=${PROCPULSE_AGENT_PORT:-5200}
STATE_DIR=${PROCPULSE_STATE_DIR:-$ROOT/.cache/stack}
WAIT=1
while [ $# -gt 0 ]; do
  case $1 in
    --agent-port) AGENT_PORT=$2; shift 2 ;;
    --state-dir) STATE_DIR=$2; shift 2 ;;
    --no-wait) WAIT=0; shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "stack.sh: unknown flag $1 (see --help)" >&2; exit 2 ;;
  esac
done

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
PIDS=()
stop_all() {
  trap - EXIT INT TERM
  if [ ${#PIDS[@]} -gt 0 ]; then
    say "stopping ${#PIDS[@]} process(es)"
    kill -TERM "${PIDS[@]}" 2>/dev/null || true
    wait "${PIDS[@]}" 2>/dev/null || true
  fi
}
trap stop_all EXIT
trap 'exit 130' INT TERM

wait_http() { # url timeout_seconds
  local url=$1 deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null "$url" 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || { echo "timed out waiting for $url" >&2; return 1; }
    sleep 0.2
  done
}

say "installing dependencies"
ci/deps.sh base
mkdir -p "$STATE_DIR/logs"

say "building release binaries"
cargo build --release --locked -p procpulse-agent

say "starting the agent on 127.0.0.1:$AGENT_PORT"
target/release/procpulse-agent --listen "127.0.0.1:$AGENT_PORT" \
  >"$STATE_DIR/logs/agent.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$AGENT_PORT/healthz" 20

say "one snapshot"
curl -fsS "http://127.0.0.1:$AGENT_PORT/api/v1/snapshot" | (command -v jq >/dev/null && jq . || cat)
source=$(curl -fsS "http://127.0.0.1:$AGENT_PORT/api/v1/snapshot" | sed -n 's/.*"source":"\([a-z]*\)".*/\1/p')
echo
say "agent: http://127.0.0.1:$AGENT_PORT/api/v1/snapshot (source: $source; logs in $STATE_DIR/logs)"

if [ "$WAIT" = 1 ]; then
  say "running; press Ctrl-C to stop"
  wait
fi
