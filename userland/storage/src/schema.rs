//! The Diesel schema: the `samples` table of docs/design.md §5, and the history tables of issue 15
//! (`rollup_1m`, `rollup_1h`, `history_tiers`, `maintenance_lease`; see
//! [`crate::history`] and [`crate::maintain`]).
//!
//! The same `table!` serves both backends: the SQL types below are the ones both SQLite
//! and MySQL/MariaDB accept for the columns the per-backend migrations create
//! (`migrations/sqlite`, `migrations/mysql`). Beyond the original contract the table also keeps
//! `ram_swap_total_kb`, `ram_swap_free_kb` and `procs_dead`, so that a row converts back
//! to the full [`procpulse_model::Snapshot`] without loss.
//!
//! Snapshot v2 (migration `2026-11-30-000000_snapshot_v2`) appended six NULLable columns:
//! `ram_buffers_kb`, `ram_shared_kb`, `ram_swap_used_kb` as integers, and `cpu_modes`,
//! `cpu_per_cpu`, `pressure` as the compact text of [`crate::compact`]. NULL means the
//! snapshot did not carry the field (every v1 row), so a v1 row reads back as the v1
//! snapshot it was. With 37 columns the table needs Diesel's `64-column-tables` feature.

diesel::table! {
    /// One row per stored snapshot. Timestamps are UTC with millisecond precision.
    samples (id) {
        /// Surrogate key, assigned at insert. On MySQL concurrent transactions may commit
        /// ids out of order, so a reader that follows new rows by `id` must allow for a
        /// short lag (or follow `received_at`).
        id -> BigInt,
        /// The idempotency key of docs/design.md §3 (UNIQUE): a replayed sample is never
        /// stored twice.
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
        /// The optional `top` array as JSON text; NULL when the sample had none. Its
        /// entries carry the v2 keys (`uid`, `user`, `threads`, `nice`) when posted.
        top_json -> Nullable<Text>,
        /// Buffers, KiB (v2); NULL when absent.
        ram_buffers_kb -> Nullable<BigInt>,
        /// Shmem, KiB (v2); NULL when absent.
        ram_shared_kb -> Nullable<BigInt>,
        /// SwapTotal − SwapFree, KiB (v2); NULL when absent.
        ram_swap_used_kb -> Nullable<BigInt>,
        /// `cpu.modes` (v2): the ten percentages comma-separated in /proc/stat order
        /// (`user,nice,system,idle,iowait,irq,softirq,steal,guest,guest_nice`), shortest
        /// exact decimals, e.g. `15.2,1.05,4.5,75.05,1.5,0.2,0.5,2,3,0`; NULL when absent.
        cpu_modes -> Nullable<Text>,
        /// `cpu.per_cpu` (v2): one comma-separated item per CPU, `usage` when the CPU
        /// number follows the previous one (first: 0), else `cpu:usage` — a contiguous
        /// 4-CPU host is `80.5,5.25,0,8.05`; NULL when the list is empty.
        cpu_per_cpu -> Nullable<Text>,
        /// `pressure` (v2): `cpu;memory;io`, each empty (absent), `some` or `some/full`,
        /// a line being `avg10,avg60,avg300,total_us`; NULL when the snapshot had no
        /// `pressure` object (`;;` when it had one with no resource).
        pressure -> Nullable<Text>,
    }
}

