//! The pure aggregation behind the rollup tiers: raw rows into minute rows, minute rows
//! into hour rows (or any consecutive rollup rows into one), and the bookkeeping of which
//! buckets a set of new raw rows touches. No database here; [`crate::maintain`] loads the
//! rows and stores the results.
//!
//! A bucket is always computed over *all* of its source rows (never by adding new rows to
//! a stored result; the maintainer's memory extends a running aggregate of all of them,
//! see [`crate::maintain::memory`]), so computing it again gives the same row: the
//! maintainer can redo any amount of work after a crash without double-counting.
//!
//! Sums run in a fixed order (raw rows by [`RawPoint::key`] — collection time, then the
//! values — rollup rows by bucket), so the same rows give bit-identical averages wherever
//! they are computed.

use crate::history_model::{MinAvgMax, RollupRow, Tier};
use crate::row::from_db_time;
use std::collections::{BTreeMap, BTreeSet};
use time::{Duration, PrimitiveDateTime};

/// The columns of one raw row that rollups use.
#[derive(Debug, Clone, PartialEq)]
pub struct RawPoint {
    /// Host name.
    pub host: String,
    /// When the sample was taken (naive UTC, as stored).
    pub collected_at: PrimitiveDateTime,
    /// `cpu_usage_percent`.
    pub cpu: f64,
    /// `ram_used_percent`.
    pub ram: f64,
    /// `ram_swap_total_kb`.
    pub swap_total_kb: i64,
    /// `ram_swap_free_kb`.
    pub swap_free_kb: i64,
    /// `load1`.
    pub load1: f64,
    /// `procs_zombie`.
    pub zombies: i64,
    /// `procs_disk_sleep`.
    pub disk_sleep: i64,
    /// `cpu_cores`.
    pub cores: i32,
    /// `source`.
    pub source: String,
}

/// [`RawPoint::key`].
pub type RowKey<'a> = (PrimitiveDateTime, [u64; 3], [i64; 4], i32, &'a str);
/// A [`RowKey`] that owns its source.
type OwnedKey = (PrimitiveDateTime, [u64; 3], [i64; 4], i32, String);

/// Swap used, percent of swap total: (total − free) / total × 100; `None` without swap
/// (total 0). The one definition of the number: rollups use it per raw row, the
/// broadcaster's fleet for each host's latest snapshot. A free larger than the total
/// (validation refuses it) counts as 0 % used.
pub fn swap_used_percent(total_kb: u64, free_kb: u64) -> Option<f64> {
    (total_kb > 0).then(|| total_kb.saturating_sub(free_kb) as f64 / total_kb as f64 * 100.0)
}

impl RawPoint {
    /// The order raw rows are aggregated in: by collection time, then by the values
    /// rollups take from them (floats by their bits: any fixed total order does). Rows
    /// equal in all of it add the same to every aggregate, so whatever their order among
    /// themselves the result has the same bits — and no database id is needed, which the
    /// fold tap ([`crate::fold_tap`]) does not know.
    pub fn key(&self) -> RowKey<'_> {
        (
            self.collected_at,
            [self.cpu.to_bits(), self.ram.to_bits(), self.load1.to_bits()],
            [
                self.swap_total_kb,
                self.swap_free_kb,
                self.zombies,
                self.disk_sleep,
            ],
            self.cores,
            &self.source,
        )
    }

    /// Swap used % of this row ([`swap_used_percent`]); `None` without swap (a negative
    /// stored total, which no insert writes, counts as none).
    pub fn swap_percent(&self) -> Option<f64> {
        let total = u64::try_from(self.swap_total_kb).unwrap_or(0);
        let free = u64::try_from(self.swap_free_kb).unwrap_or(0);
        swap_used_percent(total, free)
    }
}

/// The UTC start of the bucket of `tier` holding `t` (raw: `t` itself).
pub fn bucket_start(t: PrimitiveDateTime, tier: Tier) -> PrimitiveDateTime {
    let minute = t.replace_nanosecond(0).and_then(|t| t.replace_second(0));
    let start = match tier {
        Tier::Raw => return t,
        Tier::Minute => minute,
        Tier::Hour => minute.and_then(|t| t.replace_minute(0)),
    };
    // replace_* with 0 cannot fail; keep `t` rather than panic if it ever did.
    start.unwrap_or(t)
}

