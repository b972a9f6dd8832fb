// The WebSocket link to the broadcaster: connect, report status, reconnect with backoff.
//
// Status goes connecting → live (once the server's `hello` arrived) → reconnecting (after a close
// or error, with the delay until the next try) → connecting → ... The backoff is reset only when
// a `hello` arrives, so a server that accepts and immediately drops connections is still retried
// with growing delays. The WebSocket constructor and the timer functions are injected so the
// state machine is testable without a browser.

import { Backoff } from './backoff.js';
import { parseFrame } from './store.js';

/**
 * @typedef {{state: 'connecting'|'live'|'reconnecting'|'stopped', attempt: number, retryInMs?: number, retryAt?: number, reason?: string}} Status
 */

export class Connection {
  /**
   * @param {{
   *   url: string,
   *   onMessage: (msg: NonNullable<ReturnType<typeof parseFrame>>) => void,
   *   onStatus?: (s: Status) => void,
   *   WebSocketImpl?: any,
   *   backoff?: Backoff,
   *   setTimeout?: typeof setTimeout,
   *   clearTimeout?: typeof clearTimeout,
   *   now?: () => number,
   * }} opts
   */
  constructor(opts) {
    this.url = opts.url;
    this.onMessage = opts.onMessage;
    this.onStatus = opts.onStatus ?? (() => {});
    this.WebSocketImpl = opts.WebSocketImpl ?? globalThis.WebSocket;
    this.backoff = opts.backoff ?? new Backoff();
    this.setTimeout = opts.setTimeout ?? globalThis.setTimeout.bind(globalThis);
    this.clearTimeout = opts.clearTimeout ?? globalThis.clearTimeout.bind(globalThis);
    this.now = opts.now ?? Date.now;
    this.ws = null;
    this.timer = null;
    this.stopped = false;
    this.live = false;
    /** consecutive attempts that did not reach `hello` */
    this.failures = 0;
    /** frames that were not JSON or of an unknown type */
    this.ignored = 0;
    /** @type {Status} */
    this.status = { state: 'connecting', attempt: 0 };
  }

  start() {
    this.stopped = false;
    this.#open();
  }

  stop() {
    this.stopped = true;
    if (this.timer !== null) this.clearTimeout(this.timer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      detach(ws);
      try {
        ws.close();
      } catch {
        // already closed
      }
    }
    this.#setStatus({ state: 'stopped', attempt: this.failures });
  }

  #setStatus(s) {
    this.status = s;
    this.onStatus(s);
  }

  #open() {
    this.timer = null;
    this.live = false;
    this.#setStatus({ state: 'connecting', attempt: this.failures + 1 });
    let ws;
    try {
      ws = new this.WebSocketImpl(this.url);
    } catch (e) {
      this.#scheduleRetry(String(e && e.message ? e.message : e));
      return;
    }
    this.ws = ws;
    ws.onmessage = (ev) => {
      if (this.ws !== ws || typeof ev.data !== 'string') return;
      const msg = parseFrame(ev.data);
      if (!msg) {
        this.ignored++;
        return;
      }
      if (msg.type === 'hello') {
        this.live = true;
        this.failures = 0;
        this.backoff.reset();
        this.#setStatus({ state: 'live', attempt: 0 });
      }
      this.onMessage(msg);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      detach(ws);
      this.#scheduleRetry(ev && ev.code ? `closed (${ev.code})` : 'closed');
    };
    // An error is always followed by a close event; nothing to do here but keep it from
    // surfacing as an uncaught error.
    ws.onerror = () => {};
  }

  #scheduleRetry(reason) {
    if (this.stopped) return;
    this.live = false;
    this.failures++;
    const delay = this.backoff.next();
    this.#setStatus({
      state: 'reconnecting',
      attempt: this.failures,
      retryInMs: delay,
      retryAt: this.now() + delay,
      reason,
    });
    this.timer = this.setTimeout(() => this.#open(), delay);
  }
}

function detach(ws) {
  ws.onmessage = null;
  ws.onclose = null;
  ws.onerror = null;
}
