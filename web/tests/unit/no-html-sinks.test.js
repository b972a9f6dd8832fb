// Data from the wire goes into the DOM as text: no HTML-parsing sinks anywhere in app/.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clock } from '../../app/views/charts.js';

const SRC = new URL('../../app/', import.meta.url).pathname;
const files = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : []));

describe('source hygiene', () => {
  it('never uses innerHTML, outerHTML, insertAdjacentHTML, document.write or eval', () => {
    const list = files(SRC);
    expect(list.length).toBeGreaterThan(10);
    for (const f of list) {
      const text = readFileSync(f, 'utf8');
      expect(text, f).not.toMatch(/\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|\beval\(|new Function\(/);
    }
  });
});

describe('time axis clock', () => {
  it('24-hour, seconds only when ticks are under a minute apart', () => {
    const t = new Date(2026, 10, 23, 14, 5, 9).getTime() / 1000;
    expect(clock(t, 300)).toBe('14:05');
    expect(clock(t, 60)).toBe('14:05');
    expect(clock(t, 30)).toBe('14:05:09');
  });
});
