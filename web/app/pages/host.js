// The host view: one host's charts and panels over the chosen range.
//
// Live ranges (15 m, 1 h): frames from the broadcaster's WebSocket are applied to the store as
// they arrive; the views redraw from the store at most once per animation frame
// (requestAnimationFrame), and only the parts that changed. The charts show the last 15 min or
// hour of the host's ring buffer; for 1 h the page also fetches the hour's raw rows once (the
// socket's backfill covers 15 minutes) and again after each reconnect.
//
// Fetched ranges (6 h and longer, custom): `GET /api/v1/history` for the host and range, drawn
// as average lines with min–max bands, fetched again every minute while the range ends now. The
// live panels are hidden (they need full samples); the WebSocket stays open for the host list.
//
// The host and range live in the URL (lib/pagestate.js); a change pushes a history entry, and
// back / forward restore it.
//
// Alerts: `GET /api/v1/alerts` every ALERTS_POLL_MS (lib/poller.js: one request at a time, none
// while the tab is hidden, stopped when the page leaves the host view), drawn for the host on
// screen on every range (views/alerts.js), with a badge by the host picker.

import { ALERTS_POLL_MS, ALERTS_TIMEOUT_MS, parseAlerts } from '../lib/alerts.js';
import { Connection } from '../lib/connection.js';
import { setText } from '../lib/dom.js';
import { formatAge, formatPct } from '../lib/format.js';
import { readState, shownHost, writeState } from '../lib/pagestate.js';
import { createPoller } from '../lib/poller.js';
import { bounds, historyParams, isLive, liveWindowSeconds, rangeLabel, REFRESH_MS, refreshes, sameRange } from '../lib/range.js';
import { tail } from '../lib/ring.js';
import { fetchJson, singleFlight } from '../lib/request.js';
import { errorText, nextPage, parseHistoryAnswer, seriesFromAnswer } from '../lib/rollup.js';
import { Store } from '../lib/store.js';
import { applyLevel } from '../lib/thresholds.js';
import { apiUrl, wsUrl } from '../lib/url.js';
import { createAlertsView } from '../views/alerts.js';
import { createChartsView } from '../views/charts.js';
import { createHistoryView } from '../views/history.js';
import { createHostsView } from '../views/hosts.js';
import { createLoadView } from '../views/load.js';
import { createMemoryView } from '../views/memory.js';
import { createModesView } from '../views/modes.js';
import { createPerCoreView } from '../views/percore.js';
import { createPressureView } from '../views/pressure.js';
import { createProcsView } from '../views/procs.js';
import { createRangeView } from '../views/range.js';
import { createSplitView } from '../views/split.js';
import { createStatusView } from '../views/status.js';
import { createTopView } from '../views/top.js';

/** After this many failed WebSocket attempts in a row, show REST data meanwhile. */
const REST_FALLBACK_AFTER_FAILURES = 2;
/** Most pages of one history request followed through `next_host`. */
const MAX_PAGES = 20;

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/**
 * @param {import('../lib/pagestate.js').PageState} initial
 */
