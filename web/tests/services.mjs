// Runs the REAL procpulse binaries (ingest, broadcaster) on loopback for the end-to-end test:
// free ports, a private SQLite file, logs into the CI log directory, readiness by polling,
// and a cleanup that never leaves a process behind.

import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

/** Asks the kernel for a free loopback port (released at once; the binary binds it next). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (s.address());
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Every child still running, so that an interrupted test run leaves none behind. */
const running = new Set();
function killAll() {
  for (const c of running) c.kill('SIGKILL');
}
process.once('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    killAll();
    process.exit(130);
  });
}

/**
 * The long option in `bin --help` that names the dashboard directory (the broadcaster's
 * flag; e.g. --web-dir). Returns null when there is none.
 * @param {string} bin
 */
export function webDirFlag(bin) {
  const m = helpText(bin).match(/--(web[-_]?dir|web[-_]root|static[-_]dir|dist[-_]dir|assets[-_]dir|web)\b/);
  return m ? `--${m[1]}` : null;
}

/**
 * How to make `bin` serve the dashboard: no arguments when its web directory flag has no
 * default in `--help` (the binary then serves the copy built into it, and the test proves that
 * copy is the current web/app), else that flag pointing at `appDir`.
 * @param {string} bin
 * @param {string} appDir
 * @returns {string[]}
 */
export function dashboardArgs(bin, appDir) {
  const flag = webDirFlag(bin);
  if (!flag) return [];
  const help = helpText(bin);
  const at = help.indexOf(`${flag} `);
  const next = help.slice(at + flag.length).search(/\n\s*-/);
  const paragraph = help.slice(at, next < 0 ? undefined : at + flag.length + next);
  return /\[default:/.test(paragraph) ? [flag, appDir] : [];
}

/**
 * Whether `bin --help` names the long option `flag` (e.g. `--alert-rules`): a test of a feature
 * the binary may not have been built with yet.
 * @param {string} bin
 * @param {string} flag
 */
export function hasFlag(bin, flag) {
  return new RegExp(`(?:^|[\\s,\\[])${flag.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w-])`, 'm').test(helpText(bin));
}

/** @param {string} bin */
function helpText(bin) {
  const help = spawnSync(bin, ['--help'], { encoding: 'utf8', timeout: 10_000 });
  return `${help.stdout ?? ''}${help.stderr ?? ''}`;
}

export class Service {
  /**
   * @param {string} name log file stem
   * @param {string} bin
   * @param {string[]} args
   * @param {string} logDir
   * @param {number} port where it listens (for readiness)
   * @param {string} [cwd] working directory (default: the test's)
   */
  constructor(name, bin, args, logDir, port, cwd) {
    this.name = name;
    this.bin = bin;
    this.args = args;
    this.logDir = logDir;
    this.port = port;
    this.cwd = cwd;
    this.child = null;
    this.starts = 0;
  }

  get base() {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts the process and waits until GET /readyz answers 200 (at most `timeoutMs`). */
  async start(timeoutMs = 30_000) {
    this.starts++;
    const log = createWriteStream(join(this.logDir, `${this.name}.${this.starts}.log`));
    const child = spawn(this.bin, this.args, {
      cwd: this.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'info', NO_COLOR: '1' },
    });
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    this.child = child;
    running.add(child);
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        running.delete(child);
        resolve({ code, signal });
      }),
    );
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${this.name} exited early (${child.exitCode ?? child.signalCode}); see ${this.logDir}/${this.name}.${this.starts}.log`);
      }
      try {
        const res = await fetch(`${this.base}/readyz`, { signal: AbortSignal.timeout(1000) });
        if (res.ok) return;
        last = `readyz ${res.status}`;
      } catch (e) {
        last = String(e.cause?.code ?? e.message);
      }
      await sleep(100);
    }
    throw new Error(`${this.name} not ready within ${timeoutMs} ms (${last})`);
  }

  /** SIGTERM (graceful drain), then SIGKILL after `graceMs`. Resolves with how it exited. */
  async stop(graceMs = 10_000) {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return this.exited;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    const r = await this.exited;
    clearTimeout(t);
    this.child = null;
    return r;
  }
}
