// REST requests with a deadline, and the one-request-per-key guard (review 9).
import { describe, expect, it } from 'vitest';
import { FETCH_TIMEOUT_MS, fetchJson, singleFlight } from '../../app/lib/request.js';

/** A fetch that never answers (headers or, with `stallBody`, the body), but honours its signal. */
function stalledFetch({ stallBody = false } = {}) {
  const seen = [];
  const hang = (signal) =>
    new Promise((_resolve, reject) => {
      if (signal.aborted) reject(signal.reason);
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  const impl = async (url, init) => {
    seen.push({ url, init });
    if (!stallBody) return hang(init.signal);
    return { ok: true, status: 200, json: () => hang(init.signal) };
  };
  return { impl, seen };
}

const answering = (status, text) => async () => ({ ok: status < 300, status, json: async () => JSON.parse(text) });

describe('fetchJson', () => {
  it('reads status and JSON body; a body that is not JSON reads as null', async () => {
    expect(await fetchJson('u', { fetchImpl: answering(200, '{"a":1}') })).toEqual({ ok: true, status: 200, body: { a: 1 } });
    expect(await fetchJson('u', { fetchImpl: answering(422, '{"error":{"field":"from"}}') })).toEqual({ ok: false, status: 422, body: { error: { field: 'from' } } });
    expect(await fetchJson('u', { fetchImpl: answering(502, '<html>') })).toEqual({ ok: false, status: 502, body: null });
  });

  it('a request whose answer never comes ends at the deadline, saying so', async () => {
    const { impl, seen } = stalledFetch();
    const t0 = Date.now();
    await expect(fetchJson('/api/v1/history', { fetchImpl: impl, timeoutMs: 50 })).rejects.toThrow('no answer within 0.1 s');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
    expect(seen[0].init.cache).toBe('no-store');
    expect(FETCH_TIMEOUT_MS).toBe(10_000);
  });

  it('a body that stalls is cut off at the deadline too (not read as an empty body)', async () => {
    const { impl } = stalledFetch({ stallBody: true });
    await expect(fetchJson('u', { fetchImpl: impl, timeoutMs: 30 })).rejects.toThrow(/^no answer within/);
  });

  it("the caller's abort ends it at once, with the caller's reason", async () => {
    const { impl } = stalledFetch();
    const ctl = new AbortController();
    const p = fetchJson('u', { fetchImpl: impl, timeoutMs: 60_000, signal: ctl.signal });
    ctl.abort(new Error('range changed'));
    await expect(p).rejects.toThrow('range changed');
    const done = new AbortController();
    done.abort();
    await expect(fetchJson('u', { fetchImpl: impl, signal: done.signal })).rejects.toHaveProperty('name', 'AbortError');
  });

  it('network errors pass through', async () => {
    const fail = async () => {
      throw new TypeError('Failed to fetch');
    };
    await expect(fetchJson('u', { fetchImpl: fail })).rejects.toThrow('Failed to fetch');
  });
});

describe('singleFlight', () => {
  it('drops a second call for a key in flight, not for another key', async () => {
    const releases = [];
    const runs = [];
    const f = singleFlight(async (k) => {
      runs.push(k);
      await new Promise((r) => releases.push(r));
    });
    const a = f('vm-1');
    expect(await f('vm-1')).toBe(false);
    const b = f('vm-2'); // another host is not blocked (the old guard held one host only)
    expect(runs).toEqual(['vm-1', 'vm-2']);
    expect(f.busy()).toEqual(['vm-1', 'vm-2']);
    for (const r of releases) r();
    expect(await a).toBe(true);
    await b;
    expect(f.busy()).toEqual([]);
  });

  it('a stalled request no longer blocks the key: the deadline frees it (the 1 h backfill)', async () => {
    const { impl, seen } = stalledFetch();
    const backfill = singleFlight(async (host) => {
      try {
        await fetchJson(`/api/v1/history?host=${host}&from=-1h`, { fetchImpl: impl, timeoutMs: 40 });
      } catch {
        // as the page does: the live tail still works
      }
    });
    const first = backfill('vm-1');
    expect(await backfill('vm-1')).toBe(false);
    expect(await first).toBe(true);
    expect(backfill.busy()).toEqual([]);
    const again = backfill('vm-1');
    expect(seen).toHaveLength(2);
    await again;
  });

  it('a throwing call frees its key and passes the error on', async () => {
    const f = singleFlight(async () => {
      throw new Error('x');
    });
    await expect(f('k')).rejects.toThrow('x');
    expect(f.busy()).toEqual([]);
  });
});
