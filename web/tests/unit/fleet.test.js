// The fleet table: reading the answer (contract shape), stale marking, sorting by every column.
import { describe, expect, it } from 'vitest';
import { DEFAULT_SORT, filterFleet, FLEET_COLUMNS, fleetSummary, nextFleetSort, parseFleet, sortFleet, STALE_MARK, statusText } from '../../app/lib/fleet.js';
import { fleetAnswer, T0 } from './fixtures.js';

const hostsOf = (rows) => rows.map((r) => r.host);

const answer = fleetAnswer([
  { host: 'vm-1', cpu: 12.5, ram: 40.1, last_seen: new Date((T0 - 2) * 1000).toISOString() },
  { host: 'vm-2', cpu: 95, ram: 20, swap: 75, zombies: 2, disk_sleep: 1, cores: 2, load1: 3 },
  { host: 'vm-10', cpu: 5, ram: 80, source: 'procfs' },
  { host: 'old-1', cpu: 1, ram: 1, stale: true, last_seen: new Date((T0 - 600) * 1000).toISOString() },
  { host: 'old-2', cpu: 50, ram: 1, stale: true, last_seen: new Date((T0 - 60) * 1000).toISOString() },
  { host: 'bad host' },
  { host: 'quiet', cpu: null, ram: null, load1: null, cores: null, source: null, last_seen: null },
]);

describe('parseFleet', () => {
  it('rows with ages against server_time, load per core, worst of CPU/RAM', () => {
    const f = parseFleet(answer);
    expect(f.staleAfter).toBe(3);
    expect(f.serverMs).toBe(T0 * 1000);
    expect(f.rejected).toBe(1);
    expect(f.rows).toHaveLength(6);
    const vm2 = f.rows.find((r) => r.host === 'vm-2');
    expect(vm2).toMatchObject({ cpu: 95, ram: 20, swap: 75, load1: 3, cores: 2, loadPerCore: 1.5, zombies: 2, diskSleep: 1, stale: false, ageMs: 1000, worst: 95, source: 'kmod', interval: 1 });
    expect(f.rows.find((r) => r.host === 'old-1').ageMs).toBe(600_000);
    expect(f.rows.find((r) => r.host === 'quiet')).toMatchObject({ cpu: null, worst: null, loadPerCore: null, ageMs: null, source: null });
    expect(() => parseFleet({})).toThrow(/no hosts list/);
  });

  it('status says stale in words; otherwise the level of the worse of CPU and RAM', () => {
    const f = parseFleet(answer);
    const st = Object.fromEntries(f.rows.map((r) => [r.host, statusText(r)]));
    expect(st).toEqual({ 'vm-1': '✓ ok', 'vm-2': '✖ critical', 'vm-10': '▲ warning', 'old-1': STALE_MARK, 'old-2': STALE_MARK, quiet: '–' });
    expect(STALE_MARK).toMatch(/stale/);
  });

  it('non-zero zombies and D-state cells are marked', () => {
    const f = parseFleet(answer);
    const col = (k) => FLEET_COLUMNS.find((c) => c.key === k);
    const alerts = (k) => f.rows.filter((r) => col(k).alert(r)).map((r) => r.host);
    expect(alerts('zombies')).toEqual(['vm-2']);
    expect(alerts('disk_sleep')).toEqual(['vm-2']);
    expect(col('cpu').alert).toBeUndefined();
  });

  it('summary counts hosts and stale ones', () => {
    expect(fleetSummary(parseFleet(answer).rows)).toBe('6 hosts · 2 stale');
  });
});

