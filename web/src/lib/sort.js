// Sorting of the top-processes table (the newest row's `top` list).

/** @typedef {{pid: number, ppid?: number, comm: string, state?: string, rss_kb?: number, cpu_percent?: number}} TopProcess */

export const SORT_KEYS = /** @type {const} */ (['cpu', 'rss']);

const FIELD = { cpu: 'cpu_percent', rss: 'rss_kb' };
const OTHER = { cpu: 'rss_kb', rss: 'cpu_percent' };

/**
 * Returns a new array sorted by the chosen key, largest first (or smallest first with
 * `dir = 'asc'`). Ties are broken by the other metric (largest first), then by pid ascending, so
 * the order is stable across redraws. Missing or non-finite values sort last in either direction.
 * @param {TopProcess[]} top
 * @param {'cpu'|'rss'} key
 * @param {'desc'|'asc'} [dir]
 */
export function sortTop(top, key, dir = 'desc') {
  const f = FIELD[key];
  if (!f) throw new RangeError(`unknown sort key ${key}`);
  const o = OTHER[key];
  const sign = dir === 'asc' ? 1 : -1;
  return (Array.isArray(top) ? top : [])
    .filter((p) => p && typeof p === 'object')
    .slice()
    .sort((p, q) => {
      const a = num(p[f]);
      const b = num(q[f]);
      if (a === null || b === null) {
        if (a !== b) return a === null ? 1 : -1;
      } else if (a !== b) {
        return sign * (a - b);
      }
      const c = num(p[o]) ?? -Infinity;
      const d = num(q[o]) ?? -Infinity;
      if (c !== d) return d - c;
      return (num(p.pid) ?? 0) - (num(q.pid) ?? 0);
    });
}

function num(v) {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}
