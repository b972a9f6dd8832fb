// Route split math: shares with one decimal that always add up to 100.0.
import { describe, expect, it } from 'vitest';
import { formatShare, splitShares } from '../../app/lib/split.js';

describe('splitShares', () => {
  it('even split', () => {
    expect(splitShares(500, 500)).toEqual({ a: 500, b: 500, total: 1000, aPct: 50, bPct: 50 });
  });

  it('nothing stored yet has no percentages', () => {
    expect(splitShares(0, 0)).toEqual({ a: 0, b: 0, total: 0, aPct: null, bPct: null });
    expect(formatShare(null)).toBe('–');
  });

  it('one-sided', () => {
    const s = splitShares(0, 7);
    expect([s.aPct, s.bPct]).toEqual([0, 100]);
  });

  it('thirds round to 33.3 + 66.7 (sum exactly 100)', () => {
    const s = splitShares(1, 2);
    expect([s.aPct, s.bPct]).toEqual([33.3, 66.7]);
  });

  it('always sums to 100.0 over many pairs', () => {
    for (let a = 0; a < 60; a++) {
      for (let b = 0; b < 60; b++) {
        if (a + b === 0) continue;
        const s = splitShares(a, b);
        expect(Math.round((s.aPct + s.bPct) * 10)).toBe(1000);
        expect(Math.abs(s.aPct - (a * 100) / (a + b))).toBeLessThanOrEqual(0.1 + 1e-9);
      }
    }
  });

  it('exact half-tenths tie goes to the larger count, then to a', () => {
    // 1/8 = 12.5 % exactly: no tie in remainders matters here, but 0.05 boundaries do:
    const s = splitShares(1, 1999); // 0.05 % and 99.95 %
    expect(s.aPct + s.bPct).toBeCloseTo(100, 10);
    expect(s.bPct).toBe(100);
    expect(s.aPct).toBe(0);
  });

  it('ignores junk counts', () => {
    expect(splitShares(-3, NaN).total).toBe(0);
    expect(splitShares(2.9, '4').total).toBe(2);
  });

  it('formats', () => {
    expect(formatShare(50)).toBe('50.0 %');
    expect(formatShare(33.3)).toBe('33.3 %');
  });
});
