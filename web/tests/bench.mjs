// Dashboard benchmark in headless Chromium (playwright-core, Debian's /usr/bin/chromium):
//   - first paint (Performance API 'first-contentful-paint') of web/app as served, cold profile;
//   - served size (the files the page loads, tests/served.mjs; there is no build step);
//   - with 1 h of 1 s points per host already loaded (3600 × HOSTS rows, sent as one backfill
//     frame), the cost of each redraw (store → uPlot setData → canvas) and the animation-frame
//     interval while new points stream in at STREAM_HZ frames per second;
//   - the fleet page with FLEET_HOSTS hosts: the first frame showing the whole table (cold
//     profile), the cost of each poll's update and the DOM update batches per poll.
// It serves web/app, a WebSocket speaking the frames of docs/design.md §4 (synthetic rows
// from dev/synth.mjs), /api/v1/fleet (dev/history-stub.mjs, the issue 15 shape) and
// /api/v1/alerts (the same hosts' synthetic alerts) itself, so the figures are about the page
// alone, not the broadcaster.
//
//   node tests/bench.mjs            → lines `RESULT <name> <value> <unit>`

import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { WebSocketServer } from 'ws';
import { alertsAnswer, fleetAnswer } from '../dev/history-stub.mjs';
import { Synth } from '../dev/synth.mjs';
import { launch } from './browser.mjs';
import { APP, servedSize } from './served.mjs';

const HOSTS = ['vm-1', 'vm-2', 'vm-3', 'vm-4'];
const POINTS = 3600;
const STREAM_SECONDS = Number(process.env.BENCH_STREAM_SECONDS ?? 10);
const STREAM_HZ = 20;
const FLOOD_HZ = 200;
const FCP_RUNS = 5;
const FLEET_HOSTS = 1000;
const FLEET_SECONDS = 5;

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css' };
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : NaN;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// --- served size
const size = servedSize();

// --- server: web/app + /ws
const synth = new Synth({ hosts: HOSTS });
const start = Date.now() - POINTS * 1000;
const backfill = [];
for (let i = 0; i < POINTS; i++) {
  for (const h of HOSTS) {
    const r = synth.row(h, start + i * 1000);
    if (i < POINTS - 1) delete r.top; // like the broadcaster: only the newest row carries `top`
    backfill.push(r);
  }
}
const backfillFrame = JSON.stringify({ type: 'history', samples: backfill });
let streaming = null;

