// Top-processes table of the newest row, sortable by CPU and RSS (click a header; click again
// to flip the direction).

import { el, setText } from '../lib/dom.js';
import { formatKb } from '../lib/format.js';
import { sortTop } from '../lib/sort.js';

/** @param {HTMLElement} card */
export function createTopView(card) {
  let key = /** @type {'cpu'|'rss'} */ ('cpu');
  let dir = /** @type {'desc'|'asc'} */ ('desc');
  let last = null;

  const wrap = el('div', 'table-wrap');
  const table = el('table', 'top');
  table.id = 'top-table';
  const thead = el('thead');
  const hr = el('tr');
  const th = (label, cls) => {
    const h = el('th', cls, label);
    h.scope = 'col';
    hr.append(h);
    return h;
  };
  th('PID', 'num');
  th('command');
  th('state');
  const sortable = {};
  for (const [k, label] of [
    ['cpu', 'CPU %'],
    ['rss', 'RSS'],
  ]) {
    const h = th('', 'num');
    const btn = el('button', 'sort', label);
    btn.type = 'button';
    btn.id = `sort-${k}`;
    btn.addEventListener('click', () => {
      if (key === k) dir = dir === 'desc' ? 'asc' : 'desc';
      else {
        key = /** @type {'cpu'|'rss'} */ (k);
        dir = 'desc';
      }
      render();
    });
    h.append(btn);
    sortable[k] = h;
  }
  thead.append(hr);
  const tbody = el('tbody');
  table.append(thead, tbody);
  wrap.append(table);
  const note = el('p', 'muted', '');
  card.append(wrap, note);

  function render() {
    for (const [k, h] of Object.entries(sortable)) {
      h.setAttribute('aria-sort', k === key ? (dir === 'desc' ? 'descending' : 'ascending') : 'none');
    }
    const top = Array.isArray(last?.top) ? last.top : [];
    const rows = sortTop(top, key, dir).map((p) => {
      const tr = el('tr');
      tr.append(
        el('td', 'num', String(p.pid ?? '')),
        el('td', 'comm', String(p.comm ?? '')),
        el('td', `state state-${/^[A-Za-z]$/.test(p.state ?? '') ? p.state : 'x'}`, String(p.state ?? '')),
        el('td', 'num', typeof p.cpu_percent === 'number' ? p.cpu_percent.toFixed(1) : '–'),
        el('td', 'num', formatKb(p.rss_kb)),
      );
      return tr;
    });
    tbody.replaceChildren(...rows);
    setText(note, top.length === 0 ? (last ? 'this sample has no process list' : 'no data yet') : '');
  }

  return {
    /** @param {any} row newest row; re-renders only when it is a different row */
    update(row) {
      if (row === last) return;
      last = row;
      render();
    },
  };
}
