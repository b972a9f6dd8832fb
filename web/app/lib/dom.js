// Tiny DOM helpers. Everything that comes from the wire goes in through textContent.

/**
 * Creates an element with a class and optional text.
 * @param {string} tag
 * @param {string} [cls]
 * @param {string} [text]
 */
export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** Sets textContent only when it changed (saves style recalcs on every frame). */
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** A label/value pair inside a <dl>; returns the <dd> to update. */
export function defItem(dl, label, id) {
  const dt = el('dt', '', label);
  const dd = el('dd', 'num', '–');
  if (id) dd.id = id;
  dl.append(dt, dd);
  return dd;
}
