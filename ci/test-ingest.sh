#!/usr/bin/env bash
# Tests of procpulse-storage and procpulse-ingest against real databases: a temp SQLite
# file per test and a private MariaDB (ci/mariadb.sh). With CI set (default here) a
# missing MariaDB fails the run instead of skipping the MySQL half.
#
# Usage: ci/test-ingest.sh [extra cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."

ci/deps.sh base db >&2

# Reuse a running instance (ci/test.sh starts one for every stage) and stop only our own.
started=0
ci/mariadb.sh status || started=1
url="$(ci/mariadb.sh start)"
cleanup() {
  if [ "$started" = 1 ]; then
    # Drop the per-test databases (nobody else uses this instance), then stop it.
    mariadb --no-defaults --socket="${PROCPULSE_MARIADB_DIR:-$PWD/.cache/mariadb}/mysqld.sock" -uroot -N \
      -e "SELECT CONCAT('DROP DATABASE \`', schema_name, '\`;') FROM information_schema.schemata WHERE schema_name LIKE 'procpulse\\_t%'" 2>/dev/null |
      mariadb --no-defaults --socket="${PROCPULSE_MARIADB_DIR:-$PWD/.cache/mariadb}/mysqld.sock" -uroot 2>/dev/null || true
    ci/mariadb.sh stop || true
  fi
}
trap cleanup EXIT

export PROCPULSE_TEST_MYSQL_URL="$url"
export CI="${CI:-1}"
ulimit -n 65536 2>/dev/null || true

log="$(mktemp -t test-ingest.XXXXXX)"
set +e
cargo test -j2 -p procpulse-storage -p procpulse-ingest "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e

echo
echo "== test-ingest summary =="
grep -E "^test result:|Running " "$log" | sed 's/^/  /'
read -r passed failed < <(awk '/^test result:/ { for (i = 1; i < NF; i++) {
  if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } } END { print p+0, f+0 }' "$log")
echo "  $passed passed, $failed failed (SQLite + MariaDB, direct + batched)"
rm -f "$log"
if [ "$rc" -ne 0 ]; then echo "test-ingest: FAILED" >&2; exit "$rc"; fi
echo "test-ingest: OK"
