// CPU % and RAM % line charts of the selected host (uPlot).
//
// The charts plot the store's ring buffer views directly (zero-copy Float64Array subarrays) and
// are only touched from the animation-frame loop, at most once per frame.

import uPlot from '../vendor/uplot/uPlot.esm.js';

const HEIGHT_WIDE = 220;
const HEIGHT_NARROW = 170;

function cssVar(name, fallback) {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

/**
 * uPlot options shared by the 0–100 % time charts (CPU, RAM, CPU by mode): no legend, a
 * synced cursor, a fixed 0–100 y scale, the clock on x and `N%` on y.
 */
export function percentChartOptions(width, height, syncKey) {
  const axisColor = cssVar('--muted', '#8a94a6');
  const gridColor = cssVar('--grid', 'rgba(128,128,128,0.15)');
  const axis = { stroke: axisColor, grid: { stroke: gridColor, width: 1 }, ticks: { stroke: gridColor } };
  return {
    width,
    height,
    legend: { show: false },
    cursor: { sync: { key: syncKey }, drag: { x: false, y: false } },
    scales: { x: { time: true }, y: { auto: false, range: [0, 100] } },
    axes: [
      { ...axis, values: (_u, splits, _ax, _space, incr) => splits.map((v) => clock(v, incr)) },
      { ...axis, size: 52, values: (_u, splits) => splits.map((v) => `${v}%`) },
    ],
  };
}

/** 24-hour local clock for the time axis; seconds only when ticks are less than a minute apart. */
export function clock(epochSeconds, tickSeconds) {
  const d = new Date(epochSeconds * 1000);
  const p = (n) => String(n).padStart(2, '0');
  const hm = `${p(d.getHours())}:${p(d.getMinutes())}`;
  return tickSeconds < 60 ? `${hm}:${p(d.getSeconds())}` : hm;
}

/**
 * @param {HTMLElement} container
 * @param {{label: string, color: string, fill: string}} opts
 * @param {uPlot.SyncPubSub} [sync]
 */
function makeChart(container, { label, color, fill }, syncKey) {
  const width = Math.max(200, container.clientWidth);
  const height = width < 520 ? HEIGHT_NARROW : HEIGHT_WIDE;
  const opts = {
    ...percentChartOptions(width, height, syncKey),
    series: [{}, { label, stroke: color, fill, width: 1.5, points: { show: false }, spanGaps: false }],
  };
  return new uPlot(opts, [new Float64Array(0), new Float64Array(0)], container);
}

/**
 * @param {HTMLElement} cpuEl
 * @param {HTMLElement} ramEl
 */
export function createChartsView(cpuEl, ramEl) {
  const cpu = makeChart(cpuEl, { label: 'CPU %', color: '#4cc2ff', fill: 'rgba(76,194,255,0.12)' }, 'pp');
  const ram = makeChart(ramEl, { label: 'RAM %', color: '#b48cff', fill: 'rgba(180,140,255,0.12)' }, 'pp');

  const ro = new ResizeObserver(() => {
    for (const [u, c] of [
      [cpu, cpuEl],
      [ram, ramEl],
    ]) {
      const w = Math.max(200, c.clientWidth);
      const h = w < 520 ? HEIGHT_NARROW : HEIGHT_WIDE;
      if (u.width !== w || u.height !== h) u.setSize({ width: w, height: h });
    }
  });
  ro.observe(cpuEl);
  ro.observe(ramEl);

  return {
    /**
     * @param {Float64Array[]|null} view [xs, cpu, ram] from Ring.view(), null for no host
     */
    update(view) {
      const empty = new Float64Array(0);
      const [xs, c, r] = view ?? [empty, empty, empty];
      cpu.setData([xs, c], true);
      ram.setData([xs, r], true);
    },
    charts: { cpu, ram },
  };
}
