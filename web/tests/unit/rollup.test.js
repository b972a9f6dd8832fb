// History answers (contract shapes) → chart series with min/max bands and gaps.
import { describe, expect, it } from 'vitest';
import {
  bandData,
  bandsOption,
  durationText,
  errorText,
  hasValues,
  medianGap,
  nextPage,
  LAG_NOTE_MS,
  lagText,
  parseHistoryAnswer,
  peak,
  seriesFromAnswer,
  seriesFromPoints,
  seriesFromSamples,
  tierText,
} from '../../app/lib/rollup.js';
import { rollupAnswer, row, rowV2, T0 } from './fixtures.js';

describe('parseHistoryAnswer', () => {
  it('a rolled-up answer', () => {
    const a = parseHistoryAnswer(rollupAnswer({ tier: '1h', step: 7200 }));
    expect(a.tier).toBe('1h');
    expect(a.step).toBe(7200);
    expect(a.fromMs).toBe(T0 * 1000);
    expect(a.toMs).toBe((T0 + 5 * 7200) * 1000);
    expect(a.points).toHaveLength(5);
    expect(a.samples).toBeNull();
    expect(a.truncated).toBe(false);
    expect(a.nextHost).toBeNull();
  });

  it('a raw answer (step_seconds null), and today\'s shape without tier', () => {
    const a = parseHistoryAnswer({ tier: 'raw', step_seconds: null, from: 'x', to: 'y', samples: [row()], truncated: false });
    expect([a.tier, a.step, a.samples.length, a.points]).toEqual(['raw', null, 1, null]);
    expect(a.fromMs).toBeNaN();
    expect(parseHistoryAnswer({ samples: [], truncated: false }).tier).toBe('raw');
  });

  it('complete_to: a time, null (nothing rolled up), or not said', () => {
    const at = '2026-11-23T09:59:20Z';
    expect(parseHistoryAnswer({ ...rollupAnswer({}), complete_to: at }).completeToMs).toBe(Date.parse(at));
    expect(parseHistoryAnswer({ ...rollupAnswer({}), complete_to: null }).completeToMs).toBeNull();
    expect(parseHistoryAnswer(rollupAnswer({})).completeToMs).toBeUndefined();
    expect(parseHistoryAnswer({ ...rollupAnswer({}), complete_to: 'soon' }).completeToMs).toBeUndefined();
    expect(parseHistoryAnswer({ tier: 'raw', samples: [] }).completeToMs).toBeUndefined();
  });

  it('refuses what is not an answer', () => {
    expect(() => parseHistoryAnswer(null)).toThrow(/not a JSON object/);
    expect(() => parseHistoryAnswer({ tier: '5m', points: [] })).toThrow(/unknown tier “5m”/);
    expect(() => parseHistoryAnswer({ tier: '1m', samples: [] })).toThrow(/tier 1m has no points/);
    expect(() => parseHistoryAnswer({ tier: '1m' })).toThrow(/neither points nor samples/);
  });
});

describe('rolled-up points → band data', () => {
  it('x in seconds; series [x, max, avg, min] per metric; the band spans max → min', () => {
    const a = parseHistoryAnswer(rollupAnswer({ n: 3 }));
    const s = seriesFromAnswer(a, 'vm-1');
    expect(s.xs).toEqual([T0, T0 + 120, T0 + 240]);
    expect(bandData(s, 'cpu')).toEqual([s.xs, [30, 31, 32], [20, 21, 22], [10, 11, 12]]);
    expect(bandData(s, 'ram')).toEqual([s.xs, [43, 43, 43], [41.5, 41.5, 41.5], [40, 40, 40]]);
    expect(bandData(s, 'swap')[2]).toEqual([2, 2, 2]);
    expect(bandData(s, 'load1')[2]).toEqual([0.5, 0.6, 0.7]);
    expect(bandsOption('red')).toEqual([{ series: [1, 3], fill: 'red' }]);
    expect(peak(s, 'load1')).toBe(1.75);
  });

  it('summary: samples summed, peaks of zombies and D, cores and source of the newest point', () => {
    const s = seriesFromPoints(rollupAnswer({ n: 4 }).points, 'vm-1', 120);
    expect([s.points, s.samples, s.zombiesMax, s.diskSleepMax, s.cores, s.source, s.step]).toEqual([4, 480, 3, 1, 7, 'procfs', 120]);
  });

  it('only the asked host; a host without swap has no swap values (null, not 0)', () => {
    const body = rollupAnswer({ hosts: ['vm-1', 'vm-2'], n: 2 });
    const s = seriesFromPoints(body.points, 'vm-2', 120);
    expect(s.points).toBe(2);
    expect(bandData(s, 'cpu')[2]).toEqual([21, 22]);
    expect(bandData(s, 'swap')).toEqual([s.xs, [null, null], [null, null], [null, null]]);
    expect(hasValues(s, 'swap')).toBe(false);
    expect(hasValues(s, 'cpu')).toBe(true);
    expect(seriesFromPoints(body.points, 'vm-3', 120).xs).toEqual([]);
  });

  it('a hole longer than two steps becomes a null point one step after the last value', () => {
    const s = seriesFromPoints(rollupAnswer({ n: 6, skip: [2, 3] }).points, 'vm-1', 120);
    expect(s.xs).toEqual([T0, T0 + 120, T0 + 240, T0 + 480, T0 + 600]);
    expect(bandData(s, 'cpu')[2]).toEqual([20, 21, null, 24, 25]);
    expect(s.cpu.min[2]).toBeNull();
    expect(s.cpu.max[2]).toBeNull();
    // A single missing step (2 steps apart) is not a hole.
    expect(seriesFromPoints(rollupAnswer({ n: 3, skip: [1] }).points, 'vm-1', 120).xs).toEqual([T0, T0 + 240]);
  });

  it('unreadable points and values are skipped / null', () => {
    const pts = rollupAnswer({ n: 2 }).points;
    pts.push({ host: 'vm-1', t: 'never' }, null, { host: 'vm-1', t: new Date((T0 + 240) * 1000).toISOString(), cpu: [1, 'x', 3], ram: 5 });
    const s = seriesFromPoints(pts, 'vm-1', 120);
    expect(s.xs).toEqual([T0, T0 + 120, T0 + 240]);
    expect(bandData(s, 'cpu')).toEqual([s.xs, [30, 31, 3], [20, 21, null], [10, 11, 1]]);
    expect(bandData(s, 'ram')[2][2]).toBeNull();
  });
});

describe('raw rows → the same series (min = avg = max)', () => {
  it('cpu, ram, swap %, load1 per row; peaks; cores and source of the newest', () => {
    const rows = [row({ id: 2, t: 2, cpu: 30, ram: 50 }), row({ id: 1, t: 0, cpu: 10, ram: 40 }), row({ id: 3, t: 4, host: 'other' })];
    rows[0].ram.swap_total_kb = 1000;
    rows[0].ram.swap_free_kb = 250;
    const s = seriesFromSamples(rows, 'vm-1');
    expect(s.xs).toEqual([T0, T0 + 2]);
    expect(bandData(s, 'cpu')).toEqual([s.xs, [10, 30], [10, 30], [10, 30]]);
    expect(bandData(s, 'ram')[2]).toEqual([40, 50]);
    expect(bandData(s, 'swap')[2]).toEqual([null, 75]);
    expect(bandData(s, 'load1')[2]).toEqual([0.5, 0.5]);
    expect([s.points, s.samples, s.zombiesMax, s.diskSleepMax, s.cores, s.source, s.step]).toEqual([2, 2, 1, 0, 2, 'kmod', 2]);
  });

  it('v2 rows: swap from swap_used_kb; holes against the median spacing', () => {
    const rows = [0, 1, 2, 10, 11].map((t, i) => rowV2({ id: i + 1, t }));
    const s = seriesFromAnswer(parseHistoryAnswer({ tier: 'raw', step_seconds: null, samples: rows, truncated: false }), rowV2().host);
    expect(s.step).toBe(1);
    expect(s.xs).toEqual([T0, T0 + 1, T0 + 2, T0 + 3, T0 + 10, T0 + 11]);
    expect(s.swap.avg[0]).toBeCloseTo((1048572 / 2097148) * 100, 9);
    expect(s.cpu.avg[3]).toBeNull();
    expect(medianGap([])).toBeNull();
    expect(medianGap([5, 5])).toBeNull();
  });
});

