#!/usr/bin/env node
// DEV ONLY — a throwaway stand-in for the broadcaster, for working on the dashboard before (or
// without) the real services. It serves web/app as written (no build step; edit and reload) at /
// and speaks the frames of docs/design.md §4 at /ws:
// hello, history (15 min of synthetic 1 s rows per host, or the frames of a capture file), then a
// `samples` frame every 500 ms and a `routes` frame when the split changes. The end-to-end test
// never uses it; it runs against the real ingest and broadcaster.
//
//   node dev/replay-server.mjs [--port 4100] [--app app] [--hosts vm-1,vm-2] \
//        [--history-seconds 900] [--capture frames.jsonl] [--fleet-hosts 1000]
//
// A capture file holds one server→client frame per line (as sent by the real broadcaster); it is
// replayed to each client in order, 500 ms apart, after which synthetic rows continue.
//
// It also answers `GET /api/v1/history?host=&from=&to=` (raw rows held for up to 1 h, synthetic
// rollups beyond) and `GET /api/v1/fleet` (the hosts plus `--fleet-hosts N` synthetic ones, some
// stale) in the issue 15 shapes, and `GET /api/v1/alerts` (synthetic alerts of those hosts)
// (dev/history-stub.mjs), so the range picker, the fleet page and the alerts can be worked on
// here too.

import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { WebSocketServer } from 'ws';
import { alertsAnswer, fleetAnswer, historyAnswer } from './history-stub.mjs';
import { Synth } from './synth.mjs';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const port = Number(args.port ?? 4100);
const app = resolve(args.app ?? new URL('../app', import.meta.url).pathname);
const hosts = (args.hosts ?? 'vm-1,vm-2,vm-3').split(',');
const historySeconds = Number(args['history-seconds'] ?? 900);
const fleetHosts = Number(args['fleet-hosts'] ?? 0);
const capture = args.capture ? readFileSync(args.capture, 'utf8').split('\n').filter(Boolean) : null;

const synth = new Synth({ hosts });
/** @type {Map<string, any[]>} */
const rows = new Map(hosts.map((h) => [h, []]));
const now = Date.now();
for (let s = historySeconds; s > 0; s--) for (const h of hosts) rows.get(h).push(synth.row(h, now - s * 1000));
let routes = { a: 0, b: 0 };
for (const list of rows.values()) for (const r of list) routes[r.route]++;

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };
const server = createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/api/v1/latest') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ samples: hosts.map((h) => rows.get(h).at(-1)) }));
    return;
  }
  if (url.pathname === '/api/v1/history' || url.pathname === '/api/v1/fleet' || url.pathname === '/api/v1/alerts') {
    const latest = hosts.map((h) => rows.get(h).at(-1));
    const a =
      url.pathname === '/api/v1/fleet'
        ? { status: 200, body: fleetAnswer(latest, fleetHosts) }
        : url.pathname === '/api/v1/alerts'
          ? { status: 200, body: alertsAnswer(latest, fleetHosts) }
          : historyAnswer(url.searchParams, (h) => rows.get(h) ?? []);
    res.writeHead(a.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(a.body));
    return;
  }
  const rel = normalize(url.pathname === '/' ? '/index.html' : url.pathname);
  const file = join(app, rel);
  if (!file.startsWith(app + sep) || !existsSync(file) || !statSync(file).isFile()) {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":{"code":"not_found","message":"no such file","field":null}}');
    return;
  }
  res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
  createReadStream(file).pipe(res);
});

const wss = new WebSocketServer({ server, path: '/ws' });
wss.on('connection', (ws) => {
  if (capture) {
    let i = 0;
    const t = setInterval(() => {
      if (i >= capture.length || ws.readyState !== ws.OPEN) return clearInterval(t);
      ws.send(capture[i++]);
    }, 500);
    ws.on('close', () => clearInterval(t));
    return;
  }
  ws.send(JSON.stringify({ type: 'hello', server_time: new Date().toISOString(), hosts }));
  const history = [];
  for (const list of rows.values()) history.push(...list.slice(-900));
  ws.send(JSON.stringify({ type: 'history', samples: history }));
  ws.send(JSON.stringify({ type: 'routes', ...routes }));
});

let pending = [];
setInterval(() => {
  const t = Date.now();
  for (const h of hosts) {
    const r = synth.row(h, t);
    rows.get(h).push(r);
    if (rows.get(h).length > 3600) rows.get(h).shift();
    routes[r.route]++;
    pending.push(r);
  }
}, 1000);
setInterval(() => {
  if (pending.length === 0 || capture) return;
  const frame = JSON.stringify({ type: 'samples', samples: pending });
  const split = JSON.stringify({ type: 'routes', ...routes });
  pending = [];
  for (const c of wss.clients) {
    if (c.readyState !== c.OPEN) continue;
    c.send(frame);
    c.send(split);
  }
}, 500);

server.listen(port, '127.0.0.1', () => console.log(`replay server (dev only): http://127.0.0.1:${port}/`));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