/// The width of a rollup tier's bucket (raw: zero).
pub fn step(tier: Tier) -> Duration {
    tier.step()
        .and_then(|d| Duration::try_from(d).ok())
        .unwrap_or(Duration::ZERO)
}

/// Running min / sum / max of one metric.
#[derive(Debug, Clone, Copy)]
struct Acc {
    min: f64,
    max: f64,
    /// Sum of value × weight.
    sum: f64,
    /// Sum of weights.
    weight: f64,
}

impl Acc {
    fn new() -> Acc {
        Acc {
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            sum: 0.0,
            weight: 0.0,
        }
    }

    fn add(&mut self, min: f64, avg: f64, max: f64, weight: f64) {
        self.min = self.min.min(min);
        self.max = self.max.max(max);
        self.sum += avg * weight;
        self.weight += weight;
    }

    fn get(&self) -> Option<MinAvgMax> {
        (self.weight > 0.0).then(|| MinAvgMax {
            min: self.min,
            avg: self.sum / self.weight,
            max: self.max,
        })
    }
}

/// The running totals behind a rollup row, shared by [`BucketBuilder`] (raw rows, each
/// of weight 1) and [`MergeBuilder`] (rollup rows, weighted by their samples).
#[derive(Debug, Clone)]
struct Totals {
    samples: i64,
    cpu: Acc,
    ram: Acc,
    swap: Acc,
    load1: Acc,
    zombies: i64,
    disk_sleep: i64,
    /// Cores and source of the newest row added.
    newest: Option<(i32, String)>,
}

impl Totals {
    fn new() -> Totals {
        Totals {
            samples: 0,
            cpu: Acc::new(),
            ram: Acc::new(),
            swap: Acc::new(),
            load1: Acc::new(),
            zombies: i64::MIN,
            disk_sleep: i64::MIN,
            newest: None,
        }
    }

    /// Adds the next (newest) row: `samples` rows summarised by min/avg/max each.
    fn add(&mut self, r: &RollupRow) {
        let w = r.samples as f64;
        self.cpu.add(r.cpu.min, r.cpu.avg, r.cpu.max, w);
        self.ram.add(r.ram.min, r.ram.avg, r.ram.max, w);
        if let Some(s) = r.swap {
            self.swap.add(s.min, s.avg, s.max, w);
        }
        self.load1.add(r.load1.min, r.load1.avg, r.load1.max, w);
        self.zombies = self.zombies.max(r.zombies_max);
        self.disk_sleep = self.disk_sleep.max(r.disk_sleep_max);
        self.samples = self.samples.saturating_add(r.samples);
        self.set_newest(r.cpu_cores, &r.source);
    }

    fn set_newest(&mut self, cores: i32, source: &str) {
        match &mut self.newest {
            Some((c, s)) => {
                *c = cores;
                if s != source {
                    source.clone_into(s);
                }
            }
            None => self.newest = Some((cores, source.to_owned())),
        }
    }

    /// The row for `host`'s bucket starting at `bucket`; `None` when nothing was added.
    fn row(&self, host: &str, bucket: PrimitiveDateTime) -> Option<RollupRow> {
        let (cpu_cores, source) = self.newest.clone()?;
        Some(RollupRow {
            host: host.to_owned(),
            bucket: from_db_time(bucket),
            samples: self.samples,
            cpu: self.cpu.get()?,
            ram: self.ram.get()?,
            swap: self.swap.get(),
            load1: self.load1.get()?,
            zombies_max: self.zombies,
            disk_sleep_max: self.disk_sleep,
            cpu_cores,
            source,
        })
    }
}

/// Builds one bucket's rollup row from its raw rows, pushed in [`RawPoint::key`]
/// order — so a caller can stream a bucket of any size through it without holding its
/// rows ([`aggregate`] sorts first).
#[derive(Debug, Clone)]
pub struct BucketBuilder {
    host: String,
    bucket: PrimitiveDateTime,
    totals: Totals,
    /// [`RawPoint::key`] of the last row pushed (its source owned).
    last: Option<OwnedKey>,
}

