// The fleet view (`?view=fleet`): every host the broadcaster holds, from `GET /api/v1/fleet`,
// polled once per FLEET_POLL_MS. Each poll is one fetch and one synchronous render (the table
// view draws the rows in its scroll window and changes only what changed), so the page makes
// one DOM update per interval whatever the number of hosts. Polling pauses while the tab is
// hidden; lib/poller.js keeps it to one loop (never two polls at once).

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
  /** Counters for the end-to-end test and the benchmark. */
  const stats = {
    polls: 0,
    renders: 0,
    failures: 0,
    hosts: 0,
    /** performance.now() when the first table was in the DOM, and at the frame that painted it */
    firstRenderMs: null,
    firstFrameMs: null,
    lastRenderMs: null,
    /** ms per poll: parse + sort + DOM update (the last 600) */
    renderTimes: [],
  };

  async function poll() {
    stats.polls++;
    try {
      const { ok, status, body } = await fetchJson(url, { timeoutMs: FLEET_TIMEOUT_MS });
      if (!ok) throw new Error(errorText(status, body));
      const t1 = performance.now();
      const f = parseFleet(body);
      view.update(f.rows);
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
