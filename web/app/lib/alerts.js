// The broadcaster's alerts (pure): reading `GET /api/v1/alerts`, grouping per host, and the
// texts the host view's panel and the fleet's column show.
//
//   {"server_time":"…","enabled":true,"rules":3,
//    "alerts":[{"rule":"HostHighCpu","host":"vm-1","state":"firing","severity":"critical",
//      "metric":"cpu","op":">","threshold":90,"clear":85.5,"value":97.5,
//      "active_at":"…","fired_at":"…","summary":"CPU above 90 %","labels":{"team":"infra"}}, …],
//    "resolved":[{…, "state":"resolved", "resolved_at":"…"}, …]}
//
// `alerts` holds every active alert: "pending" (the condition holds, the rule's `for` has not
// passed yet; `fired_at` null) or "firing"; `resolved` those resolved in the last hour, newest
// first. The broadcaster evaluates the rules (`--alert-rules`); the page only shows them. With no
// rules `enabled` is false and both lists are empty. Ages are taken against `server_time`, so the
// browser's clock does not matter. A state is always said in words ("FIRING", "pending"), the
// colour only repeats it.

import { formatCount, formatLoad, formatPct } from './format.js';
import { durationText } from './rollup.js';
import { isHostName } from './store.js';

/** How often the host view polls `/api/v1/alerts` (ms). */
export const ALERTS_POLL_MS = 2000;

/** How long one alerts poll may wait for its answer (ms). */
export const ALERTS_TIMEOUT_MS = 5000;

/**
 * @typedef {{
 *   rule: string, host: string, state: string, severity: string, metric: string,
 *   op: string|null, threshold: number|null, clear: number|null, value: number|null,
 *   activeMs: number|null, firedMs: number|null, resolvedMs: number|null,
 *   summary: string, labels: [string, string][],
 * }} Alert
 * @typedef {{serverMs: number, enabled: boolean, rules: number, active: Alert[], resolved: Alert[], rejected: number}} AlertsAnswer
 * @typedef {{firing: number, pending: number}} AlertCounts
 * @typedef {AlertCounts & {active: Alert[], resolved: Alert[]}} HostAlerts
 */

/** Metrics in percent, counts, and load (lib/fleet.js shows them the same way). */
const PCT = new Set(['cpu', 'ram', 'swap']);
const COUNTS = new Set(['zombies', 'disk_sleep']);
const LOADS = new Set(['load1', 'load_per_core']);

/** What a metric is called on screen (the fleet table's column names). */
export const METRIC_LABEL = Object.freeze({
  cpu: 'CPU',
  ram: 'RAM',
  swap: 'swap',
  load1: 'load 1m',
  load_per_core: 'load / core',
  zombies: 'zombies',
  disk_sleep: 'D-state',
  stale: 'stale',
});

/** Severities in the contract's order; others sort after them. */
export const SEVERITIES = Object.freeze(['critical', 'warning', 'info']);

/** What is printed for a severity: a symbol (shape differs) and the word. */
export const SEVERITY_MARK = Object.freeze({ critical: '✖ critical', warning: '▲ warning', info: 'ℹ info' });

const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v) => (typeof v === 'string' ? v : '');
const time = (v) => {
  const t = typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isFinite(t) ? t : null;
};

/**
 * One alert of the answer, or null when it has no valid host name or no rule name.
 * @param {any} a
 * @returns {Alert|null}
 */
function readAlert(a) {
  if (!a || typeof a !== 'object' || !isHostName(a.host) || !str(a.rule)) return null;
  const labels = a.labels && typeof a.labels === 'object' && !Array.isArray(a.labels) ? a.labels : {};
  return {
    rule: a.rule,
    host: a.host,
    state: str(a.state) || 'unknown',
    severity: str(a.severity) || 'warning',
    metric: str(a.metric),
    op: str(a.op) || null,
    threshold: num(a.threshold),
    clear: num(a.clear),
    value: num(a.value),
    activeMs: time(a.active_at),
    firedMs: time(a.fired_at),
    resolvedMs: time(a.resolved_at),
    summary: str(a.summary),
    labels: Object.entries(labels)
      .filter(([, v]) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')
      .map(([k, v]) => /** @type {[string, string]} */ ([k, String(v)]))
      .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)),
  };
}

