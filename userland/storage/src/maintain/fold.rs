//! One fold step: raw rows received in `(rolled_up_to, E]` (at most a chunk of them)
//! mark the (host, minute) buckets they fall in; each of those minutes is computed over
//! all its raw rows received up to `E`, each touched hour over all its minute rows, and
//! the rows are replaced together with advancing the watermark to `E`, in one short
//! transaction.
//!
//! Where the rows of a bucket come from: the step scans the new raw rows whole (every
//! rollup column) — or takes them from the fold tap ([`super::tap`]) when the database
//! confirms it holds exactly those — so a minute the maintainer's memory holds
//! ([`super::memory`]) is extended by them, and a minute new to both memory and the
//! database is computed from them alone — with a fleet, nearly every bucket, so a step
//! reads each raw row once.
//! A minute that memory does not hold but the database does (after a restart, or a row
//! arriving minutes late), whose new rows come before its remembered ones, or that lies
//! within an hour of a delete cutoff is recomputed from all its raw rows in the database,
//! one range read per host; hours likewise from their stored minutes. Either way the row
//! is the same, bit for bit (sums in a fixed order).
//!
//! Everything is read before the transaction (on the read pool), so the write lock is
//! held only for the REPLACE statements. That is safe because:
//! - a raw row received after `E` that lands in a bucket recomputed here is folded by a
//!   later step (its `received_at` is past the new watermark);
//! - every row received at or before `E` has committed before the step reads: `E` is
//!   the settle delay (30 s) before the database's now, and ingest stamps `received_at`
//!   just before its INSERT (not when the request arrived), so this holds while each
//!   ingest replica's clock is within the settle delay of the database's clock minus
//!   the INSERT's own time (pool wait ≤ 2 s, SQLite busy timeout ≤ 5 s by default). A row
//!   that commits with `received_at` at or below the watermark anyway is not folded
//!   unless its minute is later recomputed from the database (and is later deleted with
//!   the rest).
//! - the watermark moves by compare-and-set (`WHERE rolled_up_to = <what this step
//!   read>`): if another maintainer moved it meanwhile (a lease that expired mid-step),
//!   this step's transaction rolls back and writes nothing (and its memory is dropped).

use super::config::MaintainConfig;
use super::memory::{FoldMemory, HourState, SETTLE_MINUTES};
use crate::error::StorageError;
use crate::fold_tap::Tapped;
use crate::history::{RollupRow, Tier, checked_before, replace_rollup_rows, rollup_columns};
use crate::rollup::{self, BucketBuilder, BucketKey, RawPoint};
use crate::row::{LenientTime, MIN_READABLE_TIME, readable_time, to_db_time};
use crate::schema::{history_tiers, samples};
use crate::{Database, PooledConn, with_conn};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use futures_util::TryStreamExt;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
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
    /// Of `minutes`, those recomputed from their raw rows in the database (the rest
    /// from the maintainer's memory and the step's rows).
    pub minutes_read: usize,
    /// Of `hours`, those recomputed from their minute rows in the database.
    pub hours_read: usize,
    /// Of `rows`, those taken from the fold tap ([`super::tap`]) instead of read back
    /// from the database.
    pub tapped: usize,
    /// Raw rows not folded because their minute starts before the raw delete cutoff
    /// plus the margin (some of its rows may be gone).
    pub skipped_old: usize,
    /// The watermark after the step (None: still nothing folded).
    pub watermark: Option<PrimitiveDateTime>,
    /// True when the watermark reached now − settle (no full chunk left).
    pub caught_up: bool,
    /// True when another maintainer moved the watermark first (nothing written).
    pub conflict: bool,
    /// Where the step's time went.
    pub phases: FoldPhases,
}

/// Wall time of a fold step's phases (summed over a pass in its log line).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FoldPhases {
    /// Scanning raw rows by `received_at` for the buckets they touch.
    pub scan: std::time::Duration,
    /// Recomputing the touched minutes from their raw rows.
    pub minutes: std::time::Duration,
    /// Recomputing the touched hours from their minute rows.
    pub hours: std::time::Duration,
    /// The write transaction.
    pub write: std::time::Duration,
}

