// Memory breakdown of the newest row: used / cached / free / available and swap.

import { defItem, el, setText } from '../lib/dom.js';
import { formatKb, formatPct, share } from '../lib/format.js';

/**
 * Splits total RAM into three parts that add up to it exactly:
 * used (total − available), reclaimable (available − free: page cache, buffers) and free.
 * @param {any} ram the row's `ram` object
 */
export function memoryParts(ram) {
  const total = ram?.total_kb ?? 0;
  if (!(total > 0)) return null;
  const free = clamp(ram.free_kb, 0, total);
  const available = clamp(ram.available_kb, free, total);
  const used = total - available;
  return { total, used, reclaimable: available - free, free };
}

function clamp(v, lo, hi) {
  return typeof v === 'number' && Number.isFinite(v) ? Math.min(hi, Math.max(lo, v)) : lo;
}

/** @param {HTMLElement} card */
export function createMemoryView(card) {
  const bar = el('div', 'stack');
  bar.setAttribute('role', 'img');
  const segUsed = el('span', 'seg used');
  const segRecl = el('span', 'seg cached');
  const segFree = el('span', 'seg free');
  bar.append(segUsed, segRecl, segFree);
  const dl = el('dl', 'kv');
  const used = defItem(dl, 'used', 'mem-used');
  const cached = defItem(dl, 'cached', 'mem-cached');
  const free = defItem(dl, 'free', 'mem-free');
  const avail = defItem(dl, 'available', 'mem-available');
  const total = defItem(dl, 'total', 'mem-total');
  const swapBar = el('div', 'stack swap');
  const segSwap = el('span', 'seg swap-used');
  swapBar.append(segSwap);
  const dl2 = el('dl', 'kv');
  const swap = defItem(dl2, 'swap used', 'mem-swap');
  card.append(bar, dl, el('h3', '', 'Swap'), swapBar, dl2);

  return {
    /** @param {any} row newest row of the selected host, or null */
    update(row) {
      const ram = row?.ram;
      const parts = memoryParts(ram);
      if (!parts) {
        for (const d of [used, cached, free, avail, total, swap]) setText(d, '–');
        for (const s of [segUsed, segRecl, segFree, segSwap]) s.style.width = '0';
        return;
      }
      segUsed.style.width = `${share(parts.used, parts.total)}%`;
      segRecl.style.width = `${share(parts.reclaimable, parts.total)}%`;
      segFree.style.width = `${share(parts.free, parts.total)}%`;
      bar.setAttribute('aria-label', `used ${formatPct(ram.used_percent)} of ${formatKb(parts.total)}`);
      setText(used, `${formatKb(ram.used_kb ?? parts.used)} (${formatPct(ram.used_percent)})`);
      setText(cached, formatKb(ram.cached_kb));
      setText(free, formatKb(ram.free_kb));
      setText(avail, formatKb(ram.available_kb));
      setText(total, formatKb(parts.total));
      const st = ram.swap_total_kb;
      if (typeof st === 'number' && st > 0) {
        const su = Math.max(0, st - (ram.swap_free_kb ?? st));
        segSwap.style.width = `${share(su, st)}%`;
        setText(swap, `${formatKb(su)} / ${formatKb(st)} (${formatPct(share(su, st))})`);
      } else {
        segSwap.style.width = '0';
        setText(swap, 'no swap');
      }
    },
  };
}
