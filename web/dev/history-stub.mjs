// DEV ONLY — answers of `GET /api/v1/history` and `GET /api/v1/fleet` in the shapes of the issue 15
// contract (and `GET /api/v1/alerts` in the alerts contract's), for the replay server
// (dev/replay-server.mjs). The tier choice mimics the
// broadcaster's (raw up to 1 h, 1m up to 200 h, else 1h; at most 1,000 points per host) but the
// rolled-up values are synthetic waves, not computed from rows. The end-to-end tests never use
// this; they run the real broadcaster.

const UNIT = { s: 1, m: 60, h: 3600, d: 86400 };
const MAX_POINTS = 1000;

/** RFC 3339 or -N{s,m,h,d} or now → ms; NaN otherwise. */
function when(s, now) {
  if (s === undefined || s === null) return NaN;
  if (s === 'now') return now;
  const m = /^-(\d+)([smhd])$/.exec(s);
  if (m) return now - Number(m[1]) * UNIT[m[2]] * 1000;
  return /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}/.test(s) ? Date.parse(s) : NaN;
}

const fail = (field, message) => ({ status: 422, body: { error: { code: 'invalid_field', message, field } } });

/**
 * @param {URLSearchParams} q
 * @param {(host: string) => any[]} rawRows the host's raw rows held in memory
 * @param {number} now ms
 */
export function historyAnswer(q, rawRows, now = Date.now()) {
  for (const k of q.keys()) if (!['host', 'from', 'to', 'since'].includes(k)) return fail(k, `unknown parameter (known: host, from, to)`);
  const host = q.get('host');
  if (!host) return fail('host', 'host is required by this stub');
  const from = when(q.get('from') ?? q.get('since') ?? '-15m', now);
  const to = when(q.get('to') ?? 'now', now);
  if (!Number.isFinite(from)) return fail('from', 'from must be RFC 3339 or relative like -24h');
  if (!Number.isFinite(to)) return fail('to', 'to must be RFC 3339, relative like -1h, or now');
  if (from >= to) return fail('from', 'from must be before to');
  if (now - from > 730 * 86400_000) return fail('from', 'from is older than the longest kept tier (730 days)');
  const span = (to - from) / 1000;
  const iso = (ms) => new Date(ms).toISOString();
  if (span <= 3600) {
    const samples = rawRows(host).filter((r) => {
      const t = Date.parse(r.collected_at);
      return t >= from && t < to;
    });
    return { status: 200, body: { tier: 'raw', step_seconds: null, from: iso(from), to: iso(to), samples, truncated: false } };
  }
  const tier = span <= 200 * 3600 ? '1m' : '1h';
  const base = tier === '1m' ? 60 : 3600;
  const buckets = Math.ceil(span / base);
  const k = Math.max(1, Math.ceil(buckets / MAX_POINTS));
  const step = base * k;
  const points = [];
  const start = Math.floor(from / 1000 / base) * base;
  for (let t = start; t < to / 1000; t += step) {
    if ((t / step) % 97 < 3) continue; // a hole now and then
    const w = 35 + 25 * Math.sin(t / 20000) + 10 * Math.sin(t / 3000);
    const r = (v) => Math.round(v * 100) / 100;
    points.push({
      host,
      t: iso(t * 1000),
      n: step,
      cpu: [r(Math.max(0, w - 20)), r(w), r(Math.min(100, w + 25))],
      ram: [r(50 + 5 * Math.sin(t / 50000)), r(55 + 5 * Math.sin(t / 50000)), r(58 + 5 * Math.sin(t / 50000))],
      swap: [2.5, 3, 4],
      load1: [r(w / 60), r(w / 40), r(w / 25)],
      zombies_max: t % 86400 < step ? 2 : 0,
      disk_sleep_max: 0,
      cores: 4,
      source: 'procfs',
    });
  }
  return { status: 200, body: { tier, step_seconds: step, from: iso(from), to: iso(to), points, truncated: false } };
}

/**
 * @param {any[]} latest newest row per real host
 * @param {number} extra synthetic hosts to add (every 50th stale)
 * @param {number} now ms
 */
