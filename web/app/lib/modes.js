// CPU time by mode (snapshot v2 `cpu.modes`), stacked for the chart.
//
// The eight exclusive modes of /proc/stat add up to 100 % of the window. `guest` and
// `guest_nice` are already counted inside `user` and `nice`, so they are never stacked on top:
// the chart shows them as part of user/nice and the legend says so.

/** The exclusive modes, bottom of the stack first (busy kinds first, idle on top). */
export const MODES = /** @type {const} */ (['user', 'nice', 'system', 'iowait', 'irq', 'softirq', 'steal', 'idle']);

/** Legend colours, in MODES order. */
export const MODE_COLORS = ['#4cc2ff', '#3ecf8e', '#ff8c42', '#ff5d5d', '#f5b942', '#d18cff', '#ff6ec7', '#3a4658'];

/**
 * Reads `cpu.modes` of a row. Returns the ten numbers (missing ones as 0) or null when the row
 * has no modes object or no finite exclusive mode at all (v1 rows, or a stack that did not
 * fill it).
 * @param {any} cpu the row's `cpu` object
 * @returns {Record<string, number> | null}
 */
export function readModes(cpu) {
  const m = cpu?.modes;
  if (!m || typeof m !== 'object') return null;
  const out = {};
  let any = false;
  for (const k of [...MODES, 'guest', 'guest_nice']) {
    const v = m[k];
    const ok = typeof v === 'number' && Number.isFinite(v);
    if (ok && MODES.includes(/** @type {any} */ (k))) any = true;
    out[k] = ok ? Math.min(100, Math.max(0, v)) : 0;
  }
  return any ? out : null;
}

/**
 * Cumulative sums of the eight exclusive modes in MODES order: element i is the top edge of
 * mode i in the stacked chart (the last one is the sum, ~100). Returns null without modes.
 * @param {Record<string, number> | null} modes from readModes
 * @returns {number[] | null}
 */
export function stackModes(modes) {
  if (!modes) return null;
  const out = new Array(MODES.length);
  let sum = 0;
  for (let i = 0; i < MODES.length; i++) {
    sum += modes[MODES[i]];
    out[i] = Math.round(sum * 1000) / 1000;
  }
  return out;
}

/**
 * The legend rows: mode, current value and the label to print (user and nice say how much of
 * them was guest time).
 * @param {Record<string, number> | null} modes
 * @returns {{mode: string, value: number, label: string}[]}
 */
export function modeLegend(modes) {
  return MODES.map((mode) => {
    const value = modes ? modes[mode] : NaN;
    let label = mode;
    if (mode === 'user') label = `user (incl. guest${modes ? ` ${modes.guest.toFixed(1)} %` : ''})`;
    else if (mode === 'nice') label = `nice (incl. guest nice${modes ? ` ${modes.guest_nice.toFixed(1)} %` : ''})`;
    return { mode, value, label };
  });
}
