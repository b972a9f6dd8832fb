// Frame parsing and the store: backfill replaces, live rows append, duplicates by id never
// double-plotted, late rows land in time order, junk is counted and dropped.
import { describe, expect, it } from 'vitest';
import { COL_MODES, COLUMNS, parseFrame, rowPoint, Store } from '../../app/lib/store.js';
import { row, rowV2, T0 } from './fixtures.js';

const frame = (o) => JSON.stringify(o);
const ids = (store, host) => store.host(host).ring.idList();

describe('parseFrame', () => {
  it('reads the four frame types', () => {
    expect(parseFrame(frame({ type: 'hello', server_time: '2026-11-23T10:00:00Z', hosts: ['vm-1', 'bad host!', 7] }))).toEqual({
      type: 'hello',
      server_time: '2026-11-23T10:00:00Z',
      hosts: ['vm-1'],
    });
    expect(parseFrame(frame({ type: 'history', samples: [1] }))).toEqual({ type: 'history', samples: [1] });
    expect(parseFrame(frame({ type: 'samples' }))).toEqual({ type: 'samples', samples: [] });
    expect(parseFrame(frame({ type: 'routes', a: 3, b: -1 }))).toEqual({ type: 'routes', a: 3, b: 0 });
  });

  it('returns null for junk', () => {
    for (const t of ['', 'nope', '[]', 'null', '{"type":"pong"}', '{"type":1}', '42']) expect(parseFrame(t)).toBeNull();
  });
});

describe('rowPoint', () => {
  it('extracts x (seconds), cpu and ram', () => {
    expect(rowPoint(row({ id: 9, t: 2.5, cpu: 12.5, ram: 33 }))).toEqual({ id: 9, host: 'vm-1', x: T0 + 2.5, cpu: 12.5, ram: 33, modes: null });
  });

  it('refuses rows without id, valid host or time', () => {
    expect(rowPoint({ ...row(), id: '1' })).toBeNull();
    expect(rowPoint({ ...row(), host: '../etc' })).toBeNull();
    expect(rowPoint({ ...row(), collected_at: 'yesterday' })).toBeNull();
    expect(rowPoint(null)).toBeNull();
  });

  it('a row without cpu/ram objects still plots (as gaps)', () => {
    const p = rowPoint({ ...row(), cpu: null, ram: undefined });
    expect(Number.isNaN(p.cpu) && Number.isNaN(p.ram)).toBe(true);
  });
});

