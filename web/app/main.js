// procpulse dashboard entry: wires the broadcaster link, the store and the views.
//
// Frames are applied to the store as they arrive; the views redraw from the store at most once
// per animation frame (requestAnimationFrame), and only the parts that changed.

import { Connection } from './lib/connection.js';
import { setText } from './lib/dom.js';
import { formatAge, formatPct } from './lib/format.js';
import { Store } from './lib/store.js';
import { applyLevel } from './lib/thresholds.js';
import { apiUrl, wsUrl } from './lib/url.js';
import { createChartsView } from './views/charts.js';
import { createHostsView } from './views/hosts.js';
import { createLoadView } from './views/load.js';
import { createMemoryView } from './views/memory.js';
import { createModesView } from './views/modes.js';
import { createPerCoreView } from './views/percore.js';
import { createPressureView } from './views/pressure.js';
import { createProcsView } from './views/procs.js';
import { createSplitView } from './views/split.js';
import { createStatusView } from './views/status.js';
import { createTopView } from './views/top.js';

/** After this many failed WebSocket attempts in a row, show REST data meanwhile. */
const REST_FALLBACK_AFTER_FAILURES = 2;

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

const store = new Store();
const params = new URLSearchParams(location.search);
/** The host asked for (?host= or the selector); shown as soon as it has appeared. */
let wanted = params.get('host');
/** The host on screen: `wanted` when known, else the first host. */
let selected = null;

const status = createStatusView($('conn'));
const hosts = createHostsView(/** @type {HTMLSelectElement} */ ($('host-select')), (h) => {
  wanted = h;
  const u = new URL(location.href);
  u.searchParams.set('host', h);
  history.replaceState(null, '', u);
  schedule(true);
});
const charts = createChartsView($('cpu-chart'), $('ram-chart'));
const memory = createMemoryView($('mem-card'));
const modes = createModesView($('modes-card'));
const perCore = createPerCoreView($('percore-card'));
const pressure = createPressureView($('pressure-card'));
const load = createLoadView($('load-card'));
const procs = createProcsView($('procs-card'));
const split = createSplitView($('split-card'));
const top = createTopView($('top-card'));
const foot = $('foot');
const cpuNow = $('cpu-now');
const ramNow = $('ram-now');
const cpuLevel = $('cpu-level');
const ramLevel = $('ram-level');

let frameQueued = false;
let hostChanged = true;
/** Time spent in the last redraws (ms, store to painted canvas), for the benchmark hook. */
const drawTimes = [];

function schedule(hostSwitch = false) {
  hostChanged ||= hostSwitch;
  if (frameQueued) return;
  frameQueued = true;
  requestAnimationFrame(draw);
}

function draw() {
  frameQueued = false;
  const t0 = performance.now();
  const d = store.takeDirty();
  const names = store.hostNames();
  const next = wanted && store.hosts.has(wanted) ? wanted : (names[0] ?? null);
  if (next !== selected) hostChanged = true;
  selected = next;
  if (d.hostList || hostChanged) hosts.update(names, selected);
  if (d.routes) split.update(store.routes);
  if (hostChanged || (selected !== null && d.series.has(selected))) {
    const h = selected ? store.host(selected) : null;
    const view = h ? h.ring.view() : null;
    charts.update(view);
    const row = h?.latest ?? null;
    setText(cpuNow, formatPct(row?.cpu?.usage_percent));
    setText(ramNow, formatPct(row?.ram?.used_percent));
    applyLevel(cpuLevel, row?.cpu?.usage_percent);
    applyLevel(ramLevel, row?.ram?.used_percent);
    if (hostChanged) perCore.invalidate();
    modes.update(row, view);
    perCore.update(row, h?.cores ?? null);
    pressure.update(row);
    memory.update(row);
    load.update(row);
    procs.update(row);
    top.update(row);
    renderFoot();
  }
  hostChanged = false;
  // uPlot paints in a microtask queued by setData; this one runs after it, so the time
  // includes the canvas work.
  queueMicrotask(() => {
    drawTimes.push(performance.now() - t0);
    if (drawTimes.length > 600) drawTimes.splice(0, drawTimes.length - 600);
  });
}

function renderFoot() {
  const h = selected ? store.host(selected) : null;
  const row = h?.latest;
  if (!row) {
    setText(foot, selected ? `${selected}: no samples yet` : 'waiting for data');
    return;
  }
  const age = Date.now() + store.clockSkewMs - h.latestX * 1000;
  setText(
    foot,
    `${row.host} · source ${row.source ?? '?'} · last sample ${row.collected_at} (${formatAge(age)}) · ` +
      `route ${row.route ?? '?'} · ${h.ring.length} points`,
  );
}

const url = wsUrl(location);
const conn = new Connection({
  url,
  onMessage(msg) {
    store.apply(msg);
    schedule();
  },
  onStatus(s) {
    status.set(s);
    if (s.state === 'reconnecting' && s.attempt >= REST_FALLBACK_AFTER_FAILURES) void restFallback();
  },
});

/** While the WebSocket is down, keep the newest row per host fresh through the REST API. */
async function restFallback() {
  try {
    const res = await fetch(apiUrl(url, 'latest'), { cache: 'no-store' });
    if (!res.ok || conn.live) return;
    const body = await res.json();
    if (Array.isArray(body?.samples) && !conn.live) {
      store.apply({ type: 'samples', samples: body.samples });
      schedule();
    }
  } catch {
    // the broadcaster is down altogether; the WebSocket retry will report it
  }
}

setInterval(() => {
  status.tick();
  renderFoot();
}, 1000);

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) schedule(true);
});

// Read-only hooks for the end-to-end test and the frame-time benchmark.
Object.defineProperty(window, '__procpulse', {
  value: Object.freeze({
    store,
    conn,
    drawTimes,
    selected: () => selected,
  }),
});

schedule(true);
conn.start();
