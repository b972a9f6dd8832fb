// Time ranges of the host view (pure): the presets, custom from/to, and what each one asks the
// broadcaster for.
//
// A range is either a preset (`{kind: 'preset', key: '24h'}`) or a custom span
// (`{kind: 'custom', from, to}` with each end an RFC 3339 time, `now`, or a relative one: `-` and a
// duration in the grammar of every procpulse duration, `-30s`, `-15m`, `-1h30m`, `-7d`, `-1500ms`;
// see parseDuration). The two shortest presets are *live*: the
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

/** Milliseconds per unit of a duration. */
const UNIT_MS = Object.freeze({ d: 86_400_000n, h: 3_600_000n, m: 60_000n, s: 1_000n, ms: 1n });
/** Largest sum while parsing, in ms (the Rust parser adds in a u64 of milliseconds). */
const U64_MAX = 2n ** 64n - 1n;
/** The longest duration accepted, in ms: 1,000 years of 365 days (`365000d`, HumanDuration::MAX). */
export const MAX_DURATION_MS = 1000 * 365 * 86_400_000;
/** 0001-01-01T00:00:00Z: the broadcaster refuses a relative time reaching before year 1. */
const YEAR_1_MS = -62_135_596_800_000;
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
 * A duration in milliseconds, or null when the text is not one. The grammar is exactly that of
 * the Rust `HumanDuration` (userland/storage/src/maintain/config.rs), which ingest's
 * `--retention` and the broadcaster's relative `from`/`to` read: `0`, or one or more
 * whole numbers (ASCII digits) each followed by a unit `d`, `h`, `m`, `s` or `ms` (`7d`,
 * `1h30m`, `250ms`; units may repeat and come in any order); no sign, spaces, fractions or
 * bare numbers; at most MAX_DURATION_MS (1,000 years).
 * @param {unknown} text
 * @returns {number|null}
 */
export function parseDuration(text) {
  if (typeof text !== 'string' || text === '') return null;
  if (text === '0') return 0;
  let total = 0n;
  let rest = text;
  while (rest !== '') {
    const m = /^([0-9]+)([A-Za-z]*)/.exec(rest);
    if (!m) return null;
    const per = Object.hasOwn(UNIT_MS, m[2]) ? UNIT_MS[/** @type {keyof UNIT_MS} */ (m[2])] : null;
    const n = BigInt(m[1]);
    if (per === null || n > U64_MAX) return null;
    total += n * per;
    if (total > U64_MAX) return null;
    rest = rest.slice(m[0].length);
  }
  return total > BigInt(MAX_DURATION_MS) ? null : Number(total);
}

/**
 * A relative time (`-` and a duration, e.g. `-1h30m`) as ms before now, or null when the text
 * is not one.
 * @param {string} s
 */
function relativeMs(s) {
  return s.startsWith('-') ? parseDuration(s.slice(1)) : null;
}

/**
 * Whether a time text is one the history API takes: RFC 3339 with seconds and an offset, `now`,
 * or a relative time (`-` and a duration, see parseDuration) not reaching before year 1.
 * @param {unknown} s
 */
export function isTimeText(s) {
  if (typeof s !== 'string') return false;
  if (s === 'now' || relativeMs(s) !== null) return true;
  return RFC3339.test(s) && Number.isFinite(Date.parse(s));
}

/** Relative or `now` (moves with the clock) rather than a fixed instant. @param {string} s */
export function isMoving(s) {
  return s === 'now' || relativeMs(s) !== null;
}

/**
 * The instant a time text names, in ms since the epoch, for `nowMs`; NaN when it is not one,
 * or when a relative time reaches before year 1 (the broadcaster refuses those too).
 * @param {string} s
 * @param {number} nowMs
 */
export function resolveTime(s, nowMs) {
  if (s === 'now') return nowMs;
  const ago = relativeMs(s);
  if (ago !== null) {
    const t = nowMs - ago;
    return t >= YEAR_1_MS ? t : NaN;
  }
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
  if (!isTimeText(from)) return 'from: not a time (RFC 3339 such as 2026-11-23T10:00:00Z, or relative such as -3h or -1h30m)';
  if (!isTimeText(to)) return 'to: not a time (RFC 3339 such as 2026-11-23T10:00:00Z, relative such as -1h, or now)';
  const f = resolveTime(from, nowMs);
  const t = resolveTime(to, nowMs);
  if (Number.isNaN(f)) return 'from: reaches before year 1';
  if (Number.isNaN(t)) return 'to: reaches before year 1';
  if (!(f < t)) return 'from must be before to';
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
