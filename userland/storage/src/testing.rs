//! Helpers for tests (this crate's, ingest's, broadcaster's): a fresh MySQL/MariaDB
//! database per test so tests can run in parallel, and the from-scratch check of the
//! rollup tables.

use crate::error::StorageError;
use diesel_async::{AsyncConnection, AsyncMysqlConnection, SimpleAsyncConnection};

/// The variable naming the MySQL/MariaDB server tests use (`ci/mariadb.sh start` prints
/// such a URL; the test scripts set it).
pub const TEST_MYSQL_URL_VAR: &str = "PROCPULSE_TEST_MYSQL_URL";

/// The MySQL/MariaDB server URL tests use, from [`TEST_MYSQL_URL_VAR`]: `None` (the
/// MySQL half of a test is skipped, and says so) when unset, a panic when unset under
/// `CI`, where every test must run. The one copy of this rule for every crate's tests.
pub fn test_mysql_url() -> Option<String> {
    match std::env::var(TEST_MYSQL_URL_VAR) {
        Ok(u) if !u.is_empty() => Some(u),
        _ if std::env::var_os("CI").is_some() => {
            panic!("CI is set but {TEST_MYSQL_URL_VAR} is missing (run ci/mariadb.sh start)")
        }
        _ => {
            eprintln!(
                "{TEST_MYSQL_URL_VAR} unset: skipping a MySQL test (set CI to make this fatal)"
            );
            None
        }
    }
}

pub use crate::tag::random_tag;

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

/// Every raw row as the rollups see them (for from-scratch comparisons in tests).
pub async fn raw_points(
    db: &crate::Database,
) -> Result<Vec<crate::rollup::RawPoint>, StorageError> {
    use crate::maintain::fold::{RawRecord, point, raw_columns};
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    let rows: Vec<RawRecord> = crate::with_conn!(db.read_pool(), c => {
        Ok::<_, StorageError>(crate::schema::samples::table
            .select(raw_columns!())
            .load(c)
            .await?)
    })?;
    Ok(rows.into_iter().map(point).collect())
}

/// Every stored row of a rollup tier, by (host, bucket), through the read API.
pub async fn stored_rollups(
    db: &crate::Database,
    tier: crate::history::Tier,
) -> Result<Vec<crate::history::RollupRow>, StorageError> {
    let (from, to) = (
        time::macros::datetime!(1970-01-01 00:00 UTC),
        time::macros::datetime!(9999-01-01 00:00 UTC),
    );
    let mut out = Vec::new();
    for host in crate::history::rollup_hosts(db, tier, from, to, None, i64::MAX).await? {
        out.extend(crate::history::rollups(db, tier, &host, from, to, i64::MAX).await?);
    }
    Ok(out)
}

/// What [`check_rollups_from_scratch`] compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollupCheck {
    /// Raw rows.
    pub raw_rows: usize,
    /// Minute rows (equal to the from-scratch ones).
    pub minutes: usize,
    /// Hour rows (equal to the from-scratch ones).
    pub hours: usize,
}

/// Compares both rollup tables with a computation from scratch over every raw row
/// (`rollup::minutes_from_scratch`, `rollup::hours_from_minutes`); `Err` describes the
/// first difference (a missing, extra or different bucket — a double-counted minute
/// shows as a different `samples`).
pub async fn check_rollups_from_scratch(db: &crate::Database) -> Result<RollupCheck, String> {
    use crate::history::Tier;
    let raw = raw_points(db).await.map_err(|e| e.to_string())?;
    let minutes = crate::rollup::minutes_from_scratch(&raw);
    let hours = crate::rollup::hours_from_minutes(&minutes);
    for (tier, want) in [(Tier::Minute, &minutes), (Tier::Hour, &hours)] {
        let got = stored_rollups(db, tier).await.map_err(|e| e.to_string())?;
        let key = |r: &crate::history::RollupRow| (r.host.clone(), r.bucket);
        let got_keys: std::collections::BTreeMap<_, _> = got.iter().map(|r| (key(r), r)).collect();
        let want_keys: std::collections::BTreeMap<_, _> =
            want.iter().map(|r| (key(r), r)).collect();
        for (k, w) in &want_keys {
            match got_keys.get(k) {
                None => return Err(format!("{tier} bucket {k:?} missing (want {w:?})")),
                Some(g) if g != w => {
                    return Err(format!(
                        "{tier} bucket {k:?} differs: stored {g:?}, from scratch {w:?}"
                    ));
                }
                Some(_) => {}
            }
        }
        if let Some((k, g)) = got_keys.iter().find(|(k, _)| !want_keys.contains_key(*k)) {
            return Err(format!(
                "{tier} bucket {k:?} stored but has no raw rows: {g:?}"
            ));
        }
    }
    Ok(RollupCheck {
        raw_rows: raw.len(),
        minutes: minutes.len(),
        hours: hours.len(),
    })
}
