// Per-core CPU: a heat strip of the newest row (one cell per CPU, colour by usage, value in the
// cell while they fit and always in the tooltip, the busiest cores outlined and named) and a
// heatmap of the recent per-core history (time left → right, CPUs top → bottom).
// The card is hidden when the newest row has no per-CPU figures (v1 rows).

import { el, setText } from '../lib/dom.js';
import { formatPct } from '../lib/format.js';
import { busiest, heatColor, heatRgb, heatRows, HISTORY_MISSING, perCpuSummary, readPerCpu, stripLayout } from '../lib/percore.js';

/** Pixel colours of the 201 history steps (0.5 % each). */
const PALETTE = Array.from({ length: 201 }, (_, b) => heatRgb(b / 2));

/** @param {HTMLElement} card */
export function createPerCoreView(card) {
  const summary = el('span', 'muted num', '');
  summary.id = 'percore-summary';
  card.querySelector('h2')?.append(summary);
  const strip = el('div', 'strip');
  strip.id = 'percore-strip';
  strip.setAttribute('role', 'list');
  const hot = el('p', 'busiest', '');
  hot.id = 'percore-busiest';
  const canvas = /** @type {HTMLCanvasElement} */ (el('canvas', 'heat'));
  canvas.id = 'percore-heat';
  canvas.setAttribute('role', 'img');
  const caption = el('p', 'muted', '');
  caption.id = 'percore-caption';
  card.append(strip, hot, canvas, caption);

  /** @type {{cell: HTMLElement, value: HTMLElement}[]} */
  let cells = [];
  let idsKey = '';
  let lastRow = null;
  let lastHistoryLen = -1;
  let lastHistoryX = NaN;
  const off = document.createElement('canvas');
  /** @type {import('../lib/percore.js').CoreHistory | null} */
  let lastHistory = null;
  let lastWidth = 0;
  new ResizeObserver((entries) => {
    const w = Math.round(entries[entries.length - 1].contentRect.width);
    if (w === lastWidth) return;
    lastWidth = w;
    if (lastHistory && !card.hidden) drawHeat(lastHistory);
  }).observe(canvas);

  function buildCells(pc, layout) {
    strip.dataset.size = layout.size;
    cells = pc.ids.map((id) => {
      const cell = el('div', 'core');
      cell.setAttribute('role', 'listitem');
      cell.dataset.cpu = String(id);
      if (layout.showIds) cell.append(el('span', 'core-id', `cpu ${id}`));
      const value = el('span', 'core-val', '');
      if (layout.showValues) cell.append(value);
      strip.append(cell);
      return { cell, value };
    });
  }

  // Heatmap state: an ImageData of `capacity` columns (one per sample, newest at the right) by
  // `rows` rows, updated incrementally: a new sample shifts the image left and paints one
  // column; a cleared history, a new CPU count or a new height repaints it all.
  /** @type {ImageData | null} */
  let img = null;
  let drawn = { history: /** @type {any} */ (null), width: -1, rows: -1, lastX: -Infinity, length: 0 };
  /** @type {Uint16Array} */
  let rowOf = new Uint16Array(0);
  let acc = new Int16Array(0);

  function paintColumn(col, bytes, n, rows, cols) {
    const data = /** @type {ImageData} */ (img).data;
    acc.fill(-1);
    for (let i = 0; i < n; i++) {
      const b = bytes[i];
      if (b !== HISTORY_MISSING && b > acc[rowOf[i]]) acc[rowOf[i]] = b;
    }
    for (let r = 0; r < rows; r++) {
      const o = (r * cols + col) * 4;
      if (acc[r] < 0) {
        data[o + 3] = 0;
        continue;
      }
      const rgb = PALETTE[Math.min(200, acc[r])];
      data[o] = rgb[0];
      data[o + 1] = rgb[1];
      data[o + 2] = rgb[2];
      data[o + 3] = 255;
    }
  }

  function drawHeat(history) {
    const n = history.width;
    const cssH = Math.max(40, Math.min(160, n * 6));
    // Width from the ResizeObserver: reading clientWidth here would force a layout per sample.
    const cssW = Math.max(200, lastWidth || canvas.clientWidth);
    const dpr = window.devicePixelRatio || 1;
    canvas.style.height = `${cssH}px`;
    if (canvas.width !== Math.round(cssW * dpr) || canvas.height !== Math.round(cssH * dpr)) {
      canvas.width = Math.round(cssW * dpr);
      canvas.height = Math.round(cssH * dpr);
    }
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (history.length === 0 || n === 0) {
      drawn = { history: null, width: -1, rows: -1, lastX: -Infinity, length: 0 };
      return;
    }
    const layout = heatRows(n, cssH);
    const rows = layout.rows;
    const cols = history.capacity;
    const octx = off.getContext('2d');
    if (!octx) return;
    // New samples since the last paint (they are appended in time order).
    let fresh = 0;
    while (fresh < history.length && history.sample(history.length - 1 - fresh).x > drawn.lastX) fresh++;
    const full =
      drawn.history !== history ||
      drawn.width !== n ||
      drawn.rows !== rows ||
      history.lastX() < drawn.lastX ||
      history.length < drawn.length ||
      fresh >= cols ||
      !img;
    if (full) {
      rowOf = layout.rowOf;
      acc = new Int16Array(rows);
      off.width = cols;
      off.height = rows;
      img = octx.createImageData(cols, rows);
      const x0 = cols - history.length;
      for (let k = 0; k < history.length; k++) paintColumn(x0 + k, history.sample(k).bytes, n, rows, cols);
    } else if (fresh > 0) {
      const data = /** @type {ImageData} */ (img).data;
      for (let r = 0; r < rows; r++) data.copyWithin(r * cols * 4, (r * cols + fresh) * 4, (r + 1) * cols * 4);
      for (let j = 0; j < fresh; j++) {
        const k = history.length - fresh + j;
        paintColumn(cols - fresh + j, history.sample(k).bytes, n, rows, cols);
      }
    }
    drawn = { history, width: n, rows, lastX: history.lastX(), length: history.length };
    octx.putImageData(/** @type {ImageData} */ (img), 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(off, 0, 0, canvas.width, canvas.height);
    const span = history.length > 1 ? history.sample(history.length - 1).x - history.sample(0).x : 0;
    const perRow = n > rows ? `; ${Math.ceil(n / rows)} CPUs per row, the busiest shown` : '';
    setText(
      caption,
      `history: ${history.length} samples over ${span < 120 ? `${Math.round(span)} s` : `${Math.round(span / 60)} min`} (newest right, at most ${cols}), cpu 0 at the top${perRow}`,
    );
    canvas.setAttribute('aria-label', `per-core usage heatmap, ${history.length} samples of ${n} CPUs`);
  }

  return {
    /**
     * @param {any} row newest row of the selected host, or null
     * @param {import('../lib/percore.js').CoreHistory | null} history
     */
    update(row, history) {
      const pc = readPerCpu(row?.cpu);
      card.hidden = pc === null;
      if (!pc) {
        cells = [];
        idsKey = '';
        strip.replaceChildren();
        lastRow = row;
        return;
      }
      const layout = stripLayout(pc.ids.length);
      if (row !== lastRow) {
        lastRow = row;
        const key = pc.ids.join(',');
        if (key !== idsKey) {
          idsKey = key;
          strip.replaceChildren();
          buildCells(pc, layout);
        }
        const top = busiest(pc, layout.labelled);
        const hotSet = new Set(top);
        pc.usage.forEach((u, i) => {
          const { cell, value } = cells[i];
          const text = `cpu ${pc.ids[i]}: ${formatPct(u)}`;
          cell.style.background = heatColor(u);
          cell.dataset.value = u.toFixed(1);
          cell.title = text;
          cell.setAttribute('aria-label', text);
          cell.classList.toggle('hot', hotSet.has(i));
          if (layout.showValues) setText(value, layout.showIds ? formatPct(u) : String(Math.round(u)));
        });
        const s = perCpuSummary(pc);
        setText(summary, `${s.n} CPU${s.n === 1 ? '' : 's'} · mean ${formatPct(s.mean)} · max ${formatPct(s.max)}`);
        setText(hot, `busiest: ${top.map((i) => `cpu ${pc.ids[i]} ${formatPct(pc.usage[i])}`).join(' · ')}`);
      }
      lastHistory = history;
      if (history && (history.length !== lastHistoryLen || history.lastX() !== lastHistoryX)) {
        lastHistoryLen = history.length;
        lastHistoryX = history.lastX();
        drawHeat(history);
      }
    },
    /** Forces the heatmap to redraw (host switch, resize). */
    invalidate() {
      lastHistoryLen = -1;
      lastRow = null;
    },
  };
}
