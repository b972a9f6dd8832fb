#!/usr/bin/env bash
# A private MariaDB for procpulse's tests and benchmarks: its own datadir, unix socket and
# TCP port on 127.0.0.1 under a cache dir; never the system instance.
#
# Usage: ci/mariadb.sh start|stop|status|url
#   start   initializes the datadir on first use, starts the server (no-op if it runs),
#           ensures database + user exist and prints the mysql:// URL on stdout
#   stop    shuts it down cleanly (the datadir stays, so start again keeps the data)
#   url     prints the URL (the server need not be running)
#   status  exits 0 when the server answers
# Environment:
#   PROCPULSE_MARIADB_DIR   state dir (default <repo>/.cache/mariadb); use another dir for
#                           a second, independent instance (e.g. a fault test that stops it)
#   PROCPULSE_MARIADB_PORT  TCP port on first start (default: a free port, then remembered)
#
# The password of the `procpulse` user is random, generated when the datadir is created,
# and kept only in $DIR/url (mode 0600, under the gitignored .cache/). Root logs in only
# through the private socket with unix_socket authentication.
#
# Server settings (the ones a real deployment would also choose, durability kept on):
#   innodb_flush_log_at_trx_commit=1  every commit is on disk before it is acknowledged
#   innodb_buffer_pool_size=512M      the working set fits in memory (default 128M)
#   innodb_log_file_size=512M         fewer checkpoints under sustained inserts
#   innodb_autoinc_lock_mode=2        interleaved auto-increment (MySQL 8's default; safe
#                                     with no statement-based binlog) so concurrent
#                                     inserts do not serialize on the AUTO-INC lock
#   max_connections=600               room for two ingest pools plus tests
#   skip-log-bin, skip-name-resolve   no binlog (no replica here); no DNS on connect
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${PROCPULSE_MARIADB_DIR:-$ROOT/.cache/mariadb}"
DATA="$DIR/data"
SOCK="$DIR/mysqld.sock"
PIDF="$DIR/mysqld.pid"
LOG="$DIR/mysqld.log"
DB=procpulse
USER_NAME=procpulse

# shellcheck source=lib.sh
. "$ROOT/ci/lib.sh" # ci_log, free_port
log() { ci_log "$@"; }

client() { mariadb --no-defaults --protocol=socket --socket="$SOCK" -uroot; }

alive() { [ -S "$SOCK" ] && mariadb-admin --no-defaults --protocol=socket --socket="$SOCK" -uroot --connect-timeout=2 ping >/dev/null 2>&1; }

init_datadir() {
  mkdir -p "$DIR"
  chmod 700 "$DIR"
  local me; me="$(id -un)"
  log "initializing $DATA"
  mariadb-install-db --no-defaults --datadir="$DATA" --user="$me" \
    --auth-root-authentication-method=socket --auth-root-socket-user="$me" \
    --skip-test-db >"$DIR/install.log" 2>&1 || { cat "$DIR/install.log" >&2; exit 1; }
  echo "${PROCPULSE_MARIADB_PORT:-$(free_port)}" >"$DIR/port"
  (umask 077; python3 -c 'import secrets; print(secrets.token_hex(16))' >"$DIR/password")
}

url() {
  local port pw
  port="$(cat "$DIR/port")"; pw="$(cat "$DIR/password")"
  echo "mysql://$USER_NAME:$pw@127.0.0.1:$port/$DB"
}

# Database + user (idempotent). PROCESS lets tests read information_schema.innodb_trx to
# prove no transaction is left open.
ensure_user() {
  local pw; pw="$(cat "$DIR/password")"
  client <<SQL
CREATE DATABASE IF NOT EXISTS \`$DB\`;
CREATE USER IF NOT EXISTS '$USER_NAME'@'127.0.0.1' IDENTIFIED BY '$pw';
CREATE USER IF NOT EXISTS '$USER_NAME'@'localhost' IDENTIFIED BY '$pw';
GRANT ALL PRIVILEGES ON \`${DB}%\`.* TO '$USER_NAME'@'127.0.0.1';
GRANT ALL PRIVILEGES ON \`${DB}%\`.* TO '$USER_NAME'@'localhost';
GRANT PROCESS ON *.* TO '$USER_NAME'@'127.0.0.1';
GRANT PROCESS ON *.* TO '$USER_NAME'@'localhost';
SQL
}

start() {
  command -v mariadbd >/dev/null 2>&1 || "$ROOT/ci/deps.sh" db >&2
  [ -f "$DATA/mysql/user.frm" ] || [ -d "$DATA/mysql" ] || init_datadir
  if alive; then ensure_user; url; return 0; fi
  local port; port="$(cat "$DIR/port")"
  rm -f "$SOCK" "$PIDF"
  # setsid: the server must not die with the calling shell's process group.
  setsid mariadbd --no-defaults --datadir="$DATA" --socket="$SOCK" --pid-file="$PIDF" \
    --port="$port" --bind-address=127.0.0.1 --user="$(id -un)" --log-error="$LOG" \
    --skip-name-resolve --skip-log-bin \
    --innodb-flush-log-at-trx-commit=1 --innodb-buffer-pool-size=512M \
    --innodb-log-file-size=512M --innodb-autoinc-lock-mode=2 --max-connections=600 \
    </dev/null >/dev/null 2>&1 &
  for _ in $(seq 1 300); do
    alive && break
    sleep 0.1
  done
  alive || { log "server did not come up; last log lines:"; tail -20 "$LOG" >&2; exit 1; }
  ensure_user
  log "running on 127.0.0.1:$port (datadir $DATA)"
  url
}

stop() {
  if alive; then
    mariadb-admin --no-defaults --protocol=socket --socket="$SOCK" -uroot shutdown >/dev/null 2>&1 || true
  fi
  if [ -f "$PIDF" ]; then
    local pid; pid="$(cat "$PIDF")"
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then log "forcing pid $pid"; kill -9 "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$SOCK" "$PIDF"
  log "stopped ($DIR)"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) [ -f "$DIR/password" ] || { log "not initialized; run start"; exit 1; }; url ;;
  status) alive ;;
  *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac
