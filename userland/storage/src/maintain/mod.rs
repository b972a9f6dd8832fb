//! The history maintainer: a background task (every ingest replica runs one) that folds
//! raw rows into the rollup tiers and deletes what is past retention.
//!
//! Each pass (every [`MaintainConfig::interval`]):
//! 1. takes or renews the lease ([`lease`]; database clock). A replica that does not
//!    get it does nothing this pass — exactly one maintainer works at a time;
//! 2. writes the configured retention into `history_tiers` when it differs (readers
//!    choose tiers from it, so retention is configured once, on ingest);
//! 3. folds ([`fold`]) chunk by chunk until the watermark reaches now − settle (now by
//!    the database's clock), renewing the lease before every chunk and logging progress
//!    while it catches up;
//! 4. records each tier's delete cutoff (`history_tiers.deleted_before`), then deletes,
//!    in batches ([`retention`]): raw rows received before min(now − raw keep,
//!    watermark) — never a row not yet folded — and rollup rows whose bucket is older
//!    than their tier's keep. The fold recomputes only buckets that start past their
//!    source tier's recorded cutoff plus a margin: only a delete makes a bucket partial,
//!    so history older than the keep that was never deleted (an upgrade, a long outage)
//!    is folded before it goes. Deleting stops once the pass has run for
//!    [`MaintainConfig::retention_budget`]; the next pass then starts at once (folding
//!    first), so a large backlog never holds the rollups back.
//!
//! Exactly once: buckets are computed whole over their sources (read back, or a running
//! aggregate of exactly those rows held in memory) and replaced, and the
//! watermark moves by compare-and-set in the same transaction as the rows, so a pass
//! redone after a crash (or run twice by two maintainers whose lease broke) writes the
//! same rows again instead of adding to them.
//!
//! Connections: ingest runs the maintainer on its own pools ([`Maintainer::on`]). Every
//! maintainer transaction is short — one fold step's REPLACEs, one delete batch — and
//! checks a connection out only for itself, never for a whole pass. On SQLite that
//! means the maintainer's writes queue with ingest's on the one writer connection, first
//! come first served: measured with `examples/retention_lock.rs`, a writer then waits
//! at most one batch, while a maintainer with a writer connection of its own
//! ([`Maintainer::new`]) competes for the file lock through SQLite's busy handler, whose
//! growing sleeps kept inserts waiting up to several times longer than a batch held the
//! lock. After each delete batch the maintainer pauses at least nine times as long as
//! the batch held the lock, so deletes take at most about a tenth of the writer while
//! catching up.

pub mod config;
pub mod fold;
pub mod lease;
pub mod memory;
pub mod retention;

pub use config::{HumanDuration, MaintainConfig};
pub use fold::{FoldPhases, FoldStep};

use crate::error::StorageError;
use crate::history::{Tier, checked_before};
use crate::row::to_db_time;
use crate::schema::history_tiers;
use crate::{Database, DatabaseUrl, PoolOptions, with_conn};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Delete batches between two lease renewals.
const BATCHES_PER_RENEWAL: u64 = 20;
/// Shortest gap between two "catching up" log lines.
const PROGRESS_LOG_EVERY: Duration = Duration::from_secs(5);

/// Hooks for metrics; every method defaults to doing nothing.
pub trait MaintainObserver: Send + Sync + std::fmt::Debug {
    /// After every fold step.
    fn fold_step(&self, _step: &FoldStep) {}
    /// After every retention batch: the tier, rows deleted, its timing.
    fn delete_batch(&self, _tier: Tier, _rows: usize, _timing: retention::BatchTiming) {}
    /// After every pass.
    fn pass(&self, _report: &PassReport) {}
    /// After a pass that failed (the database down, a query refused); [`Maintainer::run`]
    /// logs it and retries at the next interval.
    fn pass_failed(&self, _error: &StorageError) {}
}

/// An observer that records nothing.
#[derive(Debug, Default)]
pub struct NoObserver;
impl MaintainObserver for NoObserver {}

