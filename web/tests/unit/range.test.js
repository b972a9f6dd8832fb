// Range presets, custom from/to, and the history query each range maps to.
import { describe, expect, it } from 'vitest';
import {
  bounds,
  customError,
  fromLocalInput,
  historyParams,
  isLive,
  isMoving,
  isTimeText,
  liveWindowSeconds,
  parseDuration,
  PRESETS,
  preset,
  rangeLabel,
  refreshes,
  resolveTime,
  sameRange,
  toLocalInput,
} from '../../app/lib/range.js';

const NOW = Date.UTC(2026, 10, 23, 12, 0, 0);

describe('presets', () => {
  it('15 m, 1 h live; 6 h, 24 h, 7 d, 30 d fetched', () => {
    expect(PRESETS.map((p) => [p.key, p.seconds, p.live])).toEqual([
      ['15m', 900, true],
      ['1h', 3600, true],
      ['6h', 21600, false],
      ['24h', 86400, false],
      ['7d', 604800, false],
      ['30d', 2592000, false],
    ]);
    expect(() => preset('2h')).toThrow(RangeError);
    expect(isLive(preset('1h'))).toBe(true);
    expect(isLive(preset('6h'))).toBe(false);
    expect(isLive({ kind: 'custom', from: '-10m', to: 'now' })).toBe(false);
    expect(liveWindowSeconds(preset('15m'))).toBe(900);
    expect(liveWindowSeconds(preset('24h'))).toBeNull();
  });
});

describe('range → history query', () => {
  it('presets ask for a relative from and leave to at its default (now)', () => {
    expect(historyParams(preset('24h'), 'vm-1')).toEqual({ host: 'vm-1', from: '-24h' });
    expect(historyParams(preset('7d'), 'vm-1')).toEqual({ host: 'vm-1', from: '-7d' });
    expect(historyParams(preset('30d'), 'a.b')).toEqual({ host: 'a.b', from: '-30d' });
    expect(historyParams(preset('1h'), 'vm-1')).toEqual({ host: 'vm-1', from: '-1h' });
  });

  it('custom ranges pass both ends as given', () => {
    const r = { kind: 'custom', from: '2026-11-20T10:00:00Z', to: '2026-11-21T10:00:00Z' };
    expect(historyParams(r, 'vm-2')).toEqual({ host: 'vm-2', from: '2026-11-20T10:00:00Z', to: '2026-11-21T10:00:00Z' });
    expect(historyParams({ kind: 'custom', from: '-3h', to: 'now' }, 'h')).toEqual({ host: 'h', from: '-3h', to: 'now' });
  });

  it('bounds in ms', () => {
    expect(bounds(preset('6h'), NOW)).toEqual([NOW - 6 * 3600_000, NOW]);
    expect(bounds({ kind: 'custom', from: '-2d', to: '-1d' }, NOW)).toEqual([NOW - 2 * 86400_000, NOW - 86400_000]);
  });

  it('refreshed while it ends now: presets and custom ranges ending now or relative', () => {
    expect(refreshes(preset('24h'))).toBe(true);
    expect(refreshes(preset('15m'))).toBe(false); // live: the socket keeps it fresh
    expect(refreshes({ kind: 'custom', from: '-3h', to: 'now' })).toBe(true);
    expect(refreshes({ kind: 'custom', from: '2026-11-20T10:00:00Z', to: '2026-11-21T10:00:00Z' })).toBe(false);
  });
});

// The cases of the Rust parsers the API uses: HumanDuration's test in
// userland/storage/src/maintain/config.rs and parse_time's in userland/broadcaster/src/range.rs.
describe('durations: the grammar of the Rust HumanDuration', () => {
  it('parses what HumanDuration parses, to the same length', () => {
    for (const [text, ms] of [
      ['7d', 7 * 86_400_000],
      ['36h', 36 * 3_600_000],
      ['1h30m', 5_400_000],
      ['250ms', 250],
      ['0', 0],
      // HumanDuration's Display forms round-trip
      ['1d12h', 36 * 3_600_000],
      ['1m30s250ms', 90_250],
      // digits then the whole run of letters as the unit, in any order, repeats allowed
      ['30m1h', 5_400_000],
      ['1m1m', 120_000],
      ['007d', 7 * 86_400_000],
      ['0s', 0],
      ['365000d', 365000 * 86_400_000], // HumanDuration::MAX, 1,000 years
      ['31536000000000ms', 365000 * 86_400_000],
    ]) expect(parseDuration(text), text).toBe(ms);
  });

  it('refuses what HumanDuration refuses', () => {
    for (const bad of [
      '',
      '7',
      'd',
      '7x',
      '-1d',
      '1.5h',
      '7d ',
      ' 7d',
      '0s0',
      '99999999999999999d', // over a u64 of ms
      '18446744073709551616ms',
      '5000000d', // over 1,000 years
      '365001d',
      '31536000000001ms',
      '364999d24h1ms',
      '1mss',
      '1hm',
      '1H',
      '1w',
      '+1h',
      '１h', // not ASCII digits
      '00',
      null,
      7,
    ]) expect(parseDuration(bad), String(bad)).toBeNull();
  });
});

