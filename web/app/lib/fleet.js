// The fleet table (pure): reading `GET /api/v1/fleet`, the columns, and sorting.
//
//   {"server_time":"…","stale_after_intervals":3,"hosts":[{"host":"vm-1","source":"kmod",
//    "collected_at":"…","last_seen":"…","interval_seconds":1.0,"stale":false,"cpu":12.5,
//    "ram":40.1,"swap":null,"load1":0.5,"cores":4,"zombies":0,"disk_sleep":0}, …]}
//
// The broadcaster decides staleness (no row received for `stale_after_intervals` × the host's
// own interval); the page only shows it. Ages are taken against the answer's `server_time`, so
// the browser's clock does not matter. The `alerts` column counts each host's firing and pending
// alerts from `GET /api/v1/alerts` (lib/alerts.js), fetched with the same poll; unknown (the
// request failed, or no rules) it shows —. The default order is worst first: stale hosts, then
// hosts with firing alerts (more first), then the highest of CPU % and RAM % (the `status`
// column, descending).

import { countsText } from './alerts.js';
import { formatAge, formatCount, formatLoad, formatPct } from './format.js';
import { isHostName } from './store.js';
import { LEVEL_MARK, level } from './thresholds.js';

/** What the status cell says for a stale host (a word and a symbol, not a colour only). */
export const STALE_MARK = '⚠ stale';

/**
 * @typedef {{
 *   host: string, source: string|null, cpu: number|null, ram: number|null, swap: number|null,
 *   load1: number|null, cores: number|null, loadPerCore: number|null, zombies: number|null,
 *   diskSleep: number|null, stale: boolean, ageMs: number|null, worst: number|null,
 *   interval: number|null, alerts: import('./alerts.js').AlertCounts|null,
 * }} FleetRow
 */

/** The counts of a host without alerts when the alerts are known. */
const NO_ALERTS = Object.freeze({ firing: 0, pending: 0 });

const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/**
 * Reads one answer. Entries without a valid host name are dropped (counted in `rejected`).
 * @param {any} body parsed JSON
 * @param {Map<string, import('./alerts.js').AlertCounts>|null} [alerts] firing and pending
 *   alerts per host (lib/alerts.js `alertsByHost`); a host it lacks has none. null (the
 *   default): alerts unknown, every row's `alerts` is null.
 * @returns {{serverMs: number, staleAfter: number|null, rows: FleetRow[], rejected: number}}
 */
export function parseFleet(body, alerts = null) {
  if (!body || typeof body !== 'object' || !Array.isArray(body.hosts)) throw new Error('fleet answer has no hosts list');
  const serverMs = typeof body.server_time === 'string' ? Date.parse(body.server_time) : NaN;
  const rows = [];
  let rejected = 0;
  for (const h of body.hosts) {
    if (!h || typeof h !== 'object' || !isHostName(h.host)) {
      rejected++;
      continue;
    }
    const cpu = num(h.cpu);
    const ram = num(h.ram);
    const cores = num(h.cores);
    const load1 = num(h.load1);
    const seen = typeof h.last_seen === 'string' ? Date.parse(h.last_seen) : NaN;
    rows.push({
      host: h.host,
      source: typeof h.source === 'string' && h.source ? h.source : null,
      cpu,
      ram,
      swap: num(h.swap),
      load1,
      cores,
      loadPerCore: load1 !== null && cores !== null && cores > 0 ? load1 / cores : null,
      zombies: num(h.zombies),
      diskSleep: num(h.disk_sleep),
      stale: h.stale === true,
      ageMs: Number.isFinite(serverMs) && Number.isFinite(seen) ? Math.max(0, serverMs - seen) : null,
      worst: cpu === null ? ram : ram === null ? cpu : Math.max(cpu, ram),
      interval: num(h.interval_seconds),
      alerts: alerts === null ? null : alertsOf(alerts.get(h.host)),
    });
  }
  return { serverMs, staleAfter: num(body.stale_after_intervals), rows, rejected };
}