/**
 * Reads one answer. Entries without a valid host or rule name are dropped (counted in
 * `rejected`). Active alerts are put in the contract's order (`sortAlerts`), resolved ones
 * newest first, whatever order they came in.
 * @param {any} body parsed JSON
 * @returns {AlertsAnswer}
 */
export function parseAlerts(body) {
  if (!body || typeof body !== 'object' || !Array.isArray(body.alerts)) throw new Error('alerts answer has no alerts list');
  let rejected = 0;
  const read = (list) => {
    const out = [];
    for (const a of Array.isArray(list) ? list : []) {
      const r = readAlert(a);
      if (r) out.push(r);
      else rejected++;
    }
    return out;
  };
  const active = sortAlerts(read(body.alerts));
  const resolved = read(body.resolved).sort((a, b) => (b.resolvedMs ?? -Infinity) - (a.resolvedMs ?? -Infinity));
  return {
    serverMs: time(body.server_time) ?? NaN,
    enabled: body.enabled === true,
    rules: num(body.rules) ?? 0,
    active,
    resolved,
    rejected,
  };
}

const severityRank = (s) => {
  const i = SEVERITIES.indexOf(s);
  return i < 0 ? SEVERITIES.length : i;
};

/**
 * A new array in the contract's order: firing before pending, then severity (critical, warning,
 * info, others), then host, then rule.
 * @param {Alert[]} list
 */
export function sortAlerts(list) {
  const by = (x, y) => (x < y ? -1 : x > y ? 1 : 0);
  return [...list].sort(
    (a, b) =>
      Number(b.state === 'firing') - Number(a.state === 'firing') ||
      severityRank(a.severity) - severityRank(b.severity) ||
      by(a.host, b.host) ||
      by(a.rule, b.rule),
  );
}

/** Firing and pending alerts among `list`. @param {Alert[]} list @returns {AlertCounts} */
export function alertCounts(list) {
  let firing = 0;
  let pending = 0;
  for (const a of list) {
    if (a.state === 'firing') firing++;
    else if (a.state === 'pending') pending++;
  }
  return { firing, pending };
}

/** A host without alerts. */
export const NO_ALERTS = Object.freeze(/** @type {HostAlerts} */ ({ firing: 0, pending: 0, active: [], resolved: [] }));

/**
 * Alerts per host: active and resolved ones in the answer's order, and the counts.
 * @param {AlertsAnswer} answer
 * @returns {Map<string, HostAlerts>}
 */
export function alertsByHost(answer) {
  /** @type {Map<string, HostAlerts>} */
  const m = new Map();
  const entry = (host) => {
    let e = m.get(host);
    if (!e) m.set(host, (e = { firing: 0, pending: 0, active: [], resolved: [] }));
    return e;
  };
  for (const a of answer.active) {
    const e = entry(a.host);
    e.active.push(a);
    if (a.state === 'firing') e.firing++;
    else if (a.state === 'pending') e.pending++;
  }
  for (const a of answer.resolved) entry(a.host).resolved.push(a);
  return m;
}

/**
 * The fleet column's text: "2 firing · 1 pending", "1 firing", "1 pending"; "—" with none, and
 * when the alerts are unknown (null: the request failed or no rules are configured).
 * @param {AlertCounts|null|undefined} c
 */
export function countsText(c) {
  if (!c) return '—';
  const parts = [];
  if (c.firing > 0) parts.push(`${formatCount(c.firing)} firing`);
  if (c.pending > 0) parts.push(`${formatCount(c.pending)} pending`);
  return parts.length ? parts.join(' · ') : '—';
}

/** "FIRING", "pending", "resolved" (firing in capitals: it is the one to act on). @param {string} state */
export function stateText(state) {
  return state === 'firing' ? 'FIRING' : state;
}

/** "✖ critical", "▲ warning", "ℹ info", or "• <severity>" for one the page does not know. @param {string} s */
export function severityText(s) {
  return SEVERITY_MARK[/** @type {keyof typeof SEVERITY_MARK} */ (s)] ?? `• ${s}`;
}

/**
 * A value of `metric` as the rest of the page shows it: percentages with one decimal and "%",
 * counts as integers, load with two decimals; `stale` in words.
 * @param {string} metric
 * @param {number|null} v
 */
