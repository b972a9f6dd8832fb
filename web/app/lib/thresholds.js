// Usage thresholds, one definition for the whole dashboard (Glances' defaults):
//   < 50 % ok · 50–70 % careful · 70–90 % warning · ≥ 90 % critical.
// Applied to CPU %, RAM % and swap %. A level is always shown as a word and a symbol next to
// the value, never by colour alone.

/** Lower bounds (inclusive) of each level above `ok`, in percent. */
export const THRESHOLDS = Object.freeze({ careful: 50, warning: 70, critical: 90 });

/** Levels in increasing severity. */
export const LEVELS = /** @type {const} */ (['ok', 'careful', 'warning', 'critical']);

/** What is printed beside a value: a symbol (shape differs per level) and the word. */
export const LEVEL_MARK = Object.freeze({ ok: '✓ ok', careful: '◆ careful', warning: '▲ warning', critical: '✖ critical' });

/**
 * The level of a usage percentage, or null when it is not a finite number.
 * @param {unknown} pct
 * @returns {'ok'|'careful'|'warning'|'critical'|null}
 */
export function level(pct) {
  if (typeof pct !== 'number' || !Number.isFinite(pct)) return null;
  if (pct >= THRESHOLDS.critical) return 'critical';
  if (pct >= THRESHOLDS.warning) return 'warning';
  if (pct >= THRESHOLDS.careful) return 'careful';
  return 'ok';
}

/**
 * Marks `node` (a badge next to a value) with the level of `pct`: its text is the word and
 * symbol, `data-level` carries the level for the CSS colour; empty when unknown.
 * @param {HTMLElement} node
 * @param {unknown} pct
 */
export function applyLevel(node, pct) {
  const l = level(pct);
  const text = l ? LEVEL_MARK[l] : '';
  if (node.textContent !== text) node.textContent = text;
  if (l) node.dataset.level = l;
  else delete node.dataset.level;
  return l;
}
