//! One fold step: raw rows received in `(rolled_up_to, E]` (at most a chunk of them)
//! mark the (host, minute) buckets they fall in; those minutes are recomputed from all
//! their raw rows, the hours they fall in from their minute rows, and the rows are
//! replaced together with advancing the watermark to `E`, in one short transaction.
//!
//! Everything is read before the transaction (on the read pool), so the write lock is
//! held only for the REPLACE statements. That is safe because:
//! - a raw row received after `E` that lands in a bucket recomputed here is folded again
//!   by a later step (its `received_at` is past the new watermark), which recomputes the
//!   whole bucket again;
//! - every row received at or before `E` has committed before the step reads: `E` is
//!   the settle delay (30 s) before the database's now, and ingest stamps `received_at`
//!   just before its INSERT (not when the request arrived), so this holds while each
//!   ingest replica's clock is within the settle delay of the database's clock minus
//!   the INSERT's own time (pool wait ≤ 2 s, SQLite busy timeout ≤ 5 s by default). A row
//!   that commits with `received_at` at or below the watermark anyway is never folded
//!   (and later deleted with the rest).
//! - the watermark moves by compare-and-set (`WHERE rolled_up_to = <what this step
//!   read>`): if another maintainer moved it meanwhile (a lease that expired mid-step),
//!   this step's transaction rolls back and writes nothing.

use super::config::MaintainConfig;
use crate::error::StorageError;
use crate::history::{RollupRow, Tier, checked_before, replace_rollup_rows, rollup_columns};
use crate::rollup::{self, BucketKey, RawPoint};
use crate::row::{LenientTime, MIN_READABLE_TIME, readable_time, to_db_time};
use crate::schema::{history_tiers, samples};
use crate::{Database, PooledConn, with_conn};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use futures_util::TryStreamExt;
use std::collections::{BTreeMap, BTreeSet};
use time::{OffsetDateTime, PrimitiveDateTime};

/// Longest run of consecutive buckets loaded by one range read.
const RUN_BUCKETS: usize = 60;
/// Most chunks one step scans (rows that touch no bucket — past the retention edge —
/// would otherwise make one step scan a whole backlog before it commits).
const SCANS_PER_STEP: usize = 20;

/// What one fold step did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FoldStep {
    /// Raw rows newly folded (received in `(old watermark, new watermark]`).
    pub rows: usize,
    /// Minute rows recomputed (written or, when their raw rows are gone, deleted).
    pub minutes: usize,
    /// Hour rows recomputed.
    pub hours: usize,
    /// Raw rows not folded because their minute starts before the raw delete cutoff
    /// plus the margin (some of its rows may be gone).
    pub skipped_old: usize,
    /// The watermark after the step (None: still nothing folded).
    pub watermark: Option<PrimitiveDateTime>,
    /// True when the watermark reached now − settle (no full chunk left).
    pub caught_up: bool,
    /// True when another maintainer moved the watermark first (nothing written).
    pub conflict: bool,
}

/// The raw tier's watermark.
pub async fn watermark(db: &Database) -> Result<Option<PrimitiveDateTime>, StorageError> {
    use history_tiers::dsl;
    let w: Vec<Option<PrimitiveDateTime>> = with_conn!(db.read_pool(), c => {
        Ok::<_, StorageError>(dsl::history_tiers
            .filter(dsl::tier.eq(Tier::Raw.as_str()))
            .select(dsl::rolled_up_to)
            .load(c)
            .await?)
    })?;
    Ok(w.into_iter().next().flatten())
}

/// Each tier's delete cutoff (`history_tiers.deleted_before`), in [`Tier::ALL`] order:
/// rows before it may have been deleted; `None` = nothing deleted yet.
pub async fn deleted_before(db: &Database) -> Result<[Option<PrimitiveDateTime>; 3], StorageError> {
    use history_tiers::dsl;
    let rows: Vec<(String, Option<PrimitiveDateTime>)> = with_conn!(db.read_pool(), c => {
        Ok::<_, StorageError>(dsl::history_tiers
            .select((dsl::tier, dsl::deleted_before))
            .load(c)
            .await?)
    })?;
    let mut out = [None; 3];
    for (i, tier) in Tier::ALL.into_iter().enumerate() {
        out[i] = rows
            .iter()
            .find(|(name, _)| name == tier.as_str())
            .and_then(|r| r.1);
    }
    Ok(out)
}