export function formatMetricValue(metric, v) {
  if (metric === 'stale') return 'no recent samples';
  if (PCT.has(metric)) return formatPct(v);
  if (COUNTS.has(metric)) return formatCount(v);
  if (LOADS.has(metric)) return formatLoad(v);
  return typeof v === 'number' && Number.isFinite(v) ? String(Math.round(v * 100) / 100) : '–';
}

/**
 * The alert's value against its rule: "CPU 97.5 % (threshold > 90.0 %, clears past 85.5 %)",
 * "zombies 3 (threshold >= 1)"; for `stale` "host stale: no recent samples".
 * @param {Alert} a
 */
export function conditionText(a) {
  if (a.metric === 'stale') return `host stale: ${formatMetricValue('stale', null)}`;
  const label = METRIC_LABEL[/** @type {keyof typeof METRIC_LABEL} */ (a.metric)] ?? a.metric;
  const rule = [];
  if (a.threshold !== null) rule.push(`threshold ${a.op ?? '>'} ${formatMetricValue(a.metric, a.threshold)}`);
  // Without hysteresis the broadcaster sends clear = threshold: nothing to add.
  if (a.clear !== null && a.clear !== a.threshold) rule.push(`clears past ${formatMetricValue(a.metric, a.clear)}`);
  const value = `${label} ${formatMetricValue(a.metric, a.value)}`;
  return rule.length ? `${value} (${rule.join(', ')})` : value;
}

/**
 * Since when, against the answer's server time: "firing for 2 min", "pending for 12 s",
 * "resolved 5 min ago".
 * @param {Alert} a
 * @param {number} serverMs
 */
export function sinceText(a, serverMs) {
  const span = (t) => (t === null || !Number.isFinite(serverMs) ? null : durationText(Math.max(0, Math.round((serverMs - t) / 1000))));
  if (a.state === 'resolved') {
    const s = span(a.resolvedMs);
    return s === null ? 'resolved' : `resolved ${s} ago`;
  }
  const s = span(a.state === 'firing' ? (a.firedMs ?? a.activeMs) : a.activeMs);
  return s === null ? a.state : `${a.state} for ${s}`;
}

const pad = (n) => String(n).padStart(2, '0');

/** "2026-12-01 10:58:05" in local time. @param {number} ms */
export function clockText(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/**
 * The absolute times of an alert, for its tooltip: "active since 2026-12-01 10:58:00 · fired
 * 2026-12-01 10:59:00 · resolved … (local time)".
 * @param {Alert} a
 */
export function timesTitle(a) {
  const parts = [];
  if (a.activeMs !== null) parts.push(`active since ${clockText(a.activeMs)}`);
  if (a.firedMs !== null) parts.push(`fired ${clockText(a.firedMs)}`);
  if (a.resolvedMs !== null) parts.push(`resolved ${clockText(a.resolvedMs)}`);
  return parts.length ? `${parts.join(' · ')} (local time)` : '';
}

/** "team=infra · env=prod" ('' without labels). @param {Alert} a */
export function labelsText(a) {
  return a.labels.map(([k, v]) => `${k}=${v}`).join(' · ');
}

/** What the host view says when alerts are off. */
export const DISABLED_TEXT = 'Alert rules are not configured (the broadcaster runs without --alert-rules).';

/**
 * The panel's status line for `host`: loading, rules not configured, "No active alerts", or the
 * counts ("1 firing · 2 pending").
 * @param {AlertsAnswer|null} answer null before the first answer
 * @param {HostAlerts|null} h the host's alerts (null: no host selected)
 */
export function panelStatus(answer, h) {
  if (!answer) return 'loading alerts…';
  if (!answer.enabled) return DISABLED_TEXT;
  if (!h) return 'waiting for a host';
  if (h.active.length === 0) return 'No active alerts';
  const c = countsText(h);
  // An active alert in a state the page does not know still counts as active.
  return c === '—' ? `${formatCount(h.active.length)} active` : c;
}

/**
 * The badge by the host picker: "✖ 2 firing", "✖ 1 firing · 1 pending", "◷ 1 pending"; '' when
 * the host has no active alert (the badge is then hidden).
 * @param {HostAlerts|null} h
 */
export function badgeText(h) {
  if (!h || (h.firing === 0 && h.pending === 0)) return '';
  return `${h.firing > 0 ? '✖' : '◷'} ${countsText(h)}`;
}