diesel::table! {
    /// One row per (host, UTC minute) with raw rows: min/avg/max of the raw rows whose
    /// `collected_at` falls in the minute, recomputed whole from them.
    rollup_1m (host, bucket) {
        /// Host name (as `samples.host`).
        #[max_length = 64]
        host -> Varchar,
        /// UTC start of the bucket (by `collected_at`).
        bucket -> Timestamp,
        /// Raw rows summarised (for an hour: the sum of its minutes').
        samples -> Integer,
        /// Lowest `cpu_usage_percent`.
        cpu_min -> Double,
        /// Mean `cpu_usage_percent` (sample-weighted).
        cpu_avg -> Double,
        /// Highest `cpu_usage_percent`.
        cpu_max -> Double,
        /// Lowest `ram_used_percent`.
        ram_min -> Double,
        /// Mean `ram_used_percent`.
        ram_avg -> Double,
        /// Highest `ram_used_percent`.
        ram_max -> Double,
        /// Lowest swap used % over the rows with swap; NULL when none had swap.
        swap_min -> Nullable<Double>,
        /// Mean swap used % over the rows with swap; NULL when none had swap.
        swap_avg -> Nullable<Double>,
        /// Highest swap used % over the rows with swap; NULL when none had swap.
        swap_max -> Nullable<Double>,
        /// Lowest 1-minute load average.
        load1_min -> Double,
        /// Mean 1-minute load average.
        load1_avg -> Double,
        /// Highest 1-minute load average.
        load1_max -> Double,
        /// Highest `procs_zombie`.
        zombies_max -> BigInt,
        /// Highest `procs_disk_sleep`.
        disk_sleep_max -> BigInt,
        /// `cpu_cores` of the newest row.
        cpu_cores -> Integer,
        /// `source` of the newest row.
        #[max_length = 16]
        source -> Varchar,
    }
}

diesel::table! {
    /// One row per (host, UTC hour): the same columns as [`rollup_1m`], recomputed whole
    /// from the hour's minute rows.
    rollup_1h (host, bucket) {
        /// Host name (as `samples.host`).
        #[max_length = 64]
        host -> Varchar,
        /// UTC start of the bucket (by `collected_at`).
        bucket -> Timestamp,
        /// Raw rows summarised (for an hour: the sum of its minutes').
        samples -> Integer,
        /// Lowest `cpu_usage_percent`.
        cpu_min -> Double,
        /// Mean `cpu_usage_percent` (sample-weighted).
        cpu_avg -> Double,
        /// Highest `cpu_usage_percent`.
        cpu_max -> Double,
        /// Lowest `ram_used_percent`.
        ram_min -> Double,
        /// Mean `ram_used_percent`.
        ram_avg -> Double,
        /// Highest `ram_used_percent`.
        ram_max -> Double,
        /// Lowest swap used % over the rows with swap; NULL when none had swap.
        swap_min -> Nullable<Double>,
        /// Mean swap used % over the rows with swap; NULL when none had swap.
        swap_avg -> Nullable<Double>,
        /// Highest swap used % over the rows with swap; NULL when none had swap.
        swap_max -> Nullable<Double>,
        /// Lowest 1-minute load average.
        load1_min -> Double,
        /// Mean 1-minute load average.
        load1_avg -> Double,
        /// Highest 1-minute load average.
        load1_max -> Double,
        /// Highest `procs_zombie`.
        zombies_max -> BigInt,
        /// Highest `procs_disk_sleep`.
        disk_sleep_max -> BigInt,
        /// `cpu_cores` of the newest row.
        cpu_cores -> Integer,
        /// `source` of the newest row.
        #[max_length = 16]
        source -> Varchar,
    }
}

diesel::table! {
    /// The tiers (`raw`, `1m`, `1h`): how long each is kept and how far raw rows are
    /// folded into `rollup_1m`.
    history_tiers (tier) {
        /// `raw`, `1m` or `1h`.
        #[max_length = 8]
        tier -> Varchar,
        /// Seconds a row is kept (by `received_at` for raw, `bucket` for rollups);
        /// 0 = forever.
        keep_seconds -> BigInt,
        /// `raw` only: the `received_at` up to which (inclusive) raw rows are folded.
        rolled_up_to -> Nullable<Timestamp>,
        /// The tier's delete cutoff: rows before it (raw by `received_at`, rollups by
        /// `bucket`) may have been deleted; NULL = nothing deleted yet.
        deleted_before -> Nullable<Timestamp>,
    }
}

diesel::table! {
    /// Leases that let one of several maintainers work at a time (row `history`).
    maintenance_lease (name) {
        /// Lease name.
        #[max_length = 32]
        name -> Varchar,
        /// Who holds it (`host:pid:random`), empty when never taken.
        #[max_length = 128]
        holder -> Varchar,
        /// Held until this instant (database clock, UTC).
        lease_until -> Timestamp,
    }
}