/// Records that `tier`'s rows before `cutoff` are about to be deleted (before deleting
/// them, so that a crash in between leaves the cutoff too late, never too early). Only
/// ever moves it forward.
pub async fn record_deleted_before(
    db: &Database,
    tier: Tier,
    cutoff: PrimitiveDateTime,
) -> Result<(), StorageError> {
    use history_tiers::dsl;
    with_conn!(db.write_pool(), c => {
        diesel::update(
            dsl::history_tiers
                .filter(dsl::tier.eq(tier.as_str()))
                .filter(dsl::deleted_before.is_null().or(dsl::deleted_before.lt(cutoff))),
        )
        .set(dsl::deleted_before.eq(Some(cutoff)))
        .execute(c)
        .await?;
        Ok::<_, StorageError>(())
    })
}

type ChunkRow = (String, LenientTime, LenientTime);
type RawRecord = (
    i64,
    String,
    LenientTime,
    f64,
    f64,
    i64,
    i64,
    f64,
    i64,
    i64,
    i32,
    String,
);

/// The start of the oldest bucket the maintainer may recompute (None: any): the delete
/// cutoff of the bucket's *source* rows (raw rows for minutes, minute rows for hours)
/// plus [`MaintainConfig::recompute_margin`] of their keep `keep`. Only what the
/// maintainer has deleted bounds it — not now − keep — so rows stored before the
/// maintainer ever ran, or during an outage longer than the keep, are still folded.
pub fn recompute_floor(
    deleted_before: Option<PrimitiveDateTime>,
    keep: std::time::Duration,
) -> Option<PrimitiveDateTime> {
    let margin = time::Duration::try_from(MaintainConfig::recompute_margin(keep)).ok()?;
    deleted_before.map(|d| d.checked_add(margin).unwrap_or(d))
}

