// Connection state machine: connecting → live on hello → reconnecting with backoff → backfill.
import { describe, expect, it } from 'vitest';
import { Backoff } from '../../app/lib/backoff.js';
import { Connection } from '../../app/lib/connection.js';

/** A scripted stand-in for the browser's WebSocket: the test drives its events. */
class ScriptedSocket {
  static made = [];
  constructor(url) {
    this.url = url;
    this.closed = false;
    ScriptedSocket.made.push(this);
  }
  close() {
    this.closed = true;
  }
  recv(obj) {
    this.onmessage?.({ data: typeof obj === 'string' ? obj : JSON.stringify(obj) });
  }
  drop(code = 1006) {
    this.onerror?.({});
    this.onclose?.({ code });
  }
}

function harness() {
  ScriptedSocket.made = [];
  const timers = [];
  const statuses = [];
  const messages = [];
  const conn = new Connection({
    url: 'ws://127.0.0.1:1/ws',
    WebSocketImpl: ScriptedSocket,
    backoff: new Backoff({ baseMs: 100, maxMs: 1000, jitter: 0 }),
    setTimeout: (fn, ms) => timers.push({ fn, ms }) - 1,
    clearTimeout: (i) => {
      timers[i] = null;
    },
    now: () => 0,
    onStatus: (s) => statuses.push(s),
    onMessage: (m) => messages.push(m),
  });
  const fire = () => {
    const t = timers.pop();
    t.fn();
    return t.ms;
  };
  return { conn, timers, statuses, messages, fire, sock: () => ScriptedSocket.made.at(-1) };
}

describe('Connection', () => {
  it('goes live on hello and passes parsed frames on', () => {
    const h = harness();
    h.conn.start();
    expect(h.statuses.at(-1)).toEqual({ state: 'connecting', attempt: 1 });
    h.sock().recv({ type: 'hello', hosts: ['vm-1'] });
    h.sock().recv({ type: 'routes', a: 1, b: 2 });
    h.sock().recv('not json');
    expect(h.statuses.at(-1).state).toBe('live');
    expect(h.messages.map((m) => m.type)).toEqual(['hello', 'routes']);
    expect(h.conn.ignored).toBe(1);
  });

  it('reconnects with growing delays until a hello, then resets the backoff', () => {
    const h = harness();
    h.conn.start();
    h.sock().drop();
    expect(h.statuses.at(-1)).toMatchObject({ state: 'reconnecting', attempt: 1, retryInMs: 100 });
    expect(h.fire()).toBe(100);
    // Accepted but closed before hello: still counts as a failure.
    h.sock().drop();
    expect(h.fire()).toBe(200);
    h.sock().drop();
    expect(h.fire()).toBe(400);
    expect(h.statuses.at(-1)).toEqual({ state: 'connecting', attempt: 4 });
    h.sock().recv({ type: 'hello', hosts: [] });
    h.sock().recv({ type: 'history', samples: [] });
    h.sock().drop();
    expect(h.statuses.at(-1)).toMatchObject({ state: 'reconnecting', attempt: 1, retryInMs: 100 });
    expect(ScriptedSocket.made.length).toBe(4);
  });

  it('a constructor error is retried like a close', () => {
    const h = harness();
    h.conn.WebSocketImpl = class {
      constructor() {
        throw new Error('bad url');
      }
    };
    h.conn.start();
    expect(h.statuses.at(-1)).toMatchObject({ state: 'reconnecting', reason: 'bad url' });
    expect(h.timers.length).toBe(1);
  });

  it('events of a replaced socket are ignored; stop cancels the retry', () => {
    const h = harness();
    h.conn.start();
    const first = h.sock();
    first.drop();
    h.fire();
    const n = h.messages.length;
    first.recv({ type: 'hello', hosts: [] }); // stale socket: detached
    expect(h.messages.length).toBe(n);
    h.sock().drop();
    h.conn.stop();
    expect(h.timers.at(-1)).toBeNull();
    expect(h.statuses.at(-1).state).toBe('stopped');
  });
});
