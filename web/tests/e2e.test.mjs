// End-to-end: the built dashboard in headless Chromium against the REAL procpulse-ingest (two
// routes, a = direct, b = batched) and procpulse-broadcaster on one SQLite file, all on loopback.
//
//   node --test tests/e2e.test.mjs        (ci/test-web.sh builds everything and runs this)
//
// Env: PROCPULSE_BIN_DIR (default <repo>/target/debug), CI_LOG_DIR (screenshots, service logs;
// default /tmp/procpulse-logs).

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { launch } from './browser.mjs';
import { Service, freePort, webDirFlag } from './services.mjs';

const WEB = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REPO = resolve(WEB, '..');
const BIN = process.env.PROCPULSE_BIN_DIR ?? join(REPO, 'target', 'debug');
const LOG_DIR = resolve(process.env.CI_LOG_DIR ?? '/tmp/procpulse-logs', 'web-e2e');
const DIST = join(WEB, 'dist');
const HOSTS = ['e2e-vm-1', 'e2e-vm-2'];
/** Seeded history: one point every 2 s over the last 5 minutes, per host. */
const SEED_POINTS = 150;

mkdirSync(LOG_DIR, { recursive: true });

let seq = 0;
/**
 * A SPEC §3 snapshot.
 * @param {string} host
 * @param {number} agoMs how long before now it was collected
 * @param {{cpu?: number, ram?: number, zombie?: number, disk_sleep?: number, top?: any[]}} [o]
 */
function snapshot(host, agoMs, o = {}) {
  seq++;
  const total = 4 * 1024 * 1024;
  const ramPct = o.ram ?? 30 + (seq % 20);
  const available = Math.round(total * (1 - ramPct / 100));
  return {
    sample_id: `${host}-e2e-${process.pid}-${String(seq).padStart(9, '0')}`,
    host,
    collected_at: new Date(Date.now() - agoMs).toISOString(),
    source: 'procfs',
    cpu: { usage_percent: o.cpu ?? 10 + (seq % 50), cores: 2, load1: 0.75, load5: 0.5, load15: 0.25 },
    ram: {
      total_kb: total,
      free_kb: Math.round(available / 2),
      available_kb: available,
      used_kb: total - available,
      cached_kb: Math.round(available / 3),
      swap_total_kb: 1024 * 1024,
      swap_free_kb: 1024 * 1024 - 4096,
      used_percent: Math.round(((total - available) / total) * 10000) / 100,
    },
    procs: {
      total: 100,
      running: 1,
      sleeping: 95,
      disk_sleep: o.disk_sleep ?? 0,
      stopped: 0,
      traced: 0,
      zombie: o.zombie ?? 0,
      dead: 0,
      idle: 4 - (o.zombie ?? 0) - (o.disk_sleep ?? 0) + 0,
      threads: 250,
    },
    top: o.top ?? [
      { pid: 1, ppid: 0, comm: 'systemd', state: 'S', rss_kb: 12000, cpu_percent: 0.1 },
      { pid: 42, ppid: 1, comm: 'big-rss', state: 'S', rss_kb: 900000, cpu_percent: 1.0 },
      { pid: 77, ppid: 1, comm: 'busy', state: 'R', rss_kb: 5000, cpu_percent: 88.5 },
    ],
  };
}

/** POSTs snapshots to an ingest; returns its JSON answer. */
async function post(ingest, body) {
  const res = await fetch(`${ingest.base}/api/v1/metrics`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `POST ${ingest.name}: ${res.status} ${text}`);
  return JSON.parse(text);
}

/**
 * Rows per route from ingest's GET /api/v1/stats. Accepts the shapes a stats document may
 * reasonably take: {routes:{a:n,b:m}}, {per_route|routes:[{route,rows|count}]}, {by_route:{...}}.
 */
