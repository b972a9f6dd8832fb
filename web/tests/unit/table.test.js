// Process table: filter (command, user, pid), sort by each column, paging, sort toggling.
import { describe, expect, it } from 'vitest';
import { COLUMNS, filterTop, nextSort, PAGE_SIZES, paginate, SORT_KEYS, sortTop, STATES, stateName } from '../../app/lib/table.js';
import { rowV2 } from './fixtures.js';

const top = [
  { pid: 10, comm: 'nginx', user: 'www-data', state: 'S', threads: 4, nice: 0, rss_kb: 500, cpu_percent: 1.5 },
  { pid: 3, comm: 'Bash', user: 'alice', state: 'R', threads: 1, nice: 5, rss_kb: 9000, cpu_percent: 0 },
  { pid: 7, comm: 'stress', user: 'bob', state: 'D', threads: 16, nice: -5, rss_kb: 100, cpu_percent: 50 },
  { pid: 5, comm: 'zsh', user: 'Alice', state: 'Z', threads: 1, nice: 19, rss_kb: 9000, cpu_percent: 0 },
  { pid: 1000, comm: 'kworker/0:1', user: 'root', state: 'I', threads: 1, nice: -20, rss_kb: 0, cpu_percent: 1.5 },
  { pid: 2, comm: 'v1-row', state: 'S', rss_kb: 1 }, // v1: no user, threads, nice, cpu
];
const pids = (l) => l.map((p) => p.pid);

describe('columns', () => {
  it('pid, user, command, state, threads, nice, CPU %, RSS — all sortable', () => {
    expect(COLUMNS.map((c) => c.key)).toEqual(['pid', 'user', 'command', 'state', 'threads', 'nice', 'cpu', 'rss']);
    expect(SORT_KEYS).toHaveLength(8);
    expect(PAGE_SIZES).toEqual([10, 25, 50]);
  });

  it('state legend: procps letters', () => {
    expect(STATES).toEqual({ R: 'running', S: 'sleeping', D: 'disk sleep', T: 'stopped', t: 'traced', Z: 'zombie', X: 'dead', I: 'idle' });
    expect(stateName('t')).toBe('traced');
    expect(stateName('Q')).toBe('unknown state');
    expect(stateName(undefined)).toBe('unknown state');
  });
});

describe('filterTop', () => {
  it('by command, case-insensitive substring', () => {
    expect(pids(filterTop(top, 'BASH'))).toEqual([3]);
    expect(pids(filterTop(top, 'sh'))).toEqual([3, 5]);
  });

  it('by user', () => {
    expect(pids(filterTop(top, 'alice'))).toEqual([3, 5]);
    expect(pids(filterTop(top, 'www'))).toEqual([10]);
  });

  it('by pid prefix', () => {
    expect(pids(filterTop(top, '10'))).toEqual([10, 1000]);
    expect(pids(filterTop(top, '1000'))).toEqual([1000]);
    expect(pids(filterTop(top, '7'))).toEqual([7]);
  });

  it('blank query keeps all; no match is empty; v1 rows match by command; junk dropped', () => {
    expect(filterTop(top, '  ')).toHaveLength(6);
    expect(filterTop(top, 'nothing-like-this')).toEqual([]);
    expect(pids(filterTop(top, 'v1'))).toEqual([2]);
    expect(pids(filterTop([null, 'x', { pid: 9, comm: 'a' }], ''))).toEqual([9]);
    expect(filterTop(undefined, 'a')).toEqual([]);
  });

  it('the model fixture: numeric user names match too', () => {
    const t = rowV2().top;
    expect(pids(filterTop(t, 'alice'))).toEqual([4242]);
    expect(pids(filterTop(t, '4321'))).toEqual([777]);
    expect(pids(filterTop(t, 'burn'))).toEqual([4242]);
  });
});

