//! procpulse-storage: the `samples` table of docs/design.md §5 on SQLite and MySQL 8 / MariaDB,
//! through Diesel and diesel_async.
//!
//! - [`schema::samples`] — the Diesel table (one schema for both backends);
//! - [`row::SampleRow`] (read) and [`row::NewSample`] (insert), with conversions to and
//!   from [`procpulse_model::Snapshot`] (v1 and v2: the v2 groups `cpu.modes`,
//!   `cpu.per_cpu` and `pressure` are stored as the compact text of [`compact`]);
//! - [`pool::Database`] — chosen by URL (`sqlite://path`, `mysql://user:pass@host:port/db`),
//!   with a read pool and a write pool, and [`with_conn!`] to run one Diesel query on
//!   either backend;
//! - [`migrate`] — embedded migrations per backend, run at start-up;
//! - [`write`] — idempotent inserts (a repeated `sample_id` is a duplicate, never an
//!   error, never stored twice);
//! - [`read`] — ingest's read queries (stats, averages);
//! - [`history`] — the history tiers (raw, 1-minute and 1-hour rollups, their retention)
//!   and the read API over them; [`rollup`] — the pure aggregation of rows into buckets;
//!   [`maintain`] — the background task that folds raw rows into rollups and deletes
//!   what is past retention.
//!
//! It is not an ORM layer for arbitrary tables, and it does not decide HTTP semantics:
//! callers map [`StorageError::is_unavailable`] to 503 themselves.

pub mod cli;
pub mod compact;
pub mod error;
pub mod fold_tap;
pub mod history;
mod history_model;
pub mod maintain;
pub mod migrate;
pub mod mysql_insert;
pub mod pool;
pub mod read;
pub mod rollup;
pub mod row;
pub mod schema;
mod sqlite_setup;
mod tag;
pub mod testing;
pub mod url;
pub mod write;

pub use error::StorageError;
pub use pool::{Database, Pool, PoolOptions, PooledConn};
pub use row::{NewSample, SampleRow};
pub use url::{Backend, DEFAULT_DATABASE_URL, DatabaseUrl};
