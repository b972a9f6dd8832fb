// Per-core CPU: a heat strip of the newest row (one cell per CPU, colour by usage, value in the
// cell while they fit and always in the tooltip, the busiest cores outlined and named) and a
// heatmap of the recent per-core history (time left → right, CPUs top → bottom).
// The card is hidden when the newest row has no per-CPU figures (v1 rows).

import { el, setText } from '../lib/dom.js';
import { formatPct } from '../lib/format.js';
import { busiest, heatColor, heatRgb, heatRows, HISTORY_MISSING, perCpuSummary, readPerCpu, stripLayout } from '../lib/percore.js';

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
  new ResizeObserver(() => {
    const w = canvas.clientWidth;
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

  function drawHeat(history) {
    const n = history.width;
    const cssH = Math.max(40, Math.min(160, n * 6));
    const cssW = Math.max(200, canvas.clientWidth || card.clientWidth - 30);
    const dpr = window.devicePixelRatio || 1;
    canvas.style.height = `${cssH}px`;
    if (canvas.width !== Math.round(cssW * dpr) || canvas.height !== Math.round(cssH * dpr)) {
      canvas.width = Math.round(cssW * dpr);
      canvas.height = Math.round(cssH * dpr);
    }
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (history.length === 0 || n === 0) return;
    const { rows, rowOf } = heatRows(n, cssH);
    const cols = history.capacity;
    off.width = cols;
    off.height = rows;
    const octx = off.getContext('2d');
    if (!octx) return;
    const img = octx.createImageData(cols, rows);
    const acc = new Int16Array(rows);
    const palette = [];
    for (let b = 0; b <= 200; b++) palette.push(heatRgb(b / 2));
    const x0 = cols - history.length;
    for (let k = 0; k < history.length; k++) {
      const { bytes } = history.sample(k);
      acc.fill(-1);
      for (let i = 0; i < n; i++) {
        const b = bytes[i];
        if (b !== HISTORY_MISSING && b > acc[rowOf[i]]) acc[rowOf[i]] = b;
      }
      for (let r = 0; r < rows; r++) {
        if (acc[r] < 0) continue;
        const [R, G, B] = palette[Math.min(200, acc[r])];
        const o = (r * cols + x0 + k) * 4;
        img.data[o] = R;
        img.data[o + 1] = G;
        img.data[o + 2] = B;
        img.data[o + 3] = 255;
      }
    }
    octx.putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(off, 0, 0, canvas.width, canvas.height);
    const span = history.length > 1 ? history.sample(history.length - 1).x - history.sample(0).x : 0;
    const perRow = n > rows ? `; ${Math.ceil(n / rows)} CPUs per row, the busiest shown` : '';
    setText(
      caption,
      `history: ${history.length} samples over ${Math.round(span / 60)} min (newest right, at most ${cols}), cpu 0 at the top${perRow}`,
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
