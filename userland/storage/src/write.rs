//! Idempotent inserts of samples, the write path ingest uses in both write modes.
//!
//! One call is one transaction: the sample_ids of the batch that are already stored are
//! looked up, the rest are inserted with plain `INSERT`s (MySQL, literal statements: see
//! [`crate::mysql_insert`]) / a plain `INSERT` (SQLite, Diesel's bound batch insert, under
//! the write lock so no id can appear meanwhile) in
//! as few multi-row statements as the limits allow, and the transaction commits. Every
//! input row comes back marked stored or duplicate — also when a batch repeats a
//! sample_id itself (the first occurrence wins) — so that a batched writer can tell each
//! request which of its rows were duplicates.
//!
//! MySQL fast path: a batch of distinct sample_ids that fits one statement is first sent
//! as one plain `INSERT` in autocommit mode — one round trip over the text protocol
//! instead of BEGIN, PREPARE, EXECUTE and COMMIT. The statement is its own transaction
//! and atomic: it stores every row, or on a duplicate sample_id fails and stores none,
//! and the lookup path above runs.
//!
//! Concurrency: SQLite writes run on the single writer connection inside `BEGIN
//! IMMEDIATE`, so lookup and insert see the same table. On MySQL another writer (the other
//! route) may store one of the same sample_ids between the lookup and the insert; the
//! insert then fails on the duplicate key, the transaction is rolled back and
//! retried (the retry's lookup sees the other writer's committed row). Deadlocks are
//! retried the same way.

use crate::error::StorageError;
use crate::pool::{Database, PooledConn};
use crate::row::{NEW_SAMPLE_COLUMNS, NewSample};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Rows per INSERT on SQLite: SQLite ≥ 3.32 allows 32,766 bound parameters per statement
/// (910 rows of 36 columns since snapshot v2, so a full 1,000-snapshot request is two
/// statements in its one transaction).
pub const SQLITE_ROWS_PER_STATEMENT: usize = 32_766 / NEW_SAMPLE_COLUMNS;
/// Rows per INSERT on MySQL: the protocol allows 65,535 placeholders per statement.
pub const MYSQL_ROWS_PER_STATEMENT: usize = 65_535 / NEW_SAMPLE_COLUMNS;
/// sample_ids per `IN (...)` lookup.
const LOOKUP_CHUNK: usize = 1000;
/// Attempts of one MySQL write before giving up on races/deadlocks.
const MYSQL_ATTEMPTS: usize = 4;

/// What one [`insert_samples`] call did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InsertReport {
    /// One flag per input row, in order: `true` if this call stored it, `false` if its
    /// sample_id was already in the table or earlier in the same batch.
    pub stored: Vec<bool>,
    /// Time spent waiting for a pooled connection.
    pub pool_wait: Duration,
    /// INSERT statements executed (in the one transaction).
    pub statements: usize,
}

impl InsertReport {
    /// Rows stored.
    pub fn accepted(&self) -> usize {
        self.stored.iter().filter(|s| **s).count()
    }

    /// Rows that were duplicates.
    pub fn duplicates(&self) -> usize {
        self.stored.len() - self.accepted()
    }
}

/// Stores `rows` in one transaction, idempotently by `sample_id`. Returns only after the
/// commit; on error nothing of the batch is stored.
pub async fn insert_samples(
    db: &Database,
    rows: Vec<NewSample>,
) -> Result<InsertReport, StorageError> {
    insert_shared(db, Arc::new(rows)).await
}

/// [`insert_samples`] of rows the caller keeps a handle on: after a failure it can get
/// them back (`Arc::try_unwrap`) and, for instance, write them again in smaller parts.
pub async fn insert_shared(
    db: &Database,
    rows: Arc<Vec<NewSample>>,
) -> Result<InsertReport, StorageError> {
    if rows.is_empty() {
        return Ok(InsertReport::default());
    }
    let start = Instant::now();
    let conn = db.write_pool().get().await?;
    let pool_wait = start.elapsed();
    let (stored, statements) = match conn {
        PooledConn::Sqlite(mut c) => sqlite::insert(&mut c, rows.clone()).await?,
        PooledConn::Mysql(mut c) => {
            let mut attempt = 0;
            loop {
                attempt += 1;
                match mysql::insert(&mut c, &rows).await {
                    Ok(done) => break done,
                    Err(e) if attempt < MYSQL_ATTEMPTS && is_retryable(&e) => {
                        tracing::debug!(attempt, error = %e, "Retrying write");
                    }
                    Err(e) => {
                        crate::pool::discard(c);
                        return Err(e);
                    }
                }
            }
        }
    };
    // Committed: the maintainer's fold may take these rows from here (when it is on).
    db.fold_tap().record(&rows, &stored);
    Ok(InsertReport {
        stored,
        pool_wait,
        statements,
    })
}

