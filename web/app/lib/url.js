// Where the dashboard finds its broadcaster: derived from the page's own location, so the same
// build works behind any host, port, TLS terminator or path prefix.

/**
 * WebSocket URL: `?ws=` when given (absolute ws:/wss: URL, or a path resolved against the page),
 * otherwise `ws` next to the page (`http://h:4000/` → `ws://h:4000/ws`, `https://h/dash/` →
 * `wss://h/dash/ws`).
 * @param {{href: string}} location
 */
export function wsUrl(location) {
  const page = new URL(location.href);
  const override = page.searchParams.get('ws');
  if (override) {
    try {
      const u = new URL(override, page);
      if (u.protocol === 'http:') u.protocol = 'ws:';
      else if (u.protocol === 'https:') u.protocol = 'wss:';
      if (u.protocol === 'ws:' || u.protocol === 'wss:') return u.href;
    } catch {
      // fall through to the derived URL
    }
  }
  const u = new URL('ws', page);
  u.protocol = page.protocol === 'https:' ? 'wss:' : 'ws:';
  u.search = '';
  u.hash = '';
  return u.href;
}

/**
 * REST fallback URL of the same broadcaster: `api/v1/<path>` next to the WebSocket endpoint.
 * @param {string} ws the WebSocket URL from wsUrl()
 * @param {string} path e.g. 'latest'
 */
export function apiUrl(ws, path) {
  const u = new URL(`api/v1/${path}`, ws);
  u.protocol = u.protocol === 'wss:' ? 'https:' : 'http:';
  return u.href;
}
