// The live ingest route split: rows stored by route a and b, with shares.

import { el, setText } from '../lib/dom.js';
import { formatCount } from '../lib/format.js';
import { formatShare, splitShares } from '../lib/split.js';

/** @param {HTMLElement} card */
export function createSplitView(card) {
  const bar = el('div', 'stack');
  const segA = el('span', 'seg route-a');
  const segB = el('span', 'seg route-b');
  bar.append(segA, segB);
  const table = el('div', 'routes');
  const mk = (name) => {
    const r = el('div', `route route-${name}`);
    const count = el('span', 'num big', '–');
    count.id = `route-${name}-count`;
    const pct = el('span', 'num', '–');
    pct.id = `route-${name}-pct`;
    r.append(el('span', 'swatch'), el('span', 'name', `route ${name}`), count, pct);
    table.append(r);
    return { count, pct };
  };
  const a = mk('a');
  const b = mk('b');
  const total = el('p', 'muted', '');
  total.id = 'route-total';
  card.append(bar, table, total);

  return {
    /** @param {{a: number, b: number} | null} routes */
    update(routes) {
      if (!routes) return;
      const s = splitShares(routes.a, routes.b);
      setText(a.count, formatCount(s.a));
      setText(b.count, formatCount(s.b));
      setText(a.pct, formatShare(s.aPct));
      setText(b.pct, formatShare(s.bPct));
      segA.style.width = `${s.aPct ?? 0}%`;
      segB.style.width = `${s.bPct ?? 0}%`;
      setText(total, `${formatCount(s.total)} rows stored`);
    },
  };
}
