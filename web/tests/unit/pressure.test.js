// Pressure rows: present resources only; absent PSI is null (hidden), never zeros.
import { describe, expect, it } from 'vitest';
import { pressureRows } from '../../app/lib/pressure.js';
import { rowV2 } from './fixtures.js';

describe('pressureRows', () => {
  it('reads cpu, memory and io of the model fixture', () => {
    const r = pressureRows(rowV2().pressure);
    expect(r.map((x) => x.resource)).toEqual(['cpu', 'memory', 'io']);
    expect(r[0].some).toEqual({ avg10: 12.04, avg60: 8.71, avg300: 3.02 });
    expect(r[1].full).toEqual({ avg10: 0.5, avg60: 0.12, avg300: 0.03 });
  });

  it('absent pressure is null; a resource without `full` keeps full null', () => {
    expect(pressureRows(undefined)).toBeNull();
    expect(pressureRows(null)).toBeNull();
    expect(pressureRows({})).toBeNull();
    const r = pressureRows({ cpu: { some: { avg10: 1, avg60: 2, avg300: 3, total_us: 4 } }, io: 'junk' });
    expect(r).toEqual([{ resource: 'cpu', some: { avg10: 1, avg60: 2, avg300: 3 }, full: null }]);
  });
});
