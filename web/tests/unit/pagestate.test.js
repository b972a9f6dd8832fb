// The page state in the URL: view, host, range; other parameters kept; bad values reported.
import { describe, expect, it } from 'vitest';
import { fleetLink, hostLink, readState, shownHost, writeState } from '../../app/lib/pagestate.js';
import { preset } from '../../app/lib/range.js';

const NOW = Date.UTC(2026, 10, 23, 12, 0, 0);
const read = (s) => readState(s, NOW);

describe('readState', () => {
  it('defaults: host view, no host, 15 m', () => {
    expect(read('')).toEqual({ state: { view: 'host', host: null, range: preset('15m') }, errors: [] });
    expect(read('?host=')).toEqual(read(''));
  });

  it('host and a preset', () => {
    expect(read('?host=vm-1&range=24h').state).toEqual({ view: 'host', host: 'vm-1', range: preset('24h') });
    expect(read('range=7d').state.range).toEqual(preset('7d'));
  });

  it('custom from/to (to defaults to now) wins over range=', () => {
    expect(read('?host=vm-1&from=2026-11-20T10:00:00Z&to=2026-11-21T10:00:00Z').state.range).toEqual({
      kind: 'custom',
      from: '2026-11-20T10:00:00Z',
      to: '2026-11-21T10:00:00Z',
    });
    expect(read('?from=-3h').state.range).toEqual({ kind: 'custom', from: '-3h', to: 'now' });
    // a link the API takes opens in the page too (review 12a: -1h30m was refused)
    expect(read('?host=vm-1&from=-1h30m&to=-250ms')).toEqual({ state: { view: 'host', host: 'vm-1', range: { kind: 'custom', from: '-1h30m', to: '-250ms' } }, errors: [] });
    expect(read('?range=24h&from=-3h&to=-1h').state.range).toEqual({ kind: 'custom', from: '-3h', to: '-1h' });
  });

  it('the fleet view', () => {
    expect(read('?view=fleet').state.view).toBe('fleet');
  });

  it('bad values fall back to the defaults, each error naming its parameter', () => {
    const r = read('?view=cats&host=bad%20name&range=2y');
    expect(r.state).toEqual({ view: 'host', host: null, range: preset('15m') });
    expect(r.errors).toHaveLength(3);
    expect(r.errors[0]).toMatch(/^view: /);
    expect(r.errors[1]).toMatch(/^host: /);
    expect(r.errors[2]).toMatch(/^range: unknown range “2y” \(15m, 1h, 6h, 24h, 7d, 30d/);
    expect(read('?from=-1h&to=-2h').errors).toEqual(['from must be before to']);
    expect(read('?to=-2h').errors[0]).toMatch(/^from: missing/);
    expect(read('?from=tuesday').errors[0]).toMatch(/^from: not a time/);
  });
});

describe('writeState', () => {
  it('round-trips every range', () => {
    for (const range of [preset('1h'), preset('30d'), { kind: 'custom', from: '2026-11-20T10:00:00Z', to: 'now' }]) {
      const state = { view: 'host', host: 'vm-1', range };
      expect(read(writeState(state)).state).toEqual(state);
    }
  });

  it('canonical: the default range is left out; custom drops range=', () => {
    expect(writeState({ view: 'host', host: 'vm-1', range: preset('15m') })).toBe('?host=vm-1');
    expect(writeState({ view: 'host', host: null, range: preset('15m') })).toBe('');
    expect(writeState({ view: 'host', host: 'vm-1', range: preset('24h') }, '?range=6h')).toBe('?host=vm-1&range=24h');
    expect(writeState({ view: 'host', host: 'vm-1', range: { kind: 'custom', from: '-3h', to: 'now' } }, '?range=6h')).toBe('?host=vm-1&from=-3h&to=now');
  });

  it('keeps parameters it does not own (ws=)', () => {
    expect(writeState({ view: 'host', host: 'h', range: preset('6h') }, '?ws=ws%3A%2F%2Fb%3A2%2Fws&host=old')).toBe('?host=h&range=6h&ws=ws%3A%2F%2Fb%3A2%2Fws');
    expect(fleetLink('?host=h&range=24h&ws=%2Fx')).toBe('?view=fleet&ws=%2Fx');
    expect(hostLink('vm-9', '?view=fleet&ws=%2Fx')).toBe('?host=vm-9&ws=%2Fx');
    expect(hostLink('vm-9')).toBe('?host=vm-9');
  });
});

describe('shownHost', () => {
  const known = new Set(['a', 'b']);
  it('the wanted host when the feed knows it or the range is fetched, else the first known', () => {
    expect(shownHost('b', true, known, ['a', 'b'])).toBe('b');
    expect(shownHost('gone', true, known, ['a', 'b'])).toBe('a');
    expect(shownHost('gone', false, known, ['a', 'b'])).toBe('gone'); // rollups outlive the feed
    // no ?host=: a fetched range shows (and fetches) the first host, not nothing (review 10)
    expect(shownHost(null, false, known, ['a', 'b'])).toBe('a');
    expect(shownHost(null, true, known, ['a', 'b'])).toBe('a');
    expect(shownHost(null, false, new Set(), [])).toBeNull();
    expect(shownHost('x', true, new Set(), [])).toBeNull();
  });
});
