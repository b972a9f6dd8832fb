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
}

impl StorageError {
    /// True when the failure is about reaching or running the database (connection
    /// refused or lost, pool timeout, server-side error such as a lock wait timeout)
    /// rather than a statement the database refused on principle: the caller should
    /// answer 503 and the client may retry (writes are idempotent by `sample_id`).
    ///
    /// mysql_async reports lost connections as "unknown" database errors, so those count
    /// as unavailable too.
    pub fn is_unavailable(&self) -> bool {
        use diesel::result::{DatabaseErrorKind as K, Error as E};
        match self {
            StorageError::Unavailable(_)
            | StorageError::Migration(_)
            | StorageError::WriteRace { .. } => true,
            StorageError::Query(E::DatabaseError(kind, _)) => !matches!(
                kind,
                K::UniqueViolation
                    | K::ForeignKeyViolation
                    | K::NotNullViolation
                    | K::CheckViolation
            ),
            StorageError::Query(E::BrokenTransactionManager) => true,
            StorageError::Query(_) | StorageError::BadUrl(_) => false,
        }
    }
}
