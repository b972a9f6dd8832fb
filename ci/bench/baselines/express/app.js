'use strict';
// Reference ingest in Express (issue 18): what procpulse-ingest is compared against.
//
// POST /api/v1/metrics takes one snapshot (JSON), parses it and stores it with ONE INSERT
// into procpulse's own `samples` table (made by procpulse's migrations; this app creates
// nothing), autocommit: 200 {"stored":1} only once the INSERT has returned, 400 when the
// body is not JSON (or lacks a field the row needs), 500 when the database fails.
// GET /readyz answers 200 once the database answers.
//
// node:cluster runs one worker process per core, each with its own mysql2 pool; the
// primary forks (and re-forks) them and hands accepted connections to them in turn (Node's
// default scheduling on Linux). ../README.md has the settings and the trials.
//
// Environment:
//   BASELINE_DATABASE_URL  mysql://user:pass@host:port/db (?socket=/path/to/mysqld.sock
//                          connects over that unix socket instead of TCP)
//   BASELINE_LISTEN        host:port to listen on (default 127.0.0.1:8000)
//   BASELINE_WORKERS       worker processes (default: one per core)
//   BASELINE_DB_POOL       database connections per worker (default 10)
// Works on Node 18 (Debian 12's) and later.

const cluster = require('node:cluster');
const os = require('node:os');

const ROUTE = 'express';
const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
const WORKERS = Number(process.env.BASELINE_WORKERS || cores);
const POOL_SIZE = Number(process.env.BASELINE_DB_POOL || 10);
const [HOST, PORT] = (() => {
  const listen = process.env.BASELINE_LISTEN || '127.0.0.1:8000';
  const i = listen.lastIndexOf(':');
  return [listen.slice(0, i), Number(listen.slice(i + 1))];
})();

if (cluster.isPrimary) {
  let stopping = false;
  const listening = new Set();
  for (let i = 0; i < WORKERS; i++) cluster.fork();
  cluster.on('listening', (worker) => listening.add(worker.id));
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers).length === 0) process.exit();
      return;
    }
    if (!listening.has(worker.id)) {
      // It never served (bad address, port in use, bad URL): re-forking would only loop.
      console.error(`worker ${worker.process.pid} failed to start (${signal || code}); stopping`);
      stopping = true;
      for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
      process.exitCode = 1;
      if (Object.keys(cluster.workers).length === 0) process.exit();
      return;
    }
    console.error(`worker ${worker.process.pid} died (${signal || code}); starting another`);
    cluster.fork();
  });
  const stop = () => {
    stopping = true;
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
    if (Object.keys(cluster.workers).length === 0) process.exit();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  worker();
}