fn is_retryable(e: &StorageError) -> bool {
    match e {
        StorageError::WriteRace { .. } => true,
        StorageError::Query(diesel::result::Error::DatabaseError(_, info)) => {
            let m = info.message();
            m.contains("Deadlock") || m.contains("deadlock")
        }
        _ => false,
    }
}

/// The rows `plan` marked to be stored, in request order.
fn fresh_rows<'a>(rows: &'a [NewSample], stored: &[bool]) -> Vec<&'a NewSample> {
    rows.iter()
        .zip(stored)
        .filter(|(_, s)| **s)
        .map(|(r, _)| r)
        .collect()
}

/// Marks which rows are new: not in `existing` and not seen earlier in the batch.
fn plan(rows: &[NewSample], existing: &HashSet<String>) -> Vec<bool> {
    let mut seen: HashSet<&str> = HashSet::with_capacity(rows.len());
    rows.iter()
        .map(|r| !existing.contains(&r.sample_id) && seen.insert(r.sample_id.as_str()))
        .collect()
}

mod sqlite {
    use super::*;
    use crate::pool::SqliteConn;
    use crate::schema::samples::dsl;
    use diesel::prelude::*;

    pub(super) async fn insert(
        conn: &mut SqliteConn,
        rows: Arc<Vec<NewSample>>,
    ) -> Result<(Vec<bool>, usize), StorageError> {
        // The whole transaction runs on the blocking thread that owns the connection; if
        // the caller goes away it still commits or rolls back there.
        let done = conn
            .spawn_blocking(move |c| {
                c.immediate_transaction(|c| {
                    let mut existing = HashSet::new();
                    for chunk in rows.chunks(LOOKUP_CHUNK) {
                        let ids: Vec<&str> = chunk.iter().map(|r| r.sample_id.as_str()).collect();
                        let found: Vec<String> = dsl::samples
                            .filter(dsl::sample_id.eq_any(ids))
                            .select(dsl::sample_id)
                            .load(c)?;
                        existing.extend(found);
                    }
                    let stored = plan(&rows, &existing);
                    let fresh = fresh_rows(&rows, &stored);
                    let mut statements = 0;
                    for chunk in fresh.chunks(SQLITE_ROWS_PER_STATEMENT) {
                        // A plain INSERT: the lookup above ran under the write lock, so
                        // no id of `chunk` is stored, and `OR IGNORE` would only turn a
                        // row the table refuses (a CHECK or NOT NULL constraint) into a
                        // row silently dropped yet reported stored.
                        let n = diesel::insert_into(dsl::samples)
                            .values(chunk.to_vec())
                            .execute(c)?;
                        statements += 1;
                        if n != chunk.len() {
                            // Cannot happen under the write lock; rolls back if it does.
                            return Err(diesel::result::Error::QueryBuilderError(
                                format!("expected {} inserts, got {n}", chunk.len()).into(),
                            ));
                        }
                    }
                    Ok((stored, statements))
                })
            })
            .await?;
        Ok(done)
    }
}

mod mysql {
    use super::*;
    use crate::mysql_insert::OnDuplicate;
    use crate::pool::MysqlConn;
    use crate::schema::samples::dsl;
    use diesel::prelude::*;
    use diesel_async::{AsyncConnection, RunQueryDsl, SimpleAsyncConnection};

