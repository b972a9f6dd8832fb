// The process table (the newest row's `top` list): columns, filtering, sorting, paging.
// Pure; the view (views/top.js) renders what these return.

/** procps state letters and their names, in the legend's order. */
export const STATES = Object.freeze({
  R: 'running',
  S: 'sleeping',
  D: 'disk sleep',
  T: 'stopped',
  t: 'traced',
  Z: 'zombie',
  X: 'dead',
  I: 'idle',
});
const STATE_ORDER = Object.keys(STATES);

/** Rows-per-page choices; the first is the default. */
export const PAGE_SIZES = [10, 25, 50];

/**
 * Table columns in display order. `type` drives comparison; `first` is the direction a first
 * click sorts in (biggest consumers first for the metrics, natural order for the rest).
 * @type {readonly {key: string, label: string, type: 'num'|'text'|'state', first: 'asc'|'desc', get: (p: any) => unknown}[]}
 */
export const COLUMNS = Object.freeze([
  { key: 'pid', label: 'PID', type: 'num', first: 'asc', get: (p) => p.pid },
  { key: 'user', label: 'user', type: 'text', first: 'asc', get: (p) => p.user },
  { key: 'command', label: 'command', type: 'text', first: 'asc', get: (p) => p.comm },
  { key: 'state', label: 'state', type: 'state', first: 'asc', get: (p) => p.state },
  { key: 'threads', label: 'threads', type: 'num', first: 'desc', get: (p) => p.threads },
  { key: 'nice', label: 'nice', type: 'num', first: 'asc', get: (p) => p.nice },
  { key: 'cpu', label: 'CPU %', type: 'num', first: 'desc', get: (p) => p.cpu_percent },
  { key: 'rss', label: 'RSS', type: 'num', first: 'desc', get: (p) => p.rss_kb },
]);

const BY_KEY = new Map(COLUMNS.map((c) => [c.key, c]));
export const SORT_KEYS = COLUMNS.map((c) => c.key);

const collator = new Intl.Collator('en', { sensitivity: 'base', numeric: true });

function num(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function str(v) {
  return typeof v === 'string' && v.length > 0 ? v : null;
}

/** Position of a state letter in the legend order (unknown letters after the known ones). */
function stateRank(s) {
  const i = STATE_ORDER.indexOf(s);
  return i >= 0 ? i : STATE_ORDER.length;
}

/** The list's process objects (drops junk entries). */
export function processes(top) {
  return (Array.isArray(top) ? top : []).filter((p) => p && typeof p === 'object');
}

/**
 * Rows whose command or user contains `query` (case-insensitive) or whose pid starts with it.
 * Leading/trailing blanks are ignored; an empty query keeps everything.
 * @param {any[]} rows
 * @param {string} query
 */
export function filterTop(rows, query) {
  const q = String(query ?? '').trim().toLowerCase();
  const list = processes(rows);
  if (!q) return list;
  return list.filter(
    (p) =>
      (typeof p.comm === 'string' && p.comm.toLowerCase().includes(q)) ||
      (typeof p.user === 'string' && p.user.toLowerCase().includes(q)) ||
      (num(p.pid) !== null && String(p.pid).startsWith(q)),
  );
}

/**
 * A new array sorted by column `key` in `dir`. Missing values (v1 rows lack user, threads and
 * nice) sort last in either direction; ties are broken by CPU % (largest first), then pid
 * ascending, so the order is stable across redraws.
 * @param {any[]} rows
 * @param {string} key one of SORT_KEYS
 * @param {'asc'|'desc'} [dir]
 */
export function sortTop(rows, key, dir = BY_KEY.get(key)?.first ?? 'desc') {
  const col = BY_KEY.get(key);
  if (!col) throw new RangeError(`unknown sort key ${key}`);
  const sign = dir === 'asc' ? 1 : -1;
  const val =
    col.type === 'num'
      ? (p) => num(col.get(p))
      : col.type === 'state'
        ? (p) => (str(col.get(p)) === null ? null : /** @type {string} */ (col.get(p)))
        : (p) => str(col.get(p));
  const cmp =
    col.type === 'num'
      ? (a, b) => a - b
      : col.type === 'state'
        ? (a, b) => stateRank(a) - stateRank(b) || (a < b ? -1 : a > b ? 1 : 0)
        : (a, b) => collator.compare(a, b);
  return processes(rows)
    .map((p) => ({ p, v: val(p) }))
    .sort((x, y) => {
      if (x.v === null || y.v === null) {
        if (x.v !== y.v) return x.v === null ? 1 : -1;
      } else {
        const c = cmp(x.v, y.v);
        if (c !== 0) return sign * c;
      }
      const c1 = num(x.p.cpu_percent) ?? -Infinity;
      const c2 = num(y.p.cpu_percent) ?? -Infinity;
      if (c1 !== c2) return c2 - c1;
      return (num(x.p.pid) ?? 0) - (num(y.p.pid) ?? 0);
    })
    .map((e) => e.p);
}

/** Direction after clicking column `key` when the table is sorted by `cur` in `curDir`. */
export function nextSort(cur, curDir, key) {
  if (cur === key) return { key, dir: curDir === 'asc' ? 'desc' : 'asc' };
  return { key, dir: BY_KEY.get(key)?.first ?? 'desc' };
}

/**
 * One page of rows: `page` is clamped into range (a filter may shrink the list under it).
 * @param {any[]} rows
 * @param {number} perPage
 * @param {number} page 0-based
 */
export function paginate(rows, perPage, page) {
  const size = PAGE_SIZES.includes(perPage) ? perPage : PAGE_SIZES[0];
  const pages = Math.max(1, Math.ceil(rows.length / size));
  const p = Math.min(pages - 1, Math.max(0, Math.floor(page) || 0));
  const from = p * size;
  const slice = rows.slice(from, from + size);
  return { rows: slice, page: p, pages, from: slice.length ? from + 1 : 0, to: from + slice.length, total: rows.length };
}

/** Display text of a state letter: the letter; its name goes in the cell's title. */
export function stateName(s) {
  return typeof s === 'string' && Object.hasOwn(STATES, s) ? STATES[s] : 'unknown state';
}