const server = createServer((req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  if (path === '/api/v1/fleet') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(fleetAnswer([], FLEET_HOSTS)));
    return;
  }
  if (path === '/api/v1/alerts') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(alertsAnswer([], FLEET_HOSTS)));
    return;
  }
  const file = join(APP, normalize(path === '/' ? '/index.html' : path));
  try {
    const body = readFileSync(file);
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    res.end(body);
  } catch {
    res.writeHead(404);
    res.end();
  }
});
const wss = new WebSocketServer({ server, path: '/ws' });
wss.on('connection', (ws, req) => {
  const full = new URL(req.url, 'http://x').searchParams.get('full') === '1';
  ws.send(JSON.stringify({ type: 'hello', server_time: new Date().toISOString(), hosts: HOSTS }));
  ws.send(full ? backfillFrame : JSON.stringify({ type: 'history', samples: backfill.slice(-HOSTS.length) }));
  ws.send(JSON.stringify({ type: 'routes', a: 7200, b: 7200 }));
  if (full) streaming = ws;
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

const results = [];
const result = (name, value, unit) => {
  results.push(`RESULT ${name} ${value} ${unit}`);
};

try {
  // --- first paint, cold profile each run
  const fcps = [];
  const lives = [];
  for (let i = 0; i < FCP_RUNS; i++) {
    const b = await launch({ width: 1366, height: 768 });
    try {
      const page = b.context.pages()[0] ?? (await b.context.newPage());
      const t0 = Date.now();
      await page.goto(`${base}/`);
      await page.waitForSelector('#conn[data-state="live"]');
      lives.push(Date.now() - t0);
      await page.waitForFunction(() => performance.getEntriesByName('first-contentful-paint').length > 0);
      fcps.push(await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0].startTime));
    } finally {
      await b.close();
    }
  }

  // --- 1 h × 1 s points per host, then streaming
  const b = await launch({ width: 1366, height: 768 });
  let frame;
  let flood;
  try {
    const page = b.context.pages()[0] ?? (await b.context.newPage());
    await page.goto(`${base}/?full=1&ws=${encodeURIComponent(`ws://127.0.0.1:${server.address().port}/ws?full=1`)}`);
    const tLoad = Date.now();
    await page.waitForFunction((n) => window.__procpulse.store.host('vm-1')?.ring.length === n, POINTS, { timeout: 60_000 });
    const backfillMs = Date.now() - tLoad;
    await sleep(500);
    const held = await page.evaluate(() => window.__procpulse.store.hostNames().map((h) => window.__procpulse.store.host(h).ring.length));
    // Record rAF intervals and the page's own redraw times while points stream in.
    const stream = async (hz, seconds) => {
      await page.evaluate(() => {
        window.__bench = { intervals: [], longTasks: 0, frames0: window.__procpulse.store.stats.frames };
        window.__procpulse.drawTimes.length = 0;
        let last = performance.now();
        const loop = (t) => {
          window.__bench.intervals.push(t - last);
          last = t;
          if (!window.__bench.stop) requestAnimationFrame(loop);
        };
        requestAnimationFrame(loop);
        new PerformanceObserver((l) => (window.__bench.longTasks += l.getEntries().length)).observe({ type: 'longtask' });
      });
      const ticks = seconds * hz;
      const t0 = Date.now();
      for (let i = 0; i < ticks; i++) {
        streaming.send(JSON.stringify({ type: 'samples', samples: HOSTS.map((h) => synth.row(h, (t += 250))) }));
        const due = t0 + ((i + 1) * 1000) / hz;
        await sleep(Math.max(0, due - Date.now()));
      }
      await sleep(200);
      return page.evaluate(() => {
        window.__bench.stop = true;
        return {
          intervals: window.__bench.intervals.slice(1),
          draws: window.__procpulse.drawTimes.slice(),
          longTasks: window.__bench.longTasks,
          messages: window.__procpulse.store.stats.frames - window.__bench.frames0,
        };
      });
    };
    let t = start + POINTS * 1000;
    frame = await stream(STREAM_HZ, STREAM_SECONDS);
    // Far more frames than the broadcaster ever sends (it batches to 2/s): redraws stay at
    // most one per animation frame however many messages arrive.
    flood = await stream(FLOOD_HZ, 5);
    const stillHeld = await page.evaluate(() => window.__procpulse.store.host('vm-1').ring.length);
    await page.screenshot({ path: join(process.env.CI_LOG_DIR ?? '/tmp/procpulse-logs', 'web-bench-1h.png') }).catch(() => {});
    if (held.some((n) => n !== POINTS) || stillHeld !== POINTS) throw new Error(`buffer holds ${held} / ${stillHeld}, want ${POINTS}`);
    result('dashboard_backfill_1h_apply', backfillMs, 'ms');
  } finally {
    await b.close();
  }

  // --- the fleet page with FLEET_HOSTS hosts, cold profile each run
  const fleetFirst = [];
  let fleetPolls = null;
  for (let i = 0; i < FCP_RUNS; i++) {
    const fb = await launch({ width: 1366, height: 768 });
    try {
      const page = fb.context.pages()[0] ?? (await fb.context.newPage());
      await page.goto(`${base}/?view=fleet`);
      await page.waitForFunction(() => window.__procpulse.fleet.firstFrameMs !== null, null, { timeout: 30_000 });
      const st = await page.evaluate(() => ({ ...window.__procpulse.fleet, rows: window.__procpulse.order().length }));
      if (st.rows !== FLEET_HOSTS) throw new Error(`fleet table lists ${st.rows} hosts, want ${FLEET_HOSTS}`);
      fleetFirst.push(st.firstFrameMs);
      if (i === FCP_RUNS - 1) {
        fleetPolls = await page.evaluate(async (seconds) => {
          const f = window.__procpulse.fleet;
          let callbacks = 0;
          const mo = new MutationObserver(() => callbacks++);
          mo.observe(document.querySelector('#fleet-table tbody'), { subtree: true, childList: true, characterData: true, attributes: true });
          const r0 = f.renders;
          const t0 = f.renderTimes.length;
          await new Promise((r) => setTimeout(r, seconds * 1000));
          mo.disconnect();
          return { renders: f.renders - r0, callbacks, times: f.renderTimes.slice(t0) };
        }, FLEET_SECONDS);
      }
    } finally {
      await fb.close();
    }
  }

  result('dashboard_served_files', size.files, 'files');
  result('dashboard_served_bytes', size.raw, 'bytes');
  result('dashboard_served_gzip_bytes', size.gzip, 'bytes');
  result('dashboard_first_paint_median', pct(fcps, 50).toFixed(0), 'ms');
  result('dashboard_first_paint_max', Math.max(...fcps).toFixed(0), 'ms');
  result('dashboard_connect_live_median', pct(lives, 50), 'ms');
  result('dashboard_redraw_1h_points_p50', pct(frame.draws, 50).toFixed(2), 'ms');
  result('dashboard_redraw_1h_points_p95', pct(frame.draws, 95).toFixed(2), 'ms');
  result('dashboard_redraws_per_s', (frame.draws.length / STREAM_SECONDS).toFixed(1), 'redraws/s');
  result('dashboard_frame_interval_p50', pct(frame.intervals, 50).toFixed(1), 'ms');
  result('dashboard_frame_interval_p95', pct(frame.intervals, 95).toFixed(1), 'ms');
  result('dashboard_frame_interval_max', Math.max(...frame.intervals).toFixed(1), 'ms');
  result('dashboard_long_tasks', frame.longTasks, 'count');
  result('dashboard_flood_messages_per_s', (flood.messages / 5).toFixed(0), 'messages/s');
  result('dashboard_flood_redraws_per_s', (flood.draws.length / 5).toFixed(1), 'redraws/s');
  result('dashboard_flood_redraw_p95', pct(flood.draws, 95).toFixed(2), 'ms');
  result('dashboard_flood_frame_interval_p95', pct(flood.intervals, 95).toFixed(1), 'ms');
  result(`dashboard_fleet_${FLEET_HOSTS}_first_table_median`, pct(fleetFirst, 50).toFixed(0), 'ms');
  result(`dashboard_fleet_${FLEET_HOSTS}_first_table_max`, Math.max(...fleetFirst).toFixed(0), 'ms');
  result(`dashboard_fleet_${FLEET_HOSTS}_poll_update_p50`, pct(fleetPolls.times, 50).toFixed(1), 'ms');
  result(`dashboard_fleet_${FLEET_HOSTS}_poll_update_p95`, pct(fleetPolls.times, 95).toFixed(1), 'ms');
  result(`dashboard_fleet_${FLEET_HOSTS}_polls_per_s`, (fleetPolls.renders / FLEET_SECONDS).toFixed(1), 'polls/s');
  result(`dashboard_fleet_${FLEET_HOSTS}_dom_updates_per_poll`, (fleetPolls.callbacks / Math.max(1, fleetPolls.renders)).toFixed(2), 'batches/poll');
} finally {
  wss.close();
  server.close();
}
console.log(`# hosts=${HOSTS.length} points/host=${POINTS} stream=${STREAM_HZ} frames/s for ${STREAM_SECONDS} s, fcp runs=${FCP_RUNS}, fleet hosts=${FLEET_HOSTS}`);
for (const r of results) console.log(r);
process.exit(0);
