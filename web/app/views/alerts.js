// The selected host's alerts (from `GET /api/v1/alerts`, polled by pages/host.js): its active
// ones — state in words (FIRING / pending), severity, rule, summary, value against the rule's
// threshold, since when (the absolute times in the tooltip), labels — and, collapsed below, the
// ones resolved in the last hour. "No active alerts" when there are none; a line saying the
// rules are not configured when the broadcaster runs without `--alert-rules`. A badge by the host
// picker repeats the firing / pending count so it shows whatever is scrolled into view; a click
// on it brings the panel up. A failed poll is said in the panel; the last answer stays.

import { alertsByHost, badgeText, conditionText, countsText, labelsText, NO_ALERTS, panelStatus, severityText, sinceText, stateText, timesTitle } from '../lib/alerts.js';
import { el, setText } from '../lib/dom.js';
import { formatCount } from '../lib/format.js';

/** Sets an attribute only when it changed. */
function setAttr(node, name, value) {
  if (node.getAttribute(name) !== value) node.setAttribute(name, value);
}

/**
 * Items of a list reused by position: `fill(item, data)` writes one, the list holds exactly
 * `data.length` of them.
 * @template T, D
 * @param {HTMLElement} list
 * @param {() => T & {li: HTMLElement}} make
 * @param {(item: T, d: D) => void} fill
 */
function pooled(list, make, fill) {
  /** @type {(T & {li: HTMLElement})[]} */
  const pool = [];
  return (/** @type {D[]} */ data) => {
    while (pool.length < data.length) pool.push(make());
    data.forEach((d, i) => fill(pool[i], d));
    const want = pool.slice(0, data.length).map((p) => p.li);
    const kids = list.children;
    let same = kids.length === want.length;
    for (let i = 0; same && i < want.length; i++) same = kids[i] === want[i];
    if (!same) list.replaceChildren(...want);
  };
}

/**
 * @param {HTMLElement} card the alerts card (its <h2> is kept)
 * @param {HTMLElement} badge the button by the host picker
 */
