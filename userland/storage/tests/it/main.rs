//! Integration tests of procpulse-storage against real databases: a temp SQLite file
//! always, and MariaDB/MySQL when `PROCPULSE_TEST_MYSQL_URL` is set (required when `CI`
//! is set; `ci/mariadb.sh start` provides one).

mod common;
// Migrations, pools and the row round trip.
mod schema;
// Idempotent inserts.
mod write;
// Stats and averages.
mod read;
// Pooled connections after server-side failures.
mod pool;
// Issue 14: byte-exact ids, session settings, durability check, refusals.
mod edges;
// Issue 15: history tiers and rollup reads.
mod history;
// Issue 15: the maintainer (folding, lease, two at once, retention).
mod maintain;
