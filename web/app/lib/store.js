// The dashboard's state and the handling of the broadcaster's WebSocket frames (docs/design.md §4).
//
// Pure: no DOM, no timers. Frames mutate the store and record what changed (`dirty`), and the
// view layer redraws once per animation frame from that — never once per message.
//
// Per host the store keeps a bounded time series (Ring: CPU %, RAM % and the stacked CPU modes by
// collected_at), a per-CPU usage history (CoreHistory, one byte per CPU per sample) and the
// newest full row (for memory, load, process states and the top table). Rows are de-duplicated by
// their database `id`, so a row seen in a `samples` frame and again in a later `history` frame is
// plotted once. A `history` frame replaces everything held locally (it is the backfill after a
// (re)connect).

import { MODES, readModes, stackModes } from './modes.js';
import { CoreHistory, readPerCpu } from './percore.js';
import { Ring } from './ring.js';

/** Default capacity per host: one hour of one-second points. */
export const DEFAULT_CAPACITY = 3600;

/** Series columns stored per point. */
export const COL_CPU = 0;
export const COL_RAM = 1;
/** First of the eight stacked CPU-mode columns (MODES order; cumulative sums, NaN for v1 rows). */
export const COL_MODES = 2;
export const COLUMNS = COL_MODES + MODES.length;

/** Per-CPU history samples kept per host (10 min of 1 s samples). */
export const CORE_HISTORY = 600;

/**
 * Parses one text frame. Returns null for anything that is not a known frame.
 * @param {string} text
 */
export function parseFrame(text) {
  let msg;
  try {
    msg = JSON.parse(text);
  } catch {
    return null;
  }
  if (!msg || typeof msg !== 'object' || typeof msg.type !== 'string') return null;
  switch (msg.type) {
    case 'hello':
      return {
        type: 'hello',
        server_time: typeof msg.server_time === 'string' ? msg.server_time : null,
        hosts: Array.isArray(msg.hosts) ? msg.hosts.filter(isHostName) : [],
      };
    case 'history':
    case 'samples':
      return { type: msg.type, samples: Array.isArray(msg.samples) ? msg.samples : [] };
    case 'routes':
      return { type: 'routes', a: count(msg.a), b: count(msg.b) };
    default:
      return null;
  }
}

/**
 * Checks one wire row and extracts what the charts need. Returns null when the row lacks what
 * the dashboard relies on (it is then counted as rejected, not shown).
 * @param {any} row
 * @returns {{id: number, host: string, x: number, cpu: number, ram: number, modes: number[] | null} | null}
 */
export function rowPoint(row) {
  if (!row || typeof row !== 'object') return null;
  if (!Number.isSafeInteger(row.id)) return null;
  if (!isHostName(row.host)) return null;
  if (typeof row.collected_at !== 'string') return null;
  const ms = Date.parse(row.collected_at);
  if (!Number.isFinite(ms)) return null;
  const cpu = row.cpu && typeof row.cpu.usage_percent === 'number' ? row.cpu.usage_percent : NaN;
  const ram = row.ram && typeof row.ram.used_percent === 'number' ? row.ram.used_percent : NaN;
  const modes = stackModes(readModes(row.cpu));
  return { id: row.id, host: row.host, x: ms / 1000, cpu, ram, modes };
}

export class HostSeries {
  /** @param {number} capacity */
  constructor(capacity, coreCapacity = CORE_HISTORY) {
    this.ring = new Ring(capacity, COLUMNS);
    this.cores = new CoreHistory(coreCapacity);
    /** @type {Set<number>} ids currently in the ring */
    this.ids = new Set();
    /** newest row by collected_at (full wire object) */
    this.latest = null;
    this.latestX = -Infinity;
  }

  clear() {
    this.ring.clear();
    this.cores.clear();
    this.ids.clear();
    this.latest = null;
    this.latestX = -Infinity;
  }