export function createAlertsView(card, badge) {
  const meta = el('span', 'muted history-meta', '');
  meta.id = 'alerts-meta';
  card.querySelector('h2')?.append(meta);
  card.tabIndex = -1; // the badge moves focus here
  const status = el('p', 'alerts-status', 'loading alerts…');
  status.id = 'alerts-status';
  status.setAttribute('role', 'status');
  const error = el('p', 'history-error', '');
  error.id = 'alerts-error';
  error.setAttribute('role', 'alert');
  error.hidden = true;
  const list = el('ul', 'alert-list');
  list.id = 'alerts-list';
  list.setAttribute('aria-label', 'active alerts');
  const resolved = /** @type {HTMLDetailsElement} */ (el('details', 'alerts-resolved'));
  resolved.id = 'alerts-resolved';
  const resolvedSummary = el('summary', 'muted', '');
  const resolvedList = el('ul', 'alert-list resolved');
  resolvedList.id = 'alerts-resolved-list';
  resolvedList.setAttribute('aria-label', 'resolved alerts');
  resolved.append(resolvedSummary, resolvedList);
  resolved.hidden = true;
  card.append(status, error, list, resolved);

  badge.addEventListener('click', () => {
    card.scrollIntoView({ block: 'start', behavior: 'smooth' });
    card.focus({ preventScroll: true });
  });

  /** @type {import('../lib/alerts.js').AlertsAnswer|null} */
  let answer = null;
  /** @type {Map<string, import('../lib/alerts.js').HostAlerts>} */
  let byHost = new Map();
  /** @type {string|null} */
  let host = null;

  /** Writes the attributes every item carries (state, severity, rule). */
  function mark(li, a) {
    setAttr(li, 'data-state', a.state);
    setAttr(li, 'data-severity', a.severity);
    setAttr(li, 'data-rule', a.rule);
  }

  const fillActive = pooled(
    list,
    () => {
      const li = el('li', 'alert-item');
      const head = el('div', 'alert-head');
      const state = el('span', 'alert-state', '');
      const sev = el('span', 'alert-sev', '');
      const rule = el('span', 'alert-rule', '');
      const since = el('span', 'alert-since muted', '');
      head.append(state, sev, rule, since);
      const summary = el('div', 'alert-summary', '');
      const cond = el('div', 'alert-cond num', '');
      const labels = el('div', 'alert-labels muted', '');
      li.append(head, summary, cond, labels);
      return { li, state, sev, rule, since, summary, cond, labels };
    },
    (it, /** @type {import('../lib/alerts.js').Alert} */ a) => {
      mark(it.li, a);
      setText(it.state, stateText(a.state));
      setText(it.sev, severityText(a.severity));
      setAttr(it.sev, 'data-severity', a.severity);
      setText(it.rule, a.rule);
      setText(it.since, sinceText(a, answer?.serverMs ?? NaN));
      setAttr(it.since, 'title', timesTitle(a));
      setText(it.summary, a.summary);
      it.summary.hidden = !a.summary;
      setText(it.cond, conditionText(a));
      const l = labelsText(a);
      setText(it.labels, l);
      it.labels.hidden = !l;
    },
  );

  const fillResolved = pooled(
    resolvedList,
    () => {
      const li = el('li', 'alert-item');
      const state = el('span', 'alert-state', '');
      const rule = el('span', 'alert-rule', '');
      const sev = el('span', 'alert-sev', '');
      const since = el('span', 'alert-since', '');
      const cond = el('span', 'alert-cond num', '');
      li.append(state, rule, sev, since, cond);
      return { li, state, rule, sev, since, cond };
    },
    (it, /** @type {import('../lib/alerts.js').Alert} */ a) => {
      mark(it.li, a);
      setText(it.state, stateText(a.state));
      setText(it.rule, a.rule);
      setText(it.sev, severityText(a.severity));
      setText(it.since, sinceText(a, answer?.serverMs ?? NaN));
      setAttr(it.since, 'title', timesTitle(a));
      setText(it.cond, conditionText(a));
      setAttr(it.li, 'title', a.summary);
    },
  );

  function render() {
    const h = host === null ? null : (byHost.get(host) ?? NO_ALERTS);
    const on = answer?.enabled === true;
    setText(status, panelStatus(answer, h));
    setAttr(status, 'data-state', !answer ? 'loading' : !on ? 'disabled' : h && h.firing > 0 ? 'firing' : h && h.pending > 0 ? 'pending' : 'none');
    setText(meta, on ? `${formatCount(answer?.rules ?? 0)} rule${answer?.rules === 1 ? '' : 's'}` : '');
    fillActive(on && h ? h.active : []);
    const done = on && h ? h.resolved : [];
    fillResolved(done);
    resolved.hidden = done.length === 0;
    setText(resolvedSummary, `resolved in the last hour (${formatCount(done.length)})`);

    const b = on ? badgeText(h) : '';
    badge.hidden = b === '';
    setText(badge, b);
    setAttr(badge, 'data-state', h && h.firing > 0 ? 'firing' : 'pending');
    setAttr(badge, 'aria-label', b && h ? `${host}: ${countsText(h)} (${h.active.map((a) => a.rule).join(', ')}); show the alerts` : 'alerts');
    setAttr(badge, 'title', b && h ? h.active.map((a) => `${stateText(a.state)} ${a.rule} (${a.severity})`).join('\n') : '');
  }

  return {
    /** A new answer (the error line, if any, goes). @param {import('../lib/alerts.js').AlertsAnswer} a */
    update(a) {
      answer = a;
      byHost = alertsByHost(a);
      if (!error.hidden) {
        error.hidden = true;
        setText(error, '');
      }
      render();
    },
    /** The host on screen changed (null: none yet). @param {string|null} h */
    setHost(h) {
      if (h === host) return;
      host = h;
      render();
    },
    /** The last poll failed: say so, keep the last answer. @param {string} text */
    fail(text) {
      error.hidden = false;
      setText(error, `alerts request failed: ${text}${answer ? ' (showing the last answer)' : ''}`);
    },
  };
}