impl std::ops::AddAssign for FoldPhases {
    fn add_assign(&mut self, o: FoldPhases) {
        self.scan += o.scan;
        self.minutes += o.minutes;
        self.hours += o.hours;
        self.write += o.write;
    }
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

/// A raw row's rollup columns as read (times lenient: an unreadable one is skipped).
pub(crate) type RawRecord = (
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

/// The rollup columns of `samples`, in [`RawRecord`] order.
macro_rules! raw_columns {
    () => {{
        use $crate::schema::samples::dsl as s;
        (
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
        )
    }};
}

pub(crate) use raw_columns;

/// The [`RawPoint`] of a row read with [`raw_columns!`].
pub(crate) fn point(r: RawRecord) -> RawPoint {
    RawPoint {
        host: r.0,
        collected_at: r.1.0,
        cpu: r.2,
        ram: r.3,
        swap_total_kb: r.4,
        swap_free_kb: r.5,
        load1: r.6,
        zombies: r.7,
        disk_sleep: r.8,
        cores: r.9,
        source: r.10,
    }
}

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

/// The start of the oldest bucket that may be taken as new when neither memory nor the
/// database holds it: an hour past both its source tier's and its own tier's delete
/// cutoffs. An hour is the largest margin [`recompute_floor`] adds for any keep, so no
/// fold — under any retention flags, by any replica — skipped rows of a later bucket;
/// None: nothing deleted yet.
fn new_bucket_floor(
    source: Option<PrimitiveDateTime>,
    own: Option<PrimitiveDateTime>,
) -> Option<PrimitiveDateTime> {
    let d = source.max(own)?;
    Some(d.checked_add(time::Duration::HOUR).unwrap_or(d))
}

/// Runs one fold step at `now`, with the maintainer's `memory` of the buckets its last
/// steps folded (see [`super::memory`]; left empty unless the step commits or finds
/// nothing to fold).
pub async fn fold_step(
    db: &Database,
    config: &MaintainConfig,
    memory: &mut FoldMemory,
    now: OffsetDateTime,
) -> Result<FoldStep, StorageError> {
    let old = watermark(db).await?;
    let mut mem = memory.take_at(old);
    let remember = !config.fold_memory.is_zero();
    let upto = checked_before(now, config.settle).map(to_db_time);
    // A settle delay longer than all dates: nothing is ever settled.
    let Some(upto) = upto.filter(|u| old.is_none_or(|w| w < *u)) else {
        *memory = mem;
        return Ok(FoldStep {
            watermark: old,
            caught_up: true,
            ..FoldStep::default()
        });
    };
    // The first step (no watermark) starts at the first readable time, so that a stored
    // value no read can render is never taken as a watermark.
    let lower = old.unwrap_or(MIN_READABLE_TIME - time::Duration::milliseconds(1));
    let deleted = deleted_before(db).await?;
    let minute_floor = recompute_floor(deleted[0], config.keep_raw);
    // A bucket absent from memory and from the database may be computed from the step's
    // rows alone only where no fold ever skipped rows of it (below a floor: the source
    // tier's cutoff plus a margin of at most an hour, whatever keep any maintainer ran
    // with) and its own tier deleted nothing (else its row may be gone).
    let new_minute_floor = new_bucket_floor(deleted[0], deleted[1]);
    let new_hour_floor = new_bucket_floor(deleted[1], deleted[2]);
    let mut touched = Touched::new(minute_floor, remember);
    let mut phases = FoldPhases::default();
    let mut clock = std::time::Instant::now();
    let (new, caught_up, scanned, tapped_rows) =
        match take_tapped(db, config, lower, upto, deleted[0]).await? {
            Some(t) => {
                // The step's rows from the fold tap (the database holds exactly these).
                let n = t.points.len();
                touched.add_all(t.points, &mut mem);
                (t.upto, t.upto == upto, n, n)
            }
            None => {
                let (new, caught_up, n) =
                    scan(db, config, lower, upto, &mut touched, &mut mem).await?;
                (new, caught_up, n, 0)
            }
        };
    let Touched {
        minutes,
        mut building,
        mut from_db,
        skipped_old,
        ..
    } = touched;
    phases.scan = lap(&mut clock);

    // Minutes memory did not hold are new only if the database has no row for them.
    if remember {
        let unknown: BTreeSet<BucketKey> = building
            .iter()
            .filter(|(_, (_, held))| !held)
            .map(|(k, _)| k.clone())
            .collect();
        let stored = stored_keys(db, Tier::Minute, &unknown).await?;
        for k in unknown {
            if stored.contains(&k) || new_minute_floor.is_some_and(|f| k.1 < f) {
                building.remove(&k);
                from_db.insert(k);
            }
        }
    } else {
        from_db.clone_from(&minutes);
    }
    let minutes_read = from_db.len();
    let mut fresh: BTreeMap<BucketKey, BucketBuilder> =
        building.into_iter().map(|(k, (b, _))| (k, b)).collect();
    for b in recompute_minutes(db, &from_db, new).await? {
        fresh.insert((b.host().to_owned(), b.bucket()), b);
    }
    let minute_rows: BTreeMap<BucketKey, RollupRow> = fresh
        .iter()
        .filter_map(|(k, b)| Some((k.clone(), b.row()?)))
        .collect();
    phases.minutes = lap(&mut clock);

    let hour_floor = recompute_floor(deleted[1], config.keep_1m);
    // The touched minutes of each hour to recompute, with their new rows (None: gone).
    let mut touched: BTreeMap<BucketKey, BTreeMap<PrimitiveDateTime, Option<RollupRow>>> =
        BTreeMap::new();
    for k in &minutes {
        let hour = rollup::bucket_start(k.1, Tier::Hour);
        if hour_floor.is_none_or(|f| hour >= f) {
            touched
                .entry((k.0.clone(), hour))
                .or_default()
                .insert(k.1, minute_rows.get(k).cloned());
        }
    }
    let hours: BTreeSet<BucketKey> = touched.keys().cloned().collect();
    let mut states: BTreeMap<BucketKey, HourState> = BTreeMap::new();
    let mut hours_db: BTreeSet<BucketKey> = BTreeSet::new();
    let mut unknown: BTreeSet<BucketKey> = BTreeSet::new();
    for (hk, ms) in &touched {
        if !remember {
            hours_db.insert(hk.clone());
            continue;
        }
        match mem.hours.remove(hk) {
            Some(st) if ms.keys().all(|m| st.accepts(*m)) => {
                states.insert(hk.clone(), st);
            }
            Some(_) => {
                hours_db.insert(hk.clone());
            }
            None => {
                unknown.insert(hk.clone());
            }
        }
    }
    let stored = stored_keys(db, Tier::Hour, &unknown).await?;
    for hk in unknown {
        if stored.contains(&hk) || new_hour_floor.is_some_and(|f| hk.1 < f) {
            hours_db.insert(hk);
        } else {
            states.insert(hk, HourState::default());
        }
    }
    let hours_read = hours_db.len();
    states.extend(load_hours(db, &hours_db, &minutes).await?);
    for (hk, ms) in touched {
        let st = states.entry(hk).or_default();
        for (m, row) in ms {
            match row {
                Some(r) => {
                    st.open.insert(m, r);
                }
                None => {
                    st.open.remove(&m);
                }
            }
        }
    }
    let new_hours: Vec<RollupRow> = states
        .iter()
        .filter_map(|((host, hour), st)| st.row(host, *hour))
        .collect();
    phases.hours = lap(&mut clock);

    let new_minutes: Vec<RollupRow> = minute_rows.into_values().collect();
    let committed = write(db, old, new, &minutes, &new_minutes, &hours, &new_hours).await?;
    phases.write = lap(&mut clock);
    if committed && remember {
        mem.minutes.extend(fresh);
        let settled = rollup::bucket_start(new, Tier::Minute)
            .checked_sub(time::Duration::minutes(SETTLE_MINUTES))
            .unwrap_or(new);
        for (hk, mut st) in states {
            st.settle(settled);
            mem.hours.insert(hk, st);
        }
        let horizon = time::Duration::try_from(config.fold_memory).unwrap_or(time::Duration::MAX);
        memory.keep(mem, new, horizon, remembered_max(config));
    }
    Ok(FoldStep {
        rows: scanned,
        minutes: minutes.len(),
        hours: hours.len(),
        minutes_read,
        hours_read,
        tapped: tapped_rows,
        skipped_old,
        watermark: if committed { Some(new) } else { old },
        caught_up,
        conflict: !committed,
        phases,
    })
}

/// The minutes a step's rows touch: computed from memory and the rows (with whether
/// memory held them), or to be recomputed from the database.
#[derive(Debug, Default)]
struct Touched {
    /// Rows whose minute starts before it are not folded (some of its rows may be gone).
    minute_floor: Option<PrimitiveDateTime>,
    /// Whether memory is on (else every touched minute is recomputed from the database).
    remember: bool,
    minutes: BTreeSet<BucketKey>,
    building: HashMap<BucketKey, (BucketBuilder, bool)>,
    from_db: BTreeSet<BucketKey>,
    /// Rows whose minute starts before `minute_floor` (not folded).
    skipped_old: usize,
}

impl Touched {
    fn new(minute_floor: Option<PrimitiveDateTime>, remember: bool) -> Touched {
        Touched {
            minute_floor,
            remember,
            ..Touched::default()
        }
    }

    /// Adds a batch of the step's rows (each batch received after the ones before), in
    /// [`RawPoint::key`] order; rows of unreadable times are skipped.
    fn add_all(&mut self, mut points: Vec<RawPoint>, mem: &mut FoldMemory) {
        points.retain(|p| readable_time(p.collected_at));
        points.sort_by(|a, b| a.key().cmp(&b.key()));
        for p in points {
            self.add(p, mem);
        }
    }

    /// Adds the step's next row. With memory on, the row extends its minute's builder —
    /// taken from `mem` or new — while it comes after the rows already pushed; otherwise
    /// the minute is recomputed from the database.
    fn add(&mut self, p: RawPoint, mem: &mut FoldMemory) {
        let m = rollup::bucket_start(p.collected_at, Tier::Minute);
        if self.minute_floor.is_some_and(|f| m < f) {
            self.skipped_old += 1;
            return;
        }
        let key = (p.host.clone(), m);
        if self.remember && !self.from_db.contains(&key) {
            match self.building.entry(key.clone()) {
                Entry::Occupied(mut e) if e.get().0.follows(&p) => e.get_mut().0.push(&p),
                Entry::Occupied(e) => {
                    e.remove();
                    self.from_db.insert(key.clone());
                }
                Entry::Vacant(e) => {
                    let (mut b, held) = match mem.minutes.remove(&key) {
                        Some(b) => (b, true),
                        None => (BucketBuilder::new(&p.host, m), false),
                    };
                    if b.follows(&p) {
                        b.push(&p);
                        e.insert((b, held));
                    } else {
                        self.from_db.insert(key.clone());
                    }
                }
            }
        }
        self.minutes.insert(key);
    }
}

/// Scans chunk after chunk of raw rows received in `(lower, upto]`, in `received_at`
/// order, into `touched`, until the range is done or enough minutes are touched for one
/// step. Returns the step's new watermark, whether it reached `upto`, and the rows read.
async fn scan(
    db: &Database,
    config: &MaintainConfig,
    mut lower: PrimitiveDateTime,
    upto: PrimitiveDateTime,
    touched: &mut Touched,
    mem: &mut FoldMemory,
) -> Result<(PrimitiveDateTime, bool, usize), StorageError> {
    let chunk = config.fold_chunk_rows.max(1);
    let limit = i64::try_from(chunk).unwrap_or(i64::MAX);
    let (mut scanned, mut scans) = (0, 0);
    loop {
        let mut rows: Vec<(RawRecord, LenientTime)> = with_conn!(db.read_pool(), c => {
            use samples::dsl as s;
            Ok::<_, StorageError>(s::samples
                .filter(s::received_at.gt(lower))
                .filter(s::received_at.le(upto))
                .select((raw_columns!(), s::received_at))
                .order(s::received_at.asc())
                .limit(limit)
                .load(c)
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
                .map(|r| r.1.0)
                .find(|t| readable_time(*t))
                .unwrap_or(upto);
            let same: Vec<RawRecord> = with_conn!(db.read_pool(), c => {
                use samples::dsl as s;
                Ok::<_, StorageError>(s::samples
                    .filter(s::received_at.eq(last))
                    .select(raw_columns!())
                    .load(c)
                    .await?)
            })?;
            rows.retain(|r| r.1.0 != last);
            rows.extend(same.into_iter().map(|r| (r, LenientTime(last))));
        }
        scanned += rows.len();
        touched.add_all(rows.into_iter().map(|(r, _)| point(r)).collect(), mem);
        if !full {
            return Ok((upto, true, scanned));
        }
        scans += 1;
        if touched.minutes.len() >= config.fold_max_buckets.max(1) || scans >= SCANS_PER_STEP {
            return Ok((last, false, scanned));
        }
        lower = last;
    }
}

/// The step's rows from the fold tap — those received in `(lower, upto]`, or fewer
/// when they touch more than a step's buckets — if the database holds exactly as many
/// raw rows received in that range (and none of them can have been deleted: the range
/// starts at or past the raw delete cutoff); else `None`, and the step scans.
async fn take_tapped(
    db: &Database,
    config: &MaintainConfig,
    lower: PrimitiveDateTime,
    upto: PrimitiveDateTime,
    raw_cutoff: Option<PrimitiveDateTime>,
) -> Result<Option<Tapped>, StorageError> {
    if raw_cutoff.is_some_and(|d| d > lower) {
        return Ok(None);
    }
    let Some(t) = db.fold_tap().take(lower, upto, config.fold_max_buckets) else {
        return Ok(None);
    };
    let end = t.upto;
    let stored: i64 = with_conn!(db.read_pool(), c => {
        use samples::dsl as s;
        Ok::<_, StorageError>(s::samples
            .filter(s::received_at.gt(lower))
            .filter(s::received_at.le(end))
            .count()
            .get_result(c)
            .await?)
    })?;
    if usize::try_from(stored).ok() == Some(t.points.len()) {
        Ok(Some(t))
    } else {
        tracing::debug!(
            stored,
            tapped = t.points.len(),
            "Fold tap incomplete for the step's range; scanning"
        );
        Ok(None)
    }
}

/// Most minutes (and most hours) the memory keeps: twice a step's, at least 1,000.
fn remembered_max(config: &MaintainConfig) -> usize {
    config.fold_max_buckets.saturating_mul(2).max(1_000)
}

/// The time since `clock`, which is reset to now.
fn lap(clock: &mut std::time::Instant) -> std::time::Duration {
    let now = std::time::Instant::now();
    let d = now - *clock;
    *clock = now;
    d
}

/// Most hosts one [`stored_keys`] query names.
const STORED_CHECK_HOSTS: usize = 1_000;

/// Which of `keys` have a row in `tier`'s table (a few queries for a fleet: one per
/// bucket and 1,000 hosts, by the primary key).
async fn stored_keys(
    db: &Database,
    tier: Tier,
    keys: &BTreeSet<BucketKey>,
) -> Result<BTreeSet<BucketKey>, StorageError> {
    use crate::schema::{rollup_1h, rollup_1m};
    let mut by_bucket: BTreeMap<PrimitiveDateTime, Vec<&str>> = BTreeMap::new();
    for (h, b) in keys {
        by_bucket.entry(*b).or_default().push(h);
    }
    let mut out = BTreeSet::new();
    for (b, hosts) in by_bucket {
        for chunk in hosts.chunks(STORED_CHECK_HOSTS) {
            macro_rules! found {
                ($t:ident) => {
                    with_conn!(db.read_pool(), c => {
                        Ok::<_, StorageError>($t::table
                            .filter($t::bucket.eq(b))
                            .filter($t::host.eq_any(chunk))
                            .select($t::host)
                            .load::<String>(c)
                            .await?)
                    })?
                };
            }
            let found = match tier {
                Tier::Hour => found!(rollup_1h),
                _ => found!(rollup_1m),
            };
            out.extend(found.into_iter().map(|h| (h, b)));
        }
    }
    Ok(out)
}

/// The raw rows of one run of minutes received up to `$upto` (the step's new
/// watermark: later rows are the next step's), oldest first (the order of the `(host,
/// collected_at)` index; [`MinuteFolder`] orders rows of one time by their values).
macro_rules! run_rows {
    ($run:expr, $upto:expr) => {{
        use samples::dsl as s;
        s::samples
            .filter(s::host.eq($run.host.clone()))
            .filter(s::collected_at.ge($run.start))
            .filter(s::collected_at.lt($run.end))
            .filter(s::received_at.le($upto))
            .order(s::collected_at.asc())
            .select(raw_columns!())
    }};
}

/// Streams the raw rows of a run of minutes, in `collected_at` order, into one builder
/// per minute (a minute of any size is never held in memory; only the rows of one
/// collection time are, to push them in [`RawPoint::key`] order).
#[derive(Debug, Default)]
struct MinuteFolder {
    current: Option<BucketBuilder>,
    /// Rows of the latest collection time, not pushed yet.
    same_time: Vec<RawPoint>,
    out: Vec<BucketBuilder>,
}

impl MinuteFolder {
    fn push(&mut self, r: RawRecord) {
        let p = point(r);
        if !readable_time(p.collected_at) {
            return;
        }
        if <[RawPoint]>::first(&self.same_time).is_some_and(|q| q.collected_at != p.collected_at) {
            self.push_same_time();
        }
        self.same_time.push(p);
    }

    fn push_same_time(&mut self) {
        let mut rows = std::mem::take(&mut self.same_time);
        rows.sort_by(|a, b| a.key().cmp(&b.key()));
        for p in &rows {
            let m = rollup::bucket_start(p.collected_at, Tier::Minute);
            if self.current.as_ref().is_none_or(|b| b.bucket() != m) {
                self.out.extend(self.current.take());
                self.current = Some(BucketBuilder::new(&p.host, m));
            }
            if let Some(b) = self.current.as_mut() {
                b.push(p);
            }
        }
        rows.clear();
        self.same_time = rows;
    }

    /// Ends the run (the next rows are another host's).
    fn flush(&mut self) {
        self.push_same_time();
        self.out.extend(self.current.take());
    }
}

/// The minutes of `keys` computed from all their raw rows received up to `upto`,
/// streamed (a key with no raw row left has none).
async fn recompute_minutes(
    db: &Database,
    keys: &BTreeSet<BucketKey>,
    upto: PrimitiveDateTime,
) -> Result<Vec<BucketBuilder>, StorageError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let runs = rollup::runs(keys, rollup::step(Tier::Minute), RUN_BUCKETS);
    let out = match db.read_pool().get().await? {
        PooledConn::Sqlite(mut c) => {
            c.spawn_blocking(move |c| {
                let mut f = MinuteFolder::default();
                for run in &runs {
                    let rows = diesel::RunQueryDsl::load_iter::<
                        RawRecord,
                        diesel::connection::DefaultLoadingMode,
                    >(run_rows!(run, upto), c)?;
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
                    let mut rows = run_rows!(run, upto)
                        .load_stream::<RawRecord>(&mut *c)
                        .await?;
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

/// The stored minute rows of each hour of `hours`, except the minutes of `touched`
/// (the step recomputes those), as the hour's open minutes.
async fn load_hours(
    db: &Database,
    hours: &BTreeSet<BucketKey>,
    touched: &BTreeSet<BucketKey>,
) -> Result<BTreeMap<BucketKey, HourState>, StorageError> {
    use crate::schema::rollup_1m as t;
    let mut out: BTreeMap<BucketKey, HourState> = BTreeMap::new();
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
            out.entry((run.host.clone(), hour))
                .or_default()
                .open
                .insert(r.1, RollupRow::from_record(r));
        }
    }
    Ok(out)
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
