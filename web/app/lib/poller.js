// One polling loop (pure but for the timers it is given): runs `run` once per interval, never two
// at once, and stops scheduling while the page is hidden.
//
// `start()` is what both the first call and a `visibilitychange` to visible do. It starts the loop
// only when no run is in flight and no next run is scheduled: while a fetch is in flight there is
// no timer yet, so "no timer" alone would let a tab switch start a second loop beside the first
// (review 8). `stop()` ends the loop: the next run is cancelled, a run in flight schedules none.

/**
 * @typedef {{
 *   run: () => Promise<void>|void,
 *   intervalMs: number,
 *   hidden?: () => boolean,
 *   now?: () => number,
 *   setTimer?: (fn: () => void, ms: number) => any,
 *   clearTimer?: (t: any) => void,
 * }} PollerOptions
 */

/**
 * @param {PollerOptions} opts `run` should not throw (a throw is swallowed, the loop goes on);
 *   the next run starts `intervalMs` after this one started, or at once when it took longer.
 */
export function createPoller({
  run,
  intervalMs,
  hidden = () => false,
  now = () => performance.now(),
  setTimer = (fn, ms) => setTimeout(fn, ms),
  clearTimer = (t) => clearTimeout(t),
}) {
  let running = false;
  let stopped = false;
  let timer = null;

  async function tick() {
    timer = null;
    running = true;
    const t0 = now();
    try {
      await run();
    } catch {
      // run reports its own failures; the loop must go on
    } finally {
      running = false;
    }
    if (!stopped && !hidden()) timer = setTimer(tick, Math.max(0, intervalMs - (now() - t0)));
  }

  return {
    /** Starts the loop unless it is already running or scheduled. Returns whether it started. */
    start() {
      stopped = false;
      if (running || timer !== null) return false;
      void tick();
      return true;
    },
    /** Ends the loop: cancels the next run; a run in flight schedules none. `start()` resumes. */
    stop() {
      stopped = true;
      if (timer !== null) clearTimer(timer);
      timer = null;
    },
    /** A run is in flight. */
    get running() {
      return running;
    },
    /** A next run is scheduled. */
    get scheduled() {
      return timer !== null;
    },
  };
}
