#!/usr/bin/env bash
# procpulse as a real Prometheus target, checked against node_exporter.
#
# Starts on 127.0.0.1 (free ports, temp dir): the agent (procfs source), Debian's
# prometheus-node-exporter (collectors cpu, meminfo, pressure only), ingest and
# broadcaster (SQLite), and a Prometheus 2.42 server scraping all four every 1 s into a
# temp TSDB. procpulse-stress burns one CPU across the window; after WINDOW seconds
# (default 60) it asks Prometheus' HTTP API, at one evaluation time, for
#   sum by (mode) (rate(procpulse_cpu_seconds_total[W]))  vs  the same of node_cpu_seconds_total
# (and the guest counters, each CPU and mode, and PSI stall-time rates where the kernel
# has PSI): within 2 % of one core; memory gauges vs node_memory_*_bytes: MemTotal exactly,
# the others within 1 % (the best of the last 15 evaluation instants: the two targets
# are scraped up to 1 s apart). It prints the tables and fails on any breach.
#
# Exposition: every service's /metrics is fetched as Prometheus asks (OpenMetrics) and
# with no Accept (text 0.0.4). 0.0.4 must have its Content-Type and pass
# `promtool check metrics` with no complaint; OpenMetrics must have its Content-Type, end
# in `# EOF` and parse with python3-prometheus-client's strict OpenMetrics parser
# (promtool 2.42 lints only 0.0.4: on OpenMetrics it reports every counter as lacking
# HELP, because the family is `foo` and the sample `foo_total`; that output is shown,
# not judged). Prometheus must report up == 1 for all four targets (its scrapes parse
# the OpenMetrics answers).
#
# Grafana dashboard (k8s/grafana/procpulse.json, ci/k8s/dashboard.py): the agent also
# pushes a snapshot a second to ingest, so the ingest and broadcaster series move; every
# metric name the dashboard uses must be in the scraped /metrics bodies, and at the end
# every panel's expression (template variables from Prometheus' label values,
# $__rate_interval for 1 s scrapes) is run as a range query: all must parse, and every
# one must return a finite value (PSI panels only on a PSI kernel).
#
# Every process started here is killed at exit. Usage: ci/test-prometheus.sh
# Env: PROCPULSE_PROM_WINDOW_SECONDS (default 60), PROCPULSE_PROM_KEEP=1 keeps the temp dir.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

WINDOW=${PROCPULSE_PROM_WINDOW_SECONDS:-60}
PY=/usr/bin/python3 # Debian's, which sees python3-prometheus-client

"$ROOT/ci/deps.sh" base db prom >&2
for tool in prometheus promtool prometheus-node-exporter jq; do
  command -v "$tool" >/dev/null || { echo "test-prometheus: $tool missing after ci/deps.sh" >&2; exit 1; }
done

CI_LOG_NAME=test-prometheus
# shellcheck source=lib.sh
. "$ROOT/ci/lib.sh" # ci_stamp, free_port, wait_http
log() { ci_stamp test-prometheus "$@"; }

log "building agent, ingest, broadcaster, stress (debug)"
cargo build -j2 -q --locked -p procpulse-agent -p procpulse-ingest -p procpulse-broadcaster -p procpulse-stress

WORK="$(mktemp -d -t procpulse-prom.XXXXXX)"
mkdir -p "$WORK/bin" "$WORK/tsdb"
# Private copies: another build in this target dir cannot swap a binary under us.
for b in procpulse-agent procpulse-ingest procpulse-broadcaster procpulse-stress; do
  cp "${CARGO_TARGET_DIR:-target}/debug/$b" "$WORK/bin/$b"
done

PIDS=()
# shellcheck disable=SC2329 # run by the EXIT trap
cleanup() {
  local rc=$?
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "$rc" -ne 0 ] || [ "${PROCPULSE_PROM_KEEP:-0}" = 1 ]; then
    echo "test-prometheus: logs and TSDB kept in $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

AGENT_PORT=$(free_port)
NODE_PORT=$(free_port)
INGEST_PORT=$(free_port)
BCAST_PORT=$(free_port)
PROM_PORT=$(free_port)
DB_URL="sqlite://$WORK/procpulse.db"

log "starting agent :$AGENT_PORT, node_exporter :$NODE_PORT, ingest :$INGEST_PORT, broadcaster :$BCAST_PORT"
PROCPULSE_PUSH_URL="http://127.0.0.1:$INGEST_PORT/api/v1/metrics" PROCPULSE_PUSH_INTERVAL_SECONDS=1 \
PROCPULSE_LISTEN="127.0.0.1:$AGENT_PORT" PROCPULSE_SOURCE=procfs PROCPULSE_HOSTNAME=prom-test \
  "$WORK/bin/procpulse-agent" >"$WORK/agent.log" 2>&1 &
