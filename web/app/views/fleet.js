// The fleet table: one row per host, sortable by every column (header buttons, aria-sort), worst
// first by default, filterable by host name or source; the host name links to its host view.
// The alerts column counts each host's firing and pending alerts (— when none or unknown).
//
// Only the rows in (or near) the scroll box are in the DOM: with 1,000 hosts a full table makes
// the browser restyle and lay out every row on every poll (every row's "last seen" changes each
// second), the window only the few it shows. Spacer rows above and below keep the
// scrollbar true to the whole list, and the table carries aria-rowcount / aria-rowindex so
// assistive technology knows where a row sits. Rows are reused by position: a poll rewrites
// only the cells whose text changed, in one synchronous pass — one DOM update per poll,
// however many hosts.

import { el, setText } from '../lib/dom.js';
import { DEFAULT_SORT, filterFleet, FLEET_COLUMNS, fleetSummary, nextFleetSort, sortFleet } from '../lib/fleet.js';
import { formatCount } from '../lib/format.js';
import { level } from '../lib/thresholds.js';

/** Rows drawn above and below the visible ones (smooth scrolling without blank edges). */
const OVERSCAN = 10;
/** Row height assumed until one has been measured (px). */
const GUESS_ROW_PX = 30;

/**
 * @param {HTMLElement} card
 * @param {(host: string) => string} linkFor href of a host's view
 */