describe('time texts', () => {
  it('RFC 3339 with seconds and offset, now, - and a duration (as the broadcaster parses them)', () => {
    for (const ok of ['now', '-30s', '-15m', '-24h', '-7d', '-1h30m', '-0', '-1500ms', '-1d12h', '2026-11-23T10:00:00Z', '2026-11-23t10:00:00.5+01:00', '2026-11-22t10:00:00+01:00']) {
      expect(isTimeText(ok), ok).toBe(true);
    }
    for (const bad of [
      '',
      'yesterday',
      '-1w',
      '+1h',
      '24h',
      '1h',
      'Now',
      '-1',
      '-',
      '-15x',
      '--1h',
      '-99999999999999999999d',
      '2026-11-23',
      '2026-11-23T10:00Z',
      '2026-11-23 09:00:00Z',
      '2026-13-40T10:00:00Z',
      null,
      5,
    ]) {
      expect(isTimeText(bad), String(bad)).toBe(false);
    }
  });

  it('moving ends: now and every relative form', () => {
    for (const m of ['now', '-1h30m', '-1500ms', '-0']) expect(isMoving(m), m).toBe(true);
    for (const f of ['2026-11-23T10:00:00Z', '-1', 'junk']) expect(isMoving(f), f).toBe(false);
  });

  it('resolves relative to now', () => {
    expect(resolveTime('now', NOW)).toBe(NOW);
    expect(resolveTime('-90s', NOW)).toBe(NOW - 90_000);
    expect(resolveTime('-1d', NOW)).toBe(NOW - 86400_000);
    expect(resolveTime('2026-11-23T11:00:00Z', NOW)).toBe(NOW - 3600_000);
    expect(resolveTime('junk', NOW)).toBeNaN();
    // parse_time's cases
    expect(resolveTime('-15m', NOW)).toBe(NOW - 900_000);
    expect(resolveTime('-7d', NOW)).toBe(NOW - 7 * 86400_000);
    expect(resolveTime('-30s', NOW)).toBe(NOW - 30_000);
    expect(resolveTime('-1h30m', NOW)).toBe(NOW - 5_400_000);
    expect(resolveTime('-0', NOW)).toBe(NOW);
    expect(resolveTime('-1500ms', NOW)).toBe(NOW - 1500);
    expect(resolveTime('2026-11-22t10:00:00+01:00', NOW)).toBe(Date.UTC(2026, 10, 22, 9));
  });

  it('a relative time reaching before year 1 is no time (the broadcaster refuses it)', () => {
    expect(resolveTime('-999999999d', NOW)).toBeNaN(); // over 1,000 years, not a duration at all
    const year1 = new Date(0);
    year1.setUTCFullYear(1, 0, 1);
    const early = year1.getTime() + 10 * 86_400_000; // a clock at 0001-01-11
    expect(resolveTime('-10d', early)).toBe(year1.getTime());
    expect(resolveTime('-10d1ms', early)).toBeNaN();
    expect(customError('-11d', 'now', early)).toBe('from: reaches before year 1');
    expect(customError('-365001d', 'now', NOW)).toMatch(/^from: not a time/);
  });

  it('custom errors name the end at fault', () => {
    expect(customError('-3h', 'now', NOW)).toBeNull();
    expect(customError('-1h30m', '-15m', NOW)).toBeNull();
    expect(customError('x', 'now', NOW)).toMatch(/^from: /);
    expect(customError('-3h', 'y', NOW)).toMatch(/^to: /);
    expect(customError('-1h', '-2h', NOW)).toBe('from must be before to');
    expect(customError('2026-11-23T11:00:00Z', '2026-11-23T11:00:00Z', NOW)).toBe('from must be before to');
  });

  it('datetime-local values round-trip through RFC 3339 UTC', () => {
    const local = new Date(2026, 10, 23, 14, 5).getTime();
    expect(toLocalInput(local)).toBe('2026-11-23T14:05');
    expect(fromLocalInput('2026-11-23T14:05')).toBe(new Date(2026, 10, 23, 14, 5).toISOString().replace('.000Z', 'Z'));
    expect(fromLocalInput('2026-11-23T14:05:30')).toBe(new Date(2026, 10, 23, 14, 5, 30).toISOString().replace('.000Z', 'Z'));
    expect(fromLocalInput('')).toBeNull();
    expect(fromLocalInput('2026-02-31T10:00')).toBeNull();
    expect(toLocalInput(NaN)).toBe('');
  });

  it('labels and equality', () => {
    expect(rangeLabel(preset('24h'))).toBe('24 h');
    expect(rangeLabel({ kind: 'custom', from: '-3h', to: 'now' })).toBe('-3h → now');
    expect(rangeLabel({ kind: 'custom', from: new Date(2026, 10, 20, 9, 30).toISOString(), to: 'now' })).toBe('2026-11-20 09:30 → now');
    expect(sameRange(preset('6h'), preset('6h'))).toBe(true);
    expect(sameRange(preset('6h'), preset('24h'))).toBe(false);
    expect(sameRange({ kind: 'custom', from: '-3h', to: 'now' }, { kind: 'custom', from: '-3h', to: 'now' })).toBe(true);
    expect(sameRange({ kind: 'custom', from: '-3h', to: 'now' }, preset('6h'))).toBe(false);
  });
});
