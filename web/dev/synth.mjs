// DEV/BENCH ONLY — synthetic wire rows (SPEC §3 snapshot + id, route, received_at) for the
// throwaway replay server and the frame-time benchmark. Never used by the end-to-end test, which
// runs against the real ingest and broadcaster.

const COMMS = ['systemd', 'kworker/0:1', 'procpulse-agent', 'postgres', 'nginx: worker', 'java', '(sd-pam)', 'bash', 'sshd', 'node'];

export class Synth {
  constructor({ hosts = ['vm-1', 'vm-2', 'vm-3'], startId = 1 } = {}) {
    this.hosts = hosts;
    this.id = startId;
    this.seq = 0;
  }

  /** One row for `host` collected at `ms` (epoch ms). */
  row(host, ms) {
    const hi = this.hosts.indexOf(host);
    const t = ms / 1000;
    const cpu = clamp(35 + 25 * Math.sin(t / 60 + hi) + 10 * Math.sin(t / 7) + 5 * Math.random(), 0, 100);
    const total = 8 * 1024 * 1024;
    const available = Math.round(total * (0.55 + 0.15 * Math.sin(t / 300 + hi)));
    const free = Math.round(available * 0.4);
    const used = total - available;
    const id = this.id++;
    this.seq++;
    return {
      id,
      route: id % 2 ? 'a' : 'b',
      received_at: new Date(ms + 3).toISOString(),
      sample_id: `${host}-synth-${String(this.seq).padStart(9, '0')}`,
      host,
      collected_at: new Date(ms).toISOString(),
      source: 'procfs',
      cpu: { usage_percent: round2(cpu), cores: 2, load1: round2(cpu / 40), load5: round2(cpu / 45), load15: round2(cpu / 50) },
      ram: {
        total_kb: total,
        free_kb: free,
        available_kb: available,
        used_kb: used,
        cached_kb: available - free,
        swap_total_kb: 2 * 1024 * 1024,
        swap_free_kb: 2 * 1024 * 1024 - 51200,
        used_percent: round2((used / total) * 100),
      },
      procs: {
        total: 180,
        running: 2,
        sleeping: 170,
        disk_sleep: hi === 1 ? 1 : 0,
        stopped: 0,
        traced: 0,
        zombie: hi === 2 ? 3 : 0,
        dead: 0,
        idle: 5,
        threads: 420,
      },
      top: COMMS.map((comm, i) => ({
        pid: 100 + i * 37,
        ppid: 1,
        comm,
        state: i === 0 ? 'R' : 'S',
        rss_kb: 1000 * ((i * 7919) % 97) + 512,
        cpu_percent: round2(Math.max(0, cpu / (i + 2) - i)),
      })),
    };
  }
}

function clamp(v, lo, hi) {
  return Math.min(hi, Math.max(lo, v));
}

function round2(v) {
  return Math.round(v * 100) / 100;
}
