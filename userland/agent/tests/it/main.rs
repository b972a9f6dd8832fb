//! procpulse-agent integration tests: the real server in-process on 127.0.0.1:0.

mod support;

/// The web config's bearer/basic authentication and push mode's refusal of a token over http.
mod auth;
/// The TLS acceptor: a real handshake with a self-signed certificate, refusals.
mod tls;

/// Snapshots of the fixture trees diffed against golden files.
mod golden;
/// The 6.12 module formats: swap from /proc/meminfo, kernel threads without a comm.
mod kmod612;
/// Live checks against this machine's /proc, with procpulse-stress holding a known load.
mod live;
/// Push mode against a real warp ingest stand-in that fails, then recovers.
mod push;
/// Arbitrary query strings on every route: 200 or a JSON 4xx, never a 5xx or a drop.
mod queries;
/// Every route, error shapes, concurrency.
mod routes;
/// Source selection: auto switching, kmod-only, fallback.
mod source;
/// Snapshot v2 fields on fixture trees: modes on both sources, pressure, top-row owners,
/// threads and nice, the 50-row limit.
mod v2;
