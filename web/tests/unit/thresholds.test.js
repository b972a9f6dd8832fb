// One definition of the usage thresholds (Glances' defaults) for CPU, RAM and swap.
import { describe, expect, it } from 'vitest';
import { applyLevel, LEVEL_MARK, LEVELS, level, THRESHOLDS } from '../../app/lib/thresholds.js';

describe('thresholds', () => {
  it('are 50 / 70 / 90 %', () => {
    expect(THRESHOLDS).toEqual({ careful: 50, warning: 70, critical: 90 });
    expect(Object.isFrozen(THRESHOLDS)).toBe(true);
  });

  it('< 50 ok, 50–70 careful, 70–90 warning, ≥ 90 critical (lower bounds inclusive)', () => {
    const cases = [
      [0, 'ok'],
      [49.99, 'ok'],
      [50, 'careful'],
      [69.9, 'careful'],
      [70, 'warning'],
      [89.99, 'warning'],
      [90, 'critical'],
      [100, 'critical'],
      [150, 'critical'],
      [-3, 'ok'],
    ];
    for (const [v, l] of cases) expect(level(v), String(v)).toBe(l);
  });

  it('unknown values have no level', () => {
    for (const v of [NaN, Infinity, null, undefined, '95']) expect(level(v)).toBeNull();
  });

  it('every level has a distinct word and symbol, not colour alone', () => {
    const marks = LEVELS.map((l) => LEVEL_MARK[l]);
    expect(new Set(marks).size).toBe(4);
    for (const l of LEVELS) expect(LEVEL_MARK[l]).toContain(l);
    expect(new Set(marks.map((m) => m.split(' ')[0])).size).toBe(4);
  });

  it('applyLevel writes the mark as text and the level as data-level; unknown clears both', () => {
    const node = { textContent: '', dataset: /** @type {Record<string, string>} */ ({}) };
    expect(applyLevel(/** @type {any} */ (node), 93.7)).toBe('critical');
    expect(node).toEqual({ textContent: '✖ critical', dataset: { level: 'critical' } });
    applyLevel(/** @type {any} */ (node), 75);
    expect(node).toEqual({ textContent: '▲ warning', dataset: { level: 'warning' } });
    expect(applyLevel(/** @type {any} */ (node), undefined)).toBeNull();
    expect(node).toEqual({ textContent: '', dataset: {} });
  });
});
