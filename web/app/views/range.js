// The range picker: one button per preset (aria-pressed on the current one) and a "custom"
// button that opens from / to inputs (datetime-local, the browser's local time). The page keeps
// the choice in the URL; this view only shows it and reports clicks.

import { el, setText } from '../lib/dom.js';
import { bounds, customError, fromLocalInput, PRESETS, preset, rangeLabel, toLocalInput } from '../lib/range.js';

/**
 * @param {HTMLElement} root an element with role="group" and an aria-label
 * @param {(r: import('../lib/range.js').Range) => void} onChange
 */
export function createRangeView(root, onChange) {
  const buttons = PRESETS.map((p) => {
    const b = /** @type {HTMLButtonElement} */ (el('button', 'range-btn', p.label));
    b.type = 'button';
    b.id = `range-${p.key}`;
    b.dataset.range = p.key;
    b.setAttribute('aria-pressed', 'false');
    b.title = p.live ? `last ${p.label}, live` : `last ${p.label}, rolled up (min / avg / max)`;
    b.addEventListener('click', () => onChange(preset(p.key)));
    return b;
  });
  const custom = /** @type {HTMLButtonElement} */ (el('button', 'range-btn', 'custom…'));
  custom.type = 'button';
  custom.id = 'range-custom';
  custom.setAttribute('aria-pressed', 'false');
  custom.setAttribute('aria-expanded', 'false');
  custom.setAttribute('aria-controls', 'range-custom-panel');

  const panel = el('div', 'range-custom');
  panel.id = 'range-custom-panel';
  panel.hidden = true;
  const input = (id, label) => {
    const l = el('label', '');
    const i = /** @type {HTMLInputElement} */ (el('input'));
    i.type = 'datetime-local';
    i.id = id;
    l.append(el('span', 'muted', label), i);
    panel.append(l);
    return i;
  };
  const from = input('range-from', 'from');
  const to = input('range-to', 'to (empty: now)');
  const apply = /** @type {HTMLButtonElement} */ (el('button', 'range-btn', 'apply'));
  apply.type = 'button';
  apply.id = 'range-apply';
  const error = el('span', 'range-error', '');
  error.id = 'range-error';
  error.setAttribute('role', 'alert');
  panel.append(apply, error);

  const label = el('span', 'range-label muted', '');
  label.id = 'range-label';
  root.append(...buttons, custom, label, panel);

  /** @type {import('../lib/range.js').Range} */
  let current = preset(PRESETS[0].key);

  function openPanel(open) {
    panel.hidden = !open;
    custom.setAttribute('aria-expanded', String(open));
  }

  custom.addEventListener('click', () => {
    const open = panel.hidden;
    if (open) {
      // Start from what is shown: the current range's ends (the last 24 h for a live one).
      const now = Date.now();
      const [f, t] = current.kind === 'custom' ? bounds(current, now) : [now - 86400_000, now];
      from.value = toLocalInput(f);
      to.value = current.kind === 'custom' && current.to !== 'now' ? toLocalInput(t) : '';
      setText(error, '');
    }
    openPanel(open);
    if (open) from.focus();
  });

  function submit() {
    const f = fromLocalInput(from.value);
    if (!f) {
      setText(error, 'from: pick a date and time');
      return;
    }
    const t = to.value ? fromLocalInput(to.value) : 'now';
    if (!t) {
      setText(error, 'to: pick a date and time, or leave it empty for now');
      return;
    }
    const err = customError(f, t, Date.now());
    if (err) {
      setText(error, err);
      return;
    }
    setText(error, '');
    openPanel(false);
    onChange({ kind: 'custom', from: f, to: t });
  }
  apply.addEventListener('click', submit);
  for (const i of [from, to]) {
    i.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') submit();
    });
  }

  return {
    /** Shows `r` as the current range. @param {import('../lib/range.js').Range} r */
    set(r) {
      current = r;
      for (const b of buttons) b.setAttribute('aria-pressed', String(r.kind === 'preset' && r.key === b.dataset.range));
      custom.setAttribute('aria-pressed', String(r.kind === 'custom'));
      setText(label, r.kind === 'custom' ? rangeLabel(r) : '');
    },
  };
}
