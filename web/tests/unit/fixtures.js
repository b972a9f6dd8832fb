// Wire rows as the broadcaster sends them (SPEC §3 snapshot + id, route, received_at).
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