export function startHostPage(initial) {
  const store = new Store();
  /** The host asked for (?host= or the selector); shown as soon as it has appeared. */
  let wanted = initial.host;
  /** The host on screen: `wanted` when known (always, on a fetched range), else the first host. */
  let selected = null;
  let range = initial.range;

  const grid = $('host-view');
  const status = createStatusView($('conn'));
  const hosts = createHostsView(/** @type {HTMLSelectElement} */ ($('host-select')), (h) => {
    wanted = h;
    navigate();
    schedule(true);
  });
  const picker = createRangeView($('range-picker'), (r) => {
    if (sameRange(r, range)) return;
    range = r;
    navigate();
    applyRange();
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
  const historyView = createHistoryView($('history-card'));
  const alertsView = createAlertsView($('alerts-card'), $('host-alerts'));
  const foot = $('foot');
  const cpuNow = $('cpu-now');
  const ramNow = $('ram-now');
  const cpuLevel = $('cpu-level');
  const ramLevel = $('ram-level');

  let frameQueued = false;
  let hostChanged = true;
  /** Time spent in the last redraws (ms, store to painted canvas), for the benchmark hook. */
  const drawTimes = [];

  /** Pushes the current host and range as a new history entry (back / forward restore it). */
  function navigate() {
    const search = writeState({ view: 'host', host: wanted, range }, location.search);
    if (search === location.search) return;
    const u = new URL(location.href);
    u.search = search;
    window.history.pushState(null, '', u);
  }

  window.addEventListener('popstate', () => {
    const { state } = readState(location.search);
    if (state.view !== 'host') {
      alertsPoller.stop();
      location.reload();
      return;
    }
    const hostSwitch = state.host !== wanted;
    wanted = state.host;
    const rangeSwitch = !sameRange(state.range, range);
    range = state.range;
    if (rangeSwitch) applyRange();
    // A host switch alone: the next frame sees it (and fetches the range for it).
    schedule(hostSwitch);
  });

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
    const live = isLive(range);
    const names = store.hostNames();
    const next = shownHost(wanted, live, store.hosts, names);
    if (next !== selected) {
      hostChanged = true;
      if (range.kind === 'preset' && range.key === '1h' && next !== null) void backfillHour(next);
    }
    selected = next;
    if (!live && next !== null && next !== historyHost) void loadHistory(false, next);
    if (d.hostList || hostChanged) hosts.update(selected && !names.includes(selected) ? [...names, selected].sort() : names, selected);
    if (hostChanged) alertsView.setHost(selected);
    if (d.routes) split.update(store.routes);
    if (live && (hostChanged || (selected !== null && d.series.has(selected)))) {
      const h = selected ? store.host(selected) : null;
      const win = liveWindowSeconds(range) ?? Infinity;
      const view = h ? tail(h.ring.view(), win) : null;
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
    } else if (!live && hostChanged) {
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
    if (!isLive(range)) {
      setText(foot, selected ? `${selected} · ${rangeLabel(range)} from the history API` : 'waiting for a host');
      return;
    }
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

  // ---- fetched ranges

  let refreshTimer = null;
  let fetchSeq = 0;
  /** The host of the last history request (a host switch asks again). */
  let historyHost = null;
  /** What the last drawn answer was (read by the end-to-end test). */
  let lastHistory = null;
  /** @type {AbortController|null} */
  let inFlight = null;

  /** Switches the page between the live panels and the fetched range's charts. */
  function applyRange() {
    picker.set(range);
    const live = isLive(range);
    grid.dataset.mode = live ? 'live' : 'fetched';
    if (refreshTimer !== null) clearInterval(refreshTimer);
    refreshTimer = null;
    inFlight?.abort();
    inFlight = null;
    if (live) {
      if (range.kind === 'preset' && range.key === '1h' && selected) void backfillHour(selected);
    } else {
      void loadHistory(false);
      if (refreshes(range)) refreshTimer = setInterval(() => void loadHistory(true), REFRESH_MS);
    }
    renderFoot();
    schedule(true);
  }

  /**
   * Fetches the range for `host` (by default the one the view shows) and draws it. `quiet` (the
   * periodic refresh) keeps the status text; either way the old charts stay until the new
   * answer is drawn. Each request ends within the fetch deadline (lib/request.js).
   * @param {boolean} quiet
   * @param {string|null} [host]
   */
  async function loadHistory(quiet, host = shownHost(wanted, false, store.hosts, store.hostNames())) {
    if (isLive(range)) return;
    if (!host) {
      historyView.idle('waiting for a host…');
      return;
    }
    historyHost = host;
    inFlight?.abort();
    const ctl = new AbortController();
    inFlight = ctl;
    const seq = ++fetchSeq;
    const asked = range;
    const what = `${host} · ${rangeLabel(asked)}`;
    if (!quiet) historyView.loading(what);
    let params = historyParams(asked, host);
    const span = /** @type {[number, number]} */ (bounds(asked, Date.now()));
    try {
      let merged = null;
      for (let page = 0; params && page < MAX_PAGES; page++) {
        const res = await fetchJson(historyUrl(params), { signal: ctl.signal });
        const body = res.body;
        if (seq !== fetchSeq) return;
        if (!res.ok) {
          historyView.fail(errorText(res.status, body));
          return;
        }
        const a = parseHistoryAnswer(body);
        if (merged === null) merged = a;
        else if (a.points && merged.points) merged.points.push(...a.points);
        else if (a.samples && merged.samples) merged.samples.push(...a.samples);
        params = nextPage(params, a);
        merged.truncated = a.truncated;
      }
      if (seq !== fetchSeq || merged === null) return;
      historyView.show(merged, seriesFromAnswer(merged, host), span, what);
      lastHistory = { host, range: asked, tier: merged.tier, step: merged.step, points: merged.points?.length ?? merged.samples?.length ?? 0 };
    } catch (e) {
      if (ctl.signal.aborted || seq !== fetchSeq) return;
      historyView.fail(String(/** @type {any} */ (e)?.message ?? e));
    } finally {
      if (inFlight === ctl) inFlight = null;
    }
  }
  /** `api/v1/history?…` next to the WebSocket. */
  function historyUrl(params) {
    const u = new URL(apiUrl(url, 'history'));
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    return u.href;
  }

  /**
   * 1 h: the socket's backfill is 15 minutes, so the hour's raw rows come from the history API
   * (merged into the ring by id: nothing is plotted twice). One request per host at a time; a
   * stalled one ends at the fetch deadline and frees the host for the next backfill.
   */
  const backfillHour = singleFlight(async (/** @type {string} */ host) => {
    try {
      const res = await fetchJson(historyUrl(historyParams(range, host)));
      if (!res.ok) return;
      const a = parseHistoryAnswer(res.body);
      if (a.samples && isLive(range)) {
        store.apply({ type: 'samples', samples: a.samples });
        schedule();
      }
    } catch {
      // the live tail still works; the hour fills up as it passes
    }
  });

  // ---- alerts

  /** Counters for the end-to-end test. */
  const alertStats = { polls: 0, answers: 0, failures: 0 };
  const alertsUrl = apiUrl(wsUrl(location), 'alerts');

  /** One poll: the answer drawn, or the failure said in the panel (the last answer stays). */
  async function pollAlerts() {
    alertStats.polls++;
    try {
      const { ok, status, body } = await fetchJson(alertsUrl, { timeoutMs: ALERTS_TIMEOUT_MS });
      if (!ok) throw new Error(errorText(status, body));
      alertsView.update(parseAlerts(body));
      alertStats.answers++;
    } catch (e) {
      alertStats.failures++;
      alertsView.fail(String(/** @type {any} */ (e)?.message ?? e));
    }
  }
  const alertsPoller = createPoller({ run: pollAlerts, intervalMs: ALERTS_POLL_MS, hidden: () => document.hidden });
  window.addEventListener('pagehide', () => alertsPoller.stop());
  window.addEventListener('pageshow', () => alertsPoller.start());

  // ---- the socket

  const url = wsUrl(location);
  const conn = new Connection({
    url,
    onMessage(msg) {
      store.apply(msg);
      // A backfill replaced the buffers: fetch the rest of the hour again.
      if (msg.type === 'history' && range.kind === 'preset' && range.key === '1h' && selected) void backfillHour(selected);
      schedule();
    },
    onStatus(s) {
      status.set(s);
      if (s.state === 'reconnecting' && s.attempt >= REST_FALLBACK_AFTER_FAILURES) void restFallback();
    },
  });

  /**
   * While the WebSocket is down, keep the newest row per host fresh through the REST API (one
   * request at a time, each within the fetch deadline).
   */
  const latest = singleFlight(async (/** @type {'latest'} */ _key) => {
    try {
      const res = await fetchJson(apiUrl(url, 'latest'));
      const body = res.body;
      if (res.ok && !conn.live && Array.isArray(body?.samples)) {
        store.apply({ type: 'samples', samples: body.samples });
        schedule();
      }
    } catch {
      // the broadcaster is down altogether; the WebSocket retry will report it
    }
  });
  const restFallback = () => latest('latest');

  setInterval(() => {
    status.tick();
    renderFoot();
  }, 1000);

  document.addEventListener('visibilitychange', () => {
    if (document.hidden) return;
    schedule(true);
    alertsPoller.start();
  });

  // Read-only hooks for the end-to-end test and the frame-time benchmark.
  Object.defineProperty(window, '__procpulse', {
    value: Object.freeze({
      store,
      conn,
      drawTimes,
      selected: () => selected,
      range: () => range,
      history: () => lastHistory,
      historyCharts: historyView.charts,
      alerts: alertStats,
    }),
  });

  applyRange();
  conn.start();
  alertsPoller.start();
}