  /**
   * Adds one row; returns 'added', 'duplicate' or 'stale' (older than everything kept).
   * @param {any} row
   * @param {{id: number, x: number, cpu: number, ram: number, modes?: number[] | null}} p
   */
  add(row, p) {
    if (this.ids.has(p.id)) return 'duplicate';
    const values = new Array(COLUMNS).fill(NaN);
    values[COL_CPU] = p.cpu;
    values[COL_RAM] = p.ram;
    if (p.modes) for (let i = 0; i < MODES.length; i++) values[COL_MODES + i] = p.modes[i];
    const evicted = this.ring.push(p.x, p.id, values);
    if (evicted === undefined) return 'stale';
    this.ids.add(p.id);
    if (evicted !== null) this.ids.delete(evicted);
    const pc = readPerCpu(row.cpu);
    if (pc) this.cores.push(p.x, pc);
    if (p.x >= this.latestX) {
      this.latestX = p.x;
      this.latest = row;
    }
    return 'added';
  }
}

export class Store {
  /** @param {{capacity?: number}} [opts] */
  constructor({ capacity = DEFAULT_CAPACITY } = {}) {
    this.capacity = capacity;
    /** @type {Map<string, HostSeries>} */
    this.hosts = new Map();
    /** @type {{a: number, b: number} | null} */
    this.routes = null;
    /** server clock minus local clock at hello, in ms (for "x s ago" texts) */
    this.clockSkewMs = 0;
    this.stats = { frames: 0, rows: 0, duplicates: 0, rejected: 0, stale: 0, ignored: 0 };
    this.dirty = { hostList: false, routes: false, series: new Set() };
  }

  /** Host names, sorted. */
  hostNames() {
    return [...this.hosts.keys()].sort();
  }

  /** @param {string} name */
  host(name) {
    return this.hosts.get(name) ?? null;
  }

  #ensureHost(name) {
    let h = this.hosts.get(name);
    if (!h) {
      h = new HostSeries(this.capacity);
      this.hosts.set(name, h);
      this.dirty.hostList = true;
    }
    return h;
  }

  /**
   * Applies one parsed frame (see parseFrame).
   * @param {ReturnType<typeof parseFrame>} msg
   * @param {number} [nowMs] local clock, for the skew estimate
   */
  apply(msg, nowMs = Date.now()) {
    if (!msg) {
      this.stats.ignored++;
      return;
    }
    this.stats.frames++;
    switch (msg.type) {
      case 'hello': {
        for (const name of msg.hosts) this.#ensureHost(name);
        const t = msg.server_time ? Date.parse(msg.server_time) : NaN;
        if (Number.isFinite(t)) this.clockSkewMs = t - nowMs;
        break;
      }
      case 'history':
        // Backfill replaces the local buffer: whatever happened while disconnected is in here.
        for (const [name, h] of this.hosts) {
          h.clear();
          this.dirty.series.add(name);
        }
        this.#addRows(msg.samples);
        break;
      case 'samples':
        this.#addRows(msg.samples);
        break;
      case 'routes':
        this.routes = { a: msg.a, b: msg.b };
        this.dirty.routes = true;
        break;
      default:
        this.stats.ignored++;
    }
  }

  /** Convenience for the socket: parse + apply. */
  applyText(text, nowMs = Date.now()) {
    this.apply(parseFrame(text), nowMs);
  }

  #addRows(rows) {
    for (const row of rows) {
      const p = rowPoint(row);
      if (!p) {
        this.stats.rejected++;
        continue;
      }
      const h = this.#ensureHost(p.host);
      const r = h.add(row, p);
      if (r === 'added') {
        this.stats.rows++;
        this.dirty.series.add(p.host);
      } else if (r === 'duplicate') {
        this.stats.duplicates++;
      } else {
        this.stats.stale++;
      }
    }
  }

  /** Returns what changed since the last call and clears the marks. */
  takeDirty() {
    const d = this.dirty;
    this.dirty = { hostList: false, routes: false, series: new Set() };
    return d;
  }
}

/** @param {unknown} s */
export function isHostName(s) {
  return typeof s === 'string' && s.length >= 1 && s.length <= 64 && /^[A-Za-z0-9._-]+$/.test(s);
}

function count(n) {
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? Math.floor(n) : 0;
}
