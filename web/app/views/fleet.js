// The fleet table: one row per host, sortable by every column (header buttons, aria-sort), worst
// first by default; the host name links to its host view. Rows are kept per host and updated in
// place: a poll changes only the cells whose text changed and moves rows only when the order
// changed, all in one synchronous pass — one DOM update per poll, however many hosts.

import { el, setText } from '../lib/dom.js';
import { DEFAULT_SORT, FLEET_COLUMNS, fleetSummary, nextFleetSort, sortFleet } from '../lib/fleet.js';
import { level } from '../lib/thresholds.js';

/**
 * @param {HTMLElement} card
 * @param {(host: string) => string} linkFor href of a host's view
 */
export function createFleetView(card, linkFor) {
  let key = DEFAULT_SORT.key;
  let dir = /** @type {'asc'|'desc'} */ (DEFAULT_SORT.dir);
  /** @type {import('../lib/fleet.js').FleetRow[]} */
  let last = [];

  const summary = el('p', 'muted num', 'loading…');
  summary.id = 'fleet-summary';
  const error = el('p', 'history-error', '');
  error.id = 'fleet-error';
  error.setAttribute('role', 'alert');
  error.hidden = true;
  const wrap = el('div', 'table-wrap fleet-wrap');
  const table = el('table', 'top fleet');
  table.id = 'fleet-table';
  const caption = el('caption', 'sr-only', 'Hosts, worst first; click a column to sort, a host to open it');
  const thead = el('thead');
  const hr = el('tr');
  /** @type {Record<string, HTMLElement>} */
  const heads = {};
  for (const c of FLEET_COLUMNS) {
    const h = el('th', c.type === 'num' ? 'num' : '');
    h.scope = 'col';
    h.dataset.col = c.key;
    const btn = el('button', 'sort', c.label);
    btn.type = 'button';
    btn.id = `fleet-sort-${c.key}`;
    btn.addEventListener('click', () => {
      ({ key, dir } = /** @type {{key: string, dir: 'asc'|'desc'}} */ (nextFleetSort(key, dir, c.key)));
      render();
    });
    h.append(btn);
    hr.append(h);
    heads[c.key] = h;
  }
  thead.append(hr);
  const tbody = el('tbody');
  table.append(caption, thead, tbody);
  wrap.append(table);
  card.append(summary, error, wrap);

  /** host → its row and cells, reused across polls */
  const rows = new Map();

  function makeRow(host) {
    const tr = el('tr');
    tr.dataset.host = host;
    const cells = FLEET_COLUMNS.map((c) => {
      const td = el('td', c.type === 'num' ? 'num' : c.key);
      if (c.key === 'host') {
        const a = /** @type {HTMLAnchorElement} */ (el('a', '', host));
        a.href = linkFor(host);
        td.append(a);
      }
      tr.append(td);
      return td;
    });
    const r = { tr, cells, stale: null, level: null };
    rows.set(host, r);
    return r;
  }

  // A click anywhere on a row opens the host (the name is the link for keyboards and readers).
  tbody.addEventListener('click', (e) => {
    const t = /** @type {HTMLElement} */ (e.target);
    if (t.closest('a')) return;
    const tr = t.closest('tr');
    const a = tr?.querySelector('a');
    if (a) a.click();
  });

  function render() {
    for (const c of FLEET_COLUMNS) {
      heads[c.key].setAttribute('aria-sort', c.key === key ? (dir === 'desc' ? 'descending' : 'ascending') : 'none');
    }
    const sorted = sortFleet(last, key, dir);
    const seen = new Set();
    const order = [];
    for (const f of sorted) {
      const r = rows.get(f.host) ?? makeRow(f.host);
      seen.add(f.host);
      order.push(r.tr);
      FLEET_COLUMNS.forEach((c, i) => {
        if (c.key === 'host') return;
        const td = r.cells[i];
        setText(td, c.text(f));
        if (c.alert) {
          const on = c.alert(f) ? 'true' : 'false';
          if (td.dataset.alert !== on) td.dataset.alert = on;
        }
      });
      if (r.stale !== f.stale) {
        r.stale = f.stale;
        r.tr.dataset.stale = String(f.stale);
      }
      const lv = f.stale ? 'stale' : (level(f.worst) ?? 'unknown');
      if (r.level !== lv) {
        r.level = lv;
        r.cells[1].dataset.level = lv;
      }
    }
    for (const [host, r] of rows) {
      if (!seen.has(host)) rows.delete(host); // gone from the broadcaster: dropped below
    }
    const kids = tbody.children;
    let same = kids.length === order.length;
    for (let i = 0; same && i < order.length; i++) same = kids[i] === order[i];
    if (!same) tbody.replaceChildren(...order);
    setText(summary, fleetSummary(last));
  }

  return {
    /** One poll's rows. @param {import('../lib/fleet.js').FleetRow[]} list */
    update(list) {
      last = list;
      if (!error.hidden) {
        error.hidden = true;
        setText(error, '');
      }
      render();
    },
    /** The last poll failed: say so, keep the table. @param {string} text */
    fail(text) {
      error.hidden = false;
      setText(error, `fleet request failed: ${text} (showing the last answer)`);
    },
  };
}
