// Pressure stall information (snapshot v2 `pressure`): the rows the pressure panel shows.
// Absent on hosts without PSI, and then the panel is hidden (never shown as zeros).

export const RESOURCES = /** @type {const} */ (['cpu', 'memory', 'io']);

/** @param {any} s */
function stall(s) {
  if (!s || typeof s !== 'object') return null;
  const n = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  const out = { avg10: n(s.avg10), avg60: n(s.avg60), avg300: n(s.avg300) };
  return out.avg10 === null && out.avg60 === null && out.avg300 === null ? null : out;
}

/**
 * @param {any} pressure the row's `pressure` object
 * @returns {{resource: string, some: {avg10: number|null, avg60: number|null, avg300: number|null}|null, full: {avg10: number|null, avg60: number|null, avg300: number|null}|null}[] | null}
 *   one entry per resource present (cpu, memory, io order); null when none is
 */
export function pressureRows(pressure) {
  if (!pressure || typeof pressure !== 'object') return null;
  const rows = [];
  for (const resource of RESOURCES) {
    const r = pressure[resource];
    if (!r || typeof r !== 'object') continue;
    const some = stall(r.some);
    const full = stall(r.full);
    if (some || full) rows.push({ resource, some, full });
  }
  return rows.length ? rows : null;
}
