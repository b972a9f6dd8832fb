// Time ranges of the host view (pure): the presets, custom from/to, and what each one asks the
// broadcaster for.
//
// A range is either a preset (`{kind: 'preset', key: '24h'}`) or a custom span
// (`{kind: 'custom', from, to}` with each end an RFC 3339 time or a relative one the broadcaster
// understands: `-30s`, `-15m`, `-24h`, `-7d`, `now`). The two shortest presets are *live*: the
// charts are the WebSocket's tail, as before ranges existed. Every other range is fetched from
// `GET /api/v1/history?host=&from=&to=` and drawn from what that answers (rolled-up min/avg/max
// per step, or raw rows for a short custom span).

/**
 * The presets, shortest first. `seconds` is the span; `live` ranges are drawn from the
 * WebSocket (15 min of backfill, 1 h of ring buffer), the others fetched from the history API.
 */
export const PRESETS = Object.freeze([
  Object.freeze({ key: '15m', label: '15 m', seconds: 15 * 60, live: true }),
  Object.freeze({ key: '1h', label: '1 h', seconds: 3600, live: true }),
  Object.freeze({ key: '6h', label: '6 h', seconds: 6 * 3600, live: false }),
  Object.freeze({ key: '24h', label: '24 h', seconds: 24 * 3600, live: false }),
  Object.freeze({ key: '7d', label: '7 d', seconds: 7 * 86400, live: false }),
  Object.freeze({ key: '30d', label: '30 d', seconds: 30 * 86400, live: false }),
]);

/** The range a page without `range=`/`from=` shows. */
export const DEFAULT_PRESET = '15m';

/** How often a fetched range that ends now is fetched again (ms). */
export const REFRESH_MS = 60_000;

const BY_KEY = new Map(PRESETS.map((p) => [p.key, p]));

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 };
const RELATIVE = /^-(\d{1,7})([smhd])$/;
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/** @typedef {{kind: 'preset', key: string} | {kind: 'custom', from: string, to: string}} Range */

/** @param {string} key @returns {Range} */
export function preset(key) {
  if (!BY_KEY.has(key)) throw new RangeError(`unknown range preset ${key}`);
  return { kind: 'preset', key };
}

/** The preset's definition, or null for a custom range. @param {Range} r */
export function presetOf(r) {
  return r.kind === 'preset' ? (BY_KEY.get(r.key) ?? null) : null;
}

/** Live ranges are the WebSocket tail; the others are fetched. @param {Range} r */
export function isLive(r) {
  return presetOf(r)?.live === true;
}

/**
 * Whether a time text is one the history API takes: RFC 3339 with seconds and an offset, a
 * relative `-N{s,m,h,d}`, or `now`.
 * @param {unknown} s
 */
export function isTimeText(s) {
  if (typeof s !== 'string') return false;
  if (s === 'now' || RELATIVE.test(s)) return true;
  return RFC3339.test(s) && Number.isFinite(Date.parse(s));
}

/** Relative or `now` (moves with the clock) rather than a fixed instant. @param {string} s */
export function isMoving(s) {
  return s === 'now' || RELATIVE.test(s);
}

/**
 * The instant a time text names, in ms since the epoch, for `nowMs`; NaN when it is not one.
 * @param {string} s
 * @param {number} nowMs
 */
export function resolveTime(s, nowMs) {
  if (s === 'now') return nowMs;
  const m = RELATIVE.exec(s);
  if (m) return nowMs - Number(m[1]) * UNIT_SECONDS[m[2]] * 1000;
  return isTimeText(s) ? Date.parse(s) : NaN;
}

/**
 * Checks a custom range: both ends readable and from before to. Returns an error text naming
 * the end at fault, or null when it is fine.
 * @param {string} from
 * @param {string} to
 * @param {number} nowMs
 */
export function customError(from, to, nowMs) {
  if (!isTimeText(from)) return 'from: not a time (RFC 3339 such as 2026-11-23T10:00:00Z, or relative such as -3h)';
  if (!isTimeText(to)) return 'to: not a time (RFC 3339 such as 2026-11-23T10:00:00Z, relative such as -1h, or now)';
  if (!(resolveTime(from, nowMs) < resolveTime(to, nowMs))) return 'from must be before to';
  return null;
}

/**
 * The range as `[fromMs, toMs]` for `nowMs` (presets end now).
 * @param {Range} r
 * @param {number} nowMs
 */
export function bounds(r, nowMs) {
  const p = presetOf(r);
  if (p) return [nowMs - p.seconds * 1000, nowMs];
  if (r.kind === 'custom') return [resolveTime(r.from, nowMs), resolveTime(r.to, nowMs)];
  return [NaN, NaN];
}

/**
 * Query parameters of `GET /api/v1/history` for a range and host: presets ask for a relative
 * `from` (the server's `to` defaults to now), custom ranges pass both ends as given.
 * @param {Range} r
 * @param {string} host
 * @returns {Record<string, string>}
 */
export function historyParams(r, host) {
  const p = presetOf(r);
  if (p) return { host, from: `-${p.key}` };
  if (r.kind === 'custom') return { host, from: r.from, to: r.to };
  throw new RangeError('not a range');
}

/** A fetched range is fetched again every REFRESH_MS while it ends now. @param {Range} r */
export function refreshes(r) {
  if (isLive(r)) return false;
  return r.kind === 'preset' || isMoving(r.to);
}

/**
 * How many seconds of the live tail the charts show (the preset's span), or null for a fetched
 * range.
 * @param {Range} r
 */
export function liveWindowSeconds(r) {
  const p = presetOf(r);
  return p && p.live ? p.seconds : null;
}

/** Same range? @param {Range} a @param {Range} b */
export function sameRange(a, b) {
  if (a.kind !== b.kind) return false;
  return a.kind === 'preset' ? a.key === /** @type {any} */ (b).key : a.from === /** @type {any} */ (b).from && a.to === /** @type {any} */ (b).to;
}

/** Short text of a range: "24 h", or "2026-11-20 10:00 → now" (ends as given or local time). @param {Range} r */
export function rangeLabel(r) {
  const p = presetOf(r);
  if (p) return p.label;
  if (r.kind !== 'custom') return '';
  const end = (s) => (isMoving(s) ? s : localText(Date.parse(s)));
  return `${end(r.from)} → ${end(r.to)}`;
}

const pad = (n) => String(n).padStart(2, '0');

/** "2026-11-23 14:05" in local time. @param {number} ms */
export function localText(ms) {
  if (!Number.isFinite(ms)) return '–';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/**
 * The value an `<input type="datetime-local">` shows for an instant (local time, minutes).
 * @param {number} ms
 */
export function toLocalInput(ms) {
  if (!Number.isFinite(ms)) return '';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/**
 * An `<input type="datetime-local">` value (local time) as RFC 3339 UTC with seconds, or null
 * when it is empty or not a date.
 * @param {string} value e.g. "2026-11-23T14:05" or "2026-11-23T14:05:30"
 */
export function fromLocalInput(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(String(value ?? ''));
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1).map((x) => Number(x ?? 0));
  const date = new Date(y, mo - 1, d, h, mi, s);
  if (date.getMonth() !== mo - 1 || date.getDate() !== d) return null; // 2026-02-31 and the like
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
