// The charts of a fetched range (6 h and longer, or custom): CPU %, RAM %, swap % and load, each
// an average line with a min–max band (uPlot `bands`), over the whole requested span, with the
// tier and step the broadcaster chose. New data replaces the old in place (setData), so a
// periodic refresh never blanks the charts; a failed request leaves the last charts up and says
// why. When the rollups end well before the range does (maintenance lagging or off, the
// answer's `complete_to`), a line says how far they go.

import uPlot from '../vendor/uplot/uPlot.esm.js';
import { el, setText } from '../lib/dom.js';
import { formatCount } from '../lib/format.js';
import { localText } from '../lib/range.js';
import { bandData, bandsOption, hasValues, lagText, METRICS, peak, tierText } from '../lib/rollup.js';

const HEIGHT = 180;
const COLORS = {
  cpu: ['#4cc2ff', 'rgba(76,194,255,0.22)'],
  ram: ['#b48cff', 'rgba(180,140,255,0.22)'],
  swap: ['#f5b942', 'rgba(245,185,66,0.22)'],
  load1: ['#3ecf8e', 'rgba(62,207,142,0.22)'],
};

function cssVar(name, fallback) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

/**
 * Time-axis label for spans of hours to months: the date at day ticks, the clock otherwise,
 * both when the whole span is over a day and the tick is not at midnight.
 * @param {number} epochSeconds
 * @param {number} tickSeconds
 * @param {number} spanSeconds
 */
export function rangeTick(epochSeconds, tickSeconds, spanSeconds) {
  const d = new Date(epochSeconds * 1000);
  const p = (n) => String(n).padStart(2, '0');
  const date = `${p(d.getMonth() + 1)}-${p(d.getDate())}`;
  const hm = `${p(d.getHours())}:${p(d.getMinutes())}`;
  if (tickSeconds >= 86400) return date;
  if (spanSeconds > 86400 && d.getHours() === 0 && d.getMinutes() === 0) return date;
  return hm;
}

/**
 * @param {HTMLElement} card the history card (its <h2> is kept)
 */