/// Runs one fold step at `now`.
pub async fn fold_step(
    db: &Database,
    config: &MaintainConfig,
    now: OffsetDateTime,
) -> Result<FoldStep, StorageError> {
    let old = watermark(db).await?;
    let upto = checked_before(now, config.settle).map(to_db_time);
    // A settle delay longer than all dates: nothing is ever settled.
    let Some(upto) = upto.filter(|u| old.is_none_or(|w| w < *u)) else {
        return Ok(FoldStep {
            watermark: old,
            caught_up: true,
            ..FoldStep::default()
        });
    };
    // The first step (no watermark) starts at the first readable time, so that a stored
    // value no read can render is never taken as a watermark.
    let mut lower = old.unwrap_or(MIN_READABLE_TIME - time::Duration::milliseconds(1));
    let chunk = config.fold_chunk_rows.max(1);
    let limit = i64::try_from(chunk).unwrap_or(i64::MAX);
    let deleted = deleted_before(db).await?;
    let minute_floor = recompute_floor(deleted[0], config.keep_raw);
    let mut minutes: BTreeSet<BucketKey> = BTreeSet::new();
    let (mut scanned, mut skipped_old, mut scans) = (0, 0, 0);
    // Scan chunk after chunk of raw rows in received_at order, collecting the minutes
    // they touch, until the range is done or enough minutes are collected for one step.
    let (new, caught_up) = loop {
        let mut rows: Vec<ChunkRow> = with_conn!(db.read_pool(), c => {
            use samples::dsl as s;
            Ok::<_, StorageError>(s::samples
                .filter(s::received_at.gt(lower))
                .filter(s::received_at.le(upto))
                .select((s::host, s::collected_at, s::received_at))
                .order(s::received_at.asc())
                .limit(limit)
                .load::<ChunkRow>(c)
                .await?)
        })?;
        let full = rows.len() >= chunk;
        let mut last = upto;
        if full {
            // Up to the last row's received_at, and every row received at that same
            // millisecond (the chunk may have cut through them).
            last = rows
                .iter()
                .rev()
                .map(|r| r.2.0)
                .find(|t| readable_time(*t))
                .unwrap_or(upto);
            let same: Vec<(String, LenientTime)> = with_conn!(db.read_pool(), c => {
                use samples::dsl as s;
                Ok::<_, StorageError>(s::samples
                    .filter(s::received_at.eq(last))
                    .select((s::host, s::collected_at))
                    .load(c)
                    .await?)
            })?;
            rows.retain(|r| r.2.0 != last);
            rows.extend(same.into_iter().map(|(h, t)| (h, t, LenientTime(last))));
        }
        scanned += rows.len();
        for (host, collected, _) in rows {
            let t = collected.0;
            if !readable_time(t) {
                continue;
            }
            let m = rollup::bucket_start(t, Tier::Minute);
            if minute_floor.is_some_and(|f| m < f) {
                skipped_old += 1;
            } else {
                minutes.insert((host, m));
            }
        }
        if !full {
            break (upto, true);
        }
        scans += 1;
        if minutes.len() >= config.fold_max_buckets.max(1) || scans >= SCANS_PER_STEP {
            break (last, false);
        }
        lower = last;
    };

    let new_minutes = recompute_minutes(db, &minutes).await?;
    let hour_floor = recompute_floor(deleted[1], config.keep_1m);
    let hours: BTreeSet<BucketKey> = minutes
        .iter()
        .map(|(h, m)| (h.clone(), rollup::bucket_start(*m, Tier::Hour)))
        .filter(|(_, h)| hour_floor.is_none_or(|f| *h >= f))
        .collect();
    let new_hours = recompute_hours(db, &hours, &minutes, &new_minutes).await?;

    let committed = write(db, old, new, &minutes, &new_minutes, &hours, &new_hours).await?;
    Ok(FoldStep {
        rows: scanned,
        minutes: minutes.len(),
        hours: hours.len(),
        skipped_old,
        watermark: if committed { Some(new) } else { old },
        caught_up,
        conflict: !committed,
    })
}

/// The raw rows of one run of minutes, oldest first (the order of the `(host,
/// collected_at)` index, ties by id).
macro_rules! run_rows {
    ($run:expr) => {{
        use samples::dsl as s;
        s::samples
            .filter(s::host.eq($run.host.clone()))
            .filter(s::collected_at.ge($run.start))
            .filter(s::collected_at.lt($run.end))
            .order((s::collected_at.asc(), s::id.asc()))
            .select((
                s::id,
                s::host,
                s::collected_at,
                s::cpu_usage_percent,
                s::ram_used_percent,
                s::ram_swap_total_kb,
                s::ram_swap_free_kb,
                s::load1,
                s::procs_zombie,
                s::procs_disk_sleep,
                s::cpu_cores,
                s::source,
            ))
    }};
}

/// Streams the raw rows of a run of minutes into their rollup rows, one minute at a
/// time (a minute of any size is never held in memory).
#[derive(Debug, Default)]
struct MinuteFolder {
    current: Option<rollup::BucketBuilder>,
    out: Vec<RollupRow>,
}

impl MinuteFolder {
    fn push(&mut self, r: RawRecord) {
        let p = RawPoint {
            id: r.0,
            host: r.1,
            collected_at: r.2.0,
            cpu: r.3,
            ram: r.4,
            swap_total_kb: r.5,
            swap_free_kb: r.6,
            load1: r.7,
            zombies: r.8,
            disk_sleep: r.9,
            cores: r.10,
            source: r.11,
        };
        if !readable_time(p.collected_at) {
            return;
        }
        let m = rollup::bucket_start(p.collected_at, Tier::Minute);
        if self.current.as_ref().is_none_or(|b| b.bucket() != m) {
            self.flush();
            self.current = Some(rollup::BucketBuilder::new(&p.host, m));
        }
        if let Some(b) = self.current.as_mut() {
            b.push(&p);
        }
    }

