// Shared by the end-to-end tests: docs/design.md §3 snapshots and posting them to the real ingest.

import assert from 'node:assert/strict';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let seq = 0;
/**
 * A docs/design.md §3 snapshot.
 * @param {string} host
 * @param {number} agoMs how long before now it was collected
 * @param {{cpu?: number, ram?: number, zombie?: number, disk_sleep?: number, top?: any[]}} [o]
 */
export function snapshot(host, agoMs, o = {}) {
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
export async function post(ingest, body) {
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
