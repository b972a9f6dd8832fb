// Reconnect backoff: exponential growth with bounded jitter, reset once the server has spoken.
//
// delay(n) = min(maxMs, baseMs * factor^n) scaled by a random factor in [1 - jitter, 1 + jitter],
// and never above maxMs. Jitter spreads the reconnects of many dashboards after a broadcaster
// restart so they do not all arrive in the same millisecond.

export class Backoff {
  /**
   * @param {{baseMs?: number, maxMs?: number, factor?: number, jitter?: number, random?: () => number}} [opts]
   */
  constructor({ baseMs = 500, maxMs = 10_000, factor = 2, jitter = 0.2, random = Math.random } = {}) {
    if (!(baseMs > 0) || !(maxMs >= baseMs) || !(factor >= 1) || !(jitter >= 0 && jitter < 1)) {
      throw new RangeError('invalid backoff parameters');
    }
    this.baseMs = baseMs;
    this.maxMs = maxMs;
    this.factor = factor;
    this.jitter = jitter;
    this.random = random;
    this.attempt = 0;
  }

  /** Delay before the next attempt, in ms; each call counts one more failed attempt. */
  next() {
    const raw = Math.min(this.maxMs, this.baseMs * this.factor ** this.attempt);
    this.attempt++;
    const scale = 1 - this.jitter + 2 * this.jitter * this.random();
    return Math.round(Math.min(this.maxMs, raw * scale));
  }

  /** Call when a connection proved healthy: the next failure starts from baseMs again. */
  reset() {
    this.attempt = 0;
  }
}
