// Connection indicator: connecting / live / reconnecting in N s (attempt k).

import { setText } from '../lib/dom.js';

/** @param {HTMLElement} root the #conn element */
export function createStatusView(root) {
  const text = /** @type {HTMLElement} */ (root.querySelector('#conn-text'));
  let status = { state: 'connecting', attempt: 0 };

  function render(now = Date.now()) {
    root.dataset.state = status.state;
    let t;
    switch (status.state) {
      case 'live':
        t = 'live';
        break;
      case 'connecting':
        t = status.attempt > 1 ? `connecting… (attempt ${status.attempt})` : 'connecting…';
        break;
      case 'reconnecting': {
        const s = Math.max(0, Math.ceil(((status.retryAt ?? now) - now) / 1000));
        t = `reconnecting in ${s} s (attempt ${status.attempt})`;
        break;
      }
      default:
        t = 'stopped';
    }
    setText(text, t);
  }

  return {
    /** @param {import('../lib/connection.js').Status} s */
    set(s) {
      status = s;
      render();
    },
    /** Called once a second so the countdown moves. */
    tick: render,
  };
}
