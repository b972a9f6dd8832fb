// The history API's answers as chart data (pure).
//
// `GET /api/v1/history` answers either raw rows (tier `raw`, the short ranges):
//   {"tier":"raw","step_seconds":null,"from":"…","to":"…","samples":[row, …],"truncated":false}
// or rolled-up points (tiers `1m`, `1h`):
//   {"tier":"1m","step_seconds":120,"from":"…","to":"…","complete_to":"…" or null,
//    "points":[{"host":"vm-1","t":"…Z","n":120,
//     "cpu":[min,avg,max],"ram":[…],"swap":[…] or null,"load1":[…],"zombies_max":0,
//     "disk_sleep_max":0,"cores":4,"source":"kmod"}, …],"truncated":false}
// (points grouped by host in name order, oldest first; `next_host` when a page limit cut it).
// `complete_to` is the rollups' watermark: rows received up to then are rolled up, so a range
// ending later may be missing its newest part (maintenance lagging or off); null when nothing
// is rolled up yet. `lagText` says so when it lags the range's end by over LAG_NOTE_MS.
//
// Both become one shape, `HistorySeries`: x in epoch seconds and, per metric, min / avg / max
// columns (a raw row's value is all three). Where the data has a hole longer than
// GAP_STEPS × step, a null point is put in so the chart shows a gap instead of a straight line
// over hours without data. `bandData` turns one metric into uPlot's
// `[x, max, avg, min]` with a band between max and min.

import { swapParts } from './memory.js';

/** Metrics drawn for a fetched range, in display order. `pct`: a 0–100 % scale. */
export const METRICS = Object.freeze([
  Object.freeze({ key: 'cpu', label: 'CPU', unit: '%', pct: true }),
  Object.freeze({ key: 'ram', label: 'RAM', unit: '%', pct: true }),
  Object.freeze({ key: 'swap', label: 'Swap', unit: '%', pct: true }),
  Object.freeze({ key: 'load1', label: 'Load (1 min)', unit: '', pct: false }),
]);

/** Tiers the API names. */
export const TIERS = Object.freeze(['raw', '1m', '1h']);

/** The page notes how far the rollups go when they end this long before the range does (ms). */
export const LAG_NOTE_MS = 5 * 60_000;

/** A hole longer than this many steps is drawn as a gap. */
export const GAP_STEPS = 2;

/**
 * @typedef {{min: (number|null)[], avg: (number|null)[], max: (number|null)[]}} Band
 * @typedef {{
 *   xs: number[], cpu: Band, ram: Band, swap: Band, load1: Band,
 *   points: number, samples: number, zombiesMax: number|null, diskSleepMax: number|null,
 *   cores: number|null, source: string|null, step: number|null,
 * }} HistorySeries
 */

const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/**
 * Checks the answer's envelope. Throws an Error saying what is wrong with it.
 * @param {any} body parsed JSON
 * @returns {{tier: string, step: number|null, fromMs: number, toMs: number, points: any[]|null,
 *   samples: any[]|null, truncated: boolean, nextHost: string|null, completeToMs: number|null|undefined}}
 *   `completeToMs`: the rollups' watermark in ms; null when the answer says nothing is rolled
 *   up yet; undefined when it does not say (raw rows, an older broadcaster, an unreadable time).
 */
export function parseHistoryAnswer(body) {
  if (!body || typeof body !== 'object') throw new Error('history answer is not a JSON object');
  const tier = typeof body.tier === 'string' ? body.tier : null;
  if (tier !== null && !TIERS.includes(tier)) throw new Error(`history answer has an unknown tier “${tier}”`);
  const points = Array.isArray(body.points) ? body.points : null;
  const samples = Array.isArray(body.samples) ? body.samples : null;
  if (points === null && samples === null) throw new Error('history answer has neither points nor samples');
  if (tier !== null && tier !== 'raw' && points === null) throw new Error(`history answer of tier ${tier} has no points`);
  const step = num(body.step_seconds);
  return {
    tier: tier ?? 'raw',
    step: step !== null && step > 0 ? step : null,
    fromMs: typeof body.from === 'string' ? Date.parse(body.from) : NaN,
    toMs: typeof body.to === 'string' ? Date.parse(body.to) : NaN,
    points,
    samples,
    truncated: body.truncated === true,
    nextHost: typeof body.next_host === 'string' ? body.next_host : null,
    completeToMs: completeTo(body.complete_to),
  };
}

