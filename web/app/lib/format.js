// Number formatting for the views (pure).

const UNITS = ['KiB', 'MiB', 'GiB', 'TiB'];

/** 1536 → "1.5 MiB"; kibibytes in, binary units out. */
export function formatKb(kb) {
  if (typeof kb !== 'number' || !Number.isFinite(kb) || kb < 0) return '–';
  let v = kb;
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${UNITS[i]}`;
}

/** 23.456 → "23.5 %". */
export function formatPct(p) {
  return typeof p === 'number' && Number.isFinite(p) ? `${p.toFixed(1)} %` : '–';
}

/** Load average with two decimals. */
export function formatLoad(l) {
  return typeof l === 'number' && Number.isFinite(l) ? l.toFixed(2) : '–';
}

/** One formatter for every count: Chromium's toLocaleString builds one per call (≈ 15 µs; a 1,000-host fleet table formats 2,000 counts a second). */
const COUNT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** Integer count with thin grouping (12 345). */
export function formatCount(n) {
  return typeof n === 'number' && Number.isFinite(n) ? COUNT.format(Math.round(n)).replace(/,/g, '\u2009') : '–';
}

/** Age of a timestamp: "3 s ago", "4 min ago", "2 h ago". */
export function formatAge(ms) {
  if (!Number.isFinite(ms)) return '–';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

/** share of part in whole as a 0..100 number, clamped; 0 when whole is not positive. */
export function share(part, whole) {
  if (!(whole > 0) || !Number.isFinite(part)) return 0;
  return Math.min(100, Math.max(0, (part / whole) * 100));
}
