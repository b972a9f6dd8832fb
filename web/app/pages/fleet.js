// The fleet view (`?view=fleet`): every host the broadcaster holds, from `GET /api/v1/fleet`,
// with each host's alert counts from `GET /api/v1/alerts`, both polled once per FLEET_POLL_MS.
// Each poll sends the two requests together and, once both have ended, makes one synchronous
// render (the table view draws the rows in its scroll window and changes only what changed), so
// the page makes one DOM update per interval whatever the number of hosts. A failed alerts
// request (or a broadcaster without rules) leaves the alerts column at — and the table working.
// Polling pauses while the tab is hidden; lib/poller.js keeps it to one loop (never two polls at
// once).

import { alertsByHost, parseAlerts } from '../lib/alerts.js';
import { setText } from '../lib/dom.js';
import { FLEET_POLL_MS, FLEET_TIMEOUT_MS, parseFleet } from '../lib/fleet.js';
import { hostLink } from '../lib/pagestate.js';
import { createPoller } from '../lib/poller.js';
import { fetchJson } from '../lib/request.js';
import { errorText } from '../lib/rollup.js';
import { apiUrl, wsUrl } from '../lib/url.js';
import { createFleetView } from '../views/fleet.js';

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

export function startFleetPage() {
  const conn = $('conn');
  const connText = $('conn-text');
  const view = createFleetView($('fleet-card'), (host) => hostLink(host, location.search));
  const url = apiUrl(wsUrl(location), 'fleet');
  const alertsUrl = apiUrl(wsUrl(location), 'alerts');
  /** Counters for the end-to-end test and the benchmark. */
  const stats = {
    polls: 0,
    renders: 0,
    failures: 0,
    /** polls whose alerts request failed, and what the last one knew of the alerts */
    alertFailures: 0,
    alerts: /** @type {import('../lib/fleet.js').AlertsState|null} */ (null),
    hosts: 0,
    /** performance.now() when the first table was in the DOM, and at the frame that painted it */
    firstRenderMs: null,
    firstFrameMs: null,
    lastRenderMs: null,
    /** ms per poll: parse + sort + DOM update (the last 600) */
    renderTimes: [],
  };

  /**
   * The alerts request's outcome: counts per host, or null with the reason (the column shows —).
   * @param {PromiseSettledResult<{ok: boolean, status: number, body: any}>} r
   * @returns {{byHost: Map<string, import('../lib/alerts.js').AlertCounts>|null, state: import('../lib/fleet.js').AlertsState}}
   */
  function readAlerts(r) {
    try {
      if (r.status === 'rejected') throw r.reason;
      const { ok, status, body } = r.value;
      if (!ok) throw new Error(errorText(status, body));
      const a = parseAlerts(body);
      if (!a.enabled) return { byHost: null, state: { state: 'disabled' } };
      return { byHost: alertsByHost(a), state: { state: 'ok' } };
    } catch (e) {
      stats.alertFailures++;
      return { byHost: null, state: { state: 'failed', error: String(/** @type {any} */ (e)?.message ?? e) } };
    }
  }

  async function poll() {
    stats.polls++;
    try {
      // Both requests at once; the poll ends when both have (never two polls' requests out).
      const [fleet, alertsRes] = await Promise.allSettled([
        fetchJson(url, { timeoutMs: FLEET_TIMEOUT_MS }),
        fetchJson(alertsUrl, { timeoutMs: FLEET_TIMEOUT_MS }),
      ]);
      if (fleet.status === 'rejected') throw fleet.reason;
      const { ok, status, body } = fleet.value;
      if (!ok) throw new Error(errorText(status, body));
      const t1 = performance.now();
      const alerts = readAlerts(alertsRes);
      stats.alerts = alerts.state;
      const f = parseFleet(body, alerts.byHost);
      view.update(f.rows, alerts.state);
      stats.renders++;
      stats.hosts = f.rows.length;
      stats.lastRenderMs = performance.now();
      stats.renderTimes.push(stats.lastRenderMs - t1);
      if (stats.renderTimes.length > 600) stats.renderTimes.shift();
      if (stats.firstRenderMs === null) {
        stats.firstRenderMs = stats.lastRenderMs;
        requestAnimationFrame(() => (stats.firstFrameMs = performance.now()));
      }
      conn.dataset.state = 'live';
      setText(connText, 'live');
    } catch (e) {
      stats.failures++;
      view.fail(String(/** @type {any} */ (e)?.message ?? e));
      conn.dataset.state = 'reconnecting';
      setText(connText, 'fleet unavailable, retrying');
    }
  }

  // Next poll one interval after this one started; none while hidden; never two at once.
  const poller = createPoller({ run: poll, intervalMs: FLEET_POLL_MS, hidden: () => document.hidden });
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) poller.start();
  });

  Object.defineProperty(window, '__procpulse', { value: Object.freeze({ fleet: stats, order: view.order }) });
  poller.start();
}
