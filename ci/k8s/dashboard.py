#!/usr/bin/env python3
"""Checks of the Grafana dashboard k8s/grafana/procpulse.json (standard library only).

Usage:
  dashboard.py check DASHBOARD [--exposition FILE...]
      structure: valid JSON, the keys Grafana's import needs, a `datasource` variable of
      type datasource/prometheus used by every panel and target (no hard-coded uid),
      unique panel ids, gridPos inside 24 columns and no two panels overlapping, every
      target an expr with a unique refId, only defined or built-in $variables, every
      metric a procpulse_* name, and the issue's panels present (CPU by mode and core,
      memory, swap, process states, ingest rates and latency, broadcaster clients).
      With --exposition (text format /metrics bodies of a real scrape): every metric
      name an expression uses is a sample name those bodies contain.
  dashboard.py self-test DASHBOARD
      `check` must reject a dozen broken copies.
  dashboard.py rules DASHBOARD OUT
      writes every target's expression, variables expanded as "All" does, as a recording
      rule file for `promtool check rules` (an offline PromQL parse).
  dashboard.py evaluate DASHBOARD --prometheus URL --scrape-interval S --end UNIX_TIME
      what Grafana does on load: expands the query variables from Prometheus
      (label_values -> every value, as a regex alternation), $__interval = 2 x scrape,
      $__rate_interval = max($__interval + scrape, 4 x scrape), then runs every target as
      a range query over the 30 s before END. Every target must parse and evaluate;
      each must return a finite value (PSI targets only where the agent exports PSI).
Exits 1 with one line per problem.
"""
import argparse
import copy
import json
import math
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

COLUMNS = 24
MIN_SCHEMA_VERSION = 36  # Grafana 9.4; the file carries 39 (Grafana 10.4 / 11)
PANEL_TYPES = {"row", "timeseries", "stat", "gauge", "bargauge", "table", "text", "heatmap"}
BUILTIN_VARS = {"__rate_interval", "__interval", "__interval_ms", "__range", "__range_s",
                "__range_ms"}
DS_REFS = ({"type": "prometheus", "uid": "${datasource}"},
           {"type": "prometheus", "uid": "$datasource"})
VAR_RE = re.compile(r"\$(?:\{(\w+)(?::\w+)?\}|(\w+))")
# What issue 19 asks the dashboard to show: (what, regex every match of which must
# occur in some expression).
REQUIRED = [
    ("host CPU by mode", r"sum by \([^)]*mode[^)]*\) \(rate\(procpulse_cpu_seconds_total"),
    ("host CPU by core", r"sum by \([^)]*cpu[^)]*\) \(rate\(procpulse_cpu_seconds_total"),
    ("memory", r"procpulse_memory_available_bytes"),
    ("swap", r"procpulse_memory_swap_used_bytes"),
    ("process states", r"procpulse_host_processes"),
    ("ingest rate", r"rate\(procpulse_ingest_rows_committed_total"),
    ("ingest latency", r"histogram_quantile\(.*procpulse_http_request_duration_seconds_bucket"
                       r"\{[^}]*route=\"/api/v1/metrics\""),
    ("broadcaster clients", r"procpulse_broadcaster_clients"),
]
PROMQL_WORDS = {"sum", "by", "without", "rate", "irate", "increase", "histogram_quantile",
                "avg", "max", "min", "count", "on", "ignoring", "group_left", "group_right",
                "and", "or", "unless", "scalar", "vector", "label_replace", "topk", "bool",
                "offset", "abs", "clamp_min", "clamp_max", "le", "inf", "nan"}


def walk_panels(panels):
    for p in panels:
        yield p
        yield from walk_panels(p.get("panels") or [])


def variables(dash):
    return {v.get("name"): v for v in (dash.get("templating") or {}).get("list") or []}


def metric_names(expr):
    """procpulse_* and any other bare identifiers that PromQL would read as metrics."""
    no_strings = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    no_labels = re.sub(r"\{[^}]*\}", "{}", no_strings)
    no_groupings = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)",
                          r"\1()", no_labels)
    no_ranges = re.sub(r"\[[^]]*\]", "[]", no_groupings)
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", no_ranges):
        word = m.group(0)
        after = no_ranges[m.end():m.end() + 1]
        if word.lower() in PROMQL_WORDS or after == "(" or re.fullmatch(r"\d.*", word):
            continue
        names.add(word)
    return names


