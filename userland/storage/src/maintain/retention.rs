//! Retention: rows past their tier's keep are deleted in small batches, each one short
//! DELETE statement in its own transaction (SQLite holds its one write lock only for
//! that long; MariaDB locks only the rows it deletes), so ingest's inserts are never
//! queued behind more than one batch.

use crate::error::StorageError;
use crate::history::Tier;
use crate::{Backend, Database, with_conn};
use diesel::sql_types::{BigInt, Timestamp};
use diesel_async::RunQueryDsl;
use std::time::{Duration, Instant};
use time::PrimitiveDateTime;

/// The table a tier's rows live in.
pub fn table(tier: Tier) -> &'static str {
    match tier {
        Tier::Raw => "samples",
        Tier::Minute => "rollup_1m",
        Tier::Hour => "rollup_1h",
    }
}

/// One batch's DELETE: the oldest rows (by `received_at` for raw rows, `bucket` for
/// rollups) before the bound cutoff, at most the bound count, by an index range scan.
/// SQLite has no `DELETE … LIMIT` (unless compiled in), so it deletes by key from a
/// limited sub-select.
pub fn batch_sql(backend: Backend, tier: Tier) -> String {
    let t = table(tier);
    match (backend, tier) {
        (Backend::Sqlite, Tier::Raw) => format!(
            "DELETE FROM {t} WHERE id IN \
             (SELECT id FROM {t} WHERE received_at < ? ORDER BY received_at LIMIT ?)"
        ),
        (Backend::Sqlite, _) => format!(
            "DELETE FROM {t} WHERE (host, bucket) IN \
             (SELECT host, bucket FROM {t} WHERE bucket < ? ORDER BY bucket LIMIT ?)"
        ),
        (Backend::Mysql, Tier::Raw) => {
            format!("DELETE FROM {t} WHERE received_at < ? ORDER BY received_at LIMIT ?")
        }
        (Backend::Mysql, _) => format!("DELETE FROM {t} WHERE bucket < ? ORDER BY bucket LIMIT ?"),
    }
}

/// Deletes at most `rows` of `tier`'s rows older than `cutoff` in one statement (its own
/// transaction). Returns the rows deleted and how long the statement took — on SQLite
/// the time the write lock was held, commit and fsync included.
pub async fn delete_batch(
    db: &Database,
    tier: Tier,
    cutoff: PrimitiveDateTime,
    rows: usize,
) -> Result<(usize, Duration), StorageError> {
    let sql = batch_sql(db.backend(), tier);
    let limit = i64::try_from(rows.max(1)).unwrap_or(i64::MAX);
    with_conn!(db.write_pool(), c => {
        let start = Instant::now();
        let n = diesel::sql_query(&sql)
            .bind::<Timestamp, _>(cutoff)
            .bind::<BigInt, _>(limit)
            .execute(c)
            .await?;
        Ok::<_, StorageError>((n, start.elapsed()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_scan_the_time_index_and_are_limited() {
        for b in [Backend::Sqlite, Backend::Mysql] {
            for t in Tier::ALL {
                let sql = batch_sql(b, t);
                assert!(sql.contains(table(t)), "{sql}");
                assert!(sql.contains("LIMIT ?"), "{sql}");
                let col = if t == Tier::Raw {
                    "received_at"
                } else {
                    "bucket"
                };
                assert!(sql.contains(&format!("{col} < ? ORDER BY {col}")), "{sql}");
            }
        }
    }
}
