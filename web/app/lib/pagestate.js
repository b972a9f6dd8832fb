// What the page shows, kept in its URL (pure): which view, which host, which range.
//
//   ?host=vm-1&range=24h                               host view, a preset range
//   ?host=vm-1&from=2026-11-20T10:00:00Z&to=now          host view, a custom range
//   ?view=fleet                                         the fleet table
//
// Every other parameter (`ws=`) is kept as it is, so a link or a history entry built from a state
// keeps pointing at the same broadcaster. `range=15m` (the default) is left out of the URL.
// Wrong values do not break the page: they fall back to the default and come back as `errors`
// (one text per parameter, naming it) for the page to show.

import { customError, DEFAULT_PRESET, PRESETS, preset } from './range.js';
import { isHostName } from './store.js';

/** Parameters this module owns; the rest of a query string is passed through untouched. */
export const STATE_PARAMS = Object.freeze(['view', 'host', 'range', 'from', 'to']);

/** Views of the page. */
export const VIEWS = Object.freeze(['host', 'fleet']);

/**
 * @typedef {{view: 'host'|'fleet', host: string|null, range: import('./range.js').Range}} PageState
 */

/**
 * Reads the page state from a query string.
 * @param {string} search `location.search` (with or without the `?`)
 * @param {number} [nowMs] for checking a custom range (from before to)
 * @returns {{state: PageState, errors: string[]}}
 */
export function readState(search, nowMs = Date.now()) {
  const q = new URLSearchParams(search);
  const errors = [];
  let view = /** @type {'host'|'fleet'} */ ('host');
  const v = q.get('view');
  if (v !== null && v !== '') {
    if (v === 'fleet' || v === 'host') view = v;
    else errors.push(`view: unknown view “${v}” (host or fleet)`);
  }
  let host = q.get('host');
  if (host === '') host = null;
  if (host !== null && !isHostName(host)) {
    errors.push('host: not a host name (1–64 characters of A–Z a–z 0–9 . _ -)');
    host = null;
  }
  /** @type {import('./range.js').Range} */
  let range = preset(DEFAULT_PRESET);
  const from = q.get('from');
  const to = q.get('to');
  const r = q.get('range');
  if ((from !== null && from !== '') || (to !== null && to !== '')) {
    const f = from || '';
    const t = to || 'now';
    const err = f ? customError(f, t, nowMs) : 'from: missing (a custom range needs from; to defaults to now)';
    if (err) errors.push(err);
    else range = { kind: 'custom', from: f, to: t };
  } else if (r !== null && r !== '') {
    if (PRESETS.some((p) => p.key === r)) range = preset(r);
    else errors.push(`range: unknown range “${r}” (${PRESETS.map((p) => p.key).join(', ')}, or from= and to=)`);
  }
  return { state: { view, host, range }, errors };
}

/**
 * The query string (with `?`, or '' when empty) for `state`, keeping the parameters of `base`
 * this module does not own. The fleet view keeps no host or range.
 * @param {PageState} state
 * @param {string} [base] the current `location.search`
 */
export function writeState(state, base = '') {
  const keep = new URLSearchParams(base);
  for (const k of STATE_PARAMS) keep.delete(k);
  const q = new URLSearchParams();
  if (state.view === 'fleet') {
    q.set('view', 'fleet');
  } else {
    if (state.host) q.set('host', state.host);
    const r = state.range;
    if (r.kind === 'custom') {
      q.set('from', r.from);
      q.set('to', r.to);
    } else if (r.key !== DEFAULT_PRESET) {
      q.set('range', r.key);
    }
  }
  for (const [k, v] of keep) q.append(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * The link to one host's view (from the fleet table), default range, other parameters kept;
 * without a host, the host view's default.
 * @param {string|null} host
 * @param {string} [base]
 */
export function hostLink(host, base = '') {
  return writeState({ view: 'host', host, range: preset(DEFAULT_PRESET) }, base) || '?';
}

/**
 * The link to the fleet view, other parameters kept.
 * @param {string} [base]
 */
export function fleetLink(base = '') {
  return writeState({ view: 'fleet', host: null, range: preset(DEFAULT_PRESET) }, base);
}

/**
 * The host the host view shows: the one asked for (`?host=` or the selector) when the live feed
 * knows it or the range is fetched (a host's rollups outlive it in the feed), else the first
 * host the feed knows, else null. The page calls this once per frame and fetches a fetched
 * range for exactly this host (review 10: it once fetched for the previous one).
 * @param {string|null} wanted
 * @param {boolean} live the range is drawn from the WebSocket
 * @param {{has(name: string): boolean}} known hosts the live feed holds
 * @param {string[]} names the same, in name order
 * @returns {string|null}
 */
export function shownHost(wanted, live, known, names) {
  if (wanted && (!live || known.has(wanted))) return wanted;
  return names[0] ?? null;
}
