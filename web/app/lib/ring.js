// Bounded, time-ordered columnar series buffer (a ring buffer that hands out contiguous views).
//
// Each column is a Float64Array of twice the capacity; live points occupy [start, end). Appends
// write at `end`; once `end` hits the physical end, the live window is copied back to offset 0
// (amortised O(1) per point). When the window holds more than `capacity` points the oldest one is
// dropped by advancing `start`. Because the window is always contiguous, `view()` returns
// zero-copy subarrays that uPlot can plot directly — no per-redraw array building.
//
// Points are kept sorted by `x` (seconds since the epoch): the common case (x >= last x) is an
// append; a late point is inserted in place by binary search (O(n) shift, rare). A point older
// than the oldest one of a full buffer is refused, since it would be evicted at once.

/** @typedef {{ x: number, id: number, values: number[] }} Point */

export class Ring {
  /**
   * @param {number} capacity maximum number of points kept (e.g. 3600 = 1 h of 1 s points)
   * @param {number} columns number of y columns stored next to x and id
   */
  constructor(capacity, columns) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    if (!Number.isInteger(columns) || columns < 1) throw new RangeError('columns must be a positive integer');
    this.capacity = capacity;
    this.columns = columns;
    const phys = capacity * 2;
    this.xs = new Float64Array(phys);
    this.ids = new Float64Array(phys);
    this.ys = Array.from({ length: columns }, () => new Float64Array(phys));
    this.start = 0;
    this.end = 0;
  }

  get length() {
    return this.end - this.start;
  }

  clear() {
    this.start = 0;
    this.end = 0;
  }

  /** x of the newest point, or -Infinity when empty. */
  lastX() {
    return this.end > this.start ? this.xs[this.end - 1] : -Infinity;
  }

  /** x of the oldest point, or +Infinity when empty. */
  firstX() {
    return this.end > this.start ? this.xs[this.start] : Infinity;
  }

  /** Moves the live window to offset 0 when there is no room left after it. */
  #makeRoom() {
    if (this.end < this.xs.length) return;
    const n = this.length;
    const cols = [this.xs, this.ids, ...this.ys];
    for (const c of cols) c.copyWithin(0, this.start, this.end);
    this.start = 0;
    this.end = n;
  }

  /**
   * Adds one point, keeping x order. Returns the id evicted to make room (or null), or
   * `undefined` when the point was refused because it is older than everything kept.
   * @param {number} x
   * @param {number} id
   * @param {ArrayLike<number>} values one number per column (NaN plots as a gap)
   */
  push(x, id, values) {
    if (this.length === this.capacity && x < this.xs[this.start]) return undefined;
    this.#makeRoom();
    let pos = this.end;
    if (this.end > this.start && x < this.xs[this.end - 1]) {
      // Late point: find the first index whose x is greater than this one (stable for ties).
      let lo = this.start;
      let hi = this.end;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.xs[mid] <= x) lo = mid + 1;
        else hi = mid;
      }
      pos = lo;
      this.xs.copyWithin(pos + 1, pos, this.end);
      this.ids.copyWithin(pos + 1, pos, this.end);
      for (const c of this.ys) c.copyWithin(pos + 1, pos, this.end);
    }
    this.xs[pos] = x;
    this.ids[pos] = id;
    for (let c = 0; c < this.columns; c++) {
      const v = values[c];
      this.ys[c][pos] = typeof v === 'number' && Number.isFinite(v) ? v : NaN;
    }
    this.end++;
    if (this.length > this.capacity) {
      const evicted = this.ids[this.start];
      this.start++;
      return evicted;
    }
    return null;
  }

  /** Zero-copy views `[xs, ys0, ys1, ...]`, valid until the next mutation. */
  view() {
    const out = [this.xs.subarray(this.start, this.end)];
    for (const c of this.ys) out.push(c.subarray(this.start, this.end));
    return out;
  }

  /** Ids of the kept points, oldest first (a copy). */
  idList() {
    return Array.from(this.ids.subarray(this.start, this.end));
  }
}

/**
 * The last `seconds` of a view (from Ring.view()): the points whose x is at least the newest x
 * minus `seconds`, as zero-copy subarrays; the view itself when it is empty or shorter.
 * @param {Float64Array[]} view [xs, ...columns], xs ascending
 * @param {number} seconds
 */
export function tail(view, seconds) {
  const xs = view[0];
  if (xs.length === 0 || !(xs[xs.length - 1] - xs[0] > seconds)) return view;
  const from = xs[xs.length - 1] - seconds;
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (xs[mid] < from) lo = mid + 1;
    else hi = mid;
  }
  return view.map((c) => c.subarray(lo));
}
