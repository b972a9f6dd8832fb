// app/vendor holds exact copies of the pinned npm packages (package.json devDependencies), so the
// version in package.json is the one the page runs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VENDORED, WEB } from '../../dev/vendor.mjs';

describe('vendored files', () => {
  it.each(VENDORED)('node_modules/%s is copied byte for byte to app/vendor/%s', (from, to) => {
    const want = readFileSync(join(WEB, 'node_modules', from));
    const got = readFileSync(join(WEB, 'app', 'vendor', to));
    expect(got.equals(want), `app/vendor/${to} differs from node_modules/${from}: run npm run vendor`).toBe(true);
  });

  it('the installed uPlot is the version package.json pins', () => {
    const pinned = JSON.parse(readFileSync(join(WEB, 'package.json'), 'utf8')).devDependencies.uplot;
    const installed = JSON.parse(readFileSync(join(WEB, 'node_modules', 'uplot', 'package.json'), 'utf8')).version;
    expect(installed).toBe(pinned);
  });
});