    /// Literal multi-row INSERT (IGNORE) statements (see [`crate::mysql_insert`]).
    fn statements_for<'a>(
        rows: impl Iterator<Item = &'a NewSample>,
        on_duplicate: OnDuplicate,
    ) -> Vec<(String, usize)> {
        crate::mysql_insert::statements(rows, MYSQL_ROWS_PER_STATEMENT, on_duplicate)
    }

    /// Inserts `rows` (`count` of them) with plain `INSERT` statements inside the
    /// caller's transaction; [`StorageError::WriteRace`] unless every row went in (another
    /// writer stored one of the ids meanwhile). Returns the number of statements.
    async fn insert_every<'a>(
        c: &mut MysqlConn,
        rows: impl Iterator<Item = &'a NewSample>,
        count: usize,
    ) -> Result<usize, StorageError> {
        let mut statements = 0;
        let mut inserted = 0;
        // Plain INSERT, not INSERT IGNORE: IGNORE would also turn a row the table refuses
        // (a CHECK constraint, an out-of-range value) into a warning and a row silently
        // skipped. A duplicate key can only be another writer's row stored since the
        // lookup: that is the race, rolled back and retried.
        for (sql, _) in statements_for(rows, OnDuplicate::Fail) {
            inserted += match diesel::sql_query(sql).execute(c).await {
                Ok(n) => n,
                Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                )) => {
                    return Err(StorageError::WriteRace {
                        expected: count,
                        inserted,
                    });
                }
                Err(e) => return Err(e.into()),
            };
            statements += 1;
        }
        if inserted != count {
            return Err(StorageError::WriteRace {
                expected: count,
                inserted,
            });
        }
        Ok(statements)
    }

    pub(super) async fn insert(
        conn: &mut MysqlConn,
        rows: &[NewSample],
    ) -> Result<(Vec<bool>, usize), StorageError> {
        // Fast path for the common case (no sample_id repeated or already stored).
        let all_new = plan(rows, &HashSet::new());
        if all_new.iter().all(|s| *s) {
            let mut plain = statements_for(rows.iter(), OnDuplicate::Fail);
            if plain.len() == 1 {
                // One plain INSERT in autocommit mode is a transaction of its own, sent
                // as text in one round trip (no BEGIN, PREPARE, COMMIT): InnoDB stores
                // all of its rows or, on any error such as a duplicate sample_id, none.
                let (sql, _) = plain.swap_remove(0);
                match conn.batch_execute(&sql).await {
                    Ok(()) => return Ok((all_new, 1)),
                    // Nothing stored; the exact path below finds out which rows are new.
                    Err(diesel::result::Error::DatabaseError(
                        kind @ diesel::result::DatabaseErrorKind::UniqueViolation,
                        info,
                    )) => {
                        tracing::debug!(?kind, message = info.message(), "Fast insert refused");
                    }
                    Err(e) => return Err(e.into()),
                }
            } else {
                // Several statements: one transaction; if some rows were ignored, roll
                // back and take the exact path.
                let attempt = conn
                    .transaction::<_, StorageError, _>(async move |c| {
                        insert_every(c, rows.iter(), rows.len()).await
                    })
                    .await;
                match attempt {
                    Ok(statements) => return Ok((all_new, statements)),
                    Err(StorageError::WriteRace { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        conn.transaction::<_, StorageError, _>(async move |c| {
            let mut existing = HashSet::new();
            for chunk in rows.chunks(LOOKUP_CHUNK) {
                let ids: Vec<&str> = chunk.iter().map(|r| r.sample_id.as_str()).collect();
                let found: Vec<String> = dsl::samples
                    .filter(dsl::sample_id.eq_any(ids))
                    .select(dsl::sample_id)
                    .load(c)
                    .await?;
                existing.extend(found);
            }
            let stored = plan(rows, &existing);
            let fresh = fresh_rows(rows, &stored);
            let statements = insert_every(c, fresh.iter().copied(), fresh.len()).await?;
            Ok((stored, statements))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str) -> NewSample {
        let snap: procpulse_model::Snapshot = serde_json::from_str(include_str!(
            "../../model/tests/fixtures/snapshot_valid.json"
        ))
        .unwrap();
        let mut r = NewSample::from_snapshot(&snap, "a", time::OffsetDateTime::now_utc());
        r.sample_id = id.to_owned();
        r
    }

    #[test]
    fn plan_marks_stored_and_in_batch_duplicates() {
        let rows = [row("a"), row("b"), row("a"), row("c"), row("b")];
        let existing: HashSet<String> = ["c".to_owned()].into();
        assert_eq!(plan(&rows, &existing), [true, true, false, false, false]);
    }

    // Statements stay under the placeholder limits, and one full request fits two
    // SQLite statements (one before the six v2 columns).
    const _: () = assert!(SQLITE_ROWS_PER_STATEMENT * NEW_SAMPLE_COLUMNS <= 32_766);
    const _: () = assert!(MYSQL_ROWS_PER_STATEMENT * NEW_SAMPLE_COLUMNS <= 65_535);
    const _: () = assert!(2 * SQLITE_ROWS_PER_STATEMENT >= procpulse_model::validate::MAX_BATCH);
}
