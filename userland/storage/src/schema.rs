//! The Diesel schema of the one table procpulse stores (SPEC §5).
//!
//! The same `table!` serves both backends: the SQL types below are the ones both SQLite
//! and MySQL/MariaDB accept for the columns the per-backend migrations create
//! (`migrations/sqlite`, `migrations/mysql`). Beyond SPEC §5 the table also keeps
//! `ram_swap_total_kb`, `ram_swap_free_kb` and `procs_dead`, so that a row converts back
//! to the full [`procpulse_model::Snapshot`] without loss.

diesel::table! {
    /// One row per stored snapshot. Timestamps are UTC with millisecond precision.
    samples (id) {
        /// Surrogate key, assigned at insert. On MySQL concurrent transactions may commit
        /// ids out of order, so a reader that follows new rows by `id` must allow for a
        /// short lag (or follow `received_at`).
        id -> BigInt,
        /// The idempotency key of SPEC §3 (UNIQUE): a replayed sample is never stored twice.
        #[max_length = 128]
        sample_id -> Varchar,
        /// Host name of the monitored machine.
        #[max_length = 64]
        host -> Varchar,
        /// `kmod` or `procfs`.
        #[max_length = 16]
        source -> Varchar,
        /// The ingest route (`a` or `b`) that stored the row.
        #[max_length = 16]
        route -> Varchar,
        /// When the agent took the sample (UTC).
        collected_at -> Timestamp,
        /// When ingest received it (UTC).
        received_at -> Timestamp,
        /// CPU busy share, percent 0–100.
        cpu_usage_percent -> Double,
        /// Online CPUs.
        cpu_cores -> Integer,
        /// 1-minute load average.
        load1 -> Double,
        /// 5-minute load average.
        load5 -> Double,
        /// 15-minute load average.
        load15 -> Double,
        /// MemTotal, KiB.
        ram_total_kb -> BigInt,
        /// MemFree, KiB.
        ram_free_kb -> BigInt,
        /// MemAvailable, KiB.
        ram_available_kb -> BigInt,
        /// total − available, KiB.
        ram_used_kb -> BigInt,
        /// Cached, KiB.
        ram_cached_kb -> BigInt,
        /// SwapTotal, KiB.
        ram_swap_total_kb -> BigInt,
        /// SwapFree, KiB.
        ram_swap_free_kb -> BigInt,
        /// used / total, percent 0–100.
        ram_used_percent -> Double,
        /// Processes (sum of the state counts).
        procs_total -> BigInt,
        /// State R.
        procs_running -> BigInt,
        /// State S.
        procs_sleeping -> BigInt,
        /// State D.
        procs_disk_sleep -> BigInt,
        /// State T.
        procs_stopped -> BigInt,
        /// State t.
        procs_traced -> BigInt,
        /// State Z.
        procs_zombie -> BigInt,
        /// State X.
        procs_dead -> BigInt,
        /// State I.
        procs_idle -> BigInt,
        /// All threads.
        procs_threads -> BigInt,
        /// The optional `top` array as JSON text; NULL when the sample had none.
        top_json -> Nullable<Text>,
    }
}
