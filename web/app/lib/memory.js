// Memory and swap breakdowns of a row's `ram` object (pure).

function clamp(v, lo, hi) {
  return typeof v === 'number' && Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : lo;
}

/**
 * Splits total RAM into parts that add up to it exactly.
 *
 * With buffers (snapshot v2) the split is the one `free`/htop draw: free (MemFree), buffers,
 * cached (Cached, which includes shared memory) and used = total − free − buffers − cached.
 * Without them (v1 rows): used = total − available, cached = available − free (reclaimable),
 * free; `buffers` is then null.
 * @param {any} ram the row's `ram` object
 * @returns {{total: number, used: number, buffers: number|null, cached: number, free: number} | null}
 */
export function memoryParts(ram) {
  const total = ram?.total_kb ?? 0;
  if (!(typeof total === 'number' && total > 0)) return null;
  const free = clamp(ram.free_kb, 0, total);
  if (typeof ram.buffers_kb === 'number' && Number.isFinite(ram.buffers_kb)) {
    const buffers = clamp(ram.buffers_kb, 0, total - free);
    const cached = clamp(ram.cached_kb, 0, total - free - buffers);
    return { total, used: total - free - buffers - cached, buffers, cached, free };
  }
  const available = clamp(ram.available_kb, free, total);
  return { total, used: total - available, buffers: null, cached: available - free, free };
}

/**
 * Swap total / used / free and the used percentage; null when the host has no swap.
 * Used is `swap_used_kb` (v2) or total − free (v1).
 * @param {any} ram
 * @returns {{total: number, used: number, free: number, pct: number} | null}
 */
export function swapParts(ram) {
  const total = ram?.swap_total_kb;
  if (!(typeof total === 'number' && total > 0)) return null;
  const used =
    typeof ram.swap_used_kb === 'number' && Number.isFinite(ram.swap_used_kb)
      ? clamp(ram.swap_used_kb, 0, total)
      : typeof ram.swap_free_kb === 'number' && Number.isFinite(ram.swap_free_kb)
        ? total - clamp(ram.swap_free_kb, 0, total)
        : 0;
  return { total, used, free: total - used, pct: (used / total) * 100 };
}
