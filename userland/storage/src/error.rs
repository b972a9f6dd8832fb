//! Storage errors, split by what a caller should do about them.

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database URL is not one procpulse understands (a configuration error).
    #[error("bad database URL: {0}")]
    BadUrl(String),
    /// The database cannot be reached or no pooled connection became free in time:
    /// nothing was written; retrying later may succeed (HTTP 503 + Retry-After).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A query failed. If it was part of a write, the transaction was rolled back.
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    /// A concurrent writer stored some of the same sample_ids between this transaction's
    /// lookup and its insert; the transaction was rolled back. Retried internally, so it
    /// surfaces only when it persists.
    #[error("concurrent write of the same sample_ids: expected {expected} inserts, got {inserted}")]
    WriteRace {
        /// Rows the transaction meant to insert.
        expected: usize,
        /// Rows actually inserted.
        inserted: usize,
    },
    /// Migrations could not be applied.
    #[error("migrations failed: {0}")]
    Migration(String),
    /// The caller asked for something this API does not serve (a programming error,
    /// e.g. rollup rows of the raw tier); nothing was read or written.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

/// Messages of database errors that refuse the data itself: retrying the same rows can
/// never succeed. diesel_async keeps only the message of a MySQL server error (not its
/// code), and maps only a few codes to a [`diesel::result::DatabaseErrorKind`]; these are
/// the others a strict-mode insert of validated rows can still meet:
/// MariaDB's CHECK failure (4025), out of range (1264), too long (1406), truncated
/// (1265), incorrect value (1292/1366), SQLite's trigger `RAISE(ABORT)` is not listed
/// (its text is the trigger's own) and stays transient.
const REJECTED_MESSAGES: &[&str] = &[
    // MariaDB ER_CONSTRAINT_FAILED: "CONSTRAINT `c` failed for `db`.`t`".
    "failed for `",
    // MySQL 8 ER_CHECK_CONSTRAINT_VIOLATED is mapped to CheckViolation, kept for safety.
    "Check constraint",
    "Out of range value",
    "Data too long",
    "Data truncated",
    "Incorrect datetime value",
    "Incorrect string value",
    "Incorrect integer value",
    "Incorrect decimal value",
    "Incorrect double value",
    // SQLite.
    "datatype mismatch",
    "string or blob too big",
];

impl StorageError {
    /// True when the database answered and refused the rows themselves (a constraint or
    /// a value the column cannot hold): permanent, retrying the same rows fails the same
    /// way. Callers answer a non-retryable error (ingest: 422 `rejected_by_database`).
    pub fn is_rejected(&self) -> bool {
        use diesel::result::{DatabaseErrorKind as K, Error as E};
        match self {
            StorageError::Query(E::DatabaseError(kind, info)) => {
                matches!(
                    kind,
                    K::UniqueViolation
                        | K::ForeignKeyViolation
                        | K::NotNullViolation
                        | K::CheckViolation
                ) || REJECTED_MESSAGES.iter().any(|m| info.message().contains(m))
            }
            _ => false,
        }
    }

    /// True when the failure is about reaching or running the database (connection
    /// refused or lost, pool timeout, server-side error such as a lock wait timeout)
    /// rather than a statement the database refused on principle ([`Self::is_rejected`]):
    /// the caller should answer 503 and the client may retry (writes are idempotent by
    /// `sample_id`).
    ///
    /// mysql_async reports lost connections as "unknown" database errors, so every
    /// database error that is not a known refusal counts as unavailable: an unknown
    /// error is answered "retry later" rather than "never send this again".
    pub fn is_unavailable(&self) -> bool {
        use diesel::result::Error as E;
        if self.is_rejected() {
            return false;
        }
        match self {
            StorageError::Unavailable(_)
            | StorageError::Migration(_)
            | StorageError::WriteRace { .. } => true,
            StorageError::Query(E::DatabaseError(..)) => true,
            StorageError::Query(E::BrokenTransactionManager) => true,
            StorageError::Query(_) | StorageError::BadUrl(_) | StorageError::InvalidArgument(_) => {
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::result::{DatabaseErrorKind as K, Error as E};

    fn db(kind: K, msg: &str) -> StorageError {
        StorageError::Query(E::DatabaseError(kind, Box::new(msg.to_owned())))
    }

    #[test]
    fn refusals_are_permanent_and_the_rest_retryable() {
        for e in [
            db(K::CheckViolation, "CHECK constraint failed: poison"),
            db(K::Unknown, "CONSTRAINT `poison` failed for `db`.`samples`"),
            db(
                K::Unknown,
                "Out of range value for column 'cpu_cores' at row 1",
            ),
            db(K::UniqueViolation, "Duplicate entry"),
        ] {
            assert!(e.is_rejected(), "{e}");
            assert!(!e.is_unavailable(), "{e}");
        }
        for e in [
            db(
                K::Unknown,
                "Lock wait timeout exceeded; try restarting transaction",
            ),
            db(K::Unknown, "Input/output error: broken pipe"),
            db(K::Unknown, "database is locked"),
            StorageError::Unavailable("pool timeout".into()),
        ] {
            assert!(!e.is_rejected(), "{e}");
            assert!(e.is_unavailable(), "{e}");
        }
    }
}
