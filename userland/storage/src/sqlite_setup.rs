//! The PRAGMAs every SQLite connection runs once when it opens — pooled connections
//! ([`crate::pool`]) and the migrations' own ([`crate::migrate`]) alike, with the busy
//! timeout the caller configured.

use std::time::Duration;

/// The set-up statements for a connection waiting up to `busy_timeout` for another
/// connection's lock.
pub(crate) fn sqlite_setup_sql(busy_timeout: Duration) -> String {
    let busy_timeout_ms = busy_timeout.as_millis();
    // busy_timeout first: switching to WAL itself may have to wait for a lock.
    format!(
        "PRAGMA busy_timeout = {busy_timeout_ms};\
         PRAGMA journal_mode = WAL;\
         PRAGMA synchronous = FULL;\
         PRAGMA foreign_keys = ON;"
    )
}