def check(dash, exposition_names=None):
    problems = []
    fail = problems.append
    for key, kind in (("title", str), ("uid", str), ("schemaVersion", int), ("panels", list),
                      ("templating", dict), ("time", dict)):
        if not isinstance(dash.get(key), kind):
            fail(f"top-level {key!r} missing or not {kind.__name__}")
    if problems:
        return problems
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", dash["uid"]):
        fail(f"uid {dash['uid']!r}: 1-40 letters, digits, - or _")
    if dash["schemaVersion"] < MIN_SCHEMA_VERSION:
        fail(f"schemaVersion {dash['schemaVersion']} < {MIN_SCHEMA_VERSION}")
    if "__inputs" in dash or dash.get("id") is not None:
        fail("an exported instance (__inputs or a numeric id): import needs neither")
    vars_ = variables(dash)
    ds = vars_.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        fail("no variable `datasource` of type datasource with query prometheus")
    for name, v in vars_.items():
        if v.get("type") == "query":
            if v.get("datasource") not in DS_REFS:
                fail(f"variable {name}: datasource {v.get('datasource')} is not ${{datasource}}")
            if not re.fullmatch(r"label_values\(\w+, \w+\)", str(v.get("query"))):
                fail(f"variable {name}: query {v.get('query')!r} is not label_values(metric, label)")
    ids, boxes, exprs = set(), [], []
    for p in walk_panels(dash["panels"]):
        where = f"panel {p.get('id')} {p.get('title')!r}"
        if not isinstance(p.get("id"), int) or p["id"] in ids:
            fail(f"{where}: id missing, not an integer or not unique")
        ids.add(p.get("id"))
        if p.get("type") not in PANEL_TYPES:
            fail(f"{where}: type {p.get('type')!r} not one of {sorted(PANEL_TYPES)}")
        if not p.get("title"):
            fail(f"{where}: no title")
        g = p.get("gridPos") or {}
        if not all(isinstance(g.get(k), int) for k in "xywh") or g["w"] < 1 or g["h"] < 1 \
                or g["x"] < 0 or g["y"] < 0 or g["x"] + g["w"] > COLUMNS:
            fail(f"{where}: gridPos {g} outside {COLUMNS} columns or not integers >= 0")
        else:
            for other, og in boxes:
                if g["x"] < og["x"] + og["w"] and og["x"] < g["x"] + g["w"] and \
                        g["y"] < og["y"] + og["h"] and og["y"] < g["y"] + g["h"]:
                    fail(f"{where}: gridPos overlaps {other}")
            boxes.append((where, g))
        if p.get("type") in ("row", "text"):
            continue
        if p.get("datasource") not in DS_REFS:
            fail(f"{where}: datasource {p.get('datasource')} is not ${{datasource}}")
        targets = p.get("targets") or []
        if not targets:
            fail(f"{where}: no targets")
        refids = [t.get("refId") for t in targets]
        if len(set(refids)) != len(refids) or not all(refids):
            fail(f"{where}: refIds {refids} missing or repeated")
        for t in targets:
            expr = t.get("expr")
            if not isinstance(expr, str) or not expr.strip():
                fail(f"{where} target {t.get('refId')}: no expr")
                continue
            if t.get("datasource") not in DS_REFS:
                fail(f"{where} target {t.get('refId')}: datasource is not ${{datasource}}")
            exprs.append(expr)
            for a, b in VAR_RE.findall(expr):
                name = a or b
                if name not in vars_ and name not in BUILTIN_VARS:
                    fail(f"{where} target {t.get('refId')}: undefined variable ${name}")
            for name in sorted(metric_names(expand(expr, {}, 15, 15))):
                if not name.startswith("procpulse_"):
                    fail(f"{where} target {t.get('refId')}: metric {name} is not procpulse's")
                elif exposition_names is not None and name not in exposition_names:
                    fail(f"{where} target {t.get('refId')}: metric {name} is not in the "
                         "scraped exposition")
    for what, pattern in REQUIRED:
        if not any(re.search(pattern, e) for e in exprs):
            fail(f"no panel shows {what} (an expression matching /{pattern}/)")
    return problems


def exposition_sample_names(paths):
    names = set()
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip() and not line.startswith("#"):
                    names.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))
    return names


def seconds(text):
    return f"{int(text)}s"