impl BucketBuilder {
    /// An empty bucket of `host` starting at `bucket`.
    pub fn new(host: &str, bucket: PrimitiveDateTime) -> BucketBuilder {
        BucketBuilder {
            host: host.to_owned(),
            bucket,
            totals: Totals::new(),
            last: None,
        }
    }

    /// The bucket's host.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether `p` comes after every row pushed so far in [`RawPoint::key`] order (or
    /// equals the last in it): pushing it then gives the row a computation over all of
    /// them in order gives.
    pub fn follows(&self, p: &RawPoint) -> bool {
        self.last
            .as_ref()
            .is_none_or(|(c, f, i, cores, source)| p.key() >= (*c, *f, *i, *cores, source))
    }

    /// The bucket's start.
    pub fn bucket(&self) -> PrimitiveDateTime {
        self.bucket
    }

    /// Adds the next raw row (the newest so far).
    pub fn push(&mut self, p: &RawPoint) {
        let (c, f, i, cores, source) = p.key();
        match &mut self.last {
            Some(l) => {
                (l.0, l.1, l.2, l.3) = (c, f, i, cores);
                if l.4 != source {
                    source.clone_into(&mut l.4);
                }
            }
            None => self.last = Some((c, f, i, cores, source.to_owned())),
        }
        let t = &mut self.totals;
        t.samples = t.samples.saturating_add(1);
        t.cpu.add(p.cpu, p.cpu, p.cpu, 1.0);
        t.ram.add(p.ram, p.ram, p.ram, 1.0);
        if let Some(s) = p.swap_percent() {
            t.swap.add(s, s, s, 1.0);
        }
        t.load1.add(p.load1, p.load1, p.load1, 1.0);
        t.zombies = t.zombies.max(p.zombies);
        t.disk_sleep = t.disk_sleep.max(p.disk_sleep);
        t.set_newest(p.cores, &p.source);
    }

    /// The rollup row; `None` when no row was pushed.
    pub fn finish(self) -> Option<RollupRow> {
        self.row()
    }

    /// The rollup row of the rows pushed so far (more may follow); `None` when none was.
    pub fn row(&self) -> Option<RollupRow> {
        self.totals.row(&self.host, self.bucket)
    }
}

/// The rollup row of `host`'s bucket starting at `bucket` from its raw rows `points`
/// (every raw row of the bucket, in any order); `None` when there are none.
pub fn aggregate(host: &str, bucket: PrimitiveDateTime, points: &[RawPoint]) -> Option<RollupRow> {
    let mut sorted: Vec<&RawPoint> = points.iter().collect();
    sorted.sort_by(|a, b| a.key().cmp(&b.key()));
    let mut b = BucketBuilder::new(host, bucket);
    for p in sorted {
        b.push(p);
    }
    b.finish()
}

/// One row for `host`'s bucket starting at `bucket` from consecutive rollup rows `rows`
/// (an hour from its minutes, or a display point from several buckets): min of the
/// mins, max of the maxes, averages weighted by `samples` (swap's too: a bucket's swap
/// average covers its rows with swap, nearly always all of them), samples summed,
/// cores and source of the newest row. `None` when `rows` is empty.
pub fn merge(host: &str, bucket: PrimitiveDateTime, rows: &[RollupRow]) -> Option<RollupRow> {
    let mut sorted: Vec<&RollupRow> = rows.iter().collect();
    sorted.sort_by_key(|r| r.bucket);
    let mut b = MergeBuilder::new();
    for r in sorted {
        b.push(r);
    }
    b.row(host, bucket)
}

/// [`merge`] one rollup row at a time, pushed in bucket order — so the maintainer can
/// keep an hour's settled minutes as one running state and add its newest minutes to a
/// copy (the same additions in the same order: the same bits as [`merge`]).
#[derive(Debug, Clone)]
pub struct MergeBuilder {
    totals: Totals,
    last: Option<time::OffsetDateTime>,
}

impl Default for MergeBuilder {
    fn default() -> Self {
        MergeBuilder::new()
    }
}

impl MergeBuilder {
    /// Nothing merged yet.
    pub fn new() -> MergeBuilder {
        MergeBuilder {
            totals: Totals::new(),
            last: None,
        }
    }

