// End-to-end: the dashboard (web/app, served as written) in headless Chromium against the REAL procpulse-ingest (two
// routes, a = direct, b = batched) and procpulse-broadcaster on one SQLite file, all on loopback.
//
//   node --test tests/e2e.test.mjs        (ci/test-web.sh builds everything and runs this)
//
// Env: PROCPULSE_BIN_DIR (default <repo>/target/debug), CI_LOG_DIR (screenshots, service logs;
// default /tmp/procpulse-logs).

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { launch } from './browser.mjs';
import { post, sleep, snapshot } from './e2e-lib.mjs';
import { servedFiles } from './served.mjs';
import { Service, dashboardArgs, freePort } from './services.mjs';

const WEB = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const REPO = resolve(WEB, '..');
const BIN = resolve(process.env.PROCPULSE_BIN_DIR ?? join(REPO, 'target', 'debug'));
const LOG_DIR = resolve(process.env.CI_LOG_DIR ?? '/tmp/procpulse-logs', 'web-e2e');
const APP = join(WEB, 'app');
const HOSTS = ['e2e-vm-1', 'e2e-vm-2'];
/** Seeded history: one point every 2 s over the last 5 minutes, per host. */
const SEED_POINTS = 150;

mkdirSync(LOG_DIR, { recursive: true });

/** The host that reports snapshot v2 fields (the seeded hosts report v1 rows only). */
const V2_HOST = 'e2e-v2';
/** Known per-CPU usages and modes of the newest v2 row. */
const PER_CPU = [91.5, 12.4, 0, 55.5];
const MODES = { user: 52.5, nice: 3.25, system: 20.0, idle: 6.3, iowait: 8.45, irq: 1.5, softirq: 2.0, steal: 6.0, guest: 4.5, guest_nice: 1.25 };
const USERS = ['root', 'alice', 'bob', 'www-data', '4321'];
const STATES = ['S', 'S', 'R', 'S', 'D', 'S', 'I', 'T', 'Z', 't'];

/** 50 processes (the model's MAX_TOP) with v2 fields; pid 4242 is the only `stress`. */
function procs50() {
  return Array.from({ length: 50 }, (_, i) => ({
    pid: i === 0 ? 4242 : 2000 + i * 7,
    ppid: 1,
    comm: i === 0 ? 'stress (burn)' : `job-${String.fromCharCode(97 + (i % 26))}${i}`,
    state: STATES[i % STATES.length],
    rss_kb: 1000 + ((i * 7919) % 50000),
    cpu_percent: Math.round(((i * 37) % 100) * 10 + 5) / 10,
    uid: (i % 5) * 1000,
    user: i === 0 ? 'alice' : USERS[i % 5],
    threads: 1 + ((i * 3) % 17),
    nice: (i % 40) - 20,
  }));
}

/**
 * A snapshot v2 (userland/model/README.md "Snapshot version 2"): per-CPU usage, modes,
 * buffers/shared/swap_used, pressure, top rows with uid/user/threads/nice.
 */