    fn flush(&mut self) {
        if let Some(row) = self.current.take().and_then(rollup::BucketBuilder::finish) {
            self.out.push(row);
        }
    }
}

/// The minute rows of `keys` computed from all their raw rows, streamed (a key with no
/// raw row left has none).
async fn recompute_minutes(
    db: &Database,
    keys: &BTreeSet<BucketKey>,
) -> Result<Vec<RollupRow>, StorageError> {
    let runs = rollup::runs(keys, rollup::step(Tier::Minute), RUN_BUCKETS);
    let out = match db.read_pool().get().await? {
        PooledConn::Sqlite(mut c) => {
            c.spawn_blocking(move |c| {
                let mut f = MinuteFolder::default();
                for run in &runs {
                    let rows = diesel::RunQueryDsl::load_iter::<
                        RawRecord,
                        diesel::connection::DefaultLoadingMode,
                    >(run_rows!(run), c)?;
                    for r in rows {
                        f.push(r?);
                    }
                    f.flush();
                }
                Ok(f.out)
            })
            .await?
        }
        PooledConn::Mysql(mut c) => {
            let mut f = MinuteFolder::default();
            let mut result = Ok(());
            for run in &runs {
                let streamed = async {
                    let mut rows = run_rows!(run).load_stream::<RawRecord>(&mut *c).await?;
                    while let Some(r) = rows.try_next().await? {
                        f.push(r);
                    }
                    Ok::<(), diesel::result::Error>(())
                }
                .await;
                f.flush();
                if let Err(e) = streamed {
                    result = Err(e);
                    break;
                }
            }
            if let Err(e) = result {
                crate::pool::discard(c);
                return Err(e.into());
            }
            f.out
        }
    };
    Ok(out)
}

/// The hour rows of `hours` merged from their minute rows: the stored ones, with the
/// minutes of `touched` replaced by `fresh` (or dropped when `fresh` has none).
async fn recompute_hours(
    db: &Database,
    hours: &BTreeSet<BucketKey>,
    touched: &BTreeSet<BucketKey>,
    fresh: &[RollupRow],
) -> Result<Vec<RollupRow>, StorageError> {
    use crate::schema::rollup_1m as t;
    let mut by_hour: BTreeMap<BucketKey, BTreeMap<PrimitiveDateTime, RollupRow>> = BTreeMap::new();
    for run in rollup::runs(hours, rollup::step(Tier::Hour), 24) {
        let stored: Vec<crate::history::RollupRecord> = with_conn!(db.read_pool(), c => {
            Ok::<_, StorageError>(t::table
                .filter(t::host.eq(&run.host))
                .filter(t::bucket.ge(run.start))
                .filter(t::bucket.lt(run.end))
                .select(rollup_columns!(t))
                .load(c)
                .await?)
        })?;
        for r in stored {
            let key = (r.0.clone(), r.1);
            if touched.contains(&key) {
                continue;
            }
            let hour = rollup::bucket_start(r.1, Tier::Hour);
            by_hour
                .entry((run.host.clone(), hour))
                .or_default()
                .insert(r.1, RollupRow::from_record(r));
        }
    }
    for m in fresh {
        let b = to_db_time(m.bucket);
        let key = (m.host.clone(), rollup::bucket_start(b, Tier::Hour));
        if hours.contains(&key) {
            by_hour.entry(key).or_default().insert(b, m.clone());
        }
    }
    Ok(by_hour
        .into_iter()
        .filter_map(|((host, hour), minutes)| {
            let rows: Vec<RollupRow> = minutes.into_values().collect();
            rollup::merge(&host, hour, &rows)
        })
        .collect())
}

/// The keys of `all` that have no row in `rows` (buckets whose sources are gone).
fn emptied(all: &BTreeSet<BucketKey>, rows: &[RollupRow]) -> Vec<BucketKey> {
    let present: BTreeSet<BucketKey> = rows
        .iter()
        .map(|r| (r.host.clone(), to_db_time(r.bucket)))
        .collect();
    all.difference(&present).cloned().collect()
}