    /// The bucket of the last row pushed.
    pub fn last(&self) -> Option<time::OffsetDateTime> {
        self.last
    }

    /// Adds the next row (a later bucket than every row pushed so far).
    pub fn push(&mut self, r: &RollupRow) {
        self.totals.add(r);
        self.last = Some(r.bucket);
    }

    /// The merged row for `host`'s bucket starting at `bucket`; `None` when nothing was
    /// pushed.
    pub fn row(&self, host: &str, bucket: PrimitiveDateTime) -> Option<RollupRow> {
        self.totals.row(host, bucket)
    }
}

/// A bucket: host and UTC start.
pub type BucketKey = (String, PrimitiveDateTime);

/// Every minute row of `points` computed from scratch, ordered by (host, bucket).
pub fn minutes_from_scratch(points: &[RawPoint]) -> Vec<RollupRow> {
    let mut groups: BTreeMap<BucketKey, Vec<RawPoint>> = BTreeMap::new();
    for p in points {
        let key = (p.host.clone(), bucket_start(p.collected_at, Tier::Minute));
        groups.entry(key).or_default().push(p.clone());
    }
    groups
        .into_iter()
        .filter_map(|((host, bucket), pts)| aggregate(&host, bucket, &pts))
        .collect()
}

/// Every hour row of `minutes` merged from scratch, ordered by (host, bucket).
pub fn hours_from_minutes(minutes: &[RollupRow]) -> Vec<RollupRow> {
    let mut groups: BTreeMap<BucketKey, Vec<RollupRow>> = BTreeMap::new();
    for m in minutes {
        let hour = bucket_start(crate::row::to_db_time(m.bucket), Tier::Hour);
        groups
            .entry((m.host.clone(), hour))
            .or_default()
            .push(m.clone());
    }
    groups
        .into_iter()
        .filter_map(|((host, bucket), rows)| merge(&host, bucket, &rows))
        .collect()
}

/// Consecutive buckets of one host, `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// Host name.
    pub host: String,
    /// Start of the first bucket.
    pub start: PrimitiveDateTime,
    /// End of the last bucket.
    pub end: PrimitiveDateTime,
}

