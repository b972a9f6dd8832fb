//! Integration tests of procpulse-ingest: the real server in-process (or the real binary
//! for process faults) on 127.0.0.1, against a temp SQLite file and MariaDB/MySQL
//! (`PROCPULSE_TEST_MYSQL_URL`, required when `CI` is set; `ci/mariadb.sh start`).

mod common;
// Happy paths, idempotency, concurrency, auth, probes and metrics.
mod api;
// The corpus of bad requests under tests/fixtures/invalid/.
mod invalid;
// Client cancellation never leaves a transaction open or half a batch stored.
mod cancel;
// kill -9 of the process and a MariaDB restart under load.
mod faults;
// SIGTERM drains in-flight requests and exits 0.
mod shutdown;
// Snapshot v2 and v1 bodies stored and read back as posted.
mod v2;
// Issue 14: byte-exact sample_ids, one poison among 100, readyz durability detail.
mod edges14;
// Rows no validated snapshot could make are skipped by every read.
mod poison;
