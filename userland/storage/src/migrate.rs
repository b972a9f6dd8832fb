//! Embedded Diesel migrations, one set per backend (their column types differ), applied
//! at start-up.

use crate::error::StorageError;
use crate::url::{Backend, DatabaseUrl};
use diesel::Connection;
use diesel::SqliteConnection;
use diesel::connection::SimpleConnection;
use diesel_async::AsyncMysqlConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use std::time::Duration;

/// Migrations for SQLite (`migrations/sqlite`).
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
/// Migrations for MySQL 8 / MariaDB (`migrations/mysql`).
pub const MYSQL_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/mysql");

/// Applies every pending migration for `url`'s backend on a blocking thread and returns
/// how many ran. Safe to call on every start and from several processes (Diesel records
/// applied versions in `__diesel_schema_migrations`). On SQLite the migrations'
/// connection waits up to `sqlite_busy_timeout` for another connection's lock (the
/// pools' setting, [`crate::PoolOptions::sqlite_busy_timeout`]).
pub async fn run(url: &DatabaseUrl, sqlite_busy_timeout: Duration) -> Result<usize, StorageError> {
    let url = url.clone();
    tokio::task::spawn_blocking(move || run_blocking(&url, sqlite_busy_timeout))
        .await
        .map_err(|e| StorageError::Migration(format!("migration task failed: {e}")))?
}

fn run_blocking(url: &DatabaseUrl, sqlite_busy_timeout: Duration) -> Result<usize, StorageError> {
    let applied = match url.backend() {
        Backend::Sqlite => {
            let mut conn = SqliteConnection::establish(url.target())
                .map_err(|e| StorageError::Unavailable(e.to_string()))?;
            conn.batch_execute(&crate::sqlite_setup::sqlite_setup_sql(sqlite_busy_timeout))?;
            conn.run_pending_migrations(SQLITE_MIGRATIONS)
                .map_err(|e| StorageError::Migration(e.to_string()))?
                .len()
        }
        Backend::Mysql => {
            let mut conn: AsyncConnectionWrapper<AsyncMysqlConnection> =
                AsyncConnectionWrapper::establish(url.target())
                    .map_err(|e| StorageError::Unavailable(e.to_string()))?;
            conn.run_pending_migrations(MYSQL_MIGRATIONS)
                .map_err(|e| StorageError::Migration(e.to_string()))?
                .len()
        }
    };
    if applied > 0 {
        tracing::info!(
            applied,
            backend = url.backend().as_str(),
            "Applied migrations"
        );
    }
    Ok(applied)
}