describe('sortTop', () => {
  it('pid', () => {
    expect(pids(sortTop(top, 'pid', 'asc'))).toEqual([2, 3, 5, 7, 10, 1000]);
    expect(pids(sortTop(top, 'pid', 'desc'))).toEqual([1000, 10, 7, 5, 3, 2]);
  });

  it('user: case-insensitive, missing (v1) last in both directions; ties by CPU then pid', () => {
    expect(pids(sortTop(top, 'user', 'asc'))).toEqual([3, 5, 7, 1000, 10, 2]);
    expect(pids(sortTop(top, 'user', 'desc'))).toEqual([10, 1000, 7, 3, 5, 2]);
  });

  it('command', () => {
    expect(pids(sortTop(top, 'command', 'asc'))).toEqual([3, 1000, 10, 7, 2, 5]);
    expect(pids(sortTop(top, 'command', 'desc'))).toEqual([5, 2, 7, 10, 1000, 3]);
  });

  it('state in legend order (R S D T t Z X I)', () => {
    expect(pids(sortTop(top, 'state', 'asc'))).toEqual([3, 10, 2, 7, 5, 1000]);
    expect(pids(sortTop(top, 'state', 'desc'))).toEqual([1000, 5, 7, 10, 2, 3]);
  });

  it('threads', () => {
    expect(pids(sortTop(top, 'threads', 'desc'))).toEqual([7, 10, 1000, 3, 5, 2]);
    expect(pids(sortTop(top, 'threads', 'asc'))).toEqual([1000, 3, 5, 10, 7, 2]);
  });

  it('nice', () => {
    expect(pids(sortTop(top, 'nice', 'asc'))).toEqual([1000, 7, 10, 3, 5, 2]);
    expect(pids(sortTop(top, 'nice', 'desc'))).toEqual([5, 3, 10, 7, 1000, 2]);
  });

  it('CPU %', () => {
    expect(pids(sortTop(top, 'cpu', 'desc'))).toEqual([7, 10, 1000, 3, 5, 2]);
    expect(pids(sortTop(top, 'cpu', 'asc'))).toEqual([3, 5, 10, 1000, 7, 2]);
  });

  it('RSS', () => {
    expect(pids(sortTop(top, 'rss', 'desc'))).toEqual([3, 5, 10, 7, 2, 1000]);
    expect(pids(sortTop(top, 'rss', 'asc'))).toEqual([1000, 2, 7, 10, 3, 5]);
  });

  it('default direction is the column’s first; input untouched; unknown key throws', () => {
    const copy = structuredClone(top);
    expect(pids(sortTop(top, 'cpu'))).toEqual(pids(sortTop(top, 'cpu', 'desc')));
    expect(pids(sortTop(top, 'pid'))).toEqual(pids(sortTop(top, 'pid', 'asc')));
    expect(top).toEqual(copy);
    expect(() => sortTop(top, 'colour')).toThrow(RangeError);
    expect(sortTop(null, 'cpu')).toEqual([]);
  });
});

describe('nextSort', () => {
  it('a new column starts in its first direction; the same column flips', () => {
    expect(nextSort('cpu', 'desc', 'rss')).toEqual({ key: 'rss', dir: 'desc' });
    expect(nextSort('cpu', 'desc', 'command')).toEqual({ key: 'command', dir: 'asc' });
    expect(nextSort('rss', 'desc', 'rss')).toEqual({ key: 'rss', dir: 'asc' });
    expect(nextSort('rss', 'asc', 'rss')).toEqual({ key: 'rss', dir: 'desc' });
  });
});

describe('paginate', () => {
  const rows = Array.from({ length: 50 }, (_, i) => i);

  it('10 / 25 / 50 per page', () => {
    expect(paginate(rows, 10, 0)).toMatchObject({ page: 0, pages: 5, from: 1, to: 10, total: 50 });
    expect(paginate(rows, 10, 0).rows).toEqual(rows.slice(0, 10));
    expect(paginate(rows, 25, 1).rows).toEqual(rows.slice(25, 50));
    expect(paginate(rows, 50, 0).rows).toEqual(rows);
    expect(paginate(rows, 50, 0).pages).toBe(1);
  });

  it('clamps the page into range, refuses other sizes, handles empty lists', () => {
    expect(paginate(rows, 10, 9)).toMatchObject({ page: 4, from: 41, to: 50 });
    expect(paginate(rows, 10, -2).page).toBe(0);
    expect(paginate(rows, 7, 0).rows).toHaveLength(10);
    expect(paginate([], 25, 3)).toMatchObject({ rows: [], page: 0, pages: 1, from: 0, to: 0, total: 0 });
  });
});