/// Rows deleted from one tier in a pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deleted {
    /// Rows deleted.
    pub rows: u64,
    /// DELETE statements (batches).
    pub batches: u64,
    /// The longest a batch held its lock ([`retention::BatchTiming::held`]).
    pub max_batch: Duration,
    /// Rows past the keep were left for the next pass: the pass had deleted for its
    /// retention budget ([`MaintainConfig::retention_budget`]).
    pub unfinished: bool,
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Whether this maintainer held the lease (did anything).
    pub held: bool,
    /// Raw rows folded.
    pub folded_rows: usize,
    /// Minute buckets recomputed.
    pub minutes: usize,
    /// Hour buckets recomputed.
    pub hours: usize,
    /// Of `minutes`, those recomputed from raw rows read back from the database.
    pub minutes_read: usize,
    /// Of `hours`, those recomputed from minute rows read back from the database.
    pub hours_read: usize,
    /// Of `folded_rows`, those taken from the fold tap instead of read back.
    pub tapped_rows: usize,
    /// Fold steps.
    pub steps: usize,
    /// Where the fold steps' time went.
    pub fold_phases: FoldPhases,
    /// Whether the watermark reached now − settle.
    pub caught_up: bool,
    /// Deleted raw, 1m and 1h rows (in [`Tier::ALL`] order).
    pub deleted: [Deleted; 3],
    /// The pass's duration.
    pub took: Duration,
    /// Tiers whose keep in `history_tiers` differed from this maintainer's settings at
    /// the start of the pass (another replica runs with other retention flags, or they
    /// changed): logged as a warning; the lease holder then writes its own.
    pub retention_differs: Vec<Tier>,
}

/// The tiers whose stored keep (`history_tiers.keep_seconds`) is not `config`'s, with
/// the stored and the configured seconds.
pub fn retention_differences(
    stored: &[crate::history::TierInfo],
    config: &MaintainConfig,
) -> Vec<(Tier, i64, i64)> {
    Tier::ALL
        .into_iter()
        .filter_map(|tier| {
            let want = keep_seconds(config.keep(tier));
            let have = stored.iter().find(|t| t.tier == tier)?.keep_seconds;
            (have != want).then_some((tier, have, want))
        })
        .collect()
}

/// A keep as `history_tiers.keep_seconds` stores it.
fn keep_seconds(keep: Duration) -> i64 {
    i64::try_from(keep.as_secs()).unwrap_or(i64::MAX)
}

/// The maintainer: its own database handle, its settings and an observer.
#[derive(Debug, Clone)]
pub struct Maintainer {
    db: Database,
    config: MaintainConfig,
    observer: Arc<dyn MaintainObserver>,
    /// Retention differences already warned about (each is logged once).
    warned: Arc<std::sync::Mutex<std::collections::BTreeSet<(Tier, i64, i64)>>>,
    /// Set once this maintainer has held the lease (and written its keeps) once.
    synced: Arc<AtomicBool>,
    /// The buckets the last fold steps folded (taken out during a pass).
    memory: Arc<std::sync::Mutex<memory::FoldMemory>>,
    /// Whether it runs on the handle the process writes through ([`Maintainer::on`]):
    /// only then can the fold tap ([`tap`]) see the rows.
    taps: bool,
}

impl Maintainer {
    /// A maintainer on small pools of its own for `url` (two connections; on SQLite a
    /// second writer connection, which competes for the file lock through the busy
    /// handler — prefer [`Maintainer::on`] in a process that writes too), with `pool`'s
    /// timeouts. Does not connect or migrate (the caller runs migrations first).
    pub fn new(
        url: &DatabaseUrl,
        pool: &PoolOptions,
        config: MaintainConfig,
    ) -> Result<Maintainer, StorageError> {
        let opts = PoolOptions {
            max_size: 2,
            ..pool.clone()
        };
        Ok(Maintainer {
            db: Database::new(url, &opts)?,
            config,
            observer: Arc::new(NoObserver),
            warned: Arc::default(),
            synced: Arc::default(),
            memory: Arc::default(),
            taps: false,
        })
    }

