//! Retention: rows past their tier's keep are deleted in small batches, each one short
//! DELETE statement in its own transaction (SQLite holds its one write lock only for
//! that long; MariaDB locks only the rows it deletes), so ingest's inserts are never
//! queued behind more than one batch. On SQLite each batch also checkpoints the WAL
//! pages it wrote, so that their cost — most of a deleted row's — is paced with the
//! batch instead of falling on ingest's next commit.

use crate::error::StorageError;
use crate::history::Tier;
use crate::{Backend, Database, PooledConn};
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

/// How long one batch took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchTiming {
    /// From taking the lock to the end of the commit: what other writers may have to
    /// wait for. On SQLite the file's write lock (`BEGIN IMMEDIATE` … `COMMIT`, fsync
    /// included) and then the checkpoint of the pages the batch wrote (the writer
    /// connection is held until it ends); on MySQL the statement (an autocommit DELETE
    /// holds only the row locks of the rows it deletes).
    pub held: Duration,
    /// Time spent waiting for the lock first (SQLite: other writers' transactions).
    pub waited: Duration,
}

/// Deletes at most `rows` of `tier`'s rows older than `cutoff` in one statement (its own
/// transaction). Returns the rows deleted and the batch's timing.
pub async fn delete_batch(
    db: &Database,
    tier: Tier,
    cutoff: PrimitiveDateTime,
    rows: usize,
) -> Result<(usize, BatchTiming), StorageError> {
    let sql = batch_sql(db.backend(), tier);
    let limit = i64::try_from(rows.max(1)).unwrap_or(i64::MAX);
    match db.write_pool().get().await? {
        PooledConn::Sqlite(mut c) => Ok(c
            .spawn_blocking(move |c| {
                use diesel::connection::SimpleConnection;
                let start = Instant::now();
                c.batch_execute("BEGIN IMMEDIATE")?;
                let locked = Instant::now();
                let n = diesel::RunQueryDsl::execute(
                    diesel::sql_query(&sql)
                        .bind::<Timestamp, _>(cutoff)
                        .bind::<BigInt, _>(limit),
                    c,
                );
                match n {
                    Ok(n) => {
                        c.batch_execute("COMMIT")?;
                        if n > 0 {
                            // The pages the batch dirtied go back into the database file
                            // now, on this connection and inside the timed (paced)
                            // region: else the next commit past `wal_autocheckpoint` —
                            // ingest's — pays for them, unpaced.
                            c.batch_execute("PRAGMA wal_checkpoint(PASSIVE)")?;
                        }
                        Ok((
                            n,
                            BatchTiming {
                                held: locked.elapsed(),
                                waited: locked - start,
                            },
                        ))
                    }
                    Err(e) => {
                        let _ = c.batch_execute("ROLLBACK");
                        Err(e)
                    }
                }
            })
            .await?),
        PooledConn::Mysql(mut c) => {
            let start = Instant::now();
            let n = diesel::sql_query(&sql)
                .bind::<Timestamp, _>(cutoff)
                .bind::<BigInt, _>(limit)
                .execute(&mut *c)
                .await;
            match n {
                Ok(n) => Ok((
                    n,
                    BatchTiming {
                        held: start.elapsed(),
                        waited: Duration::ZERO,
                    },
                )),
                Err(e) => {
                    crate::pool::discard(c);
                    Err(e.into())
                }
            }
        }
    }
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
