#!/usr/bin/env node
// DEV ONLY — records the frames a real broadcaster sends, one per line, for
// `dev/replay-server.mjs --capture FILE`.
//
//   node dev/capture.mjs ws://127.0.0.1:4000/ws frames.jsonl [seconds=10]

import { createWriteStream } from 'node:fs';
import WebSocket from 'ws';

const [url, out, seconds = '10'] = process.argv.slice(2);
if (!url || !out) {
  console.error('usage: node dev/capture.mjs WS_URL OUT_FILE [SECONDS]');
  process.exit(2);
}
const file = createWriteStream(out);
const ws = new WebSocket(url);
let n = 0;
ws.on('message', (data, isBinary) => {
  if (isBinary) return;
  file.write(`${data.toString().replace(/\n/g, ' ')}\n`);
  n++;
});
ws.on('error', (e) => {
  console.error(`capture: ${e.message}`);
  process.exit(1);
});
setTimeout(() => {
  ws.close();
  file.end(() => {
    console.log(`capture: ${n} frames → ${out}`);
    process.exit(0);
  });
}, Number(seconds) * 1000);