export function fleetAnswer(latest, extra = 0, now = Date.now()) {
  const iso = (ms) => new Date(ms).toISOString();
  const hosts = latest.map((r) => ({
    host: r.host,
    source: r.source,
    collected_at: r.collected_at,
    last_seen: r.received_at,
    interval_seconds: 1,
    stale: now - Date.parse(r.received_at) > 3000,
    cpu: r.cpu.usage_percent,
    ram: r.ram.used_percent,
    swap: r.ram.swap_total_kb > 0 ? Math.round(((r.ram.swap_total_kb - r.ram.swap_free_kb) / r.ram.swap_total_kb) * 1000) / 10 : null,
    load1: r.cpu.load1,
    cores: r.cpu.cores,
    zombies: r.procs.zombie,
    disk_sleep: r.procs.disk_sleep,
  }));
  for (let i = 0; i < extra; i++) {
    const stale = i % 50 === 7;
    const seen = now - (stale ? 120_000 + i * 1000 : 400 + (i % 7) * 100);
    const cpu = Math.round((50 + 45 * Math.sin(now / 10000 + i)) * 10) / 10;
    hosts.push({
      host: `synth-${String(i).padStart(4, '0')}`,
      source: i % 3 ? 'kmod' : 'procfs',
      collected_at: iso(seen - 5),
      last_seen: iso(seen),
      interval_seconds: 1,
      stale,
      cpu,
      ram: (i * 13) % 100,
      swap: i % 4 ? null : (i * 7) % 100,
      load1: Math.round(cpu) / 25,
      cores: 1 << (i % 6),
      zombies: i % 11 === 0 ? 1 : 0,
      disk_sleep: i % 17 === 0 ? 2 : 0,
    });
  }
  hosts.sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0));
  return { server_time: iso(now), stale_after_intervals: 3, hosts };
}

/**
 * `GET /api/v1/alerts` in the contract's shape, from the hosts' newest rows (CPU over 90 %
 * fires `HostHighCpu`, RAM over 70 % is a pending `HostHighRam`, each host has `HostHighSwap`
 * resolved 10 minutes ago) and the `extra` synthetic fleet hosts of `fleetAnswer` (some firing,
 * some pending, the stale ones firing `HostStale`). Not the broadcaster's rule engine: a
 * shape to draw.
 * @param {any[]} latest newest row per host
 * @param {number} [extra]
 * @param {number} [now] ms
 */
export function alertsAnswer(latest, extra = 0, now = Date.now()) {
  const iso = (ms) => new Date(ms).toISOString();
  const alert = (host, rule, o) => ({
    rule,
    host,
    state: 'firing',
    severity: 'critical',
    metric: 'cpu',
    op: '>',
    threshold: 90,
    clear: 85,
    value: null,
    active_at: iso(now - 95_000),
    fired_at: iso(now - 65_000),
    summary: '',
    labels: { team: 'infra' },
    ...o,
  });
  const alerts = [];
  const resolved = [];
  for (const r of latest) {
    if (r.cpu.usage_percent > 90) alerts.push(alert(r.host, 'HostHighCpu', { value: r.cpu.usage_percent, summary: 'CPU above 90 %' }));
    if (r.ram.used_percent > 70) {
      alerts.push(alert(r.host, 'HostHighRam', { state: 'pending', severity: 'warning', metric: 'ram', threshold: 70, clear: null, value: r.ram.used_percent, fired_at: null, summary: 'RAM above 70 % for 5 min' }));
    }
    resolved.push(alert(r.host, 'HostHighSwap', { state: 'resolved', severity: 'warning', metric: 'swap', threshold: 50, clear: 40, value: 12.5, resolved_at: iso(now - 600_000), summary: 'swap above 50 %' }));
  }
  for (let i = 0; i < extra; i++) {
    const host = `synth-${String(i).padStart(4, '0')}`;
    if (i % 50 === 7) alerts.push(alert(host, 'HostStale', { metric: 'stale', op: null, threshold: null, clear: null, summary: 'no samples' }));
    if (i % 13 === 3) alerts.push(alert(host, 'HostHighCpu', { value: 95.5, summary: 'CPU above 90 %' }));
    if (i % 29 === 5) alerts.push(alert(host, 'Zombies', { state: 'pending', severity: 'info', metric: 'zombies', op: '>=', threshold: 1, clear: null, value: 2, fired_at: null }));
  }
  const rank = (s) => ['critical', 'warning', 'info'].indexOf(s) >>> 0;
  alerts.sort((a, b) => Number(b.state === 'firing') - Number(a.state === 'firing') || rank(a.severity) - rank(b.severity) || (a.host < b.host ? -1 : a.host > b.host ? 1 : 0) || (a.rule < b.rule ? -1 : 1));
  return { server_time: iso(now), enabled: true, rules: 4, alerts, resolved: resolved.slice(0, 100) };
}
