"""Reference Locust version of procpulse's two-phase load test, kept only to benchmark
procpulse-loadgen side by side (ci/bench/loadgen.sh). Not used by the project otherwise.

Environment:
  LOCUST_PHASE   collect | replay                       (default collect)
  LOCUST_CLIENT  http (HttpUser) | fast (FastHttpUser)  (default http)
  LOCUST_WAIT    "min,max" seconds between tasks         (default 1,2 collect / 1,4 replay)
  LOCUST_TARGET_RECORDS, LOCUST_OUT    collect: stop at N unique records, write them here
  LOCUST_IN                            replay: the record file to POST, each exactly once

Run: locust -f locustfile.py --headless -u 300 -r 300 -t 3m -H http://127.0.0.1:5200
"""

import json
import os
import threading

from locust import HttpUser, between, events
from locust.contrib.fasthttp import FastHttpUser

PHASE = os.environ.get("LOCUST_PHASE", "collect")
FAST = os.environ.get("LOCUST_CLIENT", "http") == "fast"
_default_wait = "1,2" if PHASE == "collect" else "1,4"
WAIT_MIN, WAIT_MAX = (float(x) for x in os.environ.get("LOCUST_WAIT", _default_wait).split(","))
TARGET = int(os.environ.get("LOCUST_TARGET_RECORDS", "2000"))
OUT = os.environ.get("LOCUST_OUT", "records.ndjson")
IN = os.environ.get("LOCUST_IN", "records.ndjson")

_lock = threading.Lock()
_records = {}  # sample_id -> JSON line (collect)
_lines = []  # records to send (replay)
_cursor = [0]
_routes = {}


def valid(s):
    """The checks of docs/design.md §3 that matter for collecting (a subset of the Rust
    validator)."""
    try:
        ok = (
            0 < len(s["sample_id"]) <= 128
            and 0 < len(s["host"]) <= 64
            and s["source"] in ("kmod", "procfs")
            and 0 <= s["cpu"]["usage_percent"] <= 100
            and s["cpu"]["cores"] >= 1
            and 0 <= s["ram"]["used_percent"] <= 100
            and s["ram"]["used_kb"] <= s["ram"]["total_kb"]
            and isinstance(s["collected_at"], str)
        )
        procs = s["procs"]
        cats = ("running", "sleeping", "disk_sleep", "stopped", "traced", "zombie", "dead", "idle")
        return ok and procs["total"] == sum(procs[c] for c in cats)
    except (KeyError, TypeError):
        return False


@events.test_start.add_listener
def _load(environment, **_kw):
    if PHASE == "replay":
        with open(IN, encoding="utf-8") as f:
            _lines.extend(line.rstrip("\n") for line in f if line.strip())


@events.test_stop.add_listener
def _save(environment, **_kw):
    if PHASE == "collect" and _records:
        tmp = f"{OUT}.tmp-{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as f:
            for line in _records.values():
                f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, OUT)
    if PHASE == "replay":
        total = sum(_routes.values()) or 1
        for route, n in sorted(_routes.items()):
            print(f"route {route}: {n} ({100.0 * n / total:.1f}%)")


class _Phases:
    """The behaviour shared by the HttpUser and FastHttpUser variants."""

    wait_time = between(WAIT_MIN, WAIT_MAX)

    def step(self):
        if PHASE == "collect":
            self._collect()
        else:
            self._replay()

    def _collect(self):
        with self.client.get("/api/v1/snapshot", catch_response=True) as resp:
            try:
                snap = json.loads(resp.content)
            except ValueError:
                resp.failure("not JSON")
                return
            if not valid(snap):
                resp.failure("invalid snapshot")
                return
            with _lock:
                if len(_records) < TARGET and snap["sample_id"] not in _records:
                    _records[snap["sample_id"]] = json.dumps(snap, separators=(",", ":"))
                    if len(_records) == TARGET:
                        self.environment.runner.quit()

    def _replay(self):
        with _lock:
            i = _cursor[0]
            _cursor[0] += 1
        if i >= len(_lines):
            if i == len(_lines):
                self.environment.runner.quit()
            return
        while True:
            with self.client.post(
                "/api/v1/metrics",
                data=_lines[i],
                headers={"content-type": "application/json"},
                catch_response=True,
            ) as resp:
                if resp.status_code == 503:
                    resp.failure("503")
                    self.wait_seconds(float(resp.headers.get("retry-after", "1")))
                    continue
                if 200 <= resp.status_code < 300:
                    route = json.loads(resp.content).get("route", "?")
                    with _lock:
                        _routes[route] = _routes.get(route, 0) + 1
                return

    def wait_seconds(self, s):
        import gevent

        gevent.sleep(s)


if FAST:

    class SnapshotUser(_Phases, FastHttpUser):
        tasks = [_Phases.step]

else:

    class SnapshotUser(_Phases, HttpUser):
        tasks = [_Phases.step]