PIDS+=($!)
prometheus-node-exporter --web.listen-address="127.0.0.1:$NODE_PORT" \
  --collector.disable-defaults --collector.cpu --collector.meminfo --collector.pressure \
  --web.disable-exporter-metrics >"$WORK/node.log" 2>&1 &
PIDS+=($!)
"$WORK/bin/procpulse-ingest" --listen "127.0.0.1:$INGEST_PORT" --database-url "$DB_URL" \
  >"$WORK/ingest.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$INGEST_PORT/readyz"
"$WORK/bin/procpulse-broadcaster" --listen "127.0.0.1:$BCAST_PORT" --database-url "$DB_URL" \
  >"$WORK/broadcaster.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$AGENT_PORT/readyz"
wait_http "http://127.0.0.1:$NODE_PORT/metrics"
wait_http "http://127.0.0.1:$BCAST_PORT/readyz"

cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: procpulse-agent
    static_configs: [{targets: ['127.0.0.1:$AGENT_PORT']}]
  - job_name: node
    static_configs: [{targets: ['127.0.0.1:$NODE_PORT']}]
  - job_name: procpulse-ingest
    static_configs: [{targets: ['127.0.0.1:$INGEST_PORT']}]
  - job_name: procpulse-broadcaster
    static_configs: [{targets: ['127.0.0.1:$BCAST_PORT']}]
EOF
promtool check config "$WORK/prometheus.yml" >/dev/null
log "starting prometheus $(prometheus --version 2>&1 | sed -n '1s/^prometheus, version \([^ ]*\).*/\1/p') :$PROM_PORT"
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
  --web.listen-address="127.0.0.1:$PROM_PORT" >"$WORK/prometheus.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$PROM_PORT/-/ready" 20
# The window must lie wholly after the first scrape of every target: rate() extrapolates
# differently for series starting inside it, which would make the two sides differ.
up_all() {
  curl -fsS "http://127.0.0.1:$PROM_PORT/api/v1/query?query=up" 2>/dev/null |
    jq -e '[.data.result[] | select(.value[1] == "1")] | length == 4' >/dev/null
}
for _ in $(seq 1 150); do up_all && break; sleep 0.1; done
up_all || { echo "test-prometheus: Prometheus has not scraped all 4 targets" >&2; exit 1; }

# The load: one busy CPU for the whole window and a margin at both ends.
"$WORK/bin/procpulse-stress" --cpus 1 --seconds $((WINDOW + 20)) >"$WORK/stress.json" 2>"$WORK/stress.log" &
PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$WORK/stress.json" ] && break; sleep 0.1; done
[ -s "$WORK/stress.json" ] || { echo "test-prometheus: procpulse-stress did not start" >&2; exit 1; }
START=$(date +%s)

