// CPU modes: reading, stacking (cumulative, guest never double-counted), legend.
import { describe, expect, it } from 'vitest';
import { MODE_COLORS, MODES, modeLegend, readModes, stackModes } from '../../app/lib/modes.js';
import { rowV2 } from './fixtures.js';

describe('CPU modes', () => {
  it('eight exclusive modes, each with a colour; guest is not one of them', () => {
    expect(MODES).toEqual(['user', 'nice', 'system', 'iowait', 'irq', 'softirq', 'steal', 'idle']);
    expect(MODE_COLORS).toHaveLength(8);
    expect(MODES).not.toContain('guest');
  });

  it('reads the model fixture; v1 rows and empty objects have none', () => {
    const m = readModes(rowV2().cpu);
    expect(m).toMatchObject({ user: 15.2, nice: 1.05, system: 4.5, idle: 75.05, guest: 3, guest_nice: 0 });
    expect(readModes({ usage_percent: 3 })).toBeNull();
    expect(readModes({ modes: {} })).toBeNull();
    expect(readModes({ modes: { guest: 5 } })).toBeNull();
    expect(readModes(undefined)).toBeNull();
  });

  it('stacks cumulatively in MODES order; the top edge is the sum (100)', () => {
    const s = stackModes(readModes(rowV2().cpu));
    // user 15.2, +nice 1.05, +system 4.5, +iowait 1.5, +irq 0.2, +softirq 0.5, +steal 2.0, +idle 75.05
    expect(s).toEqual([15.2, 16.25, 20.75, 22.25, 22.45, 22.95, 24.95, 100]);
    for (let i = 1; i < s.length; i++) expect(s[i]).toBeGreaterThanOrEqual(s[i - 1]);
    expect(stackModes(null)).toBeNull();
  });

  it('guest is inside user: stacking ignores it, the legend names it', () => {
    const m = readModes({ modes: { user: 40, nice: 0, system: 10, idle: 50, guest: 30, guest_nice: 0 } });
    expect(stackModes(m).at(-1)).toBe(100);
    const l = modeLegend(m);
    expect(l.map((x) => x.mode)).toEqual(MODES);
    expect(l[0]).toEqual({ mode: 'user', value: 40, label: 'user (incl. guest 30.0 %)' });
    expect(l[1].label).toBe('nice (incl. guest nice 0.0 %)');
    expect(l[7]).toEqual({ mode: 'idle', value: 50, label: 'idle' });
  });

  it('clamps out-of-range values and treats missing ones as 0', () => {
    const m = readModes({ modes: { user: 120, idle: -5, system: 'x' } });
    expect(m.user).toBe(100);
    expect(m.idle).toBe(0);
    expect(m.system).toBe(0);
  });
});