def expand(expr, values, interval_s, scrape_s, range_s=1800):
    """Grafana's substitution: query variables (regex alternations), then built-ins."""
    rate_s = max(interval_s + scrape_s, 4 * scrape_s)
    builtin = {"__interval": seconds(interval_s), "__interval_ms": str(int(interval_s * 1000)),
               "__rate_interval": seconds(rate_s), "__range": seconds(range_s),
               "__range_s": str(int(range_s)), "__range_ms": str(int(range_s * 1000))}

    def sub(m):
        name = m.group(1) or m.group(2)
        if name in builtin:
            return builtin[name]
        vals = values.get(name)
        if vals is None:
            return ".+"  # "All" with allValue .+
        return "(" + "|".join(vals) + ")"  # a multi-value variable, as Grafana writes it
    return VAR_RE.sub(sub, expr)


def grafana_regex_escape(value):
    """Grafana's prometheusSpecialRegexEscape: a multi-value variable's values inside a
    PromQL string: `\\` before regex metacharacters (one for the string, one for RE2)."""
    value = value.replace("\\", "\\\\\\\\")
    return re.sub(r"([$^*{}\[\]'+?.()|])", r"\\\\\1", value)


def targets_of(dash):
    for p in walk_panels(dash["panels"]):
        for t in p.get("targets") or []:
            yield p, t


def write_rules(dash, out):
    """Recording rules for `promtool check rules`: JSON is YAML."""
    rules = [{"record": f"procpulse:dashboard_panel{p['id']}_{t['refId']}",
              "expr": expand(t["expr"], {}, 15, 15)} for p, t in targets_of(dash)]
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"groups": [{"name": "procpulse-dashboard", "rules": rules}]}, f, indent=1)
    print(f"dashboard: {len(rules)} expressions written to {out}")


def api(base, path, **params):
    """GET for label values, POST (form) for queries, as Grafana does."""
    query = urllib.parse.urlencode(params, doseq=True)
    if path.startswith("label/"):
        req = urllib.request.Request(f"{base}/api/v1/{path}?{query}")
    else:
        req = urllib.request.Request(f"{base}/api/v1/{path}", data=query.encode())
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:  # 400/422: a parse or evaluation error
        body = e.read()
        try:
            return json.loads(body)
        except ValueError:
            return {"status": "error", "errorType": f"HTTP {e.code}", "error": body[:200]}


def evaluate(dash, base, scrape_s, end):
    interval_s = 2 * scrape_s
    values = {}
    for name, v in variables(dash).items():
        if v.get("type") != "query":
            continue
        metric, label = re.fullmatch(r"label_values\((\w+), (\w+)\)", v["query"]).groups()
        body = api(base, f"label/{label}/values", **{"match[]": metric})
        values[name] = sorted(grafana_regex_escape(x) for x in body.get("data") or [])
        print(f"  ${name} = {' | '.join(values[name]) or '(none)'}"
              f"  (label_values({metric}, {label}), Grafana-escaped)")
        if not values[name]:
            values[name] = ["__no_value__"]
    psi = api(base, "query", query='count({__name__=~"procpulse_pressure_.*"})', time=end)
    has_psi = bool(psi.get("data", {}).get("result"))
    problems, n_panels, n_targets, n_data, n_bad = [], set(), 0, 0, 0
    print(f"  $__interval = {interval_s:g}s, $__rate_interval = "
          f"{max(interval_s + scrape_s, 4 * scrape_s):g}s, range {end - 30:.0f}..{end:.0f}, "
          f"PSI {'present' if has_psi else 'absent'}")
    for p, t in targets_of(dash):
        n_panels.add(p["id"])
        n_targets += 1
        q = expand(t["expr"], values, interval_s, scrape_s)
        body = api(base, "query_range", query=q, start=end - 30, end=end, step=interval_s)
        where = f"panel {p['id']} {p['title']!r} {t['refId']}"
        if body.get("status") != "success":
            n_bad += body.get("errorType") == "bad_data"
            problems.append(f"{where}: {body.get('errorType')}: {body.get('error')} in {q}")
            print(f"  FAIL {where}: {body.get('error')}")
            continue
        series = body["data"]["result"]
        finite = sum(1 for s in series if any(math.isfinite(float(v)) for _t, v in s["values"]))
        optional = "procpulse_pressure_" in t["expr"] and not has_psi
        verdict = "data" if finite else ("no data (no PSI here)" if optional else "NO DATA")
        if finite:
            n_data += 1
        elif not optional:
            problems.append(f"{where}: no finite value in {len(series)} series: {q}")
        print(f"  {'ok  ' if finite or optional else 'FAIL'} {where}: {len(series)} series,"
              f" {finite} with values — {verdict}")
    print(f"dashboard: {len(n_panels)} panels, {n_targets} targets evaluated against "
          f"Prometheus: {n_targets - n_bad} parse, "
          f"{n_data} return data")
    return problems


