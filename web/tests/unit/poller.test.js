// The polling loop (fleet page, host view's alerts): one run at a time, whatever visibilitychange does (review 8); stop() ends it.
import { describe, expect, it } from 'vitest';
import { createPoller } from '../../app/lib/poller.js';

/** A poller over hand-driven time and timers; each run waits until the test resolves it. */
function harness({ intervalMs = 1000 } = {}) {
  const h = {
    t: 0,
    hidden: false,
    timers: /** @type {{fn: () => void, at: number}[]} */ ([]),
    pending: /** @type {(() => void)[]} */ ([]),
    runs: 0,
    inFlight: 0,
    maxInFlight: 0,
  };
  h.poller = createPoller({
    intervalMs,
    hidden: () => h.hidden,
    now: () => h.t,
    setTimer: (fn, ms) => h.timers.push({ fn, at: h.t + ms }),
    run: () =>
      new Promise((resolve) => {
        h.runs++;
        h.inFlight++;
        h.maxInFlight = Math.max(h.maxInFlight, h.inFlight);
        h.pending.push(() => {
          h.inFlight--;
          resolve();
        });
      }),
  });
  /** Ends the run in flight and lets the loop schedule the next one. */
  h.finish = async (tookMs = 0) => {
    h.t += tookMs;
    h.pending.shift()();
    await new Promise((r) => setTimeout(r, 0));
  };
  /** Fires the earliest timer. */
  h.fire = () => {
    h.timers.sort((a, b) => a.at - b.at);
    const next = h.timers.shift();
    h.t = Math.max(h.t, next.at);
    next.fn();
  };
  return h;
}

describe('poller', () => {
  it('a tab switch while a poll is in flight starts no second loop', async () => {
    const h = harness();
    expect(h.poller.start()).toBe(true);
    expect(h.poller.running).toBe(true);
    // hidden then visible again while the fetch is still out: no timer exists yet
    h.hidden = true;
    h.hidden = false;
    expect(h.poller.start()).toBe(false);
    expect(h.poller.start()).toBe(false);
    expect(h.runs).toBe(1);
    await h.finish(200);
    expect(h.timers).toHaveLength(1);
    expect(h.timers[0].at).toBe(1000); // one interval after the run started
    // visible again while the next poll is scheduled: still one loop
    expect(h.poller.start()).toBe(false);
    for (let i = 0; i < 5; i++) {
      h.fire();
      expect(h.poller.start()).toBe(false);
      await h.finish(100);
    }
    expect(h.runs).toBe(6);
    expect(h.maxInFlight).toBe(1);
    expect(h.timers).toHaveLength(1);
  });

  it('stops scheduling while hidden and restarts once when visible', async () => {
    const h = harness();
    h.poller.start();
    h.hidden = true;
    await h.finish(10);
    expect(h.timers).toHaveLength(0);
    expect(h.poller.running || h.poller.scheduled).toBe(false);
    h.hidden = false;
    expect(h.poller.start()).toBe(true);
    expect(h.poller.start()).toBe(false);
    expect(h.runs).toBe(2);
    expect(h.maxInFlight).toBe(1);
  });

  it('a poll longer than the interval is followed at once; a throwing run does not end the loop', async () => {
    const h = harness();
    h.poller.start();
    await h.finish(1500);
    expect(h.timers[0].at - h.t).toBe(0);
    let calls = 0;
    const timers = [];
    const p = createPoller({
      intervalMs: 1000,
      now: () => 0,
      setTimer: (fn, ms) => timers.push(ms),
      run: () => {
        calls++;
        throw new Error('boom');
      },
    });
    p.start();
    await new Promise((r) => setTimeout(r, 0));
    expect(calls).toBe(1);
    expect(timers).toEqual([1000]);
    expect(p.running).toBe(false);
  });

  it('stop() cancels the next run and a run in flight schedules none; start() resumes', async () => {
    const cleared = [];
    const timers = [];
    let runs = 0;
    let release = null;
    const p = createPoller({
      intervalMs: 1000,
      now: () => 0,
      setTimer: (fn, ms) => {
        const t = { fn, ms };
        timers.push(t);
        return t;
      },
      clearTimer: (t) => {
        cleared.push(t);
        timers.splice(timers.indexOf(t), 1);
      },
      run: () =>
        new Promise((resolve) => {
          runs++;
          release = resolve;
        }),
    });
    p.start();
    release();
    await new Promise((r) => setTimeout(r, 0));
    expect(timers).toHaveLength(1);
    p.stop();
    expect(cleared).toHaveLength(1);
    expect(timers).toHaveLength(0);
    expect(p.scheduled).toBe(false);
    // stopped while a run is in flight: it ends and schedules nothing
    expect(p.start()).toBe(true);
    expect(runs).toBe(2);
    p.stop();
    release();
    await new Promise((r) => setTimeout(r, 0));
    expect(timers).toHaveLength(0);
    expect(p.running || p.scheduled).toBe(false);
    // and starts again
    expect(p.start()).toBe(true);
    expect(runs).toBe(3);
  });
});
