#!/usr/bin/env python3
"""Loopback HTTP server for ci/test-loadgen-csv.sh: GET /api/v1/snapshot answers a valid
snapshot (docs/design.md §3) with a new sample_id each time and counts it; GET /count answers the
count so far (not counted). Binds 127.0.0.1 on a free port, writes the port to PORTFILE,
and exits by itself after LIFETIME seconds (a deadline if the caller dies).

    snapshot_server.py PORTFILE [LIFETIME]
"""
import datetime
import http.server
import itertools
import json
import os
import sys
import threading

COUNT = itertools.count(1)
LOCK = threading.Lock()
SERVED = [0]


def snapshot(n):
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1)
    return {
        "sample_id": f"csv-test-{n:012d}", "host": "csv-test", "source": "procfs",
        "collected_at": now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "cpu": {"usage_percent": 12.5, "cores": 2, "load1": 0.5, "load5": 0.4, "load15": 0.3},
        "ram": {"total_kb": 24000000, "free_kb": 20000000, "available_kb": 21000000,
                "used_kb": 3000000, "cached_kb": 500000, "swap_total_kb": 0,
                "swap_free_kb": 0, "used_percent": 12.5},
        "procs": {"total": 120, "running": 2, "sleeping": 100, "disk_sleep": 0, "stopped": 0,
                  "traced": 0, "zombie": 0, "dead": 0, "idle": 18, "threads": 300},
        "top": [{"pid": 1, "ppid": 0, "comm": "init", "state": "S", "rss_kb": 9000,
                 "cpu_percent": 0.0}],
    }


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10  # every socket has a deadline

    def do_GET(self):  # noqa: N802 (the stdlib's name)
        if self.path == "/api/v1/snapshot":
            with LOCK:
                SERVED[0] += 1
            body = json.dumps(snapshot(next(COUNT))).encode()
        elif self.path == "/count":
            with LOCK:
                body = str(SERVED[0]).encode()
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        pass


def main():
    portfile = sys.argv[1]
    lifetime = float(sys.argv[2]) if len(sys.argv) > 2 else 300.0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Timer(lifetime, server.shutdown).start()
    with open(portfile + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(portfile + ".tmp", portfile)
    server.serve_forever()


if __name__ == "__main__":
    main()
