// Process table of the newest row: filter (command, user or pid), sort by any column (click a
// header; again to flip; aria-sort says which), 10/25/50 rows per page, procps state letters
// with a legend. Fields a v1 row lacks (user, threads, nice) show an em dash.

import { el, setText } from '../lib/dom.js';
import { formatKb } from '../lib/format.js';
import { COLUMNS, filterTop, nextSort, PAGE_SIZES, paginate, processes, sortTop, STATES, stateName } from '../lib/table.js';

const DASH = '—';

/** @param {number|undefined} v */
const int = (v) => (typeof v === 'number' && Number.isFinite(v) ? String(v) : DASH);

/** Cell text per column key. */
const CELL = {
  pid: (p) => int(p.pid),
  user: (p) => (typeof p.user === 'string' && p.user ? p.user : DASH),
  command: (p) => String(p.comm ?? ''),
  state: (p) => (typeof p.state === 'string' && p.state ? p.state : DASH),
  threads: (p) => int(p.threads),
  nice: (p) => int(p.nice),
  cpu: (p) => (typeof p.cpu_percent === 'number' && Number.isFinite(p.cpu_percent) ? p.cpu_percent.toFixed(1) : DASH),
  rss: (p) => (typeof p.rss_kb === 'number' ? formatKb(p.rss_kb) : DASH),
};

/** @param {HTMLElement} card */
export function createTopView(card) {
  let key = 'cpu';
  let dir = /** @type {'asc'|'desc'} */ ('desc');
  let query = '';
  let perPage = PAGE_SIZES[0];
  let page = 0;
  let last = null;

  const tools = el('div', 'table-tools');
  const filterLabel = el('label', 'filter');
  filterLabel.append(el('span', 'muted', 'filter'));
  const filter = /** @type {HTMLInputElement} */ (el('input'));
  filter.type = 'search';
  filter.id = 'top-filter';
  filter.placeholder = 'command, user or pid';
  filter.autocomplete = 'off';
  filter.spellcheck = false;
  filterLabel.append(filter);
  filter.addEventListener('input', () => {
    query = filter.value;
    page = 0;
    render();
  });

  const sizeLabel = el('label', 'per-page');
  sizeLabel.append(el('span', 'muted', 'rows'));
  const size = /** @type {HTMLSelectElement} */ (el('select'));
  size.id = 'top-per-page';
  for (const n of PAGE_SIZES) {
    const o = /** @type {HTMLOptionElement} */ (el('option', '', String(n)));
    o.value = String(n);
    size.append(o);
  }
  size.value = String(perPage);
  sizeLabel.append(size);
  size.addEventListener('change', () => {
    perPage = Number(size.value);
    page = 0;
    render();
  });

  const pager = el('div', 'pager');
  const prev = /** @type {HTMLButtonElement} */ (el('button', 'page', '‹ prev'));
  prev.type = 'button';
  prev.id = 'top-prev';
  const pos = el('span', 'muted num', '');
  pos.id = 'top-pos';
  const next = /** @type {HTMLButtonElement} */ (el('button', 'page', 'next ›'));
  next.type = 'button';
  next.id = 'top-next';
  prev.addEventListener('click', () => {
    page--;
    render();
  });
  next.addEventListener('click', () => {
    page++;
    render();
  });
  pager.append(prev, pos, next);
  tools.append(filterLabel, sizeLabel, pager);

  const wrap = el('div', 'table-wrap');
  const table = el('table', 'top');
  table.id = 'top-table';
  const thead = el('thead');
  const hr = el('tr');
  /** @type {Record<string, HTMLElement>} */
  const heads = {};
  for (const c of COLUMNS) {
    const h = el('th', c.type === 'num' ? 'num' : '');
    h.scope = 'col';
    h.dataset.col = c.key;
    const btn = el('button', 'sort', c.label);
    btn.type = 'button';
    btn.id = `sort-${c.key}`;
    btn.addEventListener('click', () => {
      ({ key, dir } = /** @type {{key: string, dir: 'asc'|'desc'}} */ (nextSort(key, dir, c.key)));
      render();
    });
    h.append(btn);
    hr.append(h);
    heads[c.key] = h;
  }
  thead.append(hr);
  const tbody = el('tbody');
  table.append(thead, tbody);
  wrap.append(table);
  const note = el('p', 'muted', '');
  note.id = 'top-note';
  const legend = el('p', 'muted state-legend');
  legend.id = 'state-legend';
  legend.append('states: ');
  for (const [i, [letter, name]] of Object.entries(STATES).entries()) {
    if (i) legend.append(' · ');
    legend.append(el('b', `state state-${letter}`, letter), ` ${name}`);
  }
  card.append(tools, wrap, note, legend);

  function render() {
    for (const c of COLUMNS) {
      heads[c.key].setAttribute('aria-sort', c.key === key ? (dir === 'desc' ? 'descending' : 'ascending') : 'none');
    }
    const all = processes(last?.top);
    const shown = sortTop(filterTop(all, query), key, dir);
    const pg = paginate(shown, perPage, page);
    page = pg.page;
    const rows = pg.rows.map((p) => {
      const tr = el('tr');
      tr.dataset.pid = String(p.pid ?? '');
      for (const c of COLUMNS) {
        const text = CELL[c.key](p);
        let cls = c.type === 'num' ? 'num' : c.key === 'command' ? 'comm' : c.key;
        if (c.key === 'state') {
          cls = `state state-${/^[A-Za-z]$/.test(p.state ?? '') ? p.state : 'x'}`;
        }
        const td = el('td', cls, text);
        if (c.key === 'state') td.title = stateName(p.state);
        if (c.key === 'command') td.title = text;
        tr.append(td);
      }
      return tr;
    });
    tbody.replaceChildren(...rows);
    setText(pos, pg.total ? `${pg.from}–${pg.to} of ${pg.total}` : '0 of 0');
    prev.disabled = pg.page === 0;
    next.disabled = pg.page >= pg.pages - 1;
    let msg = '';
    if (all.length === 0) msg = last ? 'this sample has no process list' : 'no data yet';
    else if (shown.length === 0) msg = `no process matches “${query.trim()}”`;
    else if (query.trim()) msg = `${shown.length} of ${all.length} processes match`;
    setText(note, msg);
  }

  render();
  return {
    /** @param {any} row newest row; re-renders only when it is a different row */
    update(row) {
      if (row === last) return;
      last = row;
      render();
    },
  };
}