/// The body of the write transaction on connection `$c`, run with `$run` (see
/// [`replace_rollup_rows!`]): compare-and-set the watermark, then replace and delete.
/// Evaluates to `Result<(), diesel::result::Error>`; a failed compare-and-set is
/// `Err(RollbackTransaction)`.
macro_rules! write_body {
    ($c:expr, $w:expr, $run:path $(, $await:tt)?) => {{
        use crate::schema::{rollup_1h as h, rollup_1m as m};
        use history_tiers::dsl as ht;
        let w: &Write = $w;
        let cas = diesel::update(ht::history_tiers.filter(ht::tier.eq(Tier::Raw.as_str())));
        let set = ht::rolled_up_to.eq(Some(w.new));
        let n = match w.old {
            None => $run(cas.filter(ht::rolled_up_to.is_null()).set(set), &mut *$c)$(.$await)?,
            Some(old) => $run(cas.filter(ht::rolled_up_to.eq(old)).set(set), &mut *$c)$(.$await)?,
        }?;
        if n != 1 {
            return Err(diesel::result::Error::RollbackTransaction);
        }
        replace_rollup_rows!(m, &mut *$c, w.minutes, $run $(, $await)?)?;
        for (host, b) in &w.empty_minutes {
            let q = diesel::delete(m::table.filter(m::host.eq(host)).filter(m::bucket.eq(b)));
            $run(q, &mut *$c)$(.$await)??;
        }
        replace_rollup_rows!(h, &mut *$c, w.hours, $run $(, $await)?)?;
        for (host, b) in &w.empty_hours {
            let q = diesel::delete(h::table.filter(h::host.eq(host)).filter(h::bucket.eq(b)));
            $run(q, &mut *$c)$(.$await)??;
        }
        Ok::<(), diesel::result::Error>(())
    }};
}

/// What the write transaction stores.
#[derive(Debug)]
struct Write {
    old: Option<PrimitiveDateTime>,
    new: PrimitiveDateTime,
    minutes: Vec<RollupRow>,
    empty_minutes: Vec<BucketKey>,
    hours: Vec<RollupRow>,
    empty_hours: Vec<BucketKey>,
}

/// The step's one write transaction: compare-and-set the watermark `old` → `new`, then
/// replace the minute and hour rows (and delete the emptied ones). Returns false (and
/// writes nothing) when the watermark was no longer `old`.
async fn write(
    db: &Database,
    old: Option<PrimitiveDateTime>,
    new: PrimitiveDateTime,
    minute_keys: &BTreeSet<BucketKey>,
    minutes: &[RollupRow],
    hour_keys: &BTreeSet<BucketKey>,
    hours: &[RollupRow],
) -> Result<bool, StorageError> {
    let w = Write {
        old,
        new,
        empty_minutes: emptied(minute_keys, minutes),
        minutes: minutes.to_vec(),
        empty_hours: emptied(hour_keys, hours),
        hours: hours.to_vec(),
    };
    let done = match db.write_pool().get().await? {
        // SQLite: the whole transaction on the connection's blocking thread, IMMEDIATE so
        // the write lock is taken up front (under busy_timeout); it commits or rolls back
        // there even if this future is dropped.
        PooledConn::Sqlite(mut c) => {
            c.spawn_blocking(move |c| {
                c.immediate_transaction(|c| write_body!(c, &w, diesel::RunQueryDsl::execute))
            })
            .await
        }
        PooledConn::Mysql(mut c) => {
            let r = c
                .transaction::<_, diesel::result::Error, _>(async |c| {
                    write_body!(c, &w, diesel_async::RunQueryDsl::execute, await)
                })
                .await;
            if !matches!(r, Ok(()) | Err(diesel::result::Error::RollbackTransaction)) {
                crate::pool::discard(c);
            }
            r
        }
    };
    match done {
        Ok(()) => Ok(true),
        Err(diesel::result::Error::RollbackTransaction) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
