// The files of web/app that the dashboard page loads, found the way the browser finds them:
// index.html, its stylesheets and module script, then every module those import (static
// `import … from './x.js'`, `import './x.js'`, `export … from './x.js'`), transitively. The
// end-to-end test checks this list against what Chromium actually requested, so it cannot
// drift from the page.
//
//   node tests/served.mjs        → `web: served N files, X B, gzip -9 Y B (per file, summed)`
//   node tests/served.mjs --list → one path per line, relative to web/app

import { readFileSync } from 'node:fs';
import { dirname, join, normalize, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export const APP = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'app');

const HTML_REFS = /<(?:link\b[^>]*\brel="stylesheet"[^>]*\bhref|script\b[^>]*\bsrc)="([^"]+)"/g;
const JS_REFS = /(?:^|[;\s])(?:import|export)\s*(?:[^'";]*?\sfrom\s*)?['"](\.{1,2}\/[^'"]+)['"]/g;

/**
 * Paths (relative to `appDir`, '/'-separated, sorted) of every file the page loads.
 * @param {string} [appDir]
 * @returns {string[]}
 */
export function servedFiles(appDir = APP) {
  const seen = new Set(['index.html']);
  const queue = [];
  const add = (from, ref) => {
    if (/^[a-z]+:/i.test(ref) || ref.startsWith('/')) throw new Error(`${from}: ${ref} is not a relative path inside web/app`);
    const rel = posix.normalize(posix.join(posix.dirname(from), ref));
    if (rel.startsWith('../')) throw new Error(`${from}: ${ref} leaves web/app`);
    if (!seen.has(rel)) {
      seen.add(rel);
      queue.push(rel);
    }
  };
  for (const m of readFileSync(join(appDir, 'index.html'), 'utf8').matchAll(HTML_REFS)) add('index.html', m[1]);
  while (queue.length) {
    const rel = queue.shift();
    if (!rel.endsWith('.js')) continue;
    for (const m of readFileSync(join(appDir, normalize(rel)), 'utf8').matchAll(JS_REFS)) add(rel, m[1]);
  }
  return [...seen].sort();
}

/**
 * Bytes as stored and the sum of each file gzipped at level 9 (each response is its own stream).
 * @param {string} [appDir]
 */
export function servedSize(appDir = APP) {
  const files = servedFiles(appDir);
  let raw = 0;
  let gzip = 0;
  for (const f of files) {
    const body = readFileSync(join(appDir, f));
    raw += body.length;
    gzip += gzipSync(body, { level: 9 }).length;
  }
  return { files: files.length, raw, gzip };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--list')) {
    for (const f of servedFiles()) console.log(f);
  } else {
    const s = servedSize();
    console.log(`web: served ${s.files} files, ${s.raw} B, gzip -9 ${s.gzip} B (per file, summed)`);
  }
}