export function createHistoryView(card) {
  const meta = el('span', 'muted history-meta', '');
  meta.id = 'history-meta';
  card.querySelector('h2')?.append(meta);
  const status = el('p', 'muted', '');
  status.id = 'history-status';
  status.setAttribute('role', 'status');
  const error = el('p', 'history-error', '');
  error.id = 'history-error';
  error.setAttribute('role', 'alert');
  error.hidden = true;
  const summary = el('p', 'muted num', '');
  summary.id = 'history-summary';
  const lag = el('p', 'history-lag', '');
  lag.id = 'history-lag';
  lag.hidden = true;
  const note = el(
    'p',
    'muted',
    'Lines are the average per step, the band spans its minimum to maximum. CPU by mode, per-core CPU, memory detail, pressure, load, process states and processes need full samples: they show on the live ranges (15 m, 1 h).',
  );
  note.id = 'history-note';
  const grid = el('div', 'history-grid');
  grid.hidden = true; // until the first answer: empty axes would only show the epoch
  card.append(status, error, lag, summary, grid, note);

  /** Requested span, epoch seconds (the x scale shows all of it even where data is missing). */
  let xr = [0, 1];
  let loadMax = 1;

  const charts = METRICS.map((m) => {
    const box = el('div', 'history-chart');
    box.dataset.metric = m.key;
    const head = el('h3', '', m.label);
    const empty = el('span', 'muted history-empty', '');
    head.append(empty);
    const chartEl = el('div', 'chart');
    chartEl.id = `history-${m.key}`;
    box.append(head, chartEl);
    grid.append(box);
    const axisColor = cssVar('--muted', '#8a94a6');
    const gridColor = cssVar('--grid', 'rgba(128,128,128,0.15)');
    const axis = { stroke: axisColor, grid: { stroke: gridColor, width: 1 }, ticks: { stroke: gridColor } };
    const [color, band] = COLORS[m.key];
    const u = new uPlot(
      {
        width: Math.max(200, chartEl.clientWidth),
        height: HEIGHT,
        legend: { show: false },
        cursor: { sync: { key: 'pp-history' }, drag: { x: false, y: false } },
        scales: {
          x: { time: true, range: () => [xr[0], xr[1]] },
          y: m.pct ? { auto: false, range: [0, 100] } : { range: () => [0, loadMax] },
        },
        axes: [
          { ...axis, space: 70, values: (_u, splits, _ax, _space, incr) => splits.map((v) => rangeTick(v, incr, xr[1] - xr[0])) },
          { ...axis, size: 52, values: (_u, splits) => splits.map((v) => (m.pct ? `${v}%` : String(v))) },
        ],
        series: [
          {},
          { label: `${m.label} max`, stroke: band, width: 1, points: { show: false }, spanGaps: false },
          { label: `${m.label} avg`, stroke: color, width: 1.5, points: { show: false }, spanGaps: false },
          { label: `${m.label} min`, stroke: band, width: 1, points: { show: false }, spanGaps: false },
        ],
        bands: bandsOption(band),
      },
      [[], [], [], []],
      chartEl,
    );
    return { key: m.key, u, chartEl, empty };
  });

  new ResizeObserver(() => {
    for (const c of charts) {
      const w = Math.max(200, c.chartEl.clientWidth);
      if (c.u.width !== w) c.u.setSize({ width: w, height: HEIGHT });
    }
  }).observe(grid);

  /** The range and host currently shown, for the status text. */
  let shown = '';

  return {
    /** Data for another range or host is on its way (the charts stay until it arrives). @param {string} what */
    loading(what) {
      card.setAttribute('aria-busy', 'true');
      setText(status, `loading ${what}…`);
    },

    /**
     * Draws one answer.
     * @param {ReturnType<typeof import('../lib/rollup.js').parseHistoryAnswer>} a
     * @param {import('../lib/rollup.js').HistorySeries} s the host's series from it
     * @param {[number, number]} spanMs the requested span (used where the answer has no from/to)
     * @param {string} what e.g. "vm-1 · 24 h"
     */
    show(a, s, spanMs, what) {
      card.removeAttribute('aria-busy');
      error.hidden = true;
      setText(error, '');
      const from = Number.isFinite(a.fromMs) ? a.fromMs : spanMs[0];
      const to = Number.isFinite(a.toMs) ? a.toMs : spanMs[1];
      xr = [from / 1000, to / 1000];
      grid.hidden = false;
      loadMax = Math.max(1, (peak(s, 'load1') ?? 0) * 1.1);
      card.dataset.tier = a.tier;
      card.dataset.points = String(s.points);
      for (const c of charts) {
        c.u.setData(/** @type {any} */ (bandData(s, /** @type {any} */ (c.key))), true);
        const none = !hasValues(s, /** @type {any} */ (c.key));
        setText(c.empty, none ? (c.key === 'swap' && s.points > 0 ? ' — no swap in this range' : ' — no data in this range') : '');
      }
      setText(meta, `${tierText(a.tier, a.step ?? s.step)} · ${formatCount(s.points)} points`);
      const parts = [];
      if (s.zombiesMax !== null) parts.push(`peak zombies ${formatCount(s.zombiesMax)}`);
      if (s.diskSleepMax !== null) parts.push(`peak D-state ${formatCount(s.diskSleepMax)}`);
      if (s.cores !== null) parts.push(`${s.cores} cores`);
      if (s.source) parts.push(`source ${s.source}`);
      if (s.samples) parts.push(`${formatCount(s.samples)} samples`);
      if (a.truncated) parts.push('answer cut short by the server');
      setText(summary, parts.join(' · '));
      const behind = lagText(a, to, localText);
      setText(lag, behind);
      lag.hidden = behind === '';
      shown = what;
      setText(status, `${what} · ${localText(from)} → ${localText(to)} · fetched ${new Date().toLocaleTimeString('en-GB')}`);
    },

    /**
     * A failed request: the message (422 names the field); the last charts stay.
     * @param {string} text
     */
    fail(text) {
      card.removeAttribute('aria-busy');
      error.hidden = false;
      setText(error, `history request failed: ${text}`);
      setText(status, shown ? `still showing ${shown}` : '');
    },

    /** No host to show yet. */
    idle(text) {
      card.removeAttribute('aria-busy');
      setText(status, text);
    },

    charts: Object.fromEntries(charts.map((c) => [c.key, c.u])),
  };
}
