//! Helpers for tests that run against a real MySQL/MariaDB server (this crate's, ingest's,
//! broadcaster's): each test gets its own empty database so tests can run in parallel.

use crate::error::StorageError;
use diesel_async::{AsyncConnection, AsyncMysqlConnection, SimpleAsyncConnection};
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A short random lower-case hex tag (not cryptographic; unique enough for test names).
pub fn random_tag() -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.write_u32(std::process::id());
    format!("{:012x}", h.finish() & 0xffff_ffff_ffff)
}

/// Creates a new empty database `<base db>_t<tag>` on the server of `base_url`
/// (`mysql://user:pass@host:port/db`) and returns the URL that names it. The user needs
/// CREATE on `<db>_%` (ci/mariadb.sh grants it).
pub async fn fresh_mysql_database(base_url: &str) -> Result<String, StorageError> {
    let (server, db) = base_url
        .rsplit_once('/')
        .ok_or_else(|| StorageError::BadUrl("mysql URL without a database".into()))?;
    let (db, query) = match db.split_once('?') {
        Some((d, q)) => (d, format!("?{q}")),
        None => (db, String::new()),
    };
    let name = format!("{db}_t{}", random_tag());
    let mut conn = AsyncMysqlConnection::establish(base_url)
        .await
        .map_err(|e| StorageError::Unavailable(e.to_string()))?;
    conn.batch_execute(&format!("CREATE DATABASE `{name}`"))
        .await?;
    Ok(format!("{server}/{name}{query}"))
}
