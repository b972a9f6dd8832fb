// Wire rows as the broadcaster sends them (docs/design.md §3 snapshot + id, route, received_at).
import { readFileSync } from 'node:fs';

/** @param {Partial<{id: number, host: string, t: number, cpu: number, ram: number, route: string}>} o */
export function row({ id = 1, host = 'vm-1', t = 0, cpu = 10, ram = 40, route = 'a' } = {}) {
  const collected = new Date(Date.UTC(2026, 10, 23, 10, 0, 0) + t * 1000).toISOString();
  return {
    id,
    route,
    received_at: collected,
    sample_id: `${host}-${id}`,
    host,
    collected_at: collected,
    source: 'kmod',
    cpu: { usage_percent: cpu, cores: 2, load1: 0.5, load5: 0.4, load15: 0.3 },
    ram: {
      total_kb: 1000,
      free_kb: 300,
      available_kb: 600,
      used_kb: 400,
      cached_kb: 250,
      swap_total_kb: 0,
      swap_free_kb: 0,
      used_percent: ram,
    },
    procs: { total: 3, running: 1, sleeping: 1, disk_sleep: 0, stopped: 0, traced: 0, zombie: 1, dead: 0, idle: 0, threads: 5 },
    top: [{ pid: 1, ppid: 0, comm: 'init', state: 'S', rss_kb: 10, cpu_percent: 0.1 }],
  };
}

export const T0 = Date.UTC(2026, 10, 23, 10, 0, 0) / 1000;

/**
 * The model's own snapshot v2 example (userland/model/tests/fixtures/snapshot_v2.json) as the
 * broadcaster sends it: plus id, route and received_at.
 * @param {Partial<{id: number, t: number}>} [o]
 */
export function rowV2({ id = 100, t = 0 } = {}) {
  const snap = JSON.parse(readFileSync(new URL('../../../userland/model/tests/fixtures/snapshot_v2.json', import.meta.url), 'utf8'));
  const collected = new Date(Date.UTC(2026, 10, 23, 10, 0, 0) + t * 1000).toISOString();
  return { ...snap, id, route: 'b', received_at: collected, collected_at: collected };
}

/**
 * A rolled-up `GET /api/v1/history` answer exactly as the contract (issue 15) spells it: tier,
 * step_seconds after merging, from/to, points grouped by host in name order, oldest first.
 * @param {{tier?: string, step?: number, hosts?: string[], n?: number, t0?: number, skip?: number[]}} [o]
 *   `t0` epoch seconds of the first point, `skip` indexes of points left out (holes)
 */
export function rollupAnswer({ tier = '1m', step = 120, hosts = ['vm-1'], n = 5, t0 = T0, skip = [] } = {}) {
  const iso = (s) => new Date(s * 1000).toISOString();
  const points = [];
  for (const [hi, host] of hosts.entries()) {
    for (let i = 0; i < n; i++) {
      if (skip.includes(i)) continue;
      points.push({
        host,
        t: iso(t0 + i * step),
        n: step,
        cpu: [10 + i, 20 + i + hi, 30 + i],
        ram: [40, 41.5, 43],
        swap: hi === 0 ? [1, 2, 3] : null,
        load1: [0.25, 0.5 + i / 10, 1.75],
        zombies_max: i === 2 ? 3 : 0,
        disk_sleep_max: i === 1 ? 1 : 0,
        cores: 4 + i,
        source: i === n - 1 ? 'procfs' : 'kmod',
      });
    }
  }
  return { tier, step_seconds: step, from: iso(t0), to: iso(t0 + n * step), points, truncated: false };
}

/**
 * A `GET /api/v1/fleet` answer exactly as the contract spells it.
 * @param {Partial<Record<string, any>>[]} hosts overrides per host (host name required)
 * @param {number} [serverS] server_time, epoch seconds
 */
export function fleetAnswer(hosts, serverS = T0) {
  const iso = (s) => new Date(s * 1000).toISOString();
  return {
    server_time: iso(serverS),
    stale_after_intervals: 3,
    hosts: hosts.map((o) => ({
      source: 'kmod',
      collected_at: iso(serverS - 1),
      last_seen: iso(serverS - 1),
      interval_seconds: 1.0,
      stale: false,
      cpu: 12.5,
      ram: 40.1,
      swap: null,
      load1: 0.5,
      cores: 4,
      zombies: 0,
      disk_sleep: 0,
      ...o,
    })),
  };
}

/**
 * A `GET /api/v1/alerts` answer exactly as the contract spells it (active alerts in its order:
 * firing first, then severity, host, rule; resolved newest first).
 * @param {Partial<Record<string, any>>[]} alerts overrides per active alert (host and rule at least)
 * @param {Partial<Record<string, any>>[]} [resolved] overrides per resolved alert
 * @param {number} [serverS] server_time, epoch seconds
 */
export function alertsAnswer(alerts, resolved = [], serverS = T0) {
  const iso = (s) => new Date(s * 1000).toISOString();
  const base = (o) => ({
    state: 'firing',
    severity: 'critical',
    metric: 'cpu',
    op: '>',
    threshold: 90,
    clear: 85.5,
    value: 97.5,
    active_at: iso(serverS - 120),
    fired_at: iso(serverS - 60),
    summary: 'CPU above 90 %',
    labels: { team: 'infra' },
    ...o,
  });
  return {
    server_time: iso(serverS),
    enabled: true,
    rules: 3,
    alerts: alerts.map(base),
    resolved: resolved.map((o) => base({ state: 'resolved', severity: 'warning', metric: 'ram', threshold: 80, clear: 76, value: 60.1, resolved_at: iso(serverS - 600), labels: {}, ...o })),
  };
}