/// Groups `keys` (buckets of width `step`) into runs of consecutive buckets of one host,
/// each at most `max_buckets` long, so that one range read per run loads them all.
pub fn runs(keys: &BTreeSet<BucketKey>, step: Duration, max_buckets: usize) -> Vec<Run> {
    let max_buckets = max_buckets.max(1);
    let mut out: Vec<Run> = Vec::new();
    let mut len = 0usize;
    for (host, start) in keys {
        match out.last_mut() {
            Some(r) if r.host == *host && r.end == *start && len < max_buckets => {
                r.end = *start + step;
                len += 1;
            }
            _ => {
                out.push(Run {
                    host: host.clone(),
                    start: *start,
                    end: *start + step,
                });
                len = 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    /// Rows as captured from a real table: `(id, collected_at, cpu, ram, swap_total,
    /// swap_free, load1, zombies, disk_sleep, cores, source)` (the id only for the
    /// reader: the aggregation order never uses it).
    #[allow(clippy::type_complexity)]
    fn points(
        rows: &[(
            i64,
            PrimitiveDateTime,
            f64,
            f64,
            i64,
            i64,
            f64,
            i64,
            i64,
            i32,
            &str,
        )],
    ) -> Vec<RawPoint> {
        rows.iter()
            .map(|r| RawPoint {
                host: "vm-1".into(),
                collected_at: r.1,
                cpu: r.2,
                ram: r.3,
                swap_total_kb: r.4,
                swap_free_kb: r.5,
                load1: r.6,
                zombies: r.7,
                disk_sleep: r.8,
                cores: r.9,
                source: r.10.into(),
            })
            .collect()
    }

    #[test]
    fn rows_follow_by_time_then_values_and_an_equal_row_follows() {
        let t0 = datetime!(2026-11-30 10:00:00);
        let t1 = datetime!(2026-11-30 10:00:01);
        let row =
            |t, cpu, cores| points(&[(0, t, cpu, 1.0, 0, 0, 0.0, 0, 0, cores, "kmod")]).remove(0);
        let mut b = BucketBuilder::new("vm-1", t0);
        b.push(&row(t0, 5.0, 2));
        assert!(
            b.follows(&row(t0, 5.0, 2)),
            "an equal row adds the same either way"
        );
        assert!(b.follows(&row(t0, 5.0, 4)));
        assert!(!b.follows(&row(t0, 5.0, 1)));
        assert!(
            b.follows(&row(t1, 0.0, 1)),
            "a later time, whatever the values"
        );
        b.push(&row(t1, 0.0, 1));
        assert!(!b.follows(&row(t0, 9.0, 9)));
    }

    fn mam(min: f64, avg: f64, max: f64) -> MinAvgMax {
        MinAvgMax { min, avg, max }
    }

    #[test]
    fn swap_used_percent_is_used_over_total_and_none_without_swap() {
        assert_eq!(swap_used_percent(0, 0), None);
        assert_eq!(swap_used_percent(2_000, 500), Some(75.0));
        assert_eq!(swap_used_percent(2_000, 2_000), Some(0.0));
        assert_eq!(swap_used_percent(2_000, 3_000), Some(0.0));
        let p = |total, free| {
            points(&[(
                1,
                datetime!(2026-12-01 10:00),
                0.0,
                0.0,
                total,
                free,
                0.0,
                0,
                0,
                1,
                "kmod",
            )])[0]
                .swap_percent()
        };
        assert_eq!(p(2_000, 500), Some(75.0));
        assert_eq!(p(0, 0), None);
        assert_eq!(p(-5, 0), None);
    }

    #[test]
    fn buckets_start_at_the_utc_minute_and_hour() {
        let t = datetime!(2026-12-01 10:37:42.123);
        assert_eq!(bucket_start(t, Tier::Minute), datetime!(2026-12-01 10:37));
        assert_eq!(bucket_start(t, Tier::Hour), datetime!(2026-12-01 10:00));
        assert_eq!(bucket_start(t, Tier::Raw), t);
        assert_eq!(step(Tier::Hour), Duration::hours(1));
    }

    #[test]
    fn a_minute_is_min_avg_max_of_its_rows_and_the_newest_rows_cores_and_source() {
        let t = datetime!(2026-12-01 10:37:00);
        // Out of order, as a late row arrives; swap on two of three rows.
        let p = points(&[
            (
                3,
                t + Duration::seconds(50),
                30.0,
                60.0,
                1000,
                250,
                1.5,
                0,
                2,
                8,
                "procfs",
            ),
            (
                1,
                t + Duration::seconds(1),
                10.0,
                40.0,
                1000,
                750,
                0.5,
                3,
                0,
                4,
                "kmod",
            ),
            (
                2,
                t + Duration::seconds(20),
                20.0,
                50.0,
                0,
                0,
                1.0,
                1,
                1,
                4,
                "kmod",
            ),
        ]);
        let r = aggregate("vm-1", t, &p).unwrap();
        assert_eq!(r.bucket, datetime!(2026-12-01 10:37:00 UTC));
        assert_eq!(r.samples, 3);
        assert_eq!(r.cpu, mam(10.0, 20.0, 30.0));
        assert_eq!(r.ram, mam(40.0, 50.0, 60.0));
        assert_eq!(r.swap, Some(mam(25.0, 50.0, 75.0)));
        assert_eq!(r.load1, mam(0.5, 1.0, 1.5));
        assert_eq!((r.zombies_max, r.disk_sleep_max), (3, 2));
        assert_eq!((r.cpu_cores, r.source.as_str()), (8, "procfs"));
        assert_eq!(aggregate("vm-1", t, &[]), None);
    }

    #[test]
    fn a_bucket_without_swap_has_none_and_equal_times_order_by_values() {
        let t = datetime!(2026-12-01 10:37:00);
        let p = points(&[
            (8, t, 1.0, 1.0, 0, 0, 0.0, 0, 0, 4, "kmod"),
            (9, t, 1.0, 1.0, 0, 0, 0.0, 0, 0, 2, "procfs"),
        ]);
        let r = aggregate("vm-1", t, &p).unwrap();
        assert_eq!(r.swap, None);
        // Same time: the row with more cores sorts last, whatever the order given.
        assert_eq!((r.cpu_cores, r.source.as_str()), (4, "kmod"));
        let reversed: Vec<RawPoint> = p.into_iter().rev().collect();
        assert_eq!(aggregate("vm-1", t, &reversed), Some(r));
    }

    #[test]
    fn an_hour_merges_minutes_weighted_by_samples() {
        let h = datetime!(2026-12-01 10:00:00);
        let min = |i: i64, n: i64, cpu: MinAvgMax, swap: Option<MinAvgMax>, cores: i32| RollupRow {
            host: "vm-1".into(),
            bucket: from_db_time(h + Duration::minutes(i)),
            samples: n,
            cpu,
            ram: cpu,
            swap,
            load1: cpu,
            zombies_max: i,
            disk_sleep_max: 0,
            cpu_cores: cores,
            source: "kmod".into(),
        };
        let rows = [
            min(59, 1, mam(90.0, 90.0, 90.0), None, 8),
            min(0, 3, mam(0.0, 10.0, 20.0), Some(mam(1.0, 2.0, 3.0)), 4),
        ];
        let r = merge("vm-1", h, &rows).unwrap();
        assert_eq!(r.samples, 4);
        assert_eq!(r.cpu, mam(0.0, 30.0, 90.0)); // (10×3 + 90×1) / 4
        assert_eq!(r.swap, Some(mam(1.0, 2.0, 3.0)));
        assert_eq!((r.zombies_max, r.cpu_cores), (59, 8));
        assert_eq!(merge("vm-1", h, &[]), None);
    }

    #[test]
    fn from_scratch_groups_by_host_and_minute_then_hour() {
        let t = datetime!(2026-12-01 10:59:30);
        let mut p = points(&[
            (1, t, 10.0, 10.0, 0, 0, 0.0, 0, 0, 1, "kmod"),
            (
                2,
                t + Duration::seconds(10),
                20.0,
                10.0,
                0,
                0,
                0.0,
                0,
                0,
                1,
                "kmod",
            ),
            (
                3,
                t + Duration::seconds(40),
                30.0,
                10.0,
                0,
                0,
                0.0,
                0,
                0,
                1,
                "kmod",
            ),
        ]);
        p.push(RawPoint {
            host: "vm-0".into(),
            ..p[0].clone()
        });
        let minutes = minutes_from_scratch(&p);
        let keys: Vec<_> = minutes
            .iter()
            .map(|m| (m.host.as_str(), m.bucket, m.samples))
            .collect();
        assert_eq!(
            keys,
            [
                ("vm-0", datetime!(2026-12-01 10:59 UTC), 1),
                ("vm-1", datetime!(2026-12-01 10:59 UTC), 2),
                ("vm-1", datetime!(2026-12-01 11:00 UTC), 1),
            ]
        );
        assert_eq!(minutes[1].cpu, mam(10.0, 15.0, 20.0));
        let hours = hours_from_minutes(&minutes);
        let keys: Vec<_> = hours
            .iter()
            .map(|m| (m.host.as_str(), m.bucket, m.samples))
            .collect();
        assert_eq!(
            keys,
            [
                ("vm-0", datetime!(2026-12-01 10:00 UTC), 1),
                ("vm-1", datetime!(2026-12-01 10:00 UTC), 2),
                ("vm-1", datetime!(2026-12-01 11:00 UTC), 1),
            ]
        );
    }

    #[test]
    fn runs_join_consecutive_buckets_of_a_host_up_to_a_length() {
        let m = |i: i64| datetime!(2026-12-01 10:00) + Duration::minutes(i);
        let keys: BTreeSet<BucketKey> = [
            ("a".to_owned(), m(0)),
            ("a".to_owned(), m(1)),
            ("a".to_owned(), m(2)),
            ("a".to_owned(), m(5)),
            ("b".to_owned(), m(6)),
        ]
        .into();
        let got: Vec<_> = runs(&keys, Duration::minutes(1), 2)
            .into_iter()
            .map(|r| (r.host, r.start, r.end))
            .collect();
        assert_eq!(
            got,
            [
                ("a".to_owned(), m(0), m(2)),
                ("a".to_owned(), m(2), m(3)),
                ("a".to_owned(), m(5), m(6)),
                ("b".to_owned(), m(6), m(7)),
            ]
        );
    }
}
