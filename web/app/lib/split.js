// Route split math: counts of rows stored by ingest route a and b, as shares of the total.
//
// Percentages carry one decimal and always add up to exactly 100.0 (largest-remainder rounding),
// so the two numbers on screen never read 50.1 % + 50.0 %.

/**
 * @param {number} a rows stored by route a
 * @param {number} b rows stored by route b
 * @returns {{a: number, b: number, total: number, aPct: number|null, bPct: number|null}}
 *   percentages are null when nothing was stored yet
 */
export function splitShares(a, b) {
  const ca = toCount(a);
  const cb = toCount(b);
  const total = ca + cb;
  if (total === 0) return { a: ca, b: cb, total, aPct: null, bPct: null };
  // Work in tenths of a percent: 1000 units to hand out.
  const ra = (ca * 1000) / total;
  const rb = (cb * 1000) / total;
  let ta = Math.floor(ra);
  let tb = Math.floor(rb);
  const left = 1000 - ta - tb; // 0 or 1
  if (left > 0) {
    // Largest remainder first; on a tie the larger count gets it (a on an exact tie).
    const remA = ra - ta;
    const remB = rb - tb;
    if (remA > remB || (remA === remB && ca >= cb)) ta += left;
    else tb += left;
  }
  return { a: ca, b: cb, total, aPct: ta / 10, bPct: tb / 10 };
}

/** Formats a share for display: "50.0 %" or "–" when unknown. */
export function formatShare(pct) {
  return pct === null ? '–' : `${pct.toFixed(1)} %`;
}

function toCount(n) {
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
}
