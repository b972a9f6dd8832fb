#!/usr/bin/env node
// Copies the vendored runtime files from node_modules into app/vendor (the page imports them by
// relative path; there is no bundler). To upgrade uPlot: bump its devDependency in package.json,
// `npm install`, then `npm run vendor`; tests/unit/vendor.test.js fails while the two differ.

import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WEB = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** [from (under node_modules), to (under app/vendor)] */
export const VENDORED = [
  ['uplot/dist/uPlot.esm.js', 'uplot/uPlot.esm.js'],
  ['uplot/dist/uPlot.min.css', 'uplot/uPlot.min.css'],
  ['uplot/LICENSE', 'uplot/LICENSE'],
];

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const [from, to] of VENDORED) {
    const dest = join(WEB, 'app', 'vendor', to);
    mkdirSync(dirname(dest), { recursive: true });
    copyFileSync(join(WEB, 'node_modules', from), dest);
    console.log(`vendor: node_modules/${from} → app/vendor/${to}`);
  }
}