describe('sortFleet', () => {
  const rows = parseFleet(answer).rows;
  it('default worst first: stale first, then the highest of CPU/RAM; unknown last', () => {
    expect(DEFAULT_SORT).toEqual({ key: 'status', dir: 'desc' });
    expect(hostsOf(sortFleet(rows, DEFAULT_SORT.key, DEFAULT_SORT.dir))).toEqual(['old-2', 'old-1', 'vm-2', 'vm-10', 'vm-1', 'quiet']);
    expect(hostsOf(sortFleet(rows, 'status', 'asc'))).toEqual(['quiet', 'vm-1', 'vm-10', 'vm-2', 'old-1', 'old-2']);
  });

  it('every column sorts; missing values last either way; ties by host name', () => {
    expect(FLEET_COLUMNS.map((c) => c.key)).toEqual(['host', 'status', 'alerts', 'cpu', 'ram', 'swap', 'load1', 'load_core', 'zombies', 'disk_sleep', 'source', 'last_seen']);
    expect(hostsOf(sortFleet(rows, 'host'))).toEqual(['old-1', 'old-2', 'quiet', 'vm-1', 'vm-2', 'vm-10']);
    expect(hostsOf(sortFleet(rows, 'cpu'))).toEqual(['vm-2', 'old-2', 'vm-1', 'vm-10', 'old-1', 'quiet']);
    expect(hostsOf(sortFleet(rows, 'cpu', 'asc'))).toEqual(['old-1', 'vm-10', 'vm-1', 'old-2', 'vm-2', 'quiet']);
    expect(hostsOf(sortFleet(rows, 'ram'))).toEqual(['vm-10', 'vm-1', 'vm-2', 'old-1', 'old-2', 'quiet']);
    expect(hostsOf(sortFleet(rows, 'swap')).slice(0, 1)).toEqual(['vm-2']);
    expect(hostsOf(sortFleet(rows, 'swap', 'asc')).slice(0, 1)).toEqual(['vm-2']);
    expect(hostsOf(sortFleet(rows, 'load_core')).slice(0, 2)).toEqual(['vm-2', 'old-1']);
    expect(hostsOf(sortFleet(rows, 'zombies')).slice(0, 1)).toEqual(['vm-2']);
    expect(hostsOf(sortFleet(rows, 'disk_sleep')).slice(0, 1)).toEqual(['vm-2']);
    expect(hostsOf(sortFleet(rows, 'source'))).toEqual(['old-1', 'old-2', 'vm-1', 'vm-2', 'vm-10', 'quiet']);
    expect(hostsOf(sortFleet(rows, 'last_seen'))).toEqual(['old-1', 'old-2', 'vm-1', 'vm-10', 'vm-2', 'quiet']);
    expect(() => sortFleet(rows, 'nope')).toThrow(RangeError);
  });

  it('filter by host name or source, case-insensitive', () => {
    expect(hostsOf(filterFleet(rows, ' VM-1 '))).toEqual(['vm-1', 'vm-10']);
    expect(hostsOf(filterFleet(rows, 'procfs'))).toEqual(['vm-10']);
    expect(filterFleet(rows, '')).toBe(rows);
    expect(filterFleet(rows, 'nothing-like-it')).toEqual([]);
  });

  it('header clicks: first click in the column\'s natural direction, second flips', () => {
    expect(nextFleetSort('status', 'desc', 'host')).toEqual({ key: 'host', dir: 'asc' });
    expect(nextFleetSort('host', 'asc', 'host')).toEqual({ key: 'host', dir: 'desc' });
    expect(nextFleetSort('host', 'asc', 'cpu')).toEqual({ key: 'cpu', dir: 'desc' });
  });

  it('1,000 hosts sort in well under a poll interval', () => {
    const many = fleetAnswer(Array.from({ length: 1000 }, (_, i) => ({ host: `h-${i}`, cpu: (i * 37) % 100, ram: (i * 11) % 100, stale: i % 97 === 0 })));
    const t0 = performance.now();
    const sorted = sortFleet(parseFleet(many).rows, 'status', 'desc');
    const ms = performance.now() - t0;
    expect(sorted).toHaveLength(1000);
    expect(sorted.slice(0, 11).every((r) => r.stale)).toBe(true);
    expect(sorted[11].stale).toBe(false);
    expect(ms).toBeLessThan(100);
  });
});