/** @param {import('./alerts.js').AlertCounts|undefined} c */
function alertsOf(c) {
  return c && (c.firing > 0 || c.pending > 0) ? { firing: c.firing, pending: c.pending } : NO_ALERTS;
}

/** Status cell text: "⚠ stale", or the level of the worse of CPU and RAM ("▲ warning"). @param {FleetRow} r */
export function statusText(r) {
  if (r.stale) return STALE_MARK;
  const l = level(r.worst);
  return l ? LEVEL_MARK[l] : '–';
}

const collator = new Intl.Collator('en', { sensitivity: 'base', numeric: true });

/**
 * Columns in display order. `value` is what sorts (null sorts last either way), `text` what the
 * cell shows; `first` is the direction of a first click (worst / biggest first for the
 * metrics, natural order for names); `alert` marks a cell worth a look (non-zero zombies or
 * D-state, as on the host view; firing alerts).
 * @type {readonly {key: string, label: string, type: 'num'|'text'|'status'|'alerts', first: 'asc'|'desc',
 *   value: (r: FleetRow) => any, text: (r: FleetRow) => string, alert?: (r: FleetRow) => boolean}[]}
 */
export const FLEET_COLUMNS = Object.freeze([
  { key: 'host', label: 'host', type: 'text', first: 'asc', value: (r) => r.host, text: (r) => r.host },
  { key: 'status', label: 'status', type: 'status', first: 'desc', value: (r) => r, text: statusText },
  { key: 'alerts', label: 'alerts', type: 'alerts', first: 'desc', value: (r) => r.alerts, text: (r) => countsText(r.alerts), alert: (r) => (r.alerts?.firing ?? 0) > 0 },
  { key: 'cpu', label: 'CPU %', type: 'num', first: 'desc', value: (r) => r.cpu, text: (r) => formatPct(r.cpu) },
  { key: 'ram', label: 'RAM %', type: 'num', first: 'desc', value: (r) => r.ram, text: (r) => formatPct(r.ram) },
  { key: 'swap', label: 'swap %', type: 'num', first: 'desc', value: (r) => r.swap, text: (r) => (r.swap === null ? '—' : formatPct(r.swap)) },
  { key: 'load1', label: 'load 1m', type: 'num', first: 'desc', value: (r) => r.load1, text: (r) => formatLoad(r.load1) },
  { key: 'load_core', label: 'load / core', type: 'num', first: 'desc', value: (r) => r.loadPerCore, text: (r) => formatLoad(r.loadPerCore) },
  { key: 'zombies', label: 'zombies', type: 'num', first: 'desc', value: (r) => r.zombies, text: (r) => formatCount(r.zombies), alert: (r) => (r.zombies ?? 0) > 0 },
  { key: 'disk_sleep', label: 'D-state', type: 'num', first: 'desc', value: (r) => r.diskSleep, text: (r) => formatCount(r.diskSleep), alert: (r) => (r.diskSleep ?? 0) > 0 },
  { key: 'source', label: 'source', type: 'text', first: 'asc', value: (r) => r.source, text: (r) => r.source ?? '—' },
  { key: 'last_seen', label: 'last seen', type: 'num', first: 'desc', value: (r) => r.ageMs, text: (r) => (r.ageMs === null ? '—' : formatAge(r.ageMs)) },
]);

const BY_KEY = new Map(FLEET_COLUMNS.map((c) => [c.key, c]));

/** The default order: worst first. */
export const DEFAULT_SORT = Object.freeze({ key: 'status', dir: /** @type {'desc'} */ ('desc') });

/** Status order: stale above fresh, then more firing alerts, then the worse of CPU/RAM (unknown lowest). */
function statusCmp(a, b) {
  if (a.stale !== b.stale) return a.stale ? 1 : -1;
  const f = (a.alerts?.firing ?? 0) - (b.alerts?.firing ?? 0);
  if (f !== 0) return f;
  return (a.worst ?? -1) - (b.worst ?? -1);
}

