// Pure helpers behind the views: memory and swap breakdowns and number formatting.
import { describe, expect, it } from 'vitest';
import { formatAge, formatCount, formatKb, formatLoad, formatPct, share } from '../../app/lib/format.js';
import { memoryParts, swapParts } from '../../app/lib/memory.js';
import { rowV2 } from './fixtures.js';

describe('memoryParts', () => {
  it('used + reclaimable + free = total, used = total - available', () => {
    const p = memoryParts({ total_kb: 1000, free_kb: 200, available_kb: 650 });
    expect(p).toEqual({ total: 1000, used: 350, buffers: null, cached: 450, free: 200 });
  });

  it('clamps inconsistent numbers instead of drawing past 100 %', () => {
    const p = memoryParts({ total_kb: 1000, free_kb: 1200, available_kb: 100 });
    expect(p.used + p.cached + p.free).toBe(1000);
    expect(p.free).toBe(1000);
    expect(memoryParts({ total_kb: 0 })).toBeNull();
    expect(memoryParts(undefined)).toBeNull();
  });
});

describe('memoryParts with buffers (v2)', () => {
  it('used / buffers / cached / free add up to total (model fixture)', () => {
    const p = memoryParts(rowV2().ram);
    expect(p).toEqual({ total: 16000000, used: 8750000, buffers: 250000, cached: 3000000, free: 4000000 });
  });

  it('clamps buffers and cached into what free leaves', () => {
    const p = memoryParts({ total_kb: 100, free_kb: 60, buffers_kb: 30, cached_kb: 50 });
    expect(p).toEqual({ total: 100, used: 0, buffers: 30, cached: 10, free: 60 });
  });
});

describe('swapParts', () => {
  it('v2: swap_used_kb; total / used / free / %', () => {
    const s = swapParts(rowV2().ram);
    expect(s).toEqual({ total: 2097148, used: 1048572, free: 1048576, pct: (1048572 / 2097148) * 100 });
  });

  it('v1: total − free; no swap is null; missing free counts as unused', () => {
    expect(swapParts({ swap_total_kb: 1000, swap_free_kb: 250 })).toEqual({ total: 1000, used: 750, free: 250, pct: 75 });
    expect(swapParts({ swap_total_kb: 0, swap_free_kb: 0 })).toBeNull();
    expect(swapParts(undefined)).toBeNull();
    expect(swapParts({ swap_total_kb: 1000 }).used).toBe(0);
    expect(swapParts({ swap_total_kb: 1000, swap_used_kb: 5000 }).used).toBe(1000);
  });
});

describe('format', () => {
  it('sizes in binary units', () => {
    expect(formatKb(512)).toBe('512 KiB');
    expect(formatKb(1536)).toBe('1.5 MiB');
    expect(formatKb(8 * 1024 * 1024)).toBe('8.0 GiB');
    expect(formatKb(200 * 1024)).toBe('200 MiB');
    expect(formatKb(-1)).toBe('–');
  });

  it('percent, load, counts, ages, shares', () => {
    expect(formatPct(23.456)).toBe('23.5 %');
    expect(formatPct(NaN)).toBe('–');
    expect(formatLoad(0.5)).toBe('0.50');
    expect(formatCount(12345)).toBe('12\u2009345');
    expect(formatAge(3000)).toBe('3 s ago');
    expect(formatAge(5 * 60_000)).toBe('5 min ago');
    expect(formatAge(3 * 3600_000)).toBe('3 h ago');
    expect(share(5, 0)).toBe(0);
    expect(share(150, 100)).toBe(100);
  });
});