function poolOptions(url) {
  const u = new URL(url);
  if (u.protocol !== 'mysql:') throw new Error('BASELINE_DATABASE_URL must be mysql://user:pass@host:port/db');
  const opts = {
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: u.pathname.replace(/^\//, ''),
    charset: 'utf8mb4',
    timezone: 'Z', // DATETIME columns hold UTC
    connectionLimit: POOL_SIZE,
    maxIdle: POOL_SIZE,
    waitForConnections: true,
    queueLimit: 0,
    enableKeepAlive: true,
    connectTimeout: 10000,
  };
  const socket = u.searchParams.get('socket');
  if (socket) opts.socketPath = socket;
  else Object.assign(opts, { host: u.hostname || '127.0.0.1', port: Number(u.port || 3306) });
  return opts; // mysql2 connections autocommit unless a transaction is begun
}

// The columns procpulse's NewSample::from_snapshot fills (userland/storage/src/row.rs),
// less the v2 compact-text ones (cpu_modes, cpu_per_cpu, pressure), left NULL.
const COLUMNS = [
  'sample_id', 'host', 'source', 'route', 'collected_at', 'received_at',
  'cpu_usage_percent', 'cpu_cores', 'load1', 'load5', 'load15',
  'ram_total_kb', 'ram_free_kb', 'ram_available_kb', 'ram_used_kb', 'ram_cached_kb',
  'ram_swap_total_kb', 'ram_swap_free_kb', 'ram_used_percent',
  'procs_total', 'procs_running', 'procs_sleeping', 'procs_disk_sleep', 'procs_stopped',
  'procs_traced', 'procs_zombie', 'procs_dead', 'procs_idle', 'procs_threads', 'top_json',
  'ram_buffers_kb', 'ram_shared_kb', 'ram_swap_used_kb',
];
const REQUIRED = COLUMNS.indexOf('top_json'); // the NOT NULL columns come first
const RECEIVED_AT = COLUMNS.indexOf('received_at'); // set just before the INSERT
const INSERT = `INSERT INTO samples (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`;

class NotASnapshot extends Error {}

// The samples row of one v1 snapshot (throws NotASnapshot if it is not one).
function toRow(s) {
  if (s === null || typeof s !== 'object') throw new NotASnapshot('not an object');
  const { cpu = {}, ram = {}, procs = {} } = s;
  const collectedAt = new Date(s.collected_at);
  if (typeof s.collected_at !== 'string' || Number.isNaN(collectedAt.getTime())) {
    throw new NotASnapshot('collected_at is not a date');
  }
  const top = Array.isArray(s.top) && s.top.length > 0 ? JSON.stringify(s.top) : null;
  const row = [
    s.sample_id, s.host, s.source, ROUTE, collectedAt, new Date(0),
    cpu.usage_percent, cpu.cores, cpu.load1, cpu.load5, cpu.load15,
    ram.total_kb, ram.free_kb, ram.available_kb, ram.used_kb, ram.cached_kb,
    ram.swap_total_kb, ram.swap_free_kb, ram.used_percent,
    procs.total, procs.running, procs.sleeping, procs.disk_sleep, procs.stopped,
    procs.traced, procs.zombie, procs.dead, procs.idle, procs.threads, top,
    ram.buffers_kb ?? null, ram.shared_kb ?? null, ram.swap_used_kb ?? null,
  ];
  for (let i = 0; i < REQUIRED; i++) {
    if (row[i] === undefined || row[i] === null) throw new NotASnapshot(`${COLUMNS[i]} is missing`);
  }
  return row;
}

function worker() {
  const express = require('express');
  const mysql = require('mysql2/promise');

  const pool = mysql.createPool(poolOptions(process.env.BASELINE_DATABASE_URL));
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(express.json({ limit: '1mb' })); // procpulse's limit (413 above it)

  app.post('/api/v1/metrics', async (req, res) => {
    let row;
    try {
      row = toRow(req.body);
    } catch (e) {
      res.status(400).json({ error: `the body is not a JSON snapshot: ${e.message}` });
      return;
    }
    try {
      const conn = await pool.getConnection();
      try {
        // As procpulse: received_at is the clock just before the INSERT (after any wait
        // for a connection).
        row[RECEIVED_AT] = new Date();
        await conn.execute(INSERT, row); // prepared once per connection, then reused
      } finally {
        conn.release();
      }
    } catch (e) {
      console.error(`insert failed: ${e.message}`);
      res.status(500).json({ error: 'database error' });
      return;
    }
    res.json({ stored: 1 });
  });

  app.get('/readyz', async (req, res) => {
    try {
      await pool.query('SELECT 1');
      res.json({ ready: true });
    } catch (e) {
      res.status(503).json({ ready: false });
    }
  });

  // Body-parser errors: unparsable JSON is 400, too large 413 (its status), as JSON.
  app.use((err, req, res, next) => {
    if (res.headersSent) return next(err);
    const status = err.status >= 400 && err.status < 500 ? err.status : 500;
    res.status(status).json({ error: status === 500 ? 'internal error' : err.message });
  });

  const server = app.listen(PORT, HOST);
  server.keepAliveTimeout = 5000; // as gunicorn's keepalive; Node's default too
  server.headersTimeout = 10000;

  process.on('SIGTERM', () => {
    server.close(() => pool.end().finally(() => process.exit(0)));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 5000).unref();
  });
}
