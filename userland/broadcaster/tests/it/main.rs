//! Integration tests: the real broadcaster in-process on 127.0.0.1:0 against a real
//! SQLite file or MariaDB server, with real WebSocket clients (tokio-tungstenite).

mod support;

// WebSocket: hello, history backfill, live delivery in id order, routes (SQLite).
mod ws_sqlite;
// The same over MariaDB (PROCPULSE_TEST_MYSQL_URL; required when CI is set).
mod ws_mysql;
// Rows POSTed to the real ingest service (routes a and b) reach clients.
mod via_ingest;
// Slow and silent clients never delay the others; bounded queues.
mod slow_clients;
// Origin checks on the upgrade, CORS on REST.
mod origin;
// REST fallback, health, metrics, error shapes, static files.
mod http;
// The built binary from an empty directory serves the embedded dashboard; --web-dir.
mod binary;
// SIGTERM-style shutdown: Going Away close frames, run() returns.
mod shutdown;
// Snapshot v2 fields in live frames, history and REST; v1 rows without them.
mod v2;
// Hostile requests as raw request lines: traversal, dotfiles, unknown routes, bad
// history queries, security headers, history paging.
mod edges;
// History over time ranges: raw, minute and hour tiers, errors, paging (SQLite, MariaDB).
mod ranges;
// The fleet overview (stale hosts, 1,000 hosts) and --host-ttl eviction.
mod fleet;
// Alert rules → a real Alertmanager (firing, resolved, stale) and a plain webhook.
mod alerts;
// --max-clients: a slot per client, released when it leaves; no over-admission in a race.
mod client_limit;
