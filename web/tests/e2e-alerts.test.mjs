// End-to-end: alerts in headless Chromium against the REAL procpulse-ingest and
// procpulse-broadcaster (with `--alert-rules`) on one SQLite file, on loopback.
//
//   node --test tests/e2e-alerts.test.mjs        (ci/test-web.sh builds everything and runs it)
//
// One rule (CPU > 90 %, clears past 85 %, for 0 s, critical). A snapshot at 97 % posted to ingest
// makes the broadcaster fire it as the row arrives; the host view's panel and badge and the fleet
// page's column must say so in words; a snapshot at 10 % resolves it and the panel moves it to
// "resolved". A second broadcaster without rules checks the "not configured" line. The page is
// served from web/app (`--web-dir`) so that the working tree is what is tested; e2e.test.mjs
// proves the copy built into the binary is the same.
//
// Skipped, saying so, only when `procpulse-broadcaster --help` has no `--alert-rules` (a binary
// built before the alerts). Env: PROCPULSE_BIN_DIR (default <repo>/target/debug), CI_LOG_DIR
// (screenshots, service logs; default /tmp/procpulse-logs).

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DISABLED_TEXT } from '../app/lib/alerts.js';
import { launch } from './browser.mjs';
import { post, sleep, snapshot } from './e2e-lib.mjs';
import { Service, freePort, hasFlag, webDirFlag } from './services.mjs';

const WEB = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REPO = resolve(WEB, '..');
const BIN = resolve(process.env.PROCPULSE_BIN_DIR ?? join(REPO, 'target', 'debug'));
const BROADCASTER = join(BIN, 'procpulse-broadcaster');
const LOG_DIR = resolve(process.env.CI_LOG_DIR ?? '/tmp/procpulse-logs', 'web-e2e-alerts');
const APP = join(WEB, 'app');

/** The host that goes over the threshold, and one that never does (but has the higher RAM). */
const HOT = 'alert-hot';
const CALM = 'alert-calm';
/** Seconds between a host's seeded rows: its interval, so neither turns stale within the test. */
const EVERY_S = 30;

const RULES = `# e2e-alerts: one rule, fires at once, clears with hysteresis
[[rule]]
name = "HostHighCpu"
metric = "cpu"
op = ">"
threshold = 90
clear = 85
for = "0s"
severity = "critical"
summary = "CPU above 90 %"
[rule.labels]
team = "infra"
`;

// A missing binary fails in before() like the other suites; only a binary without the flag skips.
const SKIP =
  existsSync(BROADCASTER) && !hasFlag(BROADCASTER, '--alert-rules')
    ? `${BROADCASTER} --help has no --alert-rules: built before the alerts; rebuild it to run this suite`
    : false;
if (SKIP) console.log(`# SKIP e2e-alerts: ${SKIP}`);

mkdirSync(LOG_DIR, { recursive: true });

