// DEV/BENCH ONLY — synthetic wire rows (docs/design.md §3 snapshot + id, route, received_at)
// for the throwaway replay server and the frame-time benchmark. Never used by the end-to-end
// test, which runs against the real ingest and broadcaster.

/** CPUs per host index for the v2 fields (0 = a v1 row without them). */
const CORES = [64, 4, 0, 16, 1024];
const USERS = ['root', 'alice', 'postgres', 'www-data', '1001'];

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
    const row = {
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
        ...(CORES[hi % CORES.length] ? { uid: i * 100, user: USERS[i % USERS.length], threads: 1 + ((i * 7) % 12), nice: (i % 5) - 2 } : {}),
        pid: 100 + i * 37,
        ppid: 1,
        comm,
        state: i === 0 ? 'R' : 'S',
        rss_kb: 1000 * ((i * 7919) % 97) + 512,
        cpu_percent: round2(Math.max(0, cpu / (i + 2) - i)),
      })),
    };
    const n = CORES[hi % CORES.length];
    if (n) addV2(row, n, t, cpu);
    return row;
  }
}

/** Snapshot v2 fields: per-CPU usage, modes, buffers/shared/swap_used, pressure. */
function addV2(row, n, t, cpu) {
  row.cpu.cores = n;
  row.cpu.per_cpu = Array.from({ length: n }, (_, c) => ({
    cpu: c,
    usage_percent: round2(clamp(cpu * (0.4 + ((c * 37) % 23) / 18) + 15 * Math.sin(t / 5 + c), 0, 100)),
  }));
  const busy = cpu;
  const user = round2(busy * 0.6);
  const system = round2(busy * 0.2);
  const iowait = round2(busy * 0.08);
  const nice = round2(busy * 0.05);
  const irq = round2(busy * 0.02);
  const softirq = round2(busy * 0.03);
  const steal = round2(busy * 0.02);
  const idle = round2(100 - user - system - iowait - nice - irq - softirq - steal);
  row.cpu.modes = { user, nice, system, idle, iowait, irq, softirq, steal, guest: round2(user * 0.1), guest_nice: 0 };
  row.ram.buffers_kb = Math.round(row.ram.total_kb * 0.03);
  row.ram.shared_kb = Math.round(row.ram.total_kb * 0.02);
  row.ram.cached_kb = Math.min(row.ram.cached_kb, row.ram.available_kb - row.ram.free_kb);
  row.ram.swap_used_kb = row.ram.swap_total_kb - row.ram.swap_free_kb;
  const st = (a) => ({ avg10: round2(a), avg60: round2(a * 0.8), avg300: round2(a * 0.5), total_us: Math.round(t * 1000) });
  row.pressure = { cpu: { some: st(busy / 5), full: st(0) }, memory: { some: st(1.2), full: st(0.4) }, io: { some: st(2.5), full: st(1) } };
}

function clamp(v, lo, hi) {
  return Math.min(hi, Math.max(lo, v));
}

function round2(v) {
  return Math.round(v * 100) / 100;
}