describe('Store', () => {
  it('hello registers hosts and the clock skew', () => {
    const s = new Store();
    s.applyText(frame({ type: 'hello', server_time: '2026-11-23T10:00:05Z', hosts: ['vm-2', 'vm-1'] }), Date.UTC(2026, 10, 23, 10, 0, 0));
    expect(s.hostNames()).toEqual(['vm-1', 'vm-2']);
    expect(s.clockSkewMs).toBe(5000);
    expect(s.takeDirty().hostList).toBe(true);
    expect(s.takeDirty().hostList).toBe(false);
  });

  it('history fills per host, samples append, duplicates are dropped', () => {
    const s = new Store();
    s.applyText(frame({ type: 'hello', hosts: ['vm-1', 'vm-2'] }));
    s.applyText(
      frame({
        type: 'history',
        samples: [row({ id: 1, t: 0 }), row({ id: 2, host: 'vm-2', t: 0 }), row({ id: 3, t: 1 }), row({ id: 4, host: 'vm-2', t: 1 })],
      }),
    );
    expect(ids(s, 'vm-1')).toEqual([1, 3]);
    expect(ids(s, 'vm-2')).toEqual([2, 4]);
    s.takeDirty();
    s.applyText(frame({ type: 'samples', samples: [row({ id: 3, t: 1 }), row({ id: 5, t: 2, cpu: 77 })] }));
    expect(ids(s, 'vm-1')).toEqual([1, 3, 5]);
    expect(s.stats.duplicates).toBe(1);
    expect(s.host('vm-1').latest.cpu.usage_percent).toBe(77);
    const d = s.takeDirty();
    expect([...d.series]).toEqual(['vm-1']);
  });

  it('history after a reconnect replaces the buffer: nothing is plotted twice', () => {
    const s = new Store();
    s.applyText(frame({ type: 'history', samples: [row({ id: 1, t: 0 }), row({ id: 2, t: 1 })] }));
    s.applyText(frame({ type: 'samples', samples: [row({ id: 3, t: 2 })] }));
    // Disconnected here; rows 4 and 5 were stored meanwhile. The new history holds them all.
    s.applyText(frame({ type: 'hello', hosts: ['vm-1'] }));
    s.applyText(frame({ type: 'history', samples: [1, 2, 3, 4, 5].map((i) => row({ id: i, t: i - 1 })) }));
    expect(ids(s, 'vm-1')).toEqual([1, 2, 3, 4, 5]);
    const [xs] = s.host('vm-1').ring.view();
    expect(Array.from(xs)).toEqual([0, 1, 2, 3, 4].map((t) => T0 + t));
    // A live frame overlapping the backfill adds only what is new.
    s.applyText(frame({ type: 'samples', samples: [row({ id: 5, t: 4 }), row({ id: 6, t: 5 })] }));
    expect(ids(s, 'vm-1')).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('a host absent from a new history is emptied, not left stale', () => {
    const s = new Store();
    s.applyText(frame({ type: 'history', samples: [row({ id: 1, host: 'old' }), row({ id: 2 })] }));
    s.applyText(frame({ type: 'history', samples: [row({ id: 3, t: 5 })] }));
    expect(s.host('old').ring.length).toBe(0);
    expect(s.host('old').latest).toBeNull();
    expect(ids(s, 'vm-1')).toEqual([3]);
  });

  it('late rows are inserted in collected_at order; latest is the newest by time', () => {
    const s = new Store();
    s.applyText(frame({ type: 'samples', samples: [row({ id: 10, t: 10, cpu: 1 }), row({ id: 11, t: 5, cpu: 2 })] }));
    expect(ids(s, 'vm-1')).toEqual([11, 10]);
    expect(s.host('vm-1').latest.id).toBe(10);
  });

  it('capacity bounds each host and evicted ids can come back later', () => {
    const s = new Store({ capacity: 3 });
    s.applyText(frame({ type: 'samples', samples: [1, 2, 3, 4].map((i) => row({ id: i, t: i })) }));
    expect(ids(s, 'vm-1')).toEqual([2, 3, 4]);
    expect(s.host('vm-1').ids.has(1)).toBe(false);
    // Row 1 is now older than everything kept: refused as stale, not as duplicate.
    s.applyText(frame({ type: 'samples', samples: [row({ id: 1, t: 1 })] }));
    expect(s.stats.stale).toBe(1);
  });

  it('routes frames set the split; junk frames and rows are counted, not applied', () => {
    const s = new Store();
    s.applyText(frame({ type: 'routes', a: 7, b: 3 }));
    expect(s.routes).toEqual({ a: 7, b: 3 });
    expect(s.takeDirty().routes).toBe(true);
    s.applyText('garbage');
    s.applyText(frame({ type: 'samples', samples: [{ id: 1 }, row({ id: 2 })] }));
    expect(s.stats.ignored).toBe(1);
    expect(s.stats.rejected).toBe(1);
    expect(s.stats.rows).toBe(1);
  });

  it('holds 1 h of 1 s points for several hosts', () => {
    const s = new Store();
    const samples = [];
    for (let t = 0; t < 3700; t++) for (const h of ['a', 'b', 'c']) samples.push(row({ id: samples.length + 1, host: h, t }));
    s.apply({ type: 'samples', samples });
    for (const h of ['a', 'b', 'c']) {
      expect(s.host(h).ring.length).toBe(3600);
      expect(s.host(h).ids.size).toBe(3600);
      expect(s.host(h).ring.firstX()).toBe(T0 + 100);
    }
  });

  it('v2 rows: stacked modes in the ring, per-core values in the core history; v1 rows leave gaps', () => {
    const s = new Store();
    s.apply({ type: 'samples', samples: [rowV2({ id: 1, t: 0 }), { ...row({ id: 2, t: 1 }), host: 'vm-1' }, rowV2({ id: 3, t: 2 })] });
    const h = s.host('vm-1');
    const view = h.ring.view();
    expect(view).toHaveLength(1 + COLUMNS);
    const top = view[1 + COL_MODES + 7];
    expect(Array.from(top)[0]).toBe(100);
    expect(Number.isNaN(top[1])).toBe(true);
    expect(view[1 + COL_MODES][2]).toBe(15.2);
    // The v1 row in between has no per-CPU list: two samples kept.
    expect(h.cores.length).toBe(2);
    expect(h.cores.value(1, 0)).toBe(80.5);
    expect(h.cores.value(1, 3)).toBe(8);
    // A history frame clears the core history too.
    s.apply({ type: 'history', samples: [rowV2({ id: 4, t: 5 })] });
    expect(h.cores.length).toBe(1);
  });
});