describe('paging, texts, errors', () => {
  it('next page only for an all-hosts query cut short', () => {
    const cut = parseHistoryAnswer({ tier: '1m', step_seconds: 60, points: [], truncated: true, next_host: 'vm-7' });
    expect(nextPage({ from: '-24h' }, cut)).toEqual({ from: '-24h', from_host: 'vm-7' });
    expect(nextPage({ host: 'vm-1', from: '-24h' }, cut)).toBeNull();
    expect(nextPage({ from: '-24h' }, parseHistoryAnswer(rollupAnswer()))).toBeNull();
  });

  it('tier and step texts', () => {
    expect(tierText('1m', 120)).toBe('tier 1m · step 2 min');
    expect(tierText('1h', 7200)).toBe('tier 1h · step 2 h');
    expect(tierText('1h', null)).toBe('tier 1h');
    expect(tierText('raw', null)).toBe('raw rows');
    expect([durationText(30), durationText(90), durationText(5400), durationText(172800)]).toEqual(['30 s', '1.5 min', '1.5 h', '2 d']);
  });

  it('422 names the field', () => {
    const body = { error: { code: 'invalid_field', message: 'from must be before to', field: 'from' } };
    expect(errorText(422, body)).toBe('422: from must be before to');
    expect(errorText(422, { error: { message: 'span over 400 days', field: 'to' } })).toBe('422: to: span over 400 days');
    expect(errorText(503, { error: { message: 'database unavailable' } })).toBe('503: database unavailable');
    expect(errorText(500, null)).toBe('HTTP 500');
  });
});

describe('lagText: rollups that stop before the range ends', () => {
  const TO = Date.UTC(2026, 10, 23, 12, 0, 0);
  const iso = (ms) => new Date(ms).toISOString();
  const ans = (tier, completeToMs) => ({ tier, completeToMs });
  it('silent within 5 minutes, for raw rows, and when the answer does not say', () => {
    expect(LAG_NOTE_MS).toBe(300_000);
    expect(lagText(ans('1m', TO - 30_000), TO, iso)).toBe('');
    expect(lagText(ans('1m', TO - LAG_NOTE_MS), TO, iso)).toBe('');
    expect(lagText(ans('1h', TO + 60_000), TO, iso)).toBe(''); // ahead of a range in the past
    expect(lagText(ans('raw', TO - 86400_000), TO, iso)).toBe('');
    expect(lagText(ans('1m', undefined), TO, iso)).toBe('');
    expect(lagText(ans('1m', TO - 3600_000), NaN, iso)).toBe('');
  });

  it('says how far the rollups go and how much of the range that leaves out', () => {
    expect(lagText(ans('1m', TO - LAG_NOTE_MS - 1000), TO, iso)).toBe(
      'rolled up to 2026-11-23T11:54:59.000Z: the last 5 min of the range may be missing or partial',
    );
    expect(lagText(ans('1h', TO - 3 * 3600_000), TO, iso)).toBe(
      'rolled up to 2026-11-23T09:00:00.000Z: the last 3 h of the range may be missing or partial',
    );
    expect(lagText(ans('1m', null), TO, iso)).toMatch(/^nothing rolled up yet/);
  });
});
