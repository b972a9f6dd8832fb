// Per-CPU usage (snapshot v2 `cpu.per_cpu`): reading, the heat-strip layout, the busiest cores,
// the colour ramp and a compact history for the heatmap.
//
// Up to 1,024 CPUs per row (the model's limit). The strip draws one cell per CPU; the cell size
// shrinks with the count so 64 CPUs stay readable with their value printed and 1,024 still fit
// (value in the tooltip only). The history keeps one byte per CPU per sample (0.5 % steps).

/** The model's limit on `cpu.per_cpu` entries. */
export const MAX_CPUS = 1024;
/** CPU ids above this are ignored by the history (keeps its width bounded). */
export const MAX_CPU_ID = 4095;

/**
 * The row's per-CPU list, validated: CPU ids and usages (clamped to 0..100), in the order
 * given (ascending ids on the wire). Null when absent or empty (v1 rows).
 * @param {any} cpu the row's `cpu` object
 * @returns {{ids: number[], usage: number[]} | null}
 */
export function readPerCpu(cpu) {
  const list = cpu?.per_cpu;
  if (!Array.isArray(list) || list.length === 0) return null;
  const ids = [];
  const usage = [];
  for (const e of list.slice(0, MAX_CPUS)) {
    if (!e || !Number.isInteger(e.cpu) || e.cpu < 0) continue;
    if (typeof e.usage_percent !== 'number' || !Number.isFinite(e.usage_percent)) continue;
    ids.push(e.cpu);
    usage.push(Math.min(100, Math.max(0, e.usage_percent)));
  }
  return ids.length ? { ids, usage } : null;
}

/**
 * How the strip draws `n` cells: 'large' (≤ 16: id and value in the cell), 'medium' (≤ 128:
 * value in the cell) or 'small' (more: colour only, value in the tooltip), and how many of the
 * busiest cores are named beside it.
 * @param {number} n
 */
export function stripLayout(n) {
  const size = n <= 16 ? 'large' : n <= 128 ? 'medium' : 'small';
  return { size, showValues: size !== 'small', showIds: size === 'large', labelled: Math.min(n, n <= 16 ? 3 : 5) };
}

/**
 * Indices (into the per-CPU list) of the k busiest CPUs, busiest first; ties by lower id.
 * @param {{ids: number[], usage: number[]}} pc
 * @param {number} k
 */
export function busiest(pc, k) {
  const idx = pc.usage.map((_, i) => i);
  idx.sort((a, b) => pc.usage[b] - pc.usage[a] || pc.ids[a] - pc.ids[b]);
  return idx.slice(0, Math.max(0, k));
}

/** Mean and max of the per-CPU usages. */
export function perCpuSummary(pc) {
  let sum = 0;
  let max = 0;
  for (const u of pc.usage) {
    sum += u;
    if (u > max) max = u;
  }
  return { n: pc.usage.length, mean: pc.usage.length ? sum / pc.usage.length : 0, max };
}

/**
 * Heat colour of a usage: dark blue when idle, through green and yellow to red when busy, and
 * brighter as it rises (so the ramp also reads in grey scale).
 * @param {number} pct
 */
export function heatColor(pct) {
  const p = Math.min(100, Math.max(0, Number.isFinite(pct) ? pct : 0));
  const hue = Math.round(210 - 2.1 * p);
  const light = Math.round(26 + 0.26 * p);
  return `hsl(${hue} 70% ${light}%)`;
}

/** [r, g, b] of heatColor (for the heatmap's pixels). */
export function heatRgb(pct) {
  const p = Math.min(100, Math.max(0, Number.isFinite(pct) ? pct : 0));
  const h = 210 - 2.1 * p;
  const s = 0.7;
  const l = (26 + 0.26 * p) / 100;
  const a = s * Math.min(l, 1 - l);
  const f = (n) => {
    const k = (n + h / 30) % 12;
    return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}

/**
 * The heatmap's rows: with more CPUs than `maxRows` pixels, neighbouring CPUs share a row and
 * the row shows their maximum (a hot core never disappears). Returns the row of each CPU
 * position and the row count.
 * @param {number} n CPU positions (history width)
 * @param {number} maxRows
 */
export function heatRows(n, maxRows) {
  const rows = Math.max(1, Math.min(n, Math.floor(maxRows)));
  const rowOf = new Uint16Array(n);
  for (let i = 0; i < n; i++) rowOf[i] = Math.floor((i * rows) / n);
  return { rows, rowOf };
}

const MISSING = 255;

/**
 * Per-CPU usage history: a ring of `capacity` samples, each one byte per CPU id (usage in 0.5 %
 * steps, 255 = CPU absent in that sample). Memory: capacity × (highest CPU id + 1) bytes plus
 * 8 bytes per sample for the times — 600 samples × 64 CPUs ≈ 38 KiB, × 1,024 CPUs ≈ 600 KiB.
 * Samples are appended in time order; an older or equal time is skipped (late rows are rare and
 * a `history` frame clears and refills it in order).
 */
export class CoreHistory {
  /** @param {number} capacity */
  constructor(capacity = 600) {
    this.capacity = capacity;
    this.width = 0;
    this.data = new Uint8Array(0);
    this.xs = new Float64Array(capacity);
    this.head = 0; // slot of the oldest sample
    this.length = 0;
  }

  clear() {
    this.head = 0;
    this.length = 0;
  }

  lastX() {
    return this.length ? this.xs[(this.head + this.length - 1) % this.capacity] : -Infinity;
  }

  #grow(width) {
    const data = new Uint8Array(this.capacity * width).fill(MISSING);
    for (let s = 0; s < this.capacity; s++) data.set(this.data.subarray(s * this.width, (s + 1) * this.width), s * width);
    this.data = data;
    this.width = width;
  }

  /**
   * @param {number} x time, seconds
   * @param {{ids: number[], usage: number[]}} pc
   * @returns {boolean} whether it was stored
   */
  push(x, pc) {
    if (!(x > this.lastX())) return false;
    let maxId = -1;
    for (const id of pc.ids) if (id <= MAX_CPU_ID && id > maxId) maxId = id;
    if (maxId < 0) return false;
    if (maxId + 1 > this.width) this.#grow(maxId + 1);
    let slot;
    if (this.length < this.capacity) {
      slot = (this.head + this.length) % this.capacity;
      this.length++;
    } else {
      slot = this.head;
      this.head = (this.head + 1) % this.capacity;
    }
    this.xs[slot] = x;
    const row = this.data.subarray(slot * this.width, (slot + 1) * this.width);
    row.fill(MISSING);
    for (let i = 0; i < pc.ids.length; i++) {
      const id = pc.ids[i];
      if (id <= MAX_CPU_ID) row[id] = Math.round(pc.usage[i] * 2);
    }
    return true;
  }

  /** Sample k (0 = oldest): its time and a view of its bytes (valid until the next push). */
  sample(k) {
    const slot = (this.head + k) % this.capacity;
    return { x: this.xs[slot], bytes: this.data.subarray(slot * this.width, (slot + 1) * this.width) };
  }

  /** Usage of CPU id in sample k, or null when absent. */
  value(k, id) {
    if (k < 0 || k >= this.length || id >= this.width) return null;
    const b = this.sample(k).bytes[id];
    return b === MISSING ? null : b / 2;
  }

  /** Bytes held (for the README's cost figure and the tests). */
  get bytes() {
    return this.data.byteLength + this.xs.byteLength;
  }
}

export { MISSING as HISTORY_MISSING };
