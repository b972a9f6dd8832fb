"""Reference ingest in Flask (issue 18): what procpulse-ingest is compared against.

POST /api/v1/metrics takes one snapshot (JSON), parses it and stores it with ONE INSERT
into procpulse's own `samples` table (made by procpulse's migrations; this app creates
nothing), autocommit: 200 {"stored":1} only once the INSERT has returned, 400 when the
body is not JSON (or lacks a field the row needs), 500 when the database fails.
GET /readyz answers 200 once the database answers.

Served by gunicorn (gunicorn.conf.py); see ../README.md for the settings and why.

Environment:
  BASELINE_DATABASE_URL  mysql://user:pass@host:port/db (?socket=/path/to/mysqld.sock
                         connects over that unix socket instead of TCP)
  BASELINE_DB_POOL       database connections per worker process (see gunicorn.conf.py)
"""

import json
import os
import queue
import threading
from contextlib import contextmanager, suppress
from datetime import datetime, timezone
from urllib.parse import parse_qs, unquote, urlsplit

import pymysql
from flask import Flask, request

ROUTE = "flask"

# The columns procpulse's NewSample::from_snapshot fills (userland/storage/src/row.rs),
# less the v2 compact-text ones (cpu_modes, cpu_per_cpu, pressure), left NULL.
COLUMNS = (
    "sample_id, host, source, route, collected_at, received_at, "
    "cpu_usage_percent, cpu_cores, load1, load5, load15, "
    "ram_total_kb, ram_free_kb, ram_available_kb, ram_used_kb, ram_cached_kb, "
    "ram_swap_total_kb, ram_swap_free_kb, ram_used_percent, "
    "procs_total, procs_running, procs_sleeping, procs_disk_sleep, procs_stopped, "
    "procs_traced, procs_zombie, procs_dead, procs_idle, procs_threads, top_json, "
    "ram_buffers_kb, ram_shared_kb, ram_swap_used_kb"
)
INSERT = "INSERT INTO samples (%s) VALUES (%s)" % (
    COLUMNS,
    ", ".join(["%s"] * len(COLUMNS.split(","))),
)


def connect_args(url):
    """PyMySQL's connect() arguments for a mysql:// URL."""
    u = urlsplit(url)
    if u.scheme != "mysql":
        raise ValueError("BASELINE_DATABASE_URL must be mysql://user:pass@host:port/db")
    args = {
        "user": unquote(u.username or ""),
        "password": unquote(u.password or ""),
        "database": u.path.lstrip("/"),
        "charset": "utf8mb4",
        "autocommit": True,  # acknowledged = committed: the INSERT commits on its own
        "connect_timeout": 10,
    }
    socket = parse_qs(u.query).get("socket")
    if socket:
        args["unix_socket"] = socket[0]
    else:
        args["host"] = u.hostname or "127.0.0.1"
        args["port"] = u.port or 3306
    return args


class Pool:
    """At most `size` open connections, each used by one request at a time; a request waits
    for a free one. The most recently returned (warm) connection is reused first; one the
    driver reports broken is dropped and replaced by a new one on demand.

    Under gevent (the chosen worker class) threading and queue are monkey-patched before
    this module is imported, so waiting here yields to the worker's other requests.
    """

    def __init__(self, size, **connect_args):
        self._connect_args = connect_args
        self._slots = threading.BoundedSemaphore(size)
        self._idle = queue.LifoQueue()

    @contextmanager
    def connection(self):
        with self._slots:
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = pymysql.connect(**self._connect_args)
            broken = False
            try:
                yield conn
            except (pymysql.OperationalError, pymysql.InterfaceError):
                broken = True  # lost or unusable: not back into the pool
                raise
            finally:
                if broken:
                    with suppress(pymysql.Error):
                        conn.close()
                else:
                    self._idle.put(conn)


POOL = Pool(
    int(os.environ.get("BASELINE_DB_POOL", "8")),
    **connect_args(os.environ["BASELINE_DATABASE_URL"]),
)


def db_time(dt):
    """An aware datetime as the naive UTC value stored in DATETIME(3), whole milliseconds."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    return dt.replace(microsecond=dt.microsecond // 1000 * 1000)


RECEIVED_AT = 5  # index of received_at in a row; set just before the INSERT


def to_row(s):
    """The samples row of one v1 snapshot (KeyError/TypeError/ValueError if it is not one)."""
    cpu, ram, procs = s["cpu"], s["ram"], s["procs"]
    top = s.get("top") or []
    return [
        s["sample_id"], s["host"], s["source"], ROUTE,
        db_time(datetime.fromisoformat(s["collected_at"])), None,
        cpu["usage_percent"], cpu["cores"], cpu["load1"], cpu["load5"], cpu["load15"],
        ram["total_kb"], ram["free_kb"], ram["available_kb"], ram["used_kb"],
        ram["cached_kb"], ram["swap_total_kb"], ram["swap_free_kb"], ram["used_percent"],
        procs["total"], procs["running"], procs["sleeping"], procs["disk_sleep"],
        procs["stopped"], procs["traced"], procs["zombie"], procs["dead"], procs["idle"],
        procs["threads"],
        json.dumps(top, separators=(",", ":")) if top else None,
        ram.get("buffers_kb"), ram.get("shared_kb"), ram.get("swap_used_kb"),
    ]


app = Flask(__name__)
app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024  # procpulse's limit (413 above it)


@app.post("/api/v1/metrics")
def metrics():
    try:
        row = to_row(json.loads(request.get_data(cache=False)))
    except (ValueError, KeyError, TypeError, AttributeError):
        return {"error": "the body is not a JSON snapshot"}, 400
    try:
        with POOL.connection() as conn, conn.cursor() as cur:
            # As procpulse: received_at is the clock just before the INSERT (after any
            # wait for a connection).
            row[RECEIVED_AT] = db_time(datetime.now(timezone.utc))
            cur.execute(INSERT, row)  # autocommit: committed when it returns
    except pymysql.MySQLError as e:
        app.logger.warning("insert failed: %s", e)
        return {"error": "database error"}, 500
    return {"stored": 1}


@app.get("/readyz")
def readyz():
    try:
        with POOL.connection() as conn, conn.cursor() as cur:
            cur.execute("SELECT 1")
    except pymysql.MySQLError:
        return {"ready": False}, 503
    return {"ready": True}


@app.errorhandler(413)
def too_large(_e):
    return {"error": "the request body exceeds 1 MiB"}, 413