/** @param {unknown} v `complete_to` @returns {number|null|undefined} */
function completeTo(v) {
  if (v === null) return null;
  if (typeof v !== 'string') return undefined;
  const ms = Date.parse(v);
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * What the page says about rollups that do not reach the end of the range: '' when they do
 * (within LAG_NOTE_MS), the answer is raw rows or does not say; else "rolled up to <time>" and
 * how much of the range that leaves out.
 * @param {{tier: string, completeToMs: number|null|undefined}} a a parsed answer
 * @param {number} toMs the range's end
 * @param {(ms: number) => string} timeText how a time is shown (local time on the page)
 */
export function lagText(a, toMs, timeText) {
  if (a.tier === 'raw' || a.completeToMs === undefined || !Number.isFinite(toMs)) return '';
  if (a.completeToMs === null) return 'nothing rolled up yet: is ingest running its maintenance (--no-maintenance)?';
  const behind = toMs - a.completeToMs;
  if (behind <= LAG_NOTE_MS) return '';
  return `rolled up to ${timeText(a.completeToMs)}: the last ${durationText(behind / 1000)} of the range may be missing or partial`;
}

/** `[min, avg, max]` of a point's metric, or nulls. */
function triple(v) {
  if (!Array.isArray(v) || v.length !== 3) return [null, null, null];
  const [a, b, c] = v.map(num);
  return [a, b, c];
}

function emptySeries(step) {
  const band = () => ({ min: [], avg: [], max: [] });
  return /** @type {HistorySeries} */ ({
    xs: [],
    cpu: band(),
    ram: band(),
    swap: band(),
    load1: band(),
    points: 0,
    samples: 0,
    zombiesMax: null,
    diskSleepMax: null,
    cores: null,
    source: null,
    step,
  });
}

/** Appends one x with per-metric triples (null for a gap). */
function push(s, x, values) {
  s.xs.push(x);
  for (const m of METRICS) {
    const [lo, mid, hi] = values ? values[m.key] : [null, null, null];
    s[m.key].min.push(lo);
    s[m.key].avg.push(mid);
    s[m.key].max.push(hi);
  }
}

/**
 * Adds the items (already sorted by x) with gap markers where consecutive xs are more than
 * GAP_STEPS × `step` apart.
 * @param {HistorySeries} s
 * @param {{x: number, values: Record<string, (number|null)[]>}[]} items
 * @param {number|null} step seconds; without one no gaps are put in
 */
function fill(s, items, step) {
  let prev = null;
  for (const it of items) {
    if (prev !== null && step !== null && it.x - prev > GAP_STEPS * step) push(s, prev + step, null);
    push(s, it.x, it.values);
    prev = it.x;
  }
}

const max = (a, b) => (b === null ? a : a === null ? b : Math.max(a, b));

/**
 * One host's rolled-up points as a series (other hosts' points are skipped; unreadable points
 * too).
 * @param {any[]} points
 * @param {string} host
 * @param {number|null} step the answer's step_seconds
 * @returns {HistorySeries}
 */
export function seriesFromPoints(points, host, step) {
  const s = emptySeries(step);
  const items = [];
  let newest = -Infinity;
  for (const p of points) {
    if (!p || p.host !== host || typeof p.t !== 'string') continue;
    const ms = Date.parse(p.t);
    if (!Number.isFinite(ms)) continue;
    const x = ms / 1000;
    items.push({ x, values: { cpu: triple(p.cpu), ram: triple(p.ram), swap: triple(p.swap), load1: triple(p.load1) } });
    s.samples += num(p.n) ?? 0;
    s.zombiesMax = max(s.zombiesMax, num(p.zombies_max));
    s.diskSleepMax = max(s.diskSleepMax, num(p.disk_sleep_max));
    if (x >= newest) {
      newest = x;
      s.cores = num(p.cores) ?? s.cores;
      s.source = typeof p.source === 'string' ? p.source : s.source;
    }
  }
  items.sort((a, b) => a.x - b.x);
  s.points = items.length;
  fill(s, items, step);
  return s;
}

/**
 * One host's raw rows (tier `raw`) as a series: each row's value is its min, avg and max.
 * Holes are judged against the median spacing of the rows (they may be downsampled).
 * @param {any[]} samples wire rows
 * @param {string} host
 * @returns {HistorySeries}
 */
export function seriesFromSamples(samples, host) {
  const items = [];
  let zombies = null;
  let disk = null;
  let newest = null;
  for (const r of samples) {
    if (!r || r.host !== host || typeof r.collected_at !== 'string') continue;
    const ms = Date.parse(r.collected_at);
    if (!Number.isFinite(ms)) continue;
    const one = (v) => [v, v, v];
    const swap = swapParts(r.ram);
    items.push({
      x: ms / 1000,
      values: {
        cpu: one(num(r.cpu?.usage_percent)),
        ram: one(num(r.ram?.used_percent)),
        swap: one(swap ? swap.pct : null),
        load1: one(num(r.cpu?.load1)),
      },
    });
    zombies = max(zombies, num(r.procs?.zombie));
    disk = max(disk, num(r.procs?.disk_sleep));
    if (newest === null || ms >= Date.parse(newest.collected_at)) newest = r;
  }
  items.sort((a, b) => a.x - b.x);
  const step = medianGap(items.map((i) => i.x));
  const s = emptySeries(step);
  s.points = items.length;
  s.samples = items.length;
  s.zombiesMax = zombies;
  s.diskSleepMax = disk;
  s.cores = num(newest?.cpu?.cores);
  s.source = typeof newest?.source === 'string' ? newest.source : null;
  fill(s, items, step);
  return s;
}

/** Median of the positive gaps between sorted xs, or null with fewer than two. @param {number[]} xs */
export function medianGap(xs) {
  const gaps = [];
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[i - 1]) gaps.push(xs[i] - xs[i - 1]);
  if (gaps.length === 0) return null;
  gaps.sort((a, b) => a - b);
  return gaps[Math.floor(gaps.length / 2)];
}

