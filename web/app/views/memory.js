// Memory breakdown of the newest row (used / buffers / cached / free of total, shared, available)
// and swap (total / used / free and %, with its threshold level).

import { defItem, el, setText } from '../lib/dom.js';
import { formatKb, formatPct, share } from '../lib/format.js';
import { memoryParts, swapParts } from '../lib/memory.js';
import { applyLevel } from '../lib/thresholds.js';

/** A <dt>/<dd> pair that can be hidden (v2-only fields). */
function optItem(dl, label, id) {
  const dd = defItem(dl, label, id);
  return { dt: /** @type {HTMLElement} */ (dd.previousElementSibling), dd };
}

function show(item, on) {
  item.dt.hidden = !on;
  item.dd.hidden = !on;
}

/** @param {HTMLElement} card */
export function createMemoryView(card) {
  const bar = el('div', 'stack');
  bar.setAttribute('role', 'img');
  const segUsed = el('span', 'seg used');
  const segBuf = el('span', 'seg buffers');
  const segCache = el('span', 'seg cached');
  const segFree = el('span', 'seg free');
  bar.append(segUsed, segBuf, segCache, segFree);
  const dl = el('dl', 'kv');
  const used = defItem(dl, 'used', 'mem-used');
  const buffers = optItem(dl, 'buffers', 'mem-buffers');
  const cached = defItem(dl, 'cached', 'mem-cached');
  const shared = optItem(dl, 'shared', 'mem-shared');
  const free = defItem(dl, 'free', 'mem-free');
  const avail = defItem(dl, 'available', 'mem-available');
  const total = defItem(dl, 'total', 'mem-total');
  for (const [d, cls] of [
    [used, 'used'],
    [buffers.dd, 'buffers'],
    [cached, 'cached'],
    [free, 'free'],
  ]) {
    const dt = /** @type {HTMLElement} */ (d.previousElementSibling);
    dt.prepend(el('span', `key ${cls}`));
  }

  const swapHead = el('h3', '', 'Swap ');
  const swapLevel = el('span', 'level', '');
  swapLevel.id = 'swap-level';
  swapHead.append(swapLevel);
  const swapBar = el('div', 'stack swap');
  const segSwap = el('span', 'seg swap-used');
  swapBar.append(segSwap);
  const dl2 = el('dl', 'kv');
  const swapUsed = defItem(dl2, 'used', 'swap-used');
  const swapFree = defItem(dl2, 'free', 'swap-free');
  const swapTotal = defItem(dl2, 'total', 'swap-total');
  card.append(bar, dl, swapHead, swapBar, dl2);

  return {
    /** @param {any} row newest row of the selected host, or null */
    update(row) {
      const ram = row?.ram;
      const parts = memoryParts(ram);
      show(buffers, parts?.buffers != null);
      show(shared, typeof ram?.shared_kb === 'number');
      if (!parts) {
        for (const d of [used, cached, free, avail, total, swapUsed, swapFree, swapTotal]) setText(d, '–');
        for (const s of [segUsed, segBuf, segCache, segFree, segSwap]) s.style.width = '0';
        applyLevel(swapLevel, null);
        return;
      }
      segUsed.style.width = `${share(parts.used, parts.total)}%`;
      segBuf.style.width = `${share(parts.buffers ?? 0, parts.total)}%`;
      segCache.style.width = `${share(parts.cached, parts.total)}%`;
      segFree.style.width = `${share(parts.free, parts.total)}%`;
      bar.setAttribute(
        'aria-label',
        `used ${formatPct(share(parts.used, parts.total))}, buffers ${formatPct(share(parts.buffers ?? 0, parts.total))}, ` +
          `cached ${formatPct(share(parts.cached, parts.total))}, free ${formatPct(share(parts.free, parts.total))} of ${formatKb(parts.total)}`,
      );
      const ofTotal = (kb) => `${formatKb(kb)} (${formatPct(share(kb, parts.total))})`;
      setText(used, ofTotal(parts.used));
      if (parts.buffers !== null) setText(buffers.dd, ofTotal(parts.buffers));
      setText(cached, ofTotal(parts.buffers !== null ? parts.cached : ram.cached_kb));
      if (typeof ram.shared_kb === 'number') setText(shared.dd, formatKb(ram.shared_kb));
      setText(free, ofTotal(parts.free));
      setText(avail, formatKb(ram.available_kb));
      setText(total, formatKb(parts.total));

      const sw = swapParts(ram);
      swapBar.hidden = sw === null;
      applyLevel(swapLevel, sw?.pct);
      if (sw) {
        segSwap.style.width = `${sw.pct}%`;
        segSwap.dataset.level = swapLevel.dataset.level ?? '';
        setText(swapUsed, `${formatKb(sw.used)} (${formatPct(sw.pct)})`);
        setText(swapFree, formatKb(sw.free));
        setText(swapTotal, formatKb(sw.total));
      } else {
        segSwap.style.width = '0';
        setText(swapUsed, 'no swap');
        setText(swapFree, '–');
        setText(swapTotal, '–');
      }
    },
  };
}
