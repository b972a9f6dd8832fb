// Load average (1 / 5 / 15 min) of the newest row, with the core count for scale.

import { el, setText } from '../lib/dom.js';
import { formatLoad } from '../lib/format.js';

/** @param {HTMLElement} card */
export function createLoadView(card) {
  const row = el('div', 'loads');
  const cells = ['1', '5', '15'].map((m) => {
    const c = el('div', 'load');
    const v = el('div', 'big num', '–');
    v.id = `load${m}`;
    c.append(v, el('div', 'muted', `${m} min`));
    row.append(c);
    return v;
  });
  const cores = el('p', 'muted', '');
  cores.id = 'cores';
  card.append(row, cores);

  return {
    /** @param {any} row */
    update(r) {
      const cpu = r?.cpu;
      const n = typeof cpu?.cores === 'number' && cpu.cores > 0 ? cpu.cores : null;
      [cpu?.load1, cpu?.load5, cpu?.load15].forEach((l, i) => {
        setText(cells[i], formatLoad(l));
        // Over one runnable task per core is saturation: mark it.
        cells[i].classList.toggle('warn', n !== null && typeof l === 'number' && l > n);
      });
      setText(cores, n === null ? '' : `${n} core${n === 1 ? '' : 's'}`);
    },
  };
}
