#!/usr/bin/env bash
# Starts one reference ingest (issue 18) in the foreground, installing what it needs first:
#
#   BASELINE_DATABASE_URL=mysql://user:pass@127.0.0.1:3306/db \
#   BASELINE_LISTEN=127.0.0.1:18900 ci/bench/baselines/run.sh flask|express
#
#   flask    Flask + PyMySQL under gunicorn (gevent workers), venv .cache/venv-baseline-flask
#   express  Express + mysql2 under node:cluster, `npm ci` into express/node_modules
#
# The database must already hold procpulse's schema (run procpulse-ingest against it once:
# it migrates on start); the baselines create no table. BASELINE_LISTEN defaults to
# 127.0.0.1:8000. The tuning variables (BASELINE_WORKERS, BASELINE_DB_POOL, and for flask
# BASELINE_WORKER_CLASS, BASELINE_THREADS) default to the settings README.md chose.
# Installing goes to stderr; the server replaces this shell (exec), so a benchmark can
# start it in the background, poll GET /readyz (200 once the database answers) and stop
# it with SIGTERM.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"

usage() { echo "usage: BASELINE_DATABASE_URL=mysql://... [BASELINE_LISTEN=host:port] $0 flask|express" >&2; exit 2; }
[ $# -eq 1 ] || usage
[ -n "${BASELINE_DATABASE_URL:-}" ] || { echo "run.sh: set BASELINE_DATABASE_URL (mysql://user:pass@host:port/db)" >&2; exit 2; }
export BASELINE_DATABASE_URL
export BASELINE_LISTEN="${BASELINE_LISTEN:-127.0.0.1:8000}"
# 1,000 keep-alive clients need more descriptors than the usual 1,024.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

case $1 in
  flask)
    venv="$("$ROOT/ci/venv.sh" baseline-flask "$HERE/flask/requirements.txt")"
    cd "$HERE/flask"
    exec "$venv/bin/gunicorn" --config gunicorn.conf.py app:app
    ;;
  express)
    # node and npm: the `web` group (Debian 12's nodejs 18 + npm) unless already there.
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
      "$ROOT/ci/deps.sh" web >&2
    fi
    cd "$HERE/express"
    # npm ci again only when the lock file changed since the last install.
    stamp=node_modules/.procpulse-lock.sha256
    want="$(sha256sum package-lock.json | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
      echo "run.sh: npm ci in $PWD" >&2
      npm ci --no-audit --no-fund --loglevel=error >&2
      echo "$want" >"$stamp"
    fi
    exec node app.js
    ;;
  *) usage ;;
esac