/** Alerts order: firing, then pending. @param {import('./alerts.js').AlertCounts} a @param {import('./alerts.js').AlertCounts} b */
function alertsCmp(a, b) {
  return a.firing - b.firing || a.pending - b.pending;
}

/**
 * A new array sorted by column `key` in `dir`; missing values last in either direction, ties by
 * host name so the order is stable from one poll to the next.
 * @param {FleetRow[]} rows
 * @param {string} key
 * @param {'asc'|'desc'} [dir]
 */
export function sortFleet(rows, key, dir = BY_KEY.get(key)?.first ?? 'desc') {
  const col = BY_KEY.get(key);
  if (!col) throw new RangeError(`unknown fleet column ${key}`);
  const sign = dir === 'asc' ? 1 : -1;
  const cmp =
    col.type === 'num' ? (a, b) => a - b : col.type === 'status' ? statusCmp : col.type === 'alerts' ? alertsCmp : (a, b) => collator.compare(a, b);
  return rows
    .map((r) => ({ r, v: col.value(r) }))
    .sort((x, y) => {
      if (x.v === null || y.v === null) {
        if (x.v !== y.v) return x.v === null ? 1 : -1;
      } else {
        const c = cmp(x.v, y.v);
        if (c !== 0) return sign * c;
      }
      return x.r.host < y.r.host ? -1 : x.r.host > y.r.host ? 1 : 0;
    })
    .map((e) => e.r);
}

/**
 * Rows whose host name or source contains `query` (case-insensitive; blanks around it ignored;
 * empty keeps all).
 * @param {FleetRow[]} rows
 * @param {string} query
 */
export function filterFleet(rows, query) {
  const q = String(query ?? '').trim().toLowerCase();
  if (!q) return rows;
  return rows.filter((r) => r.host.toLowerCase().includes(q) || (r.source ?? '').toLowerCase().includes(q));
}

/** Direction after clicking column `key` while sorted by `cur` in `curDir`. */
export function nextFleetSort(cur, curDir, key) {
  if (cur === key) return { key, dir: curDir === 'asc' ? 'desc' : 'asc' };
  return { key, dir: BY_KEY.get(key)?.first ?? 'desc' };
}

/**
 * What the fleet page knows of the alerts this poll: `ok` (the column shows the counts),
 * `disabled` (the broadcaster runs without rules) or `failed` (with why).
 * @typedef {{state: 'ok'|'disabled'|'failed', error?: string}} AlertsState
 */

/**
 * "1 000 hosts · 3 stale", with the alerts when given: "· 2 hosts with firing alerts", "· alert
 * rules not configured", "· alerts unavailable: <why>".
 * @param {FleetRow[]} rows
 * @param {AlertsState|null} [alerts]
 */
export function fleetSummary(rows, alerts = null) {
  const stale = rows.reduce((n, r) => n + (r.stale ? 1 : 0), 0);
  const text = `${formatCount(rows.length)} host${rows.length === 1 ? '' : 's'} · ${formatCount(stale)} stale`;
  if (!alerts) return text;
  if (alerts.state === 'disabled') return `${text} · alert rules not configured`;
  if (alerts.state === 'failed') return `${text} · alerts unavailable${alerts.error ? `: ${alerts.error}` : ''}`;
  const firing = rows.reduce((n, r) => n + ((r.alerts?.firing ?? 0) > 0 ? 1 : 0), 0);
  return `${text} · ${formatCount(firing)} host${firing === 1 ? '' : 's'} with firing alerts`;
}

/** How often the fleet page polls `/api/v1/fleet` (ms): the agents' usual interval. */
export const FLEET_POLL_MS = 1000;

/** How long one fleet poll may wait for its answer (ms); a poll that fails is retried next interval. */
export const FLEET_TIMEOUT_MS = 5000;