    /// A maintainer on `db`'s pools: on SQLite its write transactions queue with the
    /// other users of `db`'s one writer connection (first come, first served) instead of
    /// competing for the file lock through SQLite's busy handler, whose sleeps (1, 2, 5,
    /// 10 … 100 ms) can keep a waiting writer out longer than the lock is held.
    pub fn on(db: Database, config: MaintainConfig) -> Maintainer {
        Maintainer {
            db,
            config,
            observer: Arc::new(NoObserver),
            warned: Arc::default(),
            synced: Arc::default(),
            memory: Arc::default(),
            taps: true,
        }
    }

    /// Reports to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn MaintainObserver>) -> Maintainer {
        self.observer = observer;
        self
    }

    /// The settings.
    pub fn config(&self) -> &MaintainConfig {
        &self.config
    }

    /// The maintainer's database handle.
    pub fn database(&self) -> &Database {
        &self.db
    }

    async fn renew(&self) -> Result<bool, StorageError> {
        lease::acquire(
            &self.db,
            lease::HISTORY_LEASE,
            &self.config.holder,
            self.config.lease_ttl,
        )
        .await
    }

    /// Runs passes every interval (the first at once) until `stop` completes, then gives
    /// the lease up. A pass that fails (database down) is logged and retried at the next
    /// interval. Stopping is cooperative: a running fold step or delete batch finishes.
    pub async fn run(self, stop: impl Future<Output = ()>) {
        let stopping = AtomicBool::new(false);
        let wake = tokio::sync::Notify::new();
        let watcher = async {
            stop.await;
            stopping.store(true, Ordering::Release);
            wake.notify_one();
        };
        let passes = async {
            let mut failing = false;
            while !stopping.load(Ordering::Acquire) {
                let mut backlog = false;
                match self.pass(&stopping).await {
                    Ok(r) => {
                        backlog = r.deleted.iter().any(|d| d.unfinished);
                        if failing {
                            tracing::info!("History maintenance works again");
                        }
                        failing = false;
                        self.log_pass(&r);
                    }
                    Err(e) => {
                        self.observer.pass_failed(&e);
                        // Once per outage at warn; the rest at debug.
                        if failing {
                            tracing::debug!(error = %e, "History maintenance pass failed");
                        } else {
                            tracing::warn!(error = %e, "History maintenance pass failed; retrying every interval");
                        }
                        failing = true;
                    }
                }
                // A retention backlog continues at once (after the fold has run again);
                // otherwise the next pass comes after the interval.
                if !backlog {
                    tokio::select! {
                        _ = tokio::time::sleep(self.config.interval) => {}
                        _ = wake.notified() => {}
                    }
                }
            }
            if let Err(e) =
                lease::release(&self.db, lease::HISTORY_LEASE, &self.config.holder).await
            {
                tracing::debug!(error = %e, "Could not release the maintenance lease");
            }
        };
        tokio::pin!(watcher);
        tokio::pin!(passes);
        // The watcher only sets the flag; the passes end on their own once it is set.
        tokio::select! {
            _ = &mut passes => {}
            _ = &mut watcher => { passes.await; }
        }
    }

    fn log_pass(&self, r: &PassReport) {
        let deleted: u64 = r.deleted.iter().map(|d| d.rows).sum();
        if r.folded_rows > 0 || deleted > 0 {
            let max_batch = r
                .deleted
                .iter()
                .map(|d| d.max_batch)
                .max()
                .unwrap_or_default();
            tracing::info!(
                folded_rows = r.folded_rows,
                minutes = r.minutes,
                hours = r.hours,
                minutes_read = r.minutes_read,
                hours_read = r.hours_read,
                tapped_rows = r.tapped_rows,
                deleted_raw = r.deleted[0].rows,
                deleted_1m = r.deleted[1].rows,
                deleted_1h = r.deleted[2].rows,
                delete_batches = r.deleted.iter().map(|d| d.batches).sum::<u64>(),
                max_delete_batch_ms = max_batch.as_secs_f64() * 1e3,
                took_ms = r.took.as_millis() as u64,
                retention_backlog = r.deleted.iter().any(|d| d.unfinished),
                fold_scan_ms = r.fold_phases.scan.as_millis() as u64,
                fold_minutes_ms = r.fold_phases.minutes.as_millis() as u64,
                fold_hours_ms = r.fold_phases.hours.as_millis() as u64,
                fold_write_ms = r.fold_phases.write.as_millis() as u64,
                "History maintenance pass"
            );
        } else {
            tracing::debug!(held = r.held, "History maintenance pass: nothing to do");
        }
    }

    /// One pass (see the module docs). `stop` is checked between fold steps and delete
    /// batches.
    pub async fn pass(&self, stop: &AtomicBool) -> Result<PassReport, StorageError> {
        let start = Instant::now();
        let mut report = PassReport::default();
        let held = self.renew().await?;
        report.retention_differs = self.check_retention(held).await?;
        // The tap records while this maintainer folds; another replica's maintainer
        // would never take its rows.
        if held && self.taps {
            self.db.fold_tap().enable(self.config.fold_tap_rows);
        } else {
            self.db.fold_tap().disable();
        }
        if !held {
            report.took = start.elapsed();
            self.observer.pass(&report);
            return Ok(report);
        }
        report.held = true;
        self.sync_retention().await?;

        let mut last_log = Instant::now();
        // Taken for the pass: an error or a lost lease drops it (empty memory is safe).
        let mut memory =
            std::mem::take(&mut *self.memory.lock().unwrap_or_else(|e| e.into_inner()));
        loop {
            if stop.load(Ordering::Acquire) {
                break;
            }
            let now = lease::database_now(&self.db).await?;
            let step = fold::fold_step(&self.db, &self.config, &mut memory, now).await?;
            self.observer.fold_step(&step);
            report.steps += 1;
            report.folded_rows += step.rows;
            report.minutes += step.minutes;
            report.hours += step.hours;
            report.minutes_read += step.minutes_read;
            report.hours_read += step.hours_read;
            report.tapped_rows += step.tapped;
            report.fold_phases += step.phases;
            if step.skipped_old > 0 {
                tracing::debug!(
                    rows = step.skipped_old,
                    "Raw rows at the retention edge left unfolded"
                );
            }
            if step.conflict {
                tracing::info!("Another maintainer moved the fold watermark; this pass stops");
                break;
            }
            if step.caught_up {
                report.caught_up = true;
                break;
            }
            if last_log.elapsed() >= PROGRESS_LOG_EVERY {
                last_log = Instant::now();
                tracing::info!(
                    watermark = ?step.watermark,
                    folded_rows = report.folded_rows,
                    "Catching up on history rollups"
                );
            }
            if !self.renew().await? {
                tracing::warn!("Lost the maintenance lease during a pass");
                report.took = start.elapsed();
                self.observer.pass(&report);
                return Ok(report);
            }
            tokio::task::yield_now().await;
        }

        *self.memory.lock().unwrap_or_else(|e| e.into_inner()) = memory;
        let now = lease::database_now(&self.db).await?;
        let watermark = fold::watermark(&self.db).await?;
        for (i, tier) in Tier::ALL.into_iter().enumerate() {
            let keep = self.config.keep(tier);
            if keep.is_zero() {
                continue;
            }
            // A keep longer than all dates (or before 1970) deletes nothing.
            let Some(mut cutoff) = checked_before(now, keep)
                .map(to_db_time)
                .filter(|c| *c > crate::row::MIN_READABLE_TIME)
            else {
                continue;
            };
            if tier == Tier::Raw {
                // Never a raw row that is not folded yet.
                match watermark {
                    Some(w) => cutoff = cutoff.min(w),
                    None => continue,
                }
            }
            // Recorded first: the fold recomputes only buckets past it (plus a margin).
            fold::record_deleted_before(&self.db, tier, cutoff).await?;
            let deadline = start + self.config.retention_budget;
            report.deleted[i] = self.delete_before(tier, cutoff, deadline, stop).await?;
        }
        report.took = start.elapsed();
        self.observer.pass(&report);
        Ok(report)
    }

    /// Deletes `tier`'s rows before `cutoff` batch by batch, until `deadline` (then
    /// [`Deleted::unfinished`]; at least one batch).
    async fn delete_before(
        &self,
        tier: Tier,
        cutoff: time::PrimitiveDateTime,
        deadline: Instant,
        stop: &AtomicBool,
    ) -> Result<Deleted, StorageError> {
        let mut d = Deleted::default();
        let batch = self.config.delete_batch_rows.max(1);
        loop {
            let (n, timing) = retention::delete_batch(&self.db, tier, cutoff, batch).await?;
            self.observer.delete_batch(tier, n, timing);
            d.rows += n as u64;
            d.batches += 1;
            d.max_batch = d.max_batch.max(timing.held);
            if n < batch || stop.load(Ordering::Acquire) {
                return Ok(d);
            }
            if Instant::now() >= deadline {
                d.unfinished = true;
                return Ok(d);
            }
            if d.batches % BATCHES_PER_RENEWAL == 0 && !self.renew().await? {
                tracing::warn!("Lost the maintenance lease while deleting");
                return Ok(d);
            }
            // By default at least 9× as long as the batch held the lock: deletes never
            // take more than about a tenth of the writer, however large the backlog.
            let pause = timing.held * self.config.delete_pause_per_held;
            tokio::time::sleep(self.config.delete_pause.max(pause)).await;
        }
    }

    /// Compares `history_tiers`' keeps with this maintainer's settings; warns once per
    /// difference (replicas with different retention flags would otherwise go unnoticed,
    /// each lease holder silently writing its own). Returns the differing tiers.
    async fn check_retention(&self, held: bool) -> Result<Vec<Tier>, StorageError> {
        let stored = crate::history::tiers(&self.db).await?;
        let diffs = retention_differences(&stored, &self.config);
        let mut warned = self.warned.lock().unwrap_or_else(|p| p.into_inner());
        // The holder's first write after start (new flags, a fresh database) is no
        // conflict; a difference seen later, or by a replica without the lease, is.
        let first_write = held && !self.synced.swap(true, Ordering::AcqRel);
        for d @ (tier, have, want) in &diffs {
            if first_write {
                tracing::info!(
                    tier = tier.as_str(),
                    was = %HumanDuration(Duration::from_secs(have.unsigned_abs())),
                    now = %HumanDuration(Duration::from_secs(want.unsigned_abs())),
                    "Retention changed"
                );
            } else if warned.insert(*d) {
                let what = if held {
                    "this replica holds the maintenance lease and writes its own; give every replica the same retention flags"
                } else {
                    "the replica holding the maintenance lease applies its own; give every replica the same retention flags"
                };
                tracing::warn!(
                    tier = tier.as_str(),
                    stored_keep = %HumanDuration(Duration::from_secs(have.unsigned_abs())),
                    this_replica_keep = %HumanDuration(Duration::from_secs(want.unsigned_abs())),
                    "history_tiers keeps this tier for another time than this replica's flags say; {what}"
                );
            }
        }
        Ok(diffs.into_iter().map(|d| d.0).collect())
    }

    /// Writes the configured keeps into `history_tiers` where they differ.
    async fn sync_retention(&self) -> Result<(), StorageError> {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use history_tiers::dsl;
        let stored = crate::history::tiers(&self.db).await?;
        for tier in Tier::ALL {
            let want = keep_seconds(self.config.keep(tier));
            if stored
                .iter()
                .any(|t| t.tier == tier && t.keep_seconds == want)
            {
                continue;
            }
            with_conn!(self.db.write_pool(), c => {
                diesel::update(dsl::history_tiers.filter(dsl::tier.eq(tier.as_str())))
                    .set(dsl::keep_seconds.eq(want))
                    .execute(c)
                    .await?;
                Ok::<_, StorageError>(())
            })?;
            tracing::info!(tier = tier.as_str(), keep_seconds = want, "Retention set");
        }
        Ok(())
    }
}