# (description, mutation of the parsed dashboard, text the problem must contain)
def _first(dash, kind="timeseries"):
    return next(p for p in walk_panels(dash["panels"]) if p["type"] == kind)


MUTATIONS = [
    ("duplicate panel id", lambda d: d["panels"][2].update(id=d["panels"][1]["id"]),
     "not unique"),
    ("target without expr", lambda d: _first(d)["targets"][0].pop("expr"), "no expr"),
    ("invented metric", lambda d: _first(d)["targets"][0].update(
        expr="rate(procpulse_cpu_jiffies_total[$__rate_interval])"), "procpulse_cpu_jiffies_total"),
    ("foreign metric", lambda d: _first(d)["targets"][0].update(
        expr="rate(node_cpu_seconds_total[5m])"), "node_cpu_seconds_total is not procpulse's"),
    ("overlapping panels", lambda d: _first(d)["gridPos"].update(x=0, y=1), "overlaps"),
    ("panel past column 24", lambda d: _first(d)["gridPos"].update(x=20, w=12),
     "outside 24 columns"),
    ("hard-coded datasource", lambda d: _first(d).update(
        datasource={"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}), "is not ${datasource}"),
    ("undefined variable", lambda d: _first(d)["targets"][0].update(
        expr='procpulse_host_load1{instance=~"$node"}'), "undefined variable $node"),
    ("no datasource variable", lambda d: d["templating"]["list"].pop(0),
     "no variable `datasource`"),
    ("repeated refId", lambda d: _first(d, "stat")["targets"].append(
        dict(_first(d, "stat")["targets"][0])), "repeated"),
    ("no process states panel", lambda d: [t.update(expr="procpulse_host_threads")
                                           for _p, t in targets_of(d)
                                           if "procpulse_host_processes" in t["expr"]],
     "no panel shows process states"),
    ("old schemaVersion", lambda d: d.update(schemaVersion=16), "schemaVersion 16"),
]


def self_test(dash, names):
    if names is None:  # no scrape at hand: the names the pristine dashboard uses stand in
        names = {n for _p, t in targets_of(dash) for n in metric_names(expand(t["expr"], {}, 15, 15))}
    if check(dash, names):
        print("dashboard self-test: the unmodified dashboard does not pass")
        return 1
    failures = 0
    for desc, mutate, expect in MUTATIONS:
        broken = copy.deepcopy(dash)
        mutate(broken)
        problems = check(broken, names)
        if any(expect in p for p in problems):
            print(f"dashboard self-test: ok   {desc}: caught ({expect})")
        else:
            failures += 1
            print(f"dashboard self-test: FAIL {desc}: want {expect!r}, got {problems or 'none'}")
    print(f"dashboard self-test: {len(MUTATIONS) - failures} of {len(MUTATIONS)} broken "
          "copies rejected")
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("command", choices=("check", "self-test", "rules", "evaluate"))
    ap.add_argument("dashboard")
    ap.add_argument("out", nargs="?")
    ap.add_argument("--exposition", nargs="+")
    ap.add_argument("--prometheus")
    ap.add_argument("--scrape-interval", type=float, default=1)
    ap.add_argument("--end", type=float)
    a = ap.parse_args()
    try:
        with open(a.dashboard, encoding="utf-8") as f:
            dash = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        print(f"dashboard: {a.dashboard}: {e}")
        return 1
    names = exposition_sample_names(a.exposition) if a.exposition else None
    if a.command == "self-test":
        return self_test(dash, names)
    problems = check(dash, names)
    if a.command == "rules" and not problems:
        if not a.out:
            ap.error("rules needs OUT")
        write_rules(dash, a.out)
    if a.command == "evaluate" and not problems:
        if not a.prometheus or a.end is None:
            ap.error("evaluate needs --prometheus and --end")
        problems = evaluate(dash, a.prometheus, a.scrape_interval, a.end)
    for p in problems:
        print(f"dashboard: {p}")
    if a.command == "check":
        n = sum(1 for p in walk_panels(dash.get("panels") or []) if p.get("type") != "row")
        t = sum(1 for _ in targets_of(dash)) if isinstance(dash.get("panels"), list) else 0
        scope = f", metric names checked against {len(names)} scraped sample names" \
            if names is not None else ""
        print(f"dashboard: {a.dashboard}: {n} panels, {t} targets{scope}: "
              f"{'FAILED' if problems else 'OK'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