export function routeCounts(stats) {
  const out = { a: 0, b: 0 };
  const src = stats.routes ?? stats.per_route ?? stats.by_route ?? stats.route;
  if (Array.isArray(src)) {
    for (const r of src) if (r.route in out) out[r.route] = Number(r.rows ?? r.count ?? r.samples);
  } else if (src && typeof src === 'object') {
    for (const k of ['a', 'b']) {
      const v = src[k];
      out[k] = typeof v === 'number' ? v : Number(v?.rows ?? v?.count ?? v?.samples ?? 0);
    }
  } else {
    throw new Error(`unrecognised stats document: ${JSON.stringify(stats).slice(0, 300)}`);
  }
  return out;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe('dashboard against the real ingest + broadcaster (SQLite)', { timeout: 240_000 }, () => {
  let dbDir;
  let ingestA;
  let ingestB;
  let broadcaster;
  let browser;
  let page;
  const pageErrors = [];
  /**
   * While the broadcaster is down on purpose, failed connection attempts are expected: refused
   * while it is gone, 503 while the new process loads its history (the page retries both).
   */
  let restarting = false;
  const EXPECTED_WHILE_RESTARTING = /ERR_CONNECTION_REFUSED|WebSocket connection to .* failed|Failed to load resource/;
  const seeded = Object.fromEntries(HOSTS.map((h) => [h, []]));

  before(async () => {
    for (const b of ['procpulse-ingest', 'procpulse-broadcaster']) {
      assert.ok(existsSync(join(BIN, b)), `${join(BIN, b)} missing: build it first (ci/test-web.sh does)`);
    }
    assert.ok(existsSync(join(DIST, 'index.html')), 'web/dist missing: run npm run build');
    dbDir = mkdtempSync(join(tmpdir(), 'procpulse-web-e2e-'));
    const db = `sqlite://${join(dbDir, 't.db')}`;
    const [pa, pb, pw] = await Promise.all([freePort(), freePort(), freePort()]);
    // Route a first: its start-up runs the migrations; b and the broadcaster then find the table.
    ingestA = new Service('ingest-a', join(BIN, 'procpulse-ingest'),
      ['--listen', `127.0.0.1:${pa}`, '--database-url', db, '--route', 'a', '--write-mode', 'direct'], LOG_DIR, pa);
    await ingestA.start();
    ingestB = new Service('ingest-b', join(BIN, 'procpulse-ingest'),
      ['--listen', `127.0.0.1:${pb}`, '--database-url', db, '--route', 'b', '--write-mode', 'batched'], LOG_DIR, pb);
    await ingestB.start();

    // Seed history before the broadcaster starts (it loads its history from the database):
    // alternate routes so the split is not trivial (a gets 2 of every 3 batches).
    const batches = [];
    for (let i = SEED_POINTS - 1; i >= 0; i -= 10) {
      const batch = [];
      for (let j = i; j > i - 10 && j >= 0; j--) {
        for (const h of HOSTS) batch.push(snapshot(h, 20_000 + j * 2000, { zombie: h === HOSTS[1] ? 2 : 0 }));
      }
      batches.push(batch);
    }
    for (const [i, batch] of batches.entries()) {
      const ack = await post(i % 3 === 2 ? ingestB : ingestA, batch);
      assert.equal(ack.accepted, batch.length);
      for (const s of batch) seeded[s.host].push(s);
    }

    const flag = webDirFlag(join(BIN, 'procpulse-broadcaster'));
    assert.ok(flag, 'procpulse-broadcaster --help names no web directory flag');
    broadcaster = new Service('broadcaster', join(BIN, 'procpulse-broadcaster'),
      ['--listen', `127.0.0.1:${pw}`, '--database-url', db, '--poll-interval-ms', '200',
        '--allowed-origin', `http://127.0.0.1:${pw}`, flag, DIST], LOG_DIR, pw);
    await broadcaster.start();

    browser = await launch({ width: 1366, height: 768 });
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      if (restarting && EXPECTED_WHILE_RESTARTING.test(m.text())) return;
      pageErrors.push(`console: ${m.text()}`);
    });
  });

  after(async () => {
    if (page) await page.screenshot({ path: join(LOG_DIR, 'final.png') }).catch(() => {});
    await browser?.close();
    for (const s of [broadcaster, ingestB, ingestA]) await s?.stop().catch(() => {});
    if (dbDir) rmSync(dbDir, { recursive: true, force: true });
  });

  it('connects, and charts and table fill from the backfill', async () => {
    const t0 = Date.now();
    await page.goto(`${broadcaster.base}/?host=${HOSTS[0]}`);
    await page.waitForSelector('#conn[data-state="live"]', { timeout: 10_000 });
    const fp = await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null);
    console.log(`# first contentful paint ${fp?.toFixed(0)} ms, live after ${Date.now() - t0} ms`);
    assert.ok(fp !== null && fp < 1000, `first paint ${fp} ms`);
    // Every seeded point of the selected host is in the chart buffer.
    await page.waitForFunction(
      ([h, n]) => window.__procpulse.store.host(h)?.ring.length === n,
      [HOSTS[0], SEED_POINTS],
      { timeout: 10_000 },
    );
    // uPlot plotted them: the CPU chart's x series holds the same number of points.
    const plotted = await page.evaluate(() => document.querySelectorAll('#cpu-chart canvas').length);
    assert.equal(plotted, 1);
    const newest = seeded[HOSTS[0]].at(-1);
    assert.equal(await page.textContent('#cpu-now'), `${newest.cpu.usage_percent.toFixed(1)} %`);
    const options = await page.$$eval('#host-select option', (os) => os.map((o) => o.value));
    assert.deepEqual(options, HOSTS);
    // The top table: three processes, sorted by CPU by default; RSS sort on click.
    const comms = () => page.$$eval('#top-table tbody tr td.comm', (tds) => tds.map((t) => t.textContent));
    assert.deepEqual(await comms(), ['busy', 'big-rss', 'systemd']);
    await page.click('#sort-rss');
    assert.deepEqual(await comms(), ['big-rss', 'systemd', 'busy']);
    assert.equal(await page.textContent('#load1'), '0.75');
    await page.screenshot({ path: join(LOG_DIR, 'backfill-1366x768.png') });
  });

  it('a row posted to ingest appears within 2 s', async () => {
    const s = snapshot(HOSTS[0], 0, { cpu: 93.7, ram: 61.5 });
    const t0 = Date.now();
    await post(ingestB, [s]);
    await page.waitForFunction(() => document.getElementById('cpu-now').textContent === '93.7 %', null, { timeout: 2000 });
    const ms = Date.now() - t0;
    console.log(`# posted row shown after ${ms} ms`);
    assert.equal(await page.textContent('#ram-now'), '61.5 %');
    assert.equal(await page.evaluate((h) => window.__procpulse.store.host(h).ring.length, HOSTS[0]), SEED_POINTS + 1);
    seeded[HOSTS[0]].push(s);
  });

  it('wire text goes into the DOM as text, never as markup', async () => {
    const evil = '<img src=x onerror="window.__pwned=1">';
    await post(ingestA, [snapshot(HOSTS[0], 0, { cpu: 12.3, top: [{ pid: 666, ppid: 1, comm: evil, state: 'S', rss_kb: 1, cpu_percent: 99 }] })]);
    await page.waitForFunction(() => document.getElementById('cpu-now').textContent === '12.3 %', null, { timeout: 2000 });
    assert.equal(await page.textContent('#top-table tbody td.comm'), evil);
    assert.equal(await page.$$eval('#top-table img', (l) => l.length), 0);
    assert.equal(await page.evaluate(() => window.__pwned ?? null), null);
  });

  it('switching host shows that host', async () => {
    await page.selectOption('#host-select', HOSTS[1]);
    const newest = seeded[HOSTS[1]].at(-1);
    await page.waitForFunction((t) => document.getElementById('cpu-now').textContent === t, `${newest.cpu.usage_percent.toFixed(1)} %`, { timeout: 2000 });
    assert.match(await page.textContent('#foot'), new RegExp(`^${HOSTS[1]} `));
    assert.ok(page.url().includes(`host=${HOSTS[1]}`));
    // vm-2 reports zombies: the counter is highlighted; D-state is zero and is not.
    assert.equal(await page.textContent('#procs-zombie'), '2');
    assert.equal(await page.getAttribute('[data-field="zombie"]', 'data-alert'), 'true');
    assert.equal(await page.getAttribute('[data-field="disk_sleep"]', 'data-alert'), null);
    await page.screenshot({ path: join(LOG_DIR, 'host2-1366x768.png') });
  });

  it('the split shown equals ingest GET /api/v1/stats', async () => {
    const res = await fetch(`${ingestA.base}/api/v1/stats`);
    assert.equal(res.status, 200);
    const stats = await res.json();
    const want = routeCounts(stats);
    assert.ok(want.a > 0 && want.b > 0, `both routes stored rows: ${JSON.stringify(want)}`);
    const fmt = (n) => n.toLocaleString('en-US').replace(/,/g, '\u2009');
    await page.waitForFunction(
      ([a, b]) => document.getElementById('route-a-count').textContent === a && document.getElementById('route-b-count').textContent === b,
      [fmt(want.a), fmt(want.b)],
      { timeout: 3000 },
    );
    const pctA = (want.a * 100) / (want.a + want.b);
    const shownA = parseFloat(await page.textContent('#route-a-pct'));
    const shownB = parseFloat(await page.textContent('#route-b-pct'));
    assert.ok(Math.abs(shownA - pctA) <= 0.051, `a share ${shownA} vs ${pctA}`);
    assert.equal(Math.round((shownA + shownB) * 10), 1000);
    console.log(`# split: stats a=${want.a} b=${want.b}; page shows ${shownA} % / ${shownB} %`);
  });

  it('after the broadcaster restarts the page reconnects by itself and backfills', async () => {
    const before = await page.evaluate(() => window.__procpulse.store.stats.frames);
    restarting = true;
    const exit = await broadcaster.stop();
    assert.equal(exit.code, 0, `broadcaster exit on SIGTERM: ${JSON.stringify(exit)}`);
    await page.waitForSelector('#conn[data-state="reconnecting"]', { timeout: 5000 });
    assert.match(await page.textContent('#conn-text'), /^reconnecting in \d+ s \(attempt \d+\)$/);
    // Stored while the dashboard was cut off: must arrive with the backfill.
    const missed = snapshot(HOSTS[1], 0, { cpu: 55.5, disk_sleep: 1 });
    await post(ingestA, [missed]);
    await page.screenshot({ path: join(LOG_DIR, 'reconnecting-1366x768.png') });
    await sleep(1500);
    await broadcaster.start();
    await page.waitForSelector('#conn[data-state="live"]', { timeout: 15_000 });
    restarting = false;
    await page.waitForFunction(() => document.getElementById('cpu-now').textContent === '55.5 %', null, { timeout: 5000 });
    assert.equal(await page.getAttribute('[data-field="disk_sleep"]', 'data-alert'), 'true');
    const st = await page.evaluate(() => ({ ...window.__procpulse.store.stats }));
    assert.ok(st.frames > before);
    // History replaced the buffer: every id once, x strictly ordered.
    const check = await page.evaluate((hosts) => hosts.map((h) => {
      const s = window.__procpulse.store.host(h);
      const ids = s.ring.idList();
      const [xs] = s.ring.view();
      let ordered = true;
      for (let i = 1; i < xs.length; i++) if (xs[i] < xs[i - 1]) ordered = false;
      return { n: ids.length, unique: new Set(ids).size, ordered };
    }), HOSTS);
    for (const c of check) {
      assert.equal(c.unique, c.n);
      assert.ok(c.ordered);
    }
    assert.equal(check[1].n, SEED_POINTS + 1);
  });

  it('without a usable WebSocket the page falls back to GET /api/v1/latest', async () => {
    // `?ws=` points at a path the broadcaster does not upgrade (404): every socket attempt
    // fails, and after two the page fetches api/v1/latest next to it (same broadcaster).
    const other = await browser.context.newPage();
    try {
      await other.goto(`${broadcaster.base}/?ws=/no-such-socket&host=${HOSTS[1]}`);
      const newest = '55.5 %'; // the row stored while the broadcaster was down, now the newest
      await other.waitForFunction((t) => document.getElementById('cpu-now').textContent === t, newest, { timeout: 10_000 });
      assert.equal(await other.getAttribute('#conn', 'data-state') === 'live', false);
      assert.equal(await other.evaluate((h) => window.__procpulse.store.host(h).ring.length, HOSTS[1]), 1);
    } finally {
      await other.close();
    }
  });

  it('is readable on a phone (390x844)', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await sleep(300);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `horizontal overflow of ${overflow}px on a phone`);
    const chartW = await page.evaluate(() => document.querySelector('#cpu-chart .uplot').getBoundingClientRect().width);
    assert.ok(chartW > 300 && chartW <= 390, `chart width ${chartW}`);
    await page.screenshot({ path: join(LOG_DIR, 'phone-390x844.png'), fullPage: true });
    await page.setViewportSize({ width: 1366, height: 768 });
  });

  it('the page raised no errors', () => {
    assert.deepEqual(pageErrors, []);
  });
});
