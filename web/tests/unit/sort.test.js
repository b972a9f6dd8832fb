// Top-processes sorting by CPU and RSS.
import { describe, expect, it } from 'vitest';
import { sortTop } from '../../src/lib/sort.js';

const top = [
  { pid: 10, comm: 'a', rss_kb: 500, cpu_percent: 1.5 },
  { pid: 3, comm: 'b', rss_kb: 9000, cpu_percent: 0 },
  { pid: 7, comm: 'c', rss_kb: 100, cpu_percent: 50 },
  { pid: 5, comm: 'd', rss_kb: 9000, cpu_percent: 0 },
  { pid: 1, comm: 'e', rss_kb: 2000, cpu_percent: 1.5 },
  { pid: 2, comm: 'no-cpu', rss_kb: 1 },
];

const pids = (l) => l.map((p) => p.pid);

describe('sortTop', () => {
  it('by CPU, largest first; ties by RSS then pid; missing last', () => {
    expect(pids(sortTop(top, 'cpu'))).toEqual([7, 1, 10, 3, 5, 2]);
  });

  it('by RSS, largest first; ties by CPU then pid', () => {
    expect(pids(sortTop(top, 'rss'))).toEqual([3, 5, 1, 10, 7, 2]);
  });

  it('ascending keeps missing values last', () => {
    expect(pids(sortTop(top, 'cpu', 'asc'))).toEqual([3, 5, 1, 10, 7, 2]);
  });

  it('does not mutate its input and tolerates junk', () => {
    const copy = structuredClone(top);
    sortTop(top, 'rss');
    expect(top).toEqual(copy);
    expect(sortTop(null, 'cpu')).toEqual([]);
    expect(pids(sortTop([null, { pid: 1, cpu_percent: 2 }, 'x'], 'cpu'))).toEqual([1]);
    expect(() => sortTop(top, 'pid')).toThrow(RangeError);
  });
});
