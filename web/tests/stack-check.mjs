// Used by ci/test-stack.sh while ci/stack.sh holds the whole local stack up: opens the
// dashboard in headless Chromium and checks that it is live, that its host selector lists
// every host ingest stored, and that the route split it shows equals ingest's stats.
//
//   DASHBOARD_URL=http://127.0.0.1:4000/ STATS_FILE=stats.json node web/tests/stack-check.mjs

import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launch } from './browser.mjs';

const url = process.env.DASHBOARD_URL;
const stats = JSON.parse(readFileSync(process.env.STATS_FILE, 'utf8'));
const logDir = join(process.env.CI_LOG_DIR ?? '/tmp/procpulse-logs', 'stack');
mkdirSync(logDir, { recursive: true });

const wantHosts = stats.hosts.map((h) => h.host).sort();
const wantRoutes = Object.fromEntries(stats.routes.map((r) => [r.route, r.rows]));

const browser = await launch();
let failed = false;
try {
  const page = await browser.context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(url, { waitUntil: 'load', timeout: 15_000 });
  await page.waitForSelector('#conn[data-state="live"]', { timeout: 15_000 });
  // Options of the host selector: every stored host, nothing else.
  await page.waitForFunction(
    (n) => document.querySelectorAll('#host-select option[value]:not([value=""])').length >= n,
    wantHosts.length,
    { timeout: 10_000 },
  );
  const shown = await page.$$eval('#host-select option', (os) => os.map((o) => o.value).filter(Boolean).sort());
  // The split card's own counters (ids set by web/app/views/split.js); thousands
  // separators stripped.
  const num = (t) => (t == null ? null : Number(t.replace(/[^\d]/g, '')));
  const split = await page.evaluate(() => ({
    a: document.getElementById('route-a-count')?.textContent,
    b: document.getElementById('route-b-count')?.textContent,
    total: document.getElementById('route-total')?.textContent,
  }));
  await page.screenshot({ path: join(logDir, 'dashboard.png'), fullPage: true });

  const check = (ok, what) => {
    console.log(`${ok ? 'ok' : 'FAIL'}: ${what}`);
    if (!ok) failed = true;
  };
  check(JSON.stringify(shown) === JSON.stringify(wantHosts), `hosts shown ${JSON.stringify(shown)} = stored ${JSON.stringify(wantHosts)}`);
  for (const route of ['a', 'b']) {
    const rows = wantRoutes[route] ?? 0;
    check(num(split[route]) === rows, `split card shows route ${route}: ${split[route]} (ingest stats: ${rows})`);
  }
  check(num(split.total) === stats.total_rows, `split card total "${split.total}" = ingest total ${stats.total_rows}`);
  check(errors.length === 0, `no page errors (${errors.join('; ')})`);
  console.log(`screenshot: ${join(logDir, 'dashboard.png')}`);
} catch (e) {
  console.log(`FAIL: ${e.message}`);
  failed = true;
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
