#!/usr/bin/env python3
"""Final summary of ci/stack.sh: what was collected, what was stored, the split, latency.

Checks, against the SQLite file itself, that every collected record was stored exactly
once and nothing else was stored; exits 1 when that does not hold.
"""
import argparse
import json
import re
import sqlite3
import sys


def percentiles_from_goose(path):
    """p50/p99 (ms) of the replay's POSTs from goose's JSON report, or None."""
    try:
        with open(path) as f:
            report = json.load(f)
        rows = report.get("raw_response_metrics") or []
        posts = [r for r in rows if r.get("method") == "POST"] or rows
        return {"p50": posts[0]["percentile_50"], "p99": posts[0]["percentile_99"]}
    except (OSError, ValueError, LookupError, TypeError, AttributeError):
        return None


def main():
    ap = argparse.ArgumentParser()
    for name in ("records", "db", "stats", "replay-log", "replay-report", "collect-report",
                 "monitor", "source", "dashboard"):
        ap.add_argument("--" + name, required=True)
    a = ap.parse_args()

    with open(a.records) as f:
        file_ids = [json.loads(line)["sample_id"] for line in f if line.strip()]
    file_set = set(file_ids)

    con = sqlite3.connect(f"file:{a.db}?mode=ro", uri=True)
    rows = con.execute("SELECT sample_id, route FROM samples").fetchall()
    con.close()
    db_ids = [r[0] for r in rows]
    db_count = {}
    for i in db_ids:
        db_count[i] = db_count.get(i, 0) + 1
    missing = [i for i in file_set if i not in db_count]
    doubled = [i for i, n in db_count.items() if n > 1]
    extra = [i for i in db_count if i not in file_set]
    per_route = {}
    for _, route in rows:
        per_route[route] = per_route.get(route, 0) + 1

    with open(a.stats) as f:
        stats = json.load(f)
    stats_routes = {r["route"]: r["rows"] for r in stats.get("routes", [])}

    log = open(a.replay_log).read()
    m = re.search(r"^total\s+(\d+)\s+[\d.]+%\s+(\d+)\s+(\d+)", log, re.M)
    acked, accepted, duplicates = (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else (None, None, None)
    m = re.search(r"rejected (\d+) \| gave up (\d+)", log)
    rejected, gave_up = (int(m.group(1)), int(m.group(2))) if m else (None, None)
    m = re.search(r"acknowledged in ([\d.]+) s \(([\d.]+)/s\)", log)
    duration, rate = (m.group(1), m.group(2)) if m else ("?", "?")
    pct = percentiles_from_goose(a.replay_report) or {}

    total = sum(per_route.values()) or 1
    ok = not missing and not doubled and not extra and stats_routes == per_route
    lines = [
        "",
        "procpulse local stack: summary",
        f"  monitored machine   {a.monitor} (source: {a.source})",
        f"  records collected   {len(file_ids)}",
        f"  records stored      {len(db_count)}  (missing {len(missing)}, stored twice {len(doubled)}, unexpected {len(extra)})",
        f"  duplicates          {duplicates if duplicates is not None else '?'} (ingest answers)",
        "  split               " + " | ".join(
            f"{r} {n} ({100.0 * n / total:.1f}%)" for r, n in sorted(per_route.items())),
        f"  ingest /stats       " + " | ".join(f"{r} {n}" for r, n in sorted(stats_routes.items())),
        f"  replay              {acked if acked is not None else '?'} acknowledged in {duration} s ({rate}/s)",
        f"  latency (POST)      p50 {pct.get('p50', '?')} ms | p99 {pct.get('p99', '?')} ms",
        f"  failures            rejected {rejected if rejected is not None else '?'} | gave up {gave_up if gave_up is not None else '?'}",
        f"  dashboard           {a.dashboard}",
        f"  result              {'OK: every collected record stored exactly once' if ok else 'FAILED'}",
    ]
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
