// Pure helpers behind the views: memory breakdown and number formatting.
import { describe, expect, it } from 'vitest';
import { formatAge, formatCount, formatKb, formatLoad, formatPct, share } from '../../src/lib/format.js';
import { memoryParts } from '../../src/views/memory.js';

describe('memoryParts', () => {
  it('used + reclaimable + free = total, used = total - available', () => {
    const p = memoryParts({ total_kb: 1000, free_kb: 200, available_kb: 650 });
    expect(p).toEqual({ total: 1000, used: 350, reclaimable: 450, free: 200 });
  });

  it('clamps inconsistent numbers instead of drawing past 100 %', () => {
    const p = memoryParts({ total_kb: 1000, free_kb: 1200, available_kb: 100 });
    expect(p.used + p.reclaimable + p.free).toBe(1000);
    expect(p.free).toBe(1000);
    expect(memoryParts({ total_kb: 0 })).toBeNull();
    expect(memoryParts(undefined)).toBeNull();
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