function snapshotV2(host, agoMs, { perCpu = PER_CPU, cpu = 93.7 } = {}) {
  const s = snapshot(host, agoMs, { cpu, ram: 61.5, top: procs50() });
  s.cpu.cores = perCpu.length;
  s.cpu.modes = { ...MODES };
  s.cpu.per_cpu = perCpu.map((usage_percent, i) => ({ cpu: i, usage_percent }));
  s.ram.swap_free_kb = 262144; // 75 % of 1 GiB used: "warning"
  s.ram.swap_used_kb = s.ram.swap_total_kb - s.ram.swap_free_kb;
  s.ram.buffers_kb = 131072;
  s.ram.shared_kb = 65536;
  const st = (a, b) => ({ avg10: a, avg60: b, avg300: b / 2, total_us: 123456 });
  s.pressure = {
    cpu: { some: st(12.04, 8.71), full: st(0, 0) },
    memory: { some: st(1.25, 0.4), full: st(0.5, 0.12) },
    io: { some: st(0, 0.1), full: st(0, 0.05) },
  };
  return s;
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
  /** Paths of the dashboard's own files the page requested (not /ws, not /api/). */
  const requested = new Set();

  before(async () => {
    for (const b of ['procpulse-ingest', 'procpulse-broadcaster']) {
      assert.ok(existsSync(join(BIN, b)), `${join(BIN, b)} missing: build it first (ci/test-web.sh does)`);
    }
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

    // Started in the empty database directory: it finds no web/ relative to where it runs.
    const web = dashboardArgs(join(BIN, 'procpulse-broadcaster'), APP);
    console.log(`# broadcaster serves the dashboard ${web.length ? `from ${web.join(' ')}` : 'embedded in the binary'}`);
    broadcaster = new Service('broadcaster', join(BIN, 'procpulse-broadcaster'),
      ['--listen', `127.0.0.1:${pw}`, '--database-url', db, '--poll-interval-ms', '200',
        '--allowed-origin', `http://127.0.0.1:${pw}`, ...web], LOG_DIR, pw, dbDir);
    await broadcaster.start();

    browser = await launch({ width: 1366, height: 768 });
    page = browser.context.pages()[0] ?? (await browser.context.newPage());
    // Every page records Content-Security-Policy violations (the broadcaster sends a CSP
    // with the dashboard's HTML); the last test asserts there were none.
    await browser.context.addInitScript(() => {
      window.__cspViolations = [];
      document.addEventListener('securitypolicyviolation', (e) => {
        window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
      });
    });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('request', (r) => {
      const u = new URL(r.url());
      if (u.origin === broadcaster.base && u.pathname !== '/ws' && !u.pathname.startsWith('/api/')) requested.add(u.pathname);
    });
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
    // The store holds them; the number is drawn in the next animation frame.
    await page.waitForFunction((t) => document.getElementById('cpu-now').textContent === t, `${newest.cpu.usage_percent.toFixed(1)} %`, { timeout: 2000 });
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

  it('serves exactly the files web/app has for the page, byte for byte, with their types', async () => {
    const want = servedFiles(APP);
    const got = [...requested].map((p) => (p === '/' ? 'index.html' : p.slice(1))).sort();
    assert.deepEqual(got, want, 'the page requested other files than tests/served.mjs lists');
    const TYPE = { html: /^text\/html/, js: /^(text|application)\/javascript/, css: /^text\/css/ };
    for (const f of want) {
      const res = await fetch(`${broadcaster.base}/${f === 'index.html' ? '' : f}`, { signal: AbortSignal.timeout(5000) });
      assert.equal(res.status, 200, f);
      assert.match(res.headers.get('content-type') ?? '', TYPE[f.split('.').pop()], `${f} content-type`);
      const body = Buffer.from(await res.arrayBuffer());
      assert.ok(body.equals(readFileSync(join(APP, f))), `${f} as served differs from web/app/${f}`);
    }
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

  it('a v2 snapshot shows per-core values, modes, swap, buffers and pressure', async () => {
    // Three samples so the per-core history has a few columns; the newest has PER_CPU.
    const older = [snapshotV2(V2_HOST, 4000, { perCpu: [10, 20, 30, 40], cpu: 25 }), snapshotV2(V2_HOST, 2000, { perCpu: [50, 60, 70, 80], cpu: 65 })];
    await post(ingestA, older);
    await post(ingestB, [snapshotV2(V2_HOST, 0)]);
    await page.waitForSelector(`#host-select option[value="${V2_HOST}"]`, { state: 'attached', timeout: 3000 });
    await page.selectOption('#host-select', V2_HOST);
    await page.waitForFunction(() => document.getElementById('cpu-now').textContent === '93.7 %', null, { timeout: 3000 });
    // Per-core strip: four cells with the posted values (attribute, tooltip and cell text).
    await page.waitForSelector('#percore-card:not([hidden])', { timeout: 3000 });
    const cells = await page.$$eval('#percore-strip .core', (cs) => cs.map((c) => ({ cpu: c.dataset.cpu, value: c.dataset.value, title: c.title, text: c.querySelector('.core-val')?.textContent })));
    assert.deepEqual(cells, PER_CPU.map((u, i) => ({ cpu: String(i), value: u.toFixed(1), title: `cpu ${i}: ${u.toFixed(1)} %`, text: `${u.toFixed(1)} %` })));
    assert.equal(await page.textContent('#percore-busiest'), 'busiest: cpu 0 91.5 % · cpu 3 55.5 % · cpu 1 12.4 %');
    assert.match(await page.textContent('#percore-summary'), /^4 CPUs · mean 39\.[89] % · max 91\.5 %$/);
    assert.equal(await page.$$eval('#percore-strip .core.hot', (cs) => cs.map((c) => c.dataset.cpu).join(',')), '0,1,3');
    assert.equal(await page.evaluate((h) => window.__procpulse.store.host(h).cores.length, V2_HOST), 3);
    assert.match(await page.textContent('#percore-caption'), /^history: 3 samples/);
    // Modes: legend values and the stacked series in the chart buffer.
    await page.waitForSelector('#modes-card:not([hidden])');
    const legend = await page.$$eval('#modes-legend li', (ls) => Object.fromEntries(ls.map((l) => [l.dataset.mode, [l.querySelector('.label').textContent, l.querySelector('.value').textContent]])));
    for (const m of ['user', 'nice', 'system', 'iowait', 'irq', 'softirq', 'steal', 'idle']) assert.equal(legend[m][1], `${MODES[m].toFixed(1)} %`, m);
    assert.equal(legend.user[0], 'user (incl. guest 4.5 %)');
    assert.equal(legend.nice[0], 'nice (incl. guest nice 1.3 %)');
    const stackTop = await page.evaluate((h) => {
      const v = window.__procpulse.store.host(h).ring.view();
      return v.slice(3).map((c) => c[c.length - 1]);
    }, V2_HOST);
    assert.deepEqual(stackTop, [52.5, 55.75, 75.75, 84.2, 85.7, 87.7, 93.7, 100]);
    // Thresholds: CPU 93.7 critical, RAM 61.5 careful, swap 75 % warning (word and symbol).
    assert.equal(await page.textContent('#cpu-level'), '✖ critical');
    assert.equal(await page.getAttribute('#cpu-level', 'data-level'), 'critical');
    assert.equal(await page.textContent('#ram-level'), '◆ careful');
    assert.equal(await page.textContent('#swap-level'), '▲ warning');
    assert.equal(await page.textContent('#swap-used'), '768 MiB (75.0 %)');
    assert.equal(await page.textContent('#swap-free'), '256 MiB');
    assert.equal(await page.textContent('#swap-total'), '1.0 GiB');
    assert.equal(await page.textContent('#mem-buffers'), '128 MiB (3.1 %)');
    assert.equal(await page.textContent('#mem-shared'), '64.0 MiB');
    // Pressure.
    await page.waitForSelector('#pressure-card:not([hidden])');
    const psi = (res, k) => page.textContent(`#pressure-table [data-resource="${res}"] [data-kind="${k}"]`);
    assert.equal(await psi('cpu', 'some-avg10'), '12.04');
    assert.equal(await psi('cpu', 'some-avg60'), '8.71');
    assert.equal(await psi('memory', 'full-avg10'), '0.50');
    assert.equal(await psi('io', 'full-avg60'), '0.05');
    await page.evaluate(() => window.scrollTo(0, 0));
    await sleep(100);
    await page.screenshot({ path: join(LOG_DIR, 'dashboard-v2.png'), fullPage: true });
  });

  it('process table: filter by command, user and pid; 10/25/50 rows; sort by columns', async () => {
    const pidsShown = () => page.$$eval('#top-table tbody tr', (trs) => trs.map((t) => Number(t.dataset.pid)));
    const col = (key) => page.$$eval(`#top-table tbody tr td:nth-child(${['pid', 'user', 'command', 'state', 'threads', 'nice', 'cpu', 'rss'].indexOf(key) + 1})`, (tds) => tds.map((t) => t.textContent));
    const all = procs50();
    // An earlier test sorted by RSS: back to CPU % descending (the default).
    for (let i = 0; i < 2 && (await page.getAttribute('th[data-col="cpu"]', 'aria-sort')) !== 'descending'; i++) await page.click('#sort-cpu');
    assert.equal((await pidsShown()).length, 10);
    assert.equal(await page.textContent('#top-pos'), '1–10 of 50');
    // Default: CPU % descending.
    const byCpu = [...all].sort((p, q) => q.cpu_percent - p.cpu_percent || p.pid - q.pid).slice(0, 10).map((p) => p.pid);
    assert.deepEqual(await pidsShown(), byCpu);
    assert.equal(await page.getAttribute('th[data-col="cpu"]', 'aria-sort'), 'descending');
    // Rows per page.
    await page.selectOption('#top-per-page', '25');
    assert.equal((await pidsShown()).length, 25);
    await page.selectOption('#top-per-page', '50');
    assert.equal((await pidsShown()).length, 50);
    await page.selectOption('#top-per-page', '10');
    assert.equal((await pidsShown()).length, 10);
    await page.click('#top-next');
    assert.equal(await page.textContent('#top-pos'), '11–20 of 50');
    // Filter by command, by user, by pid.
    await page.fill('#top-filter', 'stress');
    assert.deepEqual(await pidsShown(), [4242]);
    assert.deepEqual(await col('command'), ['stress (burn)']);
    await page.fill('#top-filter', 'bob');
    assert.deepEqual(await col('user'), Array(10).fill('bob'));
    assert.equal(await page.textContent('#top-pos'), '1–10 of 10');
    await page.fill('#top-filter', '4242');
    assert.deepEqual(await pidsShown(), [4242]);
    await page.fill('#top-filter', 'no-such-process');
    assert.deepEqual(await pidsShown(), []);
    assert.match(await page.textContent('#top-note'), /no process matches/);
    await page.fill('#top-filter', '');
    await page.selectOption('#top-per-page', '50');
    // Sort: PID ascending then descending; user; threads; state letters with names.
    await page.click('#sort-pid');
    assert.deepEqual(await pidsShown(), all.map((p) => p.pid).sort((a, b) => a - b));
    assert.equal(await page.getAttribute('th[data-col="pid"]', 'aria-sort'), 'ascending');
    assert.equal(await page.getAttribute('th[data-col="cpu"]', 'aria-sort'), 'none');
    await page.click('#sort-pid');
    assert.deepEqual(await pidsShown(), all.map((p) => p.pid).sort((a, b) => b - a));
    assert.equal(await page.getAttribute('th[data-col="pid"]', 'aria-sort'), 'descending');
    await page.click('#sort-user');
    const users = await col('user');
    assert.deepEqual(users, [...users].sort((a, b) => a.localeCompare(b, 'en', { numeric: true })));
    assert.equal(users[0], '4321');
    await page.click('#sort-threads');
    const threads = (await col('threads')).map(Number);
    assert.deepEqual(threads, [...threads].sort((a, b) => b - a));
    await page.click('#sort-nice');
    const nice = (await col('nice')).map(Number);
    assert.deepEqual(nice, [...nice].sort((a, b) => a - b));
    await page.click('#sort-rss');
    const rssPids = await pidsShown();
    assert.deepEqual(rssPids, [...all].sort((p, q) => q.rss_kb - p.rss_kb || q.cpu_percent - p.cpu_percent || p.pid - q.pid).map((p) => p.pid));
    await page.click('#sort-state');
    const states = await col('state');
    assert.equal(states[0], 'R');
    assert.equal(states.at(-1), 'I');
    assert.equal(await page.getAttribute('#top-table tbody tr:first-child td.state', 'title'), 'running');
    assert.match(await page.textContent('#state-legend'), /R running · S sleeping · D disk sleep · T stopped · t traced · Z zombie · X dead · I idle/);
    // Back to the defaults the other tests expect.
    await page.click('#sort-cpu');
    await page.selectOption('#top-per-page', '10');
  });

  it('1,024 CPUs: one small cell each, values in tooltips, the busiest named', async () => {
    const host = 'e2e-1024';
    const usage = (i) => (i === 777 ? 99.5 : i === 5 ? 97 : (i * 13) % 60);
    const s = snapshotV2(host, 0, { perCpu: Array.from({ length: 1024 }, (_, i) => usage(i)), cpu: 31.2 });
    await post(ingestA, [s]);
    await page.waitForSelector(`#host-select option[value="${host}"]`, { state: 'attached', timeout: 3000 });
    await page.selectOption('#host-select', host);
    await page.waitForFunction(() => document.querySelectorAll('#percore-strip .core').length === 1024, null, { timeout: 3000 });
    assert.equal(await page.getAttribute('#percore-strip', 'data-size'), 'small');
    assert.equal(await page.getAttribute('#percore-strip [data-cpu="777"]', 'title'), 'cpu 777: 99.5 %');
    assert.equal(await page.getAttribute('#percore-strip [data-cpu="1023"]', 'data-value'), usage(1023).toFixed(1));
    assert.match(await page.textContent('#percore-busiest'), /^busiest: cpu 777 99\.5 % · cpu 5 97\.0 % · /);
    const box = await page.evaluate(() => {
      const r = document.getElementById('percore-card').getBoundingClientRect();
      return { w: r.width, h: r.height };
    });
    assert.ok(box.h < 900, `per-core card ${box.h}px high with 1,024 CPUs`);
    const worst = await page.evaluate(() => Math.max(...window.__procpulse.drawTimes.slice(-5)));
    console.log(`# 1,024 CPUs: per-core card ${Math.round(box.w)}x${Math.round(box.h)} px, slowest of the last 5 redraws ${worst.toFixed(1)} ms`);
  });

  it('the v2 panels fit a phone (390x844)', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await sleep(300);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `horizontal overflow of ${overflow}px on a phone`);
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(LOG_DIR, 'dashboard-v2-phone.png'), fullPage: true });
    await page.setViewportSize({ width: 1366, height: 768 });
  });

  it('v1 rows still render: v2 panels hidden (not zero), em dashes in the table', async () => {
    await page.selectOption('#host-select', HOSTS[0]);
    await page.waitForFunction(() => document.getElementById('cpu-now').textContent === '12.3 %', null, { timeout: 2000 });
    for (const id of ['percore-card', 'modes-card', 'pressure-card']) assert.equal(await page.isHidden(`#${id}`), true, id);
    assert.equal(await page.isHidden('#mem-buffers'), true);
    assert.equal(await page.isHidden('#mem-shared'), true);
    const cells = await page.$$eval('#top-table tbody tr:first-child td', (tds) => tds.map((t) => t.textContent));
    assert.equal(cells.length, 8);
    assert.equal(cells[0], '666');
    assert.deepEqual([cells[1], cells[4], cells[5]], ['—', '—', '—']);
    assert.equal(await page.textContent('#cpu-level'), '✓ ok');
    // A v1 row becoming the newest of the v2 host hides its v2 panels again.
    await post(ingestA, [snapshot(V2_HOST, 0, { cpu: 44.4 })]);
    await page.selectOption('#host-select', V2_HOST);
    await page.waitForFunction(() => document.getElementById('cpu-now').textContent === '44.4 %', null, { timeout: 2000 });
    for (const id of ['percore-card', 'modes-card', 'pressure-card']) assert.equal(await page.isHidden(`#${id}`), true, id);
    assert.equal(await page.textContent('#top-pos'), '1–3 of 3');
    // The restart test below expects the second seeded host on screen.
    await page.selectOption('#host-select', HOSTS[1]);
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
    // The backfill carries the v2 fields too: per-core history and stacked modes of the v2
    // host's three v2 rows (its newest row is v1: a gap in the modes series).
    const v2 = await page.evaluate((h) => {
      const s = window.__procpulse.store.host(h);
      const v = s.ring.view();
      return { cores: s.cores.length, cpu0: s.cores.value(s.cores.length - 1, 0), user: Array.from(v[3]), idleTop: Array.from(v[10]) };
    }, V2_HOST);
    assert.equal(v2.cores, 3);
    assert.equal(v2.cpu0, 91.5);
    assert.deepEqual(v2.user, [52.5, 52.5, 52.5, null].map((x) => x ?? NaN));
    assert.deepEqual(v2.idleTop.slice(0, 3), [100, 100, 100]);
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

  it('the page raised no errors and no CSP violations under the served policy', async () => {
    const res = await fetch(`${broadcaster.base}/`);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'/, `the dashboard is served without its CSP: ${csp}`);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.deepEqual(await page.evaluate(() => window.__cspViolations), []);
    assert.deepEqual(pageErrors, []);
  });
});
