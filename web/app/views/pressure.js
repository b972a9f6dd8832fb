// Pressure stall information of the newest row: share of time some / all runnable tasks were
// stalled on CPU, memory or I/O over the last 10 s and 60 s. Hidden when the host has no PSI
// (the row has no `pressure` object) — never shown as zeros.

import { el, setText } from '../lib/dom.js';
import { pressureRows, RESOURCES } from '../lib/pressure.js';

const COLS = [
  ['some', 'avg10'],
  ['some', 'avg60'],
  ['full', 'avg10'],
  ['full', 'avg60'],
];

/** @param {HTMLElement} card */
export function createPressureView(card) {
  const table = el('table', 'pressure');
  table.id = 'pressure-table';
  const head = el('tr');
  head.append(el('th', '', ''));
  for (const [kind, avg] of COLS) {
    const th = el('th', 'num', `${kind} ${avg}`);
    th.scope = 'col';
    head.append(th);
  }
  const thead = el('thead');
  thead.append(head);
  const tbody = el('tbody');
  const rows = Object.fromEntries(
    RESOURCES.map((res) => {
      const tr = el('tr');
      tr.dataset.resource = res;
      const th = el('th', '', res);
      th.scope = 'row';
      tr.append(th);
      const tds = COLS.map(([kind, avg]) => {
        const td = el('td', 'num', '—');
        td.dataset.kind = `${kind}-${avg}`;
        tr.append(td);
        return td;
      });
      tbody.append(tr);
      return [res, { tr, tds }];
    }),
  );
  table.append(thead, tbody);
  const note = el('p', 'muted', '% of wall time stalled (some: at least one task, full: all non-idle tasks); — where the kernel reports none');
  card.append(table, note);

  return {
    /** @param {any} row */
    update(row) {
      const pr = pressureRows(row?.pressure);
      card.hidden = pr === null;
      if (!pr) return;
      const byRes = new Map(pr.map((r) => [r.resource, r]));
      for (const res of RESOURCES) {
        const r = byRes.get(res);
        const { tr, tds } = rows[res];
        tr.hidden = !r;
        if (!r) continue;
        COLS.forEach(([kind, avg], i) => {
          const v = r[kind]?.[avg];
          setText(tds[i], typeof v === 'number' ? v.toFixed(2) : '—');
          tds[i].classList.toggle('warn', typeof v === 'number' && v >= 10);
        });
      }
    },
  };
}