export function createFleetView(card, linkFor) {
  let key = DEFAULT_SORT.key;
  let dir = /** @type {'asc'|'desc'} */ (DEFAULT_SORT.dir);
  let query = '';
  /** @type {import('../lib/fleet.js').FleetRow[]} the last poll's rows */
  let last = [];
  /** @type {import('../lib/fleet.js').AlertsState|null} what the last poll knew of the alerts */
  let alerts = null;
  /** @type {import('../lib/fleet.js').FleetRow[]} filtered and sorted: what the table lists */
  let shown = [];
  let rowPx = 0;

  const tools = el('div', 'table-tools');
  const filterLabel = el('label', 'filter');
  const filter = /** @type {HTMLInputElement} */ (el('input'));
  filter.type = 'search';
  filter.id = 'fleet-filter';
  filter.placeholder = 'host or source';
  filter.autocomplete = 'off';
  filter.spellcheck = false;
  filterLabel.append(el('span', 'muted', 'filter'), filter);
  const summary = el('span', 'muted num', 'loading…');
  summary.id = 'fleet-summary';
  summary.setAttribute('role', 'status');
  tools.append(filterLabel, summary);
  const error = el('p', 'history-error', '');
  error.id = 'fleet-error';
  error.setAttribute('role', 'alert');
  error.hidden = true;

  const wrap = el('div', 'table-wrap fleet-wrap');
  wrap.tabIndex = 0; // scrollable by keyboard
  wrap.setAttribute('aria-label', 'hosts');
  const table = el('table', 'top fleet');
  table.id = 'fleet-table';
  const caption = el('caption', 'sr-only', 'Hosts, worst first by default; a column header sorts, a host name opens its view');
  const thead = el('thead');
  const hr = el('tr');
  hr.setAttribute('aria-rowindex', '1');
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
  const spacer = () => {
    const tr = el('tr', 'spacer');
    tr.setAttribute('aria-hidden', 'true');
    const td = el('td');
    td.colSpan = FLEET_COLUMNS.length;
    tr.append(td);
    return { tr, td, px: -1 };
  };
  const above = spacer();
  const below = spacer();
  table.append(caption, thead, tbody);
  wrap.append(table);
  card.append(tools, error, wrap);

  /** Row elements by position in the window. */
  const pool = [];
  function poolRow() {
    const tr = el('tr');
    const cells = FLEET_COLUMNS.map((c) => {
      const td = el('td', c.type === 'num' ? 'num' : c.key);
      tr.append(td);
      return td;
    });
    const a = /** @type {HTMLAnchorElement} */ (el('a', '', ''));
    cells[0].append(a);
    const r = { tr, cells, a, host: '', stale: '', level: '', index: -1 };
    pool.push(r);
    return r;
  }

  /** Fills one pooled row with one host (only what changed). */
  function fill(r, f, index) {
    if (r.host !== f.host) {
      r.host = f.host;
      r.tr.dataset.host = f.host;
      r.a.textContent = f.host;
      r.a.href = linkFor(f.host);
    }
    if (r.index !== index) {
      r.index = index;
      r.tr.setAttribute('aria-rowindex', String(index + 2));
    }
    for (let i = 1; i < FLEET_COLUMNS.length; i++) {
      const c = FLEET_COLUMNS[i];
      const td = r.cells[i];
      setText(td, c.text(f));
      if (c.alert) {
        const on = c.alert(f) ? 'true' : 'false';
        if (td.dataset.alert !== on) td.dataset.alert = on;
      }
    }
    const stale = String(f.stale);
    if (r.stale !== stale) {
      r.stale = stale;
      r.tr.dataset.stale = stale;
    }
    const lv = f.stale ? 'stale' : (level(f.worst) ?? 'unknown');
    if (r.level !== lv) {
      r.level = lv;
      r.cells[1].dataset.level = lv;
    }
  }

  function setPad(s, px) {
    if (s.px === px) return;
    s.px = px;
    s.td.style.height = `${px}px`;
  }

  /** Draws the rows in the scroll box's window. */
  function paint() {
    const total = shown.length;
    const h = rowPx || GUESS_ROW_PX;
    const view = wrap.clientHeight || 20 * h;
    const first = Math.max(0, Math.min(Math.floor(wrap.scrollTop / h) - OVERSCAN, total - 1));
    const count = Math.max(0, Math.min(total - first, Math.ceil(view / h) + 2 * OVERSCAN));
    while (pool.length < count) poolRow();
    for (let i = 0; i < count; i++) fill(pool[i], shown[first + i], first + i);
    setPad(above, first * h);
    setPad(below, (total - first - count) * h);
    const want = [above.tr, ...pool.slice(0, count).map((r) => r.tr), below.tr];
    const kids = tbody.children;
    let same = kids.length === want.length;
    for (let i = 0; same && i < want.length; i++) same = kids[i] === want[i];
    if (!same) tbody.replaceChildren(...want);
    const rc = String(total + 1);
    if (table.getAttribute('aria-rowcount') !== rc) table.setAttribute('aria-rowcount', rc);
  }

  /** Sorts and filters the last rows, then paints; measures the row height once. */
  function render() {
    for (const c of FLEET_COLUMNS) {
      const s = c.key === key ? (dir === 'desc' ? 'descending' : 'ascending') : 'none';
      if (heads[c.key].getAttribute('aria-sort') !== s) heads[c.key].setAttribute('aria-sort', s);
    }
    shown = sortFleet(filterFleet(last, query), key, dir);
    paint();
    if (!rowPx && pool.length && pool[0].tr.isConnected) {
      const measured = pool[0].tr.getBoundingClientRect().height;
      if (measured > 0) {
        rowPx = measured;
        paint();
      }
    }
    const q = query.trim();
    const all = fleetSummary(last, alerts);
    setText(summary, q ? `${all} · ${formatCount(shown.length)} match “${q}”` : all);
  }

  let scrollQueued = false;
  wrap.addEventListener('scroll', () => {
    if (scrollQueued) return;
    scrollQueued = true;
    requestAnimationFrame(() => {
      scrollQueued = false;
      paint();
    });
  });
  new ResizeObserver(() => {
    rowPx = 0; // fonts and widths change with the viewport
    if (last.length) render();
  }).observe(wrap);
  filter.addEventListener('input', () => {
    query = filter.value;
    wrap.scrollTop = 0;
    render();
  });

  // A click anywhere on a row opens the host (the name is the link for keyboards and readers).
  tbody.addEventListener('click', (e) => {
    const t = /** @type {HTMLElement} */ (e.target);
    if (t.closest('a')) return;
    const a = t.closest('tr')?.querySelector('a');
    if (a) a.click();
  });

  return {
    /**
     * One poll's rows, and what it knew of the alerts (said in the summary line).
     * @param {import('../lib/fleet.js').FleetRow[]} list
     * @param {import('../lib/fleet.js').AlertsState|null} [alertsState]
     */
    update(list, alertsState = null) {
      last = list;
      alerts = alertsState;
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
    /** Hosts in table order (filtered, sorted), for the tests. */
    order: () => shown.map((r) => r.host),
  };
}