# Exposition checks meanwhile (they take a few seconds of the window).
OM_ACCEPT='application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'
fail=0
echo
echo "== /metrics exposition =="
for svc in agent:$AGENT_PORT ingest:$INGEST_PORT broadcaster:$BCAST_PORT; do
  name=${svc%%:*}
  url="http://127.0.0.1:${svc##*:}/metrics"
  # A request first, so that the request counters and histograms have series.
  curl -fsS -o /dev/null "$url"
  ctype=$(curl -fsS -D - -o "$WORK/$name.txt" "$url" | tr -d '\r' | sed -n 's/^[Cc]ontent-[Tt]ype: //p')
  if [ "$ctype" != "text/plain; version=0.0.4; charset=utf-8" ]; then
    echo "  $name text: wrong Content-Type '$ctype'"; fail=1
  fi
  if out=$(promtool check metrics <"$WORK/$name.txt" 2>&1) && [ -z "$out" ]; then
    echo "  $name text 0.0.4 ($(grep -vc '^#' "$WORK/$name.txt") samples): promtool check metrics: no complaint"
  else
    echo "  $name text 0.0.4: promtool check metrics complains:"; printf '%s\n' "$out" | sed 's/^/      /'; fail=1
  fi
  ctype=$(curl -fsS -H "Accept: $OM_ACCEPT" -D - -o "$WORK/$name.om" "$url" | tr -d '\r' | sed -n 's/^[Cc]ontent-[Tt]ype: //p')
  if [ "$ctype" != "application/openmetrics-text; version=1.0.0; charset=utf-8" ]; then
    echo "  $name OpenMetrics: wrong Content-Type '$ctype'"; fail=1
  fi
  if [ "$(tail -n 1 "$WORK/$name.om")" != "# EOF" ]; then echo "  $name OpenMetrics: no final '# EOF'"; fail=1; fi
  if out=$("$PY" -c '
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
fams = list(text_string_to_metric_families(open(sys.argv[1]).read()))
print(len(fams), "families,", sum(len(f.samples) for f in fams), "samples")' "$WORK/$name.om" 2>&1); then
    echo "  $name OpenMetrics 1.0.0 ($out): strict OpenMetrics parser: OK"
  else
    echo "  $name OpenMetrics: the OpenMetrics parser rejects it:"; printf '%s\n' "$out" | tail -n 3 | sed 's/^/      /'; fail=1
  fi
  n=$(promtool check metrics <"$WORK/$name.om" 2>&1 | grep -c . || true)
  echo "      (promtool 2.42 on the OpenMetrics body, not judged: $n lines, e.g. '$(promtool check metrics <"$WORK/$name.om" 2>&1 | head -n 1)')"
done

echo
echo "== Grafana dashboard: metric names against the scraped exposition =="
"$PY" ci/k8s/dashboard.py check k8s/grafana/procpulse.json \
  --exposition "$WORK/agent.txt" "$WORK/ingest.txt" "$WORK/broadcaster.txt" || fail=1

# Evaluate at START + WINDOW + 1 once a scrape after it is in.
EVAL_AT=$((START + WINDOW + 1))
now=$(date +%s)
wait_s=$((EVAL_AT + 2 - now))
if [ "$wait_s" -gt 0 ]; then
  log "waiting ${wait_s} s for a ${WINDOW} s window of 1 s scrapes"
  sleep "$wait_s"
fi

echo
"$PY" - "http://127.0.0.1:$PROM_PORT" "$WINDOW" "$EVAL_AT" <<'EOF' || fail=1
import json, sys, time, urllib.parse, urllib.request

base, window = sys.argv[1], int(sys.argv[2])
W = f"{window}s"
CORE_TOL = 0.02   # 2 % of one core (rate units: seconds per second)
MEM_TOL = 0.01    # 1 %
breaches = []

def api(path, **params):
    url = f"{base}/api/v1/{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=10) as r:
        body = json.load(r)
    if body.get("status") != "success":
        raise SystemExit(f"query failed: {params}: {body}")
    return body["data"]["result"]

t = float(sys.argv[3])  # one evaluation instant for every query
def query(q, by):
    return {tuple(r["metric"].get(k, "") for k in by): float(r["value"][1])
            for r in api("query", query=q, time=f"{t:.3f}")}

ups = query("up", ("job",))
print("== Prometheus targets (up) ==")
for (job,), v in sorted(ups.items()):
    print(f"  {job:24} {int(v)}")
    if v != 1:
        breaches.append(f"target {job} is down")
if len(ups) != 4:
    breaches.append(f"expected 4 targets, Prometheus has {len(ups)}")

def compare_rates(title, ours_q, node_q, by, tol=CORE_TOL):
    ours, node = query(ours_q, by), query(node_q, by)
    print(f"\n== {title} ==")
    print(f"  {' '.join(by):18} {'procpulse':>10} {'node_exp':>10} {'diff':>9}")
    if not node:
        breaches.append(f"{title}: node_exporter has no series")
    for key in sorted(set(ours) | set(node), key=lambda k: [int(x) if x.isdigit() else x for x in k]):
        a, b = ours.get(key), node.get(key)
        name = " ".join(key)
        if a is None or b is None:
            print(f"  {name:18} {a!s:>10} {b!s:>10}   MISSING")
            breaches.append(f"{title} {name}: missing on one side")
            continue
        d = a - b
        flag = "" if abs(d) <= tol else "  BREACH"
        print(f"  {name:18} {a:10.4f} {b:10.4f} {d:+9.4f}{flag}")
        if flag:
            breaches.append(f"{title} {name}: {a:.4f} vs {b:.4f}")

MODES = '{mode=~"user|nice|system|idle|iowait|irq|softirq|steal"}'
compare_rates(f"CPU by mode, cores: sum by (mode) (rate(...[{W}])), tolerance {CORE_TOL}",
              f"sum by (mode) (rate(procpulse_cpu_seconds_total{MODES}[{W}]))",
              f"sum by (mode) (rate(node_cpu_seconds_total{MODES}[{W}]))", ("mode",))
compare_rates(f"Guest CPU by mode, cores: rate(*_cpu_guest_seconds_total[{W}])",
              f"sum by (mode) (rate(procpulse_cpu_guest_seconds_total[{W}]))",
              f"sum by (mode) (rate(node_cpu_guest_seconds_total[{W}]))", ("mode",))
compare_rates(f"Per CPU and mode, cores: rate(...[{W}])",
              f"rate(procpulse_cpu_seconds_total{MODES}[{W}])",
              f"rate(node_cpu_seconds_total{MODES}[{W}])", ("cpu", "mode"))

# Memory: gauges at the same instants; the two targets are scraped up to 1 s apart, so a
# moving value is judged at the closest of the last 15 instants.
MEM = [
    ("total", "procpulse_memory_total_bytes", "node_memory_MemTotal_bytes", True),
    ("free", "procpulse_memory_free_bytes", "node_memory_MemFree_bytes", False),
    ("available", "procpulse_memory_available_bytes", "node_memory_MemAvailable_bytes", False),
    ("buffers", "procpulse_memory_buffers_bytes", "node_memory_Buffers_bytes", False),
    ("cached", "procpulse_memory_cached_bytes", "node_memory_Cached_bytes", False),
    ("shared", "procpulse_memory_shared_bytes", "node_memory_Shmem_bytes", False),
    ("swap_total", "procpulse_memory_swap_total_bytes", "node_memory_SwapTotal_bytes", True),
    ("swap_free", "procpulse_memory_swap_free_bytes", "node_memory_SwapFree_bytes", False),
]
print(f"\n== Memory, bytes (MemTotal/SwapTotal exact, others within {MEM_TOL:.0%}) ==")
print(f"  {'gauge':12} {'procpulse':>14} {'node_exp':>14} {'diff %':>8}")
def series(q):
    r = api("query_range", query=q, start=f"{t - 14:.3f}", end=f"{t:.3f}", step="1")
    return {float(ts): float(v) for ts, v in r[0]["values"]} if r else {}
for name, ours_m, node_m, exact in MEM:
    ours, node = series(ours_m), series(node_m)
    common = sorted(set(ours) & set(node))
    if not common:
        print(f"  {name:12} {'-':>14} {'-':>14}   MISSING")
        breaches.append(f"memory {name}: no common samples")
        continue
    def rel(ts):
        a, b = ours[ts], node[ts]
        return abs(a - b) / b if b else (0.0 if a == b else float("inf"))
    best = min(common, key=rel)
    a, b, r = ours[best], node[best], rel(best)
    ok = (a == b) if exact else r <= MEM_TOL
    print(f"  {name:12} {a:14.0f} {b:14.0f} {100 * r:8.4f}{'' if ok else '  BREACH'}")
    if not ok:
        breaches.append(f"memory {name}: {a:.0f} vs {b:.0f}")

# Pressure: the agent's series exist exactly where the kernel has PSI.
have = query('count({__name__=~"procpulse_pressure_.*"})', ())
node_psi = query('count({__name__=~"node_pressure_.*"})', ())
if have:
    print(f"\n== Pressure stall time, share of time: rate(...[{W}]), tolerance {CORE_TOL} ==")
    print(f"  {'resource kind':18} {'procpulse':>10} {'node_exp':>10} {'diff':>9}")
    for res, kind in [("cpu", "waiting"), ("memory", "waiting"), ("memory", "stalled"),
                      ("io", "waiting"), ("io", "stalled")]:
        name = f"{res} {kind}"
        a = query(f"sum(rate(procpulse_pressure_{res}_{kind}_seconds_total[{W}]))", ())
        b = query(f"sum(rate(node_pressure_{res}_{kind}_seconds_total[{W}]))", ())
        if not a or not b:
            print(f"  {name:18} {'-':>10} {'-':>10}   MISSING")
            breaches.append(f"pressure {name}: missing on one side")
            continue
        a, b = a[()], b[()]
        flag = "" if abs(a - b) <= CORE_TOL else "  BREACH"
        print(f"  {name:18} {a:10.4f} {b:10.4f} {a - b:+9.4f}{flag}")
        if flag:
            breaches.append(f"pressure {name}: {a:.4f} vs {b:.4f}")
elif node_psi:
    print("\n== Pressure ==\n  node_exporter has PSI series, the agent none")
    breaches.append("pressure: the agent exposes no procpulse_pressure_* series on a PSI kernel")
else:
    print("\n== Pressure ==\n  no PSI on this kernel: neither side has pressure series")

if breaches:
    print("\nBREACHES:\n  " + "\n  ".join(breaches))
    sys.exit(1)
print("\nall comparisons within tolerance")
EOF

echo
echo "== Grafana dashboard: every panel's expression against this Prometheus =="
"$PY" ci/k8s/dashboard.py evaluate k8s/grafana/procpulse.json \
  --prometheus "http://127.0.0.1:$PROM_PORT" --scrape-interval 1 --end "$EVAL_AT" || fail=1

if [ "$fail" -ne 0 ]; then echo "test-prometheus: FAILED" >&2; exit 1; fi
echo "test-prometheus: OK ($(($(date +%s) - START)) s after the load started)"
