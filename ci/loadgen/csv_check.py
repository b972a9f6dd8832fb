#!/usr/bin/env python3
"""Checks procpulse-loadgen's --csv files against a real Locust run's (ci/test-loadgen-csv.sh).

    csv_check.py LOCUST_PREFIX OURS_PREFIX OUR_SERVED LOCUST_SERVED

- the header rows of PREFIX_stats.csv and PREFIX_stats_history.csv are byte-for-byte
  Locust's (line end included);
- both files have Locust's shape: the same (Type, Name) rows in the same order, every row
  as wide as its header, numbers where Locust has numbers and "N/A" only where it may;
- our Request Count (per name and Aggregated) equals the GETs the server answered during
  our run (Locust's, written once a second, trails its server count by at most a second);
- the numbers hang together: min <= median <= max, min <= average <= max, percentiles
  non-decreasing, one history row per second or so, totals non-decreasing and the last
  equal to the stats file's.
Prints one line per check; exits 1 on the first failure.
"""
import csv
import sys

FAILED = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        FAILED.append(what)


def rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def first_line(path):
    with open(path, "rb") as f:
        return f.readline()


def is_number(s):
    try:
        float(s)
        return True
    except ValueError:
        return False


def main():
    locust, ours, our_served, locust_served = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    for suffix in ("_stats.csv", "_stats_history.csv"):
        theirs, mine = first_line(locust + suffix), first_line(ours + suffix)
        check(theirs == mine, f"{suffix} header equals Locust's: {mine!r}")

    ls, os_ = rows(locust + "_stats.csv"), rows(ours + "_stats.csv")
    header = os_[0]
    col = {name: i for i, name in enumerate(header)}
    check([r[:2] for r in ls[1:]] == [r[:2] for r in os_[1:]],
          f"_stats.csv rows (Type, Name): ours {[r[:2] for r in os_[1:]]} == Locust's")
    check(all(len(r) == len(header) for r in os_), "_stats.csv: every row as wide as the header")
    for r in os_[1:]:
        check(all(is_number(v) for v in r[2:]), f"_stats.csv {r[1]}: all numbers")
        n = {k: float(r[i]) for k, i in col.items() if i >= 2}
        check(n["Min Response Time"] <= n["Median Response Time"] <= n["Max Response Time"],
              f"{r[1]}: min <= median <= max ({r[6]}, {r[4]}, {r[7]})")
        check(n["Min Response Time"] <= n["Average Response Time"] <= n["Max Response Time"],
              f"{r[1]}: min <= average <= max")
        pct = [float(v) for v in r[col["50%"]:col["100%"] + 1]]
        check(pct == sorted(pct), f"{r[1]}: percentiles non-decreasing {pct}")
        check(int(r[col["Request Count"]]) == our_served,
              f"{r[1]}: Request Count {r[col['Request Count']]} == GETs the server answered ({our_served})")
        check(r[col["Failure Count"]] == "0", f"{r[1]}: Failure Count 0")
        check(float(r[col["Requests/s"]]) > 0, f"{r[1]}: Requests/s {r[col['Requests/s']]} > 0")
    lagg = [r for r in ls[1:] if r[1] == "Aggregated"][0]
    # Locust rewrites its files once a second and not after its users stop, so it may miss
    # up to the last second of requests; never more than the server answered.
    check(0.6 * locust_served <= int(lagg[2]) <= locust_served,
          f"Locust's Aggregated Request Count {lagg[2]} within its server count's last second ({locust_served})")

    lh, oh = rows(locust + "_stats_history.csv"), rows(ours + "_stats_history.csv")
    hcol = {name: i for i, name in enumerate(oh[0])}
    check(all(len(r) == len(oh[0]) for r in oh), "_stats_history.csv: every row as wide as the header")
    check(len(oh) - 1 >= 3, f"_stats_history.csv: {len(oh) - 1} rows for a 5 s run (Locust: {len(lh) - 1})")
    check({tuple(r[2:4]) for r in oh[1:]} == {tuple(r[2:4]) for r in lh[1:]} == {("", "Aggregated")},
          "_stats_history.csv: only ('', 'Aggregated') rows, like Locust's default")
    for r in oh[1:]:
        fields = [v for i, v in enumerate(r) if i not in (hcol["Type"], hcol["Name"])]
        na_ok = {hcol[p] for p in hcol if p.endswith("%")}
        bad = [v for i, v in enumerate(r) if i not in (hcol["Type"], hcol["Name"])
               and not (is_number(v) or (v == "N/A" and i in na_ok))]
        check(not bad and len(fields) == len(r) - 2, f"history row {r[0]}: numbers (or N/A percentiles)")
    stamps = [int(r[hcol["Timestamp"]]) for r in oh[1:]]
    totals = [int(r[hcol["Total Request Count"]]) for r in oh[1:]]
    check(stamps == sorted(stamps), "history timestamps non-decreasing")
    check(totals == sorted(totals), f"history Total Request Count non-decreasing {totals}")
    check(totals[-1] == our_served, f"last history Total Request Count {totals[-1]} == {our_served}")
    check(all(is_number(r[hcol["Requests/s"]]) and len(r[hcol["Requests/s"]].split(".")[1]) == 6
              for r in oh[1:]), "history Requests/s printed with 6 decimals (Locust's '%2f')")
    if FAILED:
        print(f"csv_check: {len(FAILED)} check(s) failed")
        sys.exit(1)
    print("csv_check: all checks passed")


if __name__ == "__main__":
    main()
