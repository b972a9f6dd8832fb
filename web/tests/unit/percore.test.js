// Per-core CPU: reading, strip layout (4, 64 and 1,024 CPUs), busiest cores, colour ramp,
// heatmap rows and the bounded per-core history.
import { describe, expect, it } from 'vitest';
import { busiest, CoreHistory, heatColor, heatRgb, heatRows, MAX_CPUS, perCpuSummary, readPerCpu, stripLayout } from '../../app/lib/percore.js';
import { rowV2 } from './fixtures.js';

const many = (n, f = (i) => i % 101) => ({ per_cpu: Array.from({ length: n }, (_, i) => ({ cpu: i, usage_percent: f(i) })) });

describe('readPerCpu', () => {
  it('reads the model fixture', () => {
    expect(readPerCpu(rowV2().cpu)).toEqual({ ids: [0, 1, 2, 3], usage: [80.5, 5.25, 0, 8.05] });
  });

  it('v1 rows and empty lists have none; junk entries are dropped, usages clamped', () => {
    expect(readPerCpu({ usage_percent: 5 })).toBeNull();
    expect(readPerCpu({ per_cpu: [] })).toBeNull();
    expect(readPerCpu(null)).toBeNull();
    expect(readPerCpu({ per_cpu: [null, { cpu: -1, usage_percent: 5 }, { cpu: 2, usage_percent: 'x' }, { cpu: 3, usage_percent: 140 }] })).toEqual({
      ids: [3],
      usage: [100],
    });
  });

  it('keeps at most 1,024 CPUs', () => {
    expect(readPerCpu(many(1500)).ids).toHaveLength(MAX_CPUS);
  });
});

describe('stripLayout', () => {
  it('few CPUs: id and value in the cell; 64: value in the cell; 1,024: colour only', () => {
    expect(stripLayout(4)).toEqual({ size: 'large', showValues: true, showIds: true, labelled: 3 });
    expect(stripLayout(64)).toEqual({ size: 'medium', showValues: true, showIds: false, labelled: 5 });
    expect(stripLayout(1024)).toEqual({ size: 'small', showValues: false, showIds: false, labelled: 5 });
    expect(stripLayout(1).labelled).toBe(1);
    expect(stripLayout(16).size).toBe('large');
    expect(stripLayout(17).size).toBe('medium');
    expect(stripLayout(128).size).toBe('medium');
    expect(stripLayout(129).size).toBe('small');
  });
});

describe('busiest', () => {
  it('busiest first, ties by lower CPU id', () => {
    const pc = readPerCpu(rowV2().cpu);
    expect(busiest(pc, 3)).toEqual([0, 3, 1]);
    expect(busiest({ ids: [4, 2, 9], usage: [50, 50, 70] }, 3)).toEqual([2, 1, 0]);
    expect(busiest(pc, 0)).toEqual([]);
    expect(busiest(pc, 10)).toHaveLength(4);
  });

  it('1,024 CPUs', () => {
    const pc = readPerCpu(many(1024, (i) => (i === 700 ? 99 : i === 3 ? 98 : 1)));
    expect(busiest(pc, 2)).toEqual([700, 3]);
  });

  it('summary: count, mean, max', () => {
    expect(perCpuSummary(readPerCpu(rowV2().cpu))).toEqual({ n: 4, mean: (80.5 + 5.25 + 0 + 8.05) / 4, max: 80.5 });
  });
});

describe('heat colour', () => {
  it('brighter and warmer as usage rises; out of range clamps', () => {
    expect(heatColor(0)).toBe('hsl(210 70% 26%)');
    expect(heatColor(100)).toBe('hsl(0 70% 52%)');
    expect(heatColor(150)).toBe(heatColor(100));
    expect(heatColor(NaN)).toBe(heatColor(0));
    const lum = (p) => heatRgb(p).reduce((a, b) => a + b, 0);
    expect(lum(100)).toBeGreaterThan(lum(0));
  });

  it('the pixel ramp matches the CSS ramp (hsl → rgb)', () => {
    expect(heatRgb(100)).toEqual([218, 47, 47]); // hsl(0 70% 52%): l ± s·min(l, 1 − l)
    expect(heatRgb(0)).toEqual([20, 66, 113]);
  });
});

describe('heatRows', () => {
  it('one row per CPU while they fit', () => {
    const { rows, rowOf } = heatRows(4, 160);
    expect(rows).toBe(4);
    expect(Array.from(rowOf)).toEqual([0, 1, 2, 3]);
  });

  it('1,024 CPUs in 160 rows: neighbours share rows, every row used, in order', () => {
    const { rows, rowOf } = heatRows(1024, 160);
    expect(rows).toBe(160);
    expect(rowOf[0]).toBe(0);
    expect(rowOf[1023]).toBe(159);
    for (let i = 1; i < 1024; i++) expect(rowOf[i] - rowOf[i - 1]).toBeGreaterThanOrEqual(0);
    expect(new Set(rowOf).size).toBe(160);
  });
});

describe('CoreHistory', () => {
  it('stores samples in order, bounded, one byte per CPU', () => {
    const h = new CoreHistory(3);
    for (let t = 1; t <= 5; t++) expect(h.push(t, { ids: [0, 1], usage: [t * 10, 100] })).toBe(true);
    expect(h.length).toBe(3);
    expect([0, 1, 2].map((k) => h.sample(k).x)).toEqual([3, 4, 5]);
    expect([0, 1, 2].map((k) => h.value(k, 0))).toEqual([30, 40, 50]);
    expect(h.value(2, 1)).toBe(100);
    expect(h.bytes).toBe(3 * 2 + 3 * 8);
  });

  it('skips samples not newer than the last; clear empties', () => {
    const h = new CoreHistory(4);
    h.push(10, { ids: [0], usage: [1] });
    expect(h.push(10, { ids: [0], usage: [2] })).toBe(false);
    expect(h.push(9, { ids: [0], usage: [2] })).toBe(false);
    h.clear();
    expect(h.length).toBe(0);
    expect(h.push(9, { ids: [0], usage: [2] })).toBe(true);
  });

  it('grows its width when a higher CPU id appears; older samples read as absent there', () => {
    const h = new CoreHistory(4);
    h.push(1, { ids: [0, 1], usage: [10.25, 20] });
    h.push(2, { ids: [0, 5], usage: [30, 40.5] });
    expect(h.width).toBe(6);
    expect(h.value(0, 0)).toBe(10.5); // 0.5 % steps
    expect(h.value(0, 5)).toBeNull();
    expect(h.value(1, 1)).toBeNull(); // offline in the second sample
    expect(h.value(1, 5)).toBe(40.5);
  });

  it('costs capacity × CPUs bytes: 600 samples of 1,024 CPUs ≈ 600 KiB', () => {
    const h = new CoreHistory(600);
    const pc = readPerCpu(many(1024));
    for (let t = 0; t < 700; t++) h.push(t, pc);
    expect(h.length).toBe(600);
    expect(h.bytes).toBe(600 * 1024 + 600 * 8);
    expect(h.value(599, 100)).toBe(100 % 101);
  });
});
