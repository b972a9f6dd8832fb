// Backoff: exponential, capped, jittered, reset on a healthy connection.
import { describe, expect, it } from 'vitest';
import { Backoff } from '../../app/lib/backoff.js';

describe('Backoff', () => {
  it('doubles from the base up to the cap without jitter', () => {
    const b = new Backoff({ baseMs: 500, maxMs: 10_000, jitter: 0 });
    const seq = Array.from({ length: 8 }, () => b.next());
    expect(seq).toEqual([500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
  });

  it('jitter stays within ±jitter and never above the cap', () => {
    for (const r of [0, 0.25, 0.5, 0.999999]) {
      const b = new Backoff({ baseMs: 1000, maxMs: 4000, jitter: 0.2, random: () => r });
      const d = [b.next(), b.next(), b.next(), b.next()];
      expect(d[0]).toBeGreaterThanOrEqual(800);
      expect(d[0]).toBeLessThanOrEqual(1200);
      expect(d[1]).toBeGreaterThanOrEqual(1600);
      expect(d[1]).toBeLessThanOrEqual(2400);
      for (const x of d) expect(x).toBeLessThanOrEqual(4000);
    }
    const low = new Backoff({ baseMs: 1000, jitter: 0.2, random: () => 0 });
    expect(low.next()).toBe(800);
  });

  it('reset starts over', () => {
    const b = new Backoff({ baseMs: 100, maxMs: 1000, jitter: 0 });
    b.next();
    b.next();
    b.next();
    b.reset();
    expect(b.next()).toBe(100);
  });

  it('rejects nonsense', () => {
    expect(() => new Backoff({ baseMs: 0 })).toThrow(RangeError);
    expect(() => new Backoff({ baseMs: 100, maxMs: 50 })).toThrow(RangeError);
    expect(() => new Backoff({ jitter: 1 })).toThrow(RangeError);
  });
});