/**
 * The series of one host from a parsed answer (see parseHistoryAnswer).
 * @param {ReturnType<typeof parseHistoryAnswer>} a
 * @param {string} host
 */
export function seriesFromAnswer(a, host) {
  return a.points !== null ? seriesFromPoints(a.points, host, a.step) : seriesFromSamples(a.samples ?? [], host);
}

/**
 * uPlot data for one metric: `[xs, max, avg, min]` (the band goes from series 1 down to 3).
 * @param {HistorySeries} s
 * @param {'cpu'|'ram'|'swap'|'load1'} key
 */
export function bandData(s, key) {
  const b = s[key];
  return [s.xs, b.max, b.avg, b.min];
}

/** The uPlot `bands` option matching bandData: fill between max (series 1) and min (series 3). */
export function bandsOption(fill) {
  return [{ series: [1, 3], fill }];
}

/** Whether a metric has any value in the series (swap is null on hosts without swap). */
export function hasValues(s, key) {
  return s[key].avg.some((v) => v !== null);
}

/** Largest max of a metric, or null (the load chart's y scale). */
export function peak(s, key) {
  let m = null;
  for (const v of s[key].max) if (v !== null && (m === null || v > m)) m = v;
  return m;
}

/**
 * The query of the next page when an answer was cut short (`truncated` with `next_host`), or
 * null. Only an all-hosts query pages (the API refuses `from_host` with `host`), so a one-host
 * query has nothing more to ask.
 * @param {Record<string, string>} params the query that was sent
 * @param {ReturnType<typeof parseHistoryAnswer>} a its answer
 */
export function nextPage(params, a) {
  if (!a.truncated || a.nextHost === null || params.host) return null;
  return { ...params, from_host: a.nextHost };
}

/**
 * Text of the tier and step: "tier 1m · step 2 min", "raw rows".
 * @param {string} tier
 * @param {number|null} step seconds
 */
export function tierText(tier, step) {
  if (tier === 'raw') return 'raw rows';
  return step === null ? `tier ${tier}` : `tier ${tier} · step ${durationText(step)}`;
}

/** 45 → "45 s", 120 → "2 min", 5400 → "1.5 h", 172800 → "2 d". @param {number} s */
export function durationText(s) {
  const t = (v) => String(Math.round(v * 10) / 10);
  if (s < 60) return `${t(s)} s`;
  if (s < 3600) return `${t(s / 60)} min`;
  if (s < 86400) return `${t(s / 3600)} h`;
  return `${t(s / 86400)} d`;
}

/**
 * The error text of a failed history request: the API's `{"error":{"message","field"}}`
 * (422 names the parameter at fault), else the status line.
 * @param {number} status
 * @param {any} body parsed JSON or null
 */
export function errorText(status, body) {
  const e = body && typeof body === 'object' ? body.error : null;
  const msg = e && typeof e.message === 'string' ? e.message : null;
  const field = e && typeof e.field === 'string' ? e.field : null;
  if (msg && field) return msg.startsWith(field) ? `${status}: ${msg}` : `${status}: ${field}: ${msg}`;
  if (msg) return `${status}: ${msg}`;
  return `HTTP ${status}`;
}