describe('alerts against the real ingest + broadcaster (SQLite, --alert-rules)', { timeout: 180_000, skip: SKIP }, () => {
  let dbDir;
  let db;
  let ingest;
  let broadcaster;
  /** A second broadcaster on the same database, without rules (the last tests). */
  let plain;
  let browser;
  let page;
  /** The fleet page, open from the firing test on. */
  let fleetPage;
  const pageErrors = [];
  const cspViolations = [];

  /** The broadcaster's arguments: loopback, the test's database, fast polls, the working tree's page. */
  const args = (port) => {
    const flag = webDirFlag(BROADCASTER);
    return ['--listen', `127.0.0.1:${port}`, '--database-url', db, '--poll-interval-ms', '200', '--allowed-origin', `http://127.0.0.1:${port}`, ...(flag ? [flag, APP] : [])];
  };

  /** GET /api/v1/<path> of a broadcaster as JSON. */
  async function api(svc, path) {
    const res = await fetch(`${svc.base}/api/v1/${path}`, { signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 200, `GET /api/v1/${path}: ${res.status}`);
    return res.json();
  }

  /** Polls the alerts API until `ok(answer)`; returns the answer and how long it took. */
  async function alertsWhen(ok, what, timeoutMs = 10_000) {
    const t0 = Date.now();
    for (;;) {
      const a = await api(broadcaster, 'alerts');
      if (ok(a)) return { a, ms: Date.now() - t0 };
      assert.ok(Date.now() - t0 < timeoutMs, `${what} within ${timeoutMs} ms; last answer ${JSON.stringify(a)}`);
      await sleep(100);
    }
  }

  const watch = (p) => {
    p.on('pageerror', (e) => pageErrors.push(e.message));
    p.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`);
    });
  };

  before(async () => {
    for (const b of ['procpulse-ingest', 'procpulse-broadcaster']) {
      assert.ok(existsSync(join(BIN, b)), `${join(BIN, b)} missing: build it first (ci/test-web.sh does)`);
    }
    dbDir = mkdtempSync(join(tmpdir(), 'procpulse-web-e2e-alerts-'));
    db = `sqlite://${join(dbDir, 't.db')}`;
    const rules = join(dbDir, 'rules.toml');
    writeFileSync(rules, RULES);
    const [pi, pw] = await Promise.all([freePort(), freePort()]);
    ingest = new Service('ingest', join(BIN, 'procpulse-ingest'), ['--listen', `127.0.0.1:${pi}`, '--database-url', db, '--route', 'a'], LOG_DIR, pi);
    await ingest.start(); // runs the migrations
    broadcaster = new Service('broadcaster', BROADCASTER, [...args(pw), '--alert-rules', rules], LOG_DIR, pw, dbDir);
    await broadcaster.start();

    // Both hosts sample every EVERY_S seconds; below the threshold for now. CALM's RAM is the
    // higher, so without alerts it would come first on the fleet page.
    const ago = [2 * EVERY_S, EVERY_S].map((s) => s * 1000);
    await post(ingest, ago.map((ms) => snapshot(HOT, ms, { cpu: 20, ram: 40 })));
    await post(ingest, [...ago, 0].map((ms) => snapshot(CALM, ms, { cpu: 10, ram: 99 })));
    const deadline = Date.now() + 10_000;
    for (;;) {
      const names = (await api(broadcaster, 'fleet')).hosts.map((h) => h.host);
      if (names.includes(HOT) && names.includes(CALM)) break;
      assert.ok(Date.now() < deadline, `the broadcaster lists ${HOT} and ${CALM}: ${names}`);
      await sleep(100);
    }

    browser = await launch({ width: 1366, height: 900 });
    await browser.context.exposeFunction('__reportCsp', (v) => cspViolations.push(v));
    await browser.context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => window.__reportCsp(`${location.search} ${e.violatedDirective} ${e.blockedURI}`));
    });
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    watch(page);
    browser.context.on('page', watch);
  });

  after(async () => {
    if (page) await page.screenshot({ path: join(LOG_DIR, 'final.png') }).catch(() => {});
    await browser?.close();
    for (const s of [plain, broadcaster, ingest]) await s?.stop().catch(() => {});
    if (dbDir) rmSync(dbDir, { recursive: true, force: true });
  });

  /** The panel's active items: [rule, state, severity, condition, since] per item. */
  const activeItems = (p) =>
    p.$$eval('#alerts-list li', (lis) =>
      lis.map((li) => [li.dataset.rule, li.querySelector('.alert-state').textContent, li.querySelector('.alert-sev').textContent, li.querySelector('.alert-cond').textContent, li.querySelector('.alert-since').textContent]),
    );

  it('a host below the threshold: "No active alerts", no badge; the API says the rule is loaded', async () => {
    const a = await api(broadcaster, 'alerts');
    assert.equal(a.enabled, true);
    assert.equal(a.rules, 1);
    assert.deepEqual(a.alerts, []);
    await page.goto(`${broadcaster.base}/?host=${HOT}`);
    await page.waitForSelector('#conn[data-state="live"]', { timeout: 10_000 });
    await page.waitForFunction(() => document.getElementById('alerts-status').textContent === 'No active alerts', null, { timeout: 10_000 });
    assert.equal(await page.textContent('#alerts-meta'), '1 rule');
    assert.deepEqual(await activeItems(page), []);
    assert.equal(await page.isHidden('#host-alerts'), true);
    assert.equal(await page.isHidden('#alerts-resolved'), true);
  });

  it('a snapshot at 97 % fires the rule: the panel says FIRING, the value against the threshold, the badge shows it', async () => {
    const t0 = Date.now();
    await post(ingest, [snapshot(HOT, 0, { cpu: 97, ram: 40 })]);
    const { a, ms } = await alertsWhen((x) => x.alerts.some((e) => e.host === HOT && e.state === 'firing'), `${HOT} firing in the API`);
    console.log(`# firing in the API ${ms} ms after the POST`);
    const fired = a.alerts.find((e) => e.host === HOT);
    assert.deepEqual(
      { rule: fired.rule, severity: fired.severity, metric: fired.metric, op: fired.op, threshold: fired.threshold, clear: fired.clear, value: fired.value, summary: fired.summary, labels: fired.labels },
      { rule: 'HostHighCpu', severity: 'critical', metric: 'cpu', op: '>', threshold: 90, clear: 85, value: 97, summary: 'CPU above 90 %', labels: { team: 'infra' } },
    );
    assert.ok(typeof fired.fired_at === 'string' && typeof fired.active_at === 'string', JSON.stringify(fired));
    assert.ok(!a.alerts.some((e) => e.host === CALM), 'the calm host has no alert');

    await page.waitForSelector(`#alerts-list li[data-rule="HostHighCpu"][data-state="firing"]`, { timeout: 10_000 });
    console.log(`# FIRING on the host view ${Date.now() - t0} ms after the POST`);
    const items = await activeItems(page);
    assert.equal(items.length, 1);
    const [rule, state, sev, cond, since] = items[0];
    assert.deepEqual([rule, state, sev, cond], ['HostHighCpu', 'FIRING', '✖ critical', 'CPU 97.0 % (threshold > 90.0 %, clears past 85.0 %)']);
    assert.match(since, /^firing for \d+ s$/);
    assert.match(await page.getAttribute('#alerts-list li .alert-since', 'title'), /^active since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d · fired \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(local time\)$/);
    assert.equal(await page.textContent('#alerts-list li .alert-summary'), 'CPU above 90 %');
    assert.equal(await page.textContent('#alerts-list li .alert-labels'), 'team=infra');
    assert.equal(await page.textContent('#alerts-status'), '1 firing');
    // The badge by the host picker, in the sticky bar: words, not only red.
    assert.equal(await page.isVisible('#host-alerts'), true);
    assert.equal(await page.textContent('#host-alerts'), '✖ 1 firing');
    assert.equal(await page.getAttribute('#host-alerts', 'data-state'), 'firing');
    assert.match(await page.getAttribute('#host-alerts', 'aria-label'), new RegExp(`^${HOT}: 1 firing \\(HostHighCpu\\)`));
    await page.screenshot({ path: join(LOG_DIR, 'host-firing.png') });

    // Another host: its own (no) alerts, no badge; and back.
    await page.selectOption('#host-select', CALM);
    await page.waitForFunction(() => document.getElementById('alerts-status').textContent === 'No active alerts', null, { timeout: 3000 });
    assert.equal(await page.isHidden('#host-alerts'), true);
    await page.selectOption('#host-select', HOT);
    await page.waitForFunction(() => document.getElementById('alerts-status').textContent === '1 firing', null, { timeout: 3000 });
    // A fetched range keeps the panel (alerts are about now, whatever the charts show).
    await page.click('#range-24h');
    await page.waitForSelector('#history-card', { state: 'visible', timeout: 5000 });
    assert.equal(await page.isVisible('#alerts-card'), true);
    assert.equal(await page.isVisible('#host-alerts'), true);
    await page.click('#range-15m');
    await page.waitForSelector('#cpu-card', { state: 'visible', timeout: 5000 });
  });

  it('fleet: the alerts column says "1 firing", the host comes first, the column sorts; one DOM update per poll', async () => {
    fleetPage = await browser.context.newPage();
    const fp = fleetPage;
    await fp.goto(`${broadcaster.base}/?view=fleet`);
    const cell = (host) => fp.textContent(`#fleet-table tr[data-host="${host}"] td.alerts`);
    await fp.waitForFunction((h) => document.querySelector(`#fleet-table tr[data-host="${h}"] td.alerts`)?.textContent === '1 firing', HOT, { timeout: 10_000 });
    assert.equal(await fp.getAttribute(`#fleet-table tr[data-host="${HOT}"] td.alerts`, 'data-alert'), 'true');
    assert.equal(await cell(CALM), '—');
    assert.equal(await fp.getAttribute(`#fleet-table tr[data-host="${CALM}"] td.alerts`, 'data-alert'), 'false');
    assert.deepEqual(await fp.evaluate(() => window.__procpulse.fleet.alerts), { state: 'ok' });
    assert.match(await fp.textContent('#fleet-summary'), /^2 hosts · 0 stale · 1 host with firing alerts$/);
    // Worst first: neither is stale; the host with a firing alert before the one with the
    // higher RAM (99 % against 97 % CPU).
    assert.equal(await fp.getAttribute('th[data-col="status"]', 'aria-sort'), 'descending');
    assert.deepEqual(await fp.evaluate(() => window.__procpulse.order()), [HOT, CALM]);
    // Sortable like the other columns.
    await fp.click('#fleet-sort-alerts');
    assert.equal(await fp.getAttribute('th[data-col="alerts"]', 'aria-sort'), 'descending');
    assert.equal(await fp.getAttribute('th[data-col="status"]', 'aria-sort'), 'none');
    assert.deepEqual(await fp.evaluate(() => window.__procpulse.order()), [HOT, CALM]);
    await fp.click('#fleet-sort-alerts');
    assert.equal(await fp.getAttribute('th[data-col="alerts"]', 'aria-sort'), 'ascending');
    assert.deepEqual(await fp.evaluate(() => window.__procpulse.order()), [CALM, HOT]);
    await fp.click('#fleet-sort-status');
    // Each poll fetches the fleet and the alerts together and still updates the table once.
    const counted = await fp.evaluate(async () => {
      const f = window.__procpulse.fleet;
      let callbacks = 0;
      const mo = new MutationObserver(() => callbacks++);
      mo.observe(document.querySelector('#fleet-table tbody'), { subtree: true, childList: true, characterData: true, attributes: true });
      const r0 = f.renders;
      await new Promise((r) => setTimeout(r, 3000));
      mo.disconnect();
      return { callbacks, renders: f.renders - r0, alertFailures: f.alertFailures };
    });
    console.log(`# fleet over 3 s: ${counted.renders} polls rendered, ${counted.callbacks} DOM update batches`);
    assert.ok(counted.renders >= 2 && counted.renders <= 4, `polls rendered in 3 s: ${counted.renders}`);
    assert.ok(counted.callbacks <= counted.renders, `${counted.callbacks} DOM update batches for ${counted.renders} polls`);
    assert.equal(counted.alertFailures, 0);
    await fp.screenshot({ path: join(LOG_DIR, 'fleet-firing.png') });
  });

  it('a snapshot back at 10 % resolves it: the panel moves it to resolved, badge and column clear', async () => {
    const t0 = Date.now();
    await post(ingest, [snapshot(HOT, 0, { cpu: 10, ram: 40 })]);
    const { a, ms } = await alertsWhen((x) => !x.alerts.some((e) => e.host === HOT) && x.resolved.some((e) => e.host === HOT), `${HOT} resolved in the API`);
    console.log(`# resolved in the API ${ms} ms after the POST`);
    const done = a.resolved.find((e) => e.host === HOT);
    assert.equal(done.rule, 'HostHighCpu');
    assert.equal(done.state, 'resolved');
    assert.ok(typeof done.resolved_at === 'string', JSON.stringify(done));

    await page.waitForFunction(() => document.getElementById('alerts-status').textContent === 'No active alerts', null, { timeout: 10_000 });
    console.log(`# resolved on the host view ${Date.now() - t0} ms after the POST`);
    assert.deepEqual(await activeItems(page), []);
    assert.equal(await page.isHidden('#host-alerts'), true);
    assert.equal(await page.isVisible('#alerts-resolved'), true);
    assert.equal(await page.getAttribute('#alerts-resolved', 'open'), null, 'resolved alerts are collapsed');
    assert.equal(await page.textContent('#alerts-resolved summary'), 'resolved in the last hour (1)');
    await page.click('#alerts-resolved summary');
    const li = '#alerts-resolved-list li[data-rule="HostHighCpu"][data-state="resolved"]';
    await page.waitForSelector(li, { state: 'visible', timeout: 3000 });
    assert.equal(await page.textContent(`${li} .alert-state`), 'resolved');
    assert.equal(await page.textContent(`${li} .alert-sev`), '✖ critical');
    assert.match(await page.textContent(`${li} .alert-since`), /^resolved \d+ s ago$/);
    assert.match(await page.getAttribute(`${li} .alert-since`, 'title'), /· resolved \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(local time\)$/);
    const value = typeof done.value === 'number' ? `${done.value.toFixed(1)} %` : '–';
    assert.equal(await page.textContent(`${li} .alert-cond`), `CPU ${value} (threshold > 90.0 %, clears past 85.0 %)`);
    await page.screenshot({ path: join(LOG_DIR, 'host-resolved.png') });

    await fleetPage.waitForFunction((h) => document.querySelector(`#fleet-table tr[data-host="${h}"] td.alerts`)?.textContent === '—', HOT, { timeout: 5000 });
    assert.match(await fleetPage.textContent('#fleet-summary'), /· 0 hosts with firing alerts$/);
    await fleetPage.close();
  });

  it('without --alert-rules: the panel says the rules are not configured; the column shows —', async () => {
    const pw = await freePort();
    plain = new Service('broadcaster-plain', BROADCASTER, args(pw), LOG_DIR, pw, dbDir);
    await plain.start();
    assert.deepEqual(await api(plain, 'alerts').then((a) => [a.enabled, a.rules, a.alerts, a.resolved]), [false, 0, [], []]);
    const other = await browser.context.newPage();
    try {
      await other.goto(`${plain.base}/?host=${HOT}`);
      await other.waitForFunction(() => document.getElementById('alerts-status').dataset.state === 'disabled', null, { timeout: 10_000 });
      assert.equal(await other.textContent('#alerts-status'), DISABLED_TEXT);
      assert.equal(await other.isHidden('#host-alerts'), true);
      assert.equal(await other.isHidden('#alerts-resolved'), true);
      await other.goto(`${plain.base}/?view=fleet`);
      await other.waitForFunction(() => window.__procpulse.fleet.alerts?.state === 'disabled', null, { timeout: 10_000 });
      await other.waitForFunction(() => window.__procpulse.order().length === 2, null, { timeout: 10_000 });
      assert.deepEqual(await other.$$eval('#fleet-table td.alerts', (tds) => tds.map((t) => t.textContent)), ['—', '—']);
      assert.match(await other.textContent('#fleet-summary'), /· alert rules not configured$/);
    } finally {
      await other.close();
    }
  });

  it('the pages raised no errors and no CSP violations under the served policy', async () => {
    const res = await fetch(`${broadcaster.base}/`);
    assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.deepEqual(cspViolations, []);
    assert.deepEqual(pageErrors, []);
  });
});
