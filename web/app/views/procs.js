// Process-state counters of the newest row; non-zero zombies and D-state are highlighted.

import { el, setText } from '../lib/dom.js';
import { formatCount } from '../lib/format.js';

/** [field, label, alert-when-non-zero] in display order. */
export const PROC_FIELDS = [
  ['total', 'total', false],
  ['running', 'running (R)', false],
  ['sleeping', 'sleeping (S)', false],
  ['disk_sleep', 'disk sleep (D)', true],
  ['stopped', 'stopped (T)', false],
  ['traced', 'traced (t)', false],
  ['zombie', 'zombie (Z)', true],
  ['dead', 'dead (X)', false],
  ['idle', 'idle (I)', false],
  ['threads', 'threads', false],
];

/** @param {HTMLElement} card */
export function createProcsView(card) {
  const grid = el('div', 'counters');
  const cells = PROC_FIELDS.map(([field, label, alerting]) => {
    const c = el('div', 'counter');
    c.dataset.field = field;
    const v = el('div', 'num big', '–');
    v.id = `procs-${field}`;
    c.append(v, el('div', 'muted', label));
    grid.append(c);
    return { c, v, field, alerting };
  });
  card.append(grid);

  return {
    /** @param {any} row */
    update(row) {
      const p = row?.procs;
      for (const { c, v, field, alerting } of cells) {
        const n = p?.[field];
        setText(v, formatCount(n));
        const alert = alerting && typeof n === 'number' && n > 0;
        c.classList.toggle('alert', alert);
        if (alert) c.dataset.alert = 'true';
        else delete c.dataset.alert;
      }
    },
  };
}
