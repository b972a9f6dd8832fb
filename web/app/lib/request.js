// Requests to the broadcaster's REST API with a deadline, and one request per key at a time.
//
// Every fetch of the page goes through `fetchJson`, so none can hang for ever: a stalled
// connection (a proxy holding it open, a broadcaster stuck behind its database) ends after
// `timeoutMs` with an error saying so, and whatever waited on it (a "loading" state, a
// one-at-a-time guard) is released (review 9). `singleFlight` is that guard: a second call for
// a key whose request is still out is dropped, and the key is free again however the first
// one ended.

/** How long a REST request may take, headers and body, before it is given up (ms). */
export const FETCH_TIMEOUT_MS = 10_000;

/**
 * GETs `url` and reads its JSON body (null when the body is not JSON), within `timeoutMs`.
 * Rejects with an Error "no answer within N s" on the deadline, with the abort reason when
 * `signal` aborts first, and with fetch's own error when the network fails.
 * @param {string} url
 * @param {{timeoutMs?: number, signal?: AbortSignal|null, fetchImpl?: typeof fetch}} [opts]
 * @returns {Promise<{ok: boolean, status: number, body: any}>}
 */
export async function fetchJson(url, { timeoutMs = FETCH_TIMEOUT_MS, signal = null, fetchImpl = globalThis.fetch } = {}) {
  const ctl = new AbortController();
  const timeout = new Error(`no answer within ${Math.round(timeoutMs / 100) / 10} s`);
  const timer = setTimeout(() => ctl.abort(timeout), timeoutMs);
  const follow = () => ctl.abort(signal?.reason);
  if (signal?.aborted) follow();
  else signal?.addEventListener('abort', follow, { once: true });
  try {
    const res = await fetchImpl(url, { cache: 'no-store', signal: ctl.signal });
    const body = await res.json().catch(() => null);
    // A body cut off by the deadline or the caller is not a null body.
    if (ctl.signal.aborted) throw ctl.signal.reason;
    return { ok: res.ok, status: res.status, body };
  } catch (e) {
    throw ctl.signal.aborted ? ctl.signal.reason : e;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', follow);
  }
}

/**
 * Wraps an async `fn(key)` so that at most one call per key runs at a time: a call for a key
 * whose earlier call has not ended yet returns false without running; otherwise it runs `fn`
 * and resolves true once it ended (a rejection of `fn` is passed on). The key is released when
 * the call ends, whichever way.
 * @template {string} K
 * @param {(key: K) => Promise<void>} fn
 */
export function singleFlight(fn) {
  /** @type {Set<K>} */
  const busy = new Set();
  const call = async (/** @type {K} */ key) => {
    if (busy.has(key)) return false;
    busy.add(key);
    try {
      await fn(key);
      return true;
    } finally {
      busy.delete(key);
    }
  };
  /** Keys with a call in flight (for tests). */
  call.busy = () => [...busy];
  return call;
}
