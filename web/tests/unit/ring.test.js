// Ring: bounded, x-ordered columnar buffer with zero-copy views.
import { describe, expect, it } from 'vitest';
import { Ring, tail } from '../../app/lib/ring.js';

const xsOf = (r) => Array.from(r.view()[0]);
const colOf = (r, c) => Array.from(r.view()[c + 1]);

describe('Ring', () => {
  it('rejects bad sizes', () => {
    expect(() => new Ring(0, 1)).toThrow(RangeError);
    expect(() => new Ring(10, 0)).toThrow(RangeError);
    expect(() => new Ring(2.5, 1)).toThrow(RangeError);
  });

  it('appends in order and evicts the oldest beyond capacity, returning its id', () => {
    const r = new Ring(3, 1);
    expect(r.push(1, 101, [10])).toBeNull();
    expect(r.push(2, 102, [20])).toBeNull();
    expect(r.push(3, 103, [30])).toBeNull();
    expect(r.push(4, 104, [40])).toBe(101);
    expect(r.length).toBe(3);
    expect(xsOf(r)).toEqual([2, 3, 4]);
    expect(colOf(r, 0)).toEqual([20, 30, 40]);
    expect(r.idList()).toEqual([102, 103, 104]);
  });

  it('stays correct across many compactions (1 h of points through a 100-point buffer)', () => {
    const r = new Ring(100, 2);
    for (let i = 0; i < 3600; i++) r.push(i, i, [i % 100, 100 - (i % 100)]);
    expect(r.length).toBe(100);
    const [xs, a, b] = r.view();
    expect(xs[0]).toBe(3500);
    expect(xs[99]).toBe(3599);
    for (let i = 0; i < 100; i++) {
      expect(xs[i]).toBe(3500 + i);
      expect(a[i]).toBe((3500 + i) % 100);
      expect(b[i]).toBe(100 - ((3500 + i) % 100));
    }
    // Physical storage never grows beyond twice the capacity.
    expect(r.xs.length).toBe(200);
  });

  it('inserts a late point at its place in x order', () => {
    const r = new Ring(10, 1);
    for (const x of [1, 2, 4, 5]) r.push(x, x, [x * 10]);
    r.push(3, 3, [30]);
    r.push(0.5, 99, [5]);
    expect(xsOf(r)).toEqual([0.5, 1, 2, 3, 4, 5]);
    expect(colOf(r, 0)).toEqual([5, 10, 20, 30, 40, 50]);
    expect(r.idList()).toEqual([99, 1, 2, 3, 4, 5]);
  });

  it('keeps arrival order for equal x', () => {
    const r = new Ring(10, 1);
    r.push(5, 1, [1]);
    r.push(5, 2, [2]);
    r.push(4, 3, [3]);
    r.push(5, 4, [4]);
    expect(r.idList()).toEqual([3, 1, 2, 4]);
  });

  it('refuses a point older than everything in a full buffer', () => {
    const r = new Ring(2, 1);
    r.push(10, 1, [1]);
    r.push(11, 2, [2]);
    expect(r.push(9, 3, [3])).toBeUndefined();
    expect(r.idList()).toEqual([1, 2]);
    // A late point inside the window still goes in, evicting the oldest.
    expect(r.push(10.5, 4, [4])).toBe(1);
    expect(r.idList()).toEqual([4, 2]);
  });

  it('late insert right after a compaction boundary', () => {
    const r = new Ring(4, 1);
    for (let i = 0; i < 8; i++) r.push(i * 2, i, [i]); // end hits the physical end
    expect(r.end).toBe(8);
    r.push(11, 100, [100]); // compacts, then inserts between 10 and 12
    expect(xsOf(r)).toEqual([10, 11, 12, 14]);
    expect(r.idList()).toEqual([5, 100, 6, 7]);
  });

  it('stores non-finite values as NaN gaps and views are zero-copy', () => {
    const r = new Ring(4, 2);
    r.push(1, 1, [Infinity, 'x']);
    r.push(2, 2, [undefined, 7]);
    const [xs, a, b] = r.view();
    expect(Number.isNaN(a[0]) && Number.isNaN(a[1])).toBe(true);
    expect(Number.isNaN(b[0])).toBe(true);
    expect(b[1]).toBe(7);
    expect(xs.buffer).toBe(r.xs.buffer);
  });

  it('clear empties it', () => {
    const r = new Ring(4, 1);
    r.push(1, 1, [1]);
    r.clear();
    expect(r.length).toBe(0);
    expect(r.lastX()).toBe(-Infinity);
    expect(r.firstX()).toBe(Infinity);
  });
});

describe('tail (the live window of 15 m / 1 h)', () => {
  it('keeps the points within `seconds` of the newest, zero-copy', () => {
    const r = new Ring(10, 1);
    for (let i = 0; i < 10; i++) r.push(100 + i * 10, i, [i]);
    const v = r.view();
    const t = tail(v, 30);
    expect(Array.from(t[0])).toEqual([160, 170, 180, 190]);
    expect(Array.from(t[1])).toEqual([6, 7, 8, 9]);
    expect(t[0].buffer).toBe(v[0].buffer);
    expect(tail(v, 90)).toBe(v);
    expect(tail(v, 1000)).toBe(v);
    expect(Array.from(tail(v, 0)[0])).toEqual([190]);
    const empty = new Ring(3, 1).view();
    expect(tail(empty, 10)).toBe(empty);
  });
});
