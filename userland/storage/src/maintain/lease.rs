//! The maintenance lease: one row of `maintenance_lease` that at most one maintainer
//! holds at a time. Taking and renewing it is one conditional UPDATE — "set me as holder
//! until now + ttl where I already hold it or it has expired" — and the lease is held
//! when that UPDATE matched the row. Times come from the database's clock, so the
//! replicas' clocks may disagree without two of them holding it.

use crate::error::StorageError;
use crate::{Backend, Database, with_conn};
use diesel::sql_types::{BigInt, Text, Timestamp};
use diesel_async::RunQueryDsl;
use std::time::Duration;

/// The lease row of the history maintainer.
pub const HISTORY_LEASE: &str = "history";

/// SQLite's clock as stored timestamps are written (`YYYY-MM-DD HH:MM:SS.fff`, UTC).
const SQLITE_NOW: &str = "strftime('%Y-%m-%d %H:%M:%f', 'now')";

/// Takes or renews lease `name` for `holder` until the database's now + `ttl`. Returns
/// whether `holder` holds it now.
pub async fn acquire(
    db: &Database,
    name: &str,
    holder: &str,
    ttl: Duration,
) -> Result<bool, StorageError> {
    let micros = i64::try_from(ttl.as_micros()).unwrap_or(i64::MAX);
    let sql = match db.backend() {
        Backend::Sqlite => format!(
            "UPDATE maintenance_lease SET holder = ?, \
             lease_until = strftime('%Y-%m-%d %H:%M:%f', 'now', ? || ' seconds') \
             WHERE name = ? AND (holder = ? OR lease_until < {SQLITE_NOW})"
        ),
        Backend::Mysql => "UPDATE maintenance_lease SET holder = ?, \
             lease_until = UTC_TIMESTAMP(3) + INTERVAL ? MICROSECOND \
             WHERE name = ? AND (holder = ? OR lease_until < UTC_TIMESTAMP(3))"
            .to_owned(),
    };
    let ttl_arg = match db.backend() {
        // strftime's modifier: '+12.345 seconds'.
        Backend::Sqlite => format!("+{}.{:06}", ttl.as_secs(), ttl.subsec_micros()),
        Backend::Mysql => micros.to_string(),
    };
    let n: usize = with_conn!(db.write_pool(), c => {
        let q = diesel::sql_query(&sql)
            .bind::<Text, _>(holder)
            .bind::<Text, _>(&ttl_arg)
            .bind::<Text, _>(name)
            .bind::<Text, _>(holder);
        Ok::<_, StorageError>(q.execute(c).await?)
    })?;
    Ok(n == 1)
}

/// Gives lease `name` up if `holder` holds it (on shutdown: another replica takes over
/// at its next pass instead of after the ttl).
pub async fn release(db: &Database, name: &str, holder: &str) -> Result<(), StorageError> {
    let sql = "UPDATE maintenance_lease SET lease_until = '1970-01-01 00:00:00.000' \
               WHERE name = ? AND holder = ?";
    with_conn!(db.write_pool(), c => {
        diesel::sql_query(sql)
            .bind::<Text, _>(name)
            .bind::<Text, _>(holder)
            .execute(c)
            .await?;
        Ok::<_, StorageError>(())
    })
}

#[derive(diesel::QueryableByName)]
struct Holder {
    #[diesel(sql_type = Text)]
    holder: String,
    #[diesel(sql_type = BigInt)]
    held: i64,
}

/// Who holds lease `name` now (by the database's clock), if anyone.
pub async fn current_holder(db: &Database, name: &str) -> Result<Option<String>, StorageError> {
    let now = match db.backend() {
        Backend::Sqlite => SQLITE_NOW,
        Backend::Mysql => "UTC_TIMESTAMP(3)",
    };
    let sql = format!(
        "SELECT holder, CASE WHEN lease_until >= {now} THEN 1 ELSE 0 END AS held \
         FROM maintenance_lease WHERE name = ?"
    );
    let rows: Vec<Holder> = with_conn!(db.read_pool(), c => {
        Ok::<_, StorageError>(diesel::sql_query(&sql).bind::<Text, _>(name).load(c).await?)
    })?;
    Ok(rows
        .into_iter()
        .find(|h| h.held == 1 && !h.holder.is_empty())
        .map(|h| h.holder))
}

#[derive(diesel::QueryableByName)]
struct Now {
    #[diesel(sql_type = Timestamp)]
    now: time::PrimitiveDateTime,
}

/// The database's clock (UTC, milliseconds), the one clock every replica shares: the
/// lease and the fold's settle bound are taken from it.
pub async fn database_now(db: &Database) -> Result<time::OffsetDateTime, StorageError> {
    let sql = match db.backend() {
        Backend::Sqlite => format!("SELECT {SQLITE_NOW} AS now"),
        Backend::Mysql => "SELECT UTC_TIMESTAMP(3) AS now".to_owned(),
    };
    let rows: Vec<Now> = with_conn!(db.read_pool(), c => {
        Ok::<_, StorageError>(diesel::sql_query(&sql).load(c).await?)
    })?;
    rows.into_iter()
        .next()
        .map(|r| r.now.assume_utc())
        .ok_or_else(|| StorageError::InvalidArgument("the database returned no time".into()))
}
