// Host selector. The choice is kept in the URL (?host=) so a reload or a shared link keeps it.

import { el } from '../lib/dom.js';

/**
 * @param {HTMLSelectElement} select
 * @param {(host: string) => void} onChange
 */
export function createHostsView(select, onChange) {
  let names = [];
  select.addEventListener('change', () => onChange(select.value));

  return {
    /**
     * @param {string[]} hosts sorted names
     * @param {string|null} selected
     */
    update(hosts, selected) {
      if (hosts.length !== names.length || hosts.some((h, i) => h !== names[i])) {
        names = hosts.slice();
        const opts = names.map((h) => {
          const o = el('option', '', h);
          o.value = h;
          return o;
        });
        if (opts.length === 0) {
          const o = el('option', '', 'no hosts yet');
          o.value = '';
          opts.push(o);
        }
        select.replaceChildren(...opts);
      }
      select.value = selected ?? '';
      select.disabled = names.length === 0;
    },
  };
}
