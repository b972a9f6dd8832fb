// The fleet view (`?view=fleet`): every host the broadcaster holds, from `GET /api/v1/fleet`,
// polled once per FLEET_POLL_MS. Each poll is one fetch and one synchronous render (the table
// view updates only what changed), so the page makes one DOM update per interval whatever the
// number of hosts. Polling pauses while the tab is hidden.

import { setText } from '../lib/dom.js';
import { FLEET_POLL_MS, parseFleet } from '../lib/fleet.js';
import { hostLink } from '../lib/pagestate.js';
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
  const stats = { polls: 0, renders: 0, failures: 0, hosts: 0, firstRenderMs: null, lastRenderMs: null, lastPollMs: null };
  let timer = null;

  async function poll() {
    timer = null;
    const t0 = performance.now();
    stats.polls++;
    try {
      const res = await fetch(url, { cache: 'no-store', signal: AbortSignal.timeout(5000) });
      const body = await res.json().catch(() => null);
      if (!res.ok) throw new Error(errorText(res.status, body));
      const f = parseFleet(body);
      view.update(f.rows);
      stats.renders++;
      stats.hosts = f.rows.length;
      stats.lastRenderMs = performance.now();
      stats.firstRenderMs ??= stats.lastRenderMs;
      conn.dataset.state = 'live';
      setText(connText, 'live');
    } catch (e) {
      stats.failures++;
      view.fail(String(/** @type {any} */ (e)?.message ?? e));
      conn.dataset.state = 'reconnecting';
      setText(connText, 'fleet unavailable, retrying');
    }
    stats.lastPollMs = performance.now() - t0;
    // Next poll one interval after this one started (never two at once).
    if (!document.hidden) timer = setTimeout(poll, Math.max(0, FLEET_POLL_MS - (performance.now() - t0)));
  }

  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && timer === null) void poll();
  });

  Object.defineProperty(window, '__procpulse', { value: Object.freeze({ fleet: stats }) });
  void poll();
}
