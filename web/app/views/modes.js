// CPU time by mode: a stacked area chart (uPlot) of the eight exclusive /proc/stat modes over
// time and a legend with the newest values. Guest time is part of user (and guest nice of
// nice), never stacked twice; the legend says so. Hidden when the newest row has no modes.
//
// The store keeps the cumulative sums (lib/modes.js stackModes), so each series is the top edge
// of its band; drawn from the top band down with opaque fills, each band covers the one below
// only up to its own edge, which draws the stack without copying any data per redraw.

import uPlot from '../vendor/uplot/uPlot.esm.js';
import { el, setText } from '../lib/dom.js';
import { formatPct } from '../lib/format.js';
import { MODE_COLORS, MODES, modeLegend, readModes } from '../lib/modes.js';
import { COL_MODES } from '../lib/store.js';
import { percentChartOptions } from './charts.js';

const HEIGHT = 200;

/** @param {HTMLElement} card */
export function createModesView(card) {
  const chartEl = el('div', 'chart');
  chartEl.id = 'modes-chart';
  const legend = el('ul', 'legend');
  legend.id = 'modes-legend';
  const items = MODES.map((mode, i) => {
    const li = el('li', '');
    li.dataset.mode = mode;
    const sw = el('span', 'swatch');
    sw.style.background = MODE_COLORS[i];
    const label = el('span', 'label', mode);
    const value = el('span', 'num value', '–');
    li.append(sw, label, value);
    return { li, label, value };
  });
  legend.append(...items.map((x) => x.li));
  card.append(chartEl, legend);

  // Series in drawing order: idle (the whole stack) first, user (the bottom band) last.
  const order = MODES.map((_, i) => MODES.length - 1 - i);
  const chart = new uPlot(
    {
      ...percentChartOptions(Math.max(200, chartEl.clientWidth), HEIGHT, 'pp'),
      series: [
        {},
        ...order.map((i) => ({
          label: MODES[i],
          stroke: MODE_COLORS[i],
          fill: MODE_COLORS[i],
          width: 0, // fills only: no stroke pass over 3600 points per band
          points: { show: false },
          spanGaps: false,
        })),
      ],
    },
    [new Float64Array(0), ...order.map(() => new Float64Array(0))],
    chartEl,
  );
  new ResizeObserver(() => {
    const w = Math.max(200, chartEl.clientWidth);
    if (chart.width !== w) chart.setSize({ width: w, height: HEIGHT });
  }).observe(chartEl);

  return {
    /**
     * @param {any} row newest row of the selected host, or null
     * @param {Float64Array[]|null} view the host's Ring.view()
     */
    update(row, view) {
      const modes = readModes(row?.cpu);
      card.hidden = modes === null;
      if (!modes || !view) return;
      chart.setData([view[0], ...order.map((i) => view[1 + COL_MODES + i])], true);
      for (const [i, l] of modeLegend(modes).entries()) {
        setText(items[i].label, l.label);
        setText(items[i].value, formatPct(l.value));
      }
    },
    chart,
  };
}
