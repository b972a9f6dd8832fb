//! Which stored tier answers a history range, and how coarse its points are.
//!
//! The tiers and how long each is kept live in the `history_tiers` table, written by
//! ingest's maintainer from its `--retention` flags (retention is configured once, on
//! ingest); [`Keeps`] is that table as read here. [`choose`] picks the finest tier that
//! holds the whole range at a bounded cost: raw rows for spans up to [`RAW_MAX_SPAN`],
//! minute rollups up to [`MINUTE_MAX_SPAN`], hour rollups beyond, each only when `from`
//! is inside what the tier keeps. [`grouping`] then merges rollup buckets into groups of
//! `k` consecutive buckets (aligned to the Unix epoch) so a host never gets more than
//! [`MAX_ROLLUP_POINTS`] points. Pure: `now` and the keeps are passed in.
//!
//! `keep_seconds` is whatever was written into the table: a keep reaching back before
//! the earliest date `time` represents (year −9999) is no bound at all, like forever,
//! rather than a panic of every request ([`horizon`]).

use procpulse_storage::history::{Tier, TierInfo};
use time::{Duration, OffsetDateTime};

/// Longest span answered from raw rows (at 1 Hz, 3,600 rows a host, downsampled to
/// [`crate::history::MAX_POINTS`]).
pub const RAW_MAX_SPAN: Duration = Duration::hours(1);
/// Longest span answered from minute rollups (12,000 buckets a host, merged to at most
/// [`MAX_ROLLUP_POINTS`]).
pub const MINUTE_MAX_SPAN: Duration = Duration::hours(200);
/// Longest span of one request (19,200 hour buckets a host): longer than the default
/// hour-rollup retention (730 days), so the whole default history is one request, and
/// what a host loads stays below [`crate::feed::HISTORY_LOAD_ROWS`].
pub const MAX_SPAN: Duration = Duration::days(800);
/// Most points a host gets from a rollup tier.
pub const MAX_ROLLUP_POINTS: i64 = 1_000;

/// `keep` before `now`: the oldest instant a tier keeping rows for `keep` still holds;
/// `None` when that lies before the earliest representable date (no bound).
pub fn horizon(now: OffsetDateTime, keep: Duration) -> Option<OffsetDateTime> {
    now.checked_sub(keep)
}

/// What `history_tiers` says: how long each tier keeps its rows and how far the rollups
/// are complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiers {
    /// How long each tier keeps its rows.
    pub keeps: Keeps,
    /// The raw tier's `rolled_up_to`: every raw row received up to this instant is in
    /// the minute and hour rollups (`None`: nothing rolled up yet).
    pub complete_to: Option<OffsetDateTime>,
}

impl Tiers {
    /// From the rows of `history_tiers` (see [`Keeps::from_tiers`]).
    pub fn from_tiers(tiers: &[TierInfo]) -> Tiers {
        Tiers {
            keeps: Keeps::from_tiers(tiers),
            complete_to: tiers
                .iter()
                .find(|i| i.tier == Tier::Raw)
                .and_then(|i| i.rolled_up_to),
        }
    }
}

/// How long each tier keeps its rows (`None`: forever).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keeps {
    /// Raw `samples` rows.
    pub raw: Option<Duration>,
    /// `rollup_1m`.
    pub minute: Option<Duration>,
    /// `rollup_1h`.
    pub hour: Option<Duration>,
}

impl Keeps {
    /// From the rows of `history_tiers` (`keep_seconds` 0 is forever); a tier without a
    /// row keeps nothing.
    pub fn from_tiers(tiers: &[TierInfo]) -> Keeps {
        let keep = |t: Tier| match tiers.iter().find(|i| i.tier == t) {
            None => Some(Duration::ZERO),
            Some(i) if i.keep_seconds <= 0 => None,
            Some(i) => Some(Duration::seconds(i.keep_seconds)),
        };
        Keeps {
            raw: keep(Tier::Raw),
            minute: keep(Tier::Minute),
            hour: keep(Tier::Hour),
        }
    }

    /// How long `tier` keeps rows.
    pub fn of(&self, tier: Tier) -> Option<Duration> {
        match tier {
            Tier::Raw => self.raw,
            Tier::Minute => self.minute,
            Tier::Hour => self.hour,
        }
    }

    /// The oldest instant any tier still holds at `now` (`None`: some tier keeps
    /// forever, or longer than dates reach back: see [`horizon`]).
    pub fn oldest(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        let longest = [self.raw, self.minute, self.hour]
            .into_iter()
            .try_fold(Duration::ZERO, |acc, k| k.map(|k| acc.max(k)))?;
        horizon(now, longest)
    }

    fn holds(&self, tier: Tier, from: OffsetDateTime, now: OffsetDateTime) -> bool {
        self.of(tier)
            .and_then(|keep| horizon(now, keep))
            .is_none_or(|oldest| from >= oldest)
    }
}

/// Why no tier answers a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `from` is before everything that is kept.
    OlderThanKept {
        /// The oldest instant still kept.
        oldest: OffsetDateTime,
    },
    /// The tiers that keep `from` do not serve a span this long (a configuration where
    /// the hour rollups are kept for less time than the minute ones).
    SpanNotServed,
}

/// The tier for `[from, to)` at `now`: raw when the span is at most [`RAW_MAX_SPAN`] and
/// raw rows from `from` are kept; else minute rollups when the span is at most
/// [`MINUTE_MAX_SPAN`] and they reach back to `from`; else hour rollups when they do.
/// The span is checked against [`MAX_SPAN`] by the query parser, before.
pub fn choose(
    from: OffsetDateTime,
    to: OffsetDateTime,
    now: OffsetDateTime,
    keeps: &Keeps,
) -> Result<Tier, Refusal> {
    if let Some(oldest) = keeps.oldest(now) {
        if from < oldest {
            return Err(Refusal::OlderThanKept { oldest });
        }
    }
    let span = to - from;
    [
        (Tier::Raw, RAW_MAX_SPAN),
        (Tier::Minute, MINUTE_MAX_SPAN),
        (Tier::Hour, MAX_SPAN),
    ]
    .into_iter()
    .find(|&(tier, max)| span <= max && keeps.holds(tier, from, now))
    .map(|(tier, _)| tier)
    .ok_or(Refusal::SpanNotServed)
}

/// Ceiling of `to` in whole Unix seconds.
fn unix_ceil(t: OffsetDateTime) -> i64 {
    t.unix_timestamp() + i64::from(t.nanosecond() > 0)
}

/// How the buckets of `[from, to)` of a tier with `step` seconds are read and merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grouping {
    /// Start of the first bucket to read: the one holding `from`.
    pub first_bucket: OffsetDateTime,
    /// Buckets in the range (what a host loads at most).
    pub buckets: i64,
    /// Buckets merged into one point (1: none merged).
    pub k: i64,
    /// Seconds one point covers (`k × step`), the answer's `step_seconds`.
    pub step_seconds: i64,
}

/// The grouping of `[from, to)` (`from < to`) into points of `k` consecutive buckets of
/// `step` seconds, aligned to multiples of `k × step` since the Unix epoch, with the
/// smallest `k` that gives at most [`MAX_ROLLUP_POINTS`] points.
pub fn grouping(from: OffsetDateTime, to: OffsetDateTime, step: i64) -> Grouping {
    let first = from.unix_timestamp().div_euclid(step);
    let last = (unix_ceil(to) - 1).div_euclid(step).max(first);
    let buckets = last - first + 1;
    let groups = |k: i64| last.div_euclid(k) - first.div_euclid(k) + 1;
    let mut k = ((buckets + MAX_ROLLUP_POINTS - 1) / MAX_ROLLUP_POINTS).max(1);
    while groups(k) > MAX_ROLLUP_POINTS {
        k += 1;
    }
    Grouping {
        first_bucket: OffsetDateTime::from_unix_timestamp(first * step)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH),
        buckets,
        k,
        step_seconds: k * step,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);

    fn defaults() -> Keeps {
        Keeps {
            raw: Some(Duration::days(7)),
            minute: Some(Duration::days(90)),
            hour: Some(Duration::days(730)),
        }
    }

    fn ago(d: Duration) -> OffsetDateTime {
        NOW - d
    }

    #[test]
    fn the_span_and_the_keeps_pick_the_tier() {
        let k = defaults();
        let h = Duration::hours;
        for (from, to, want) in [
            (ago(Duration::minutes(15)), NOW, Tier::Raw),
            (ago(h(1)), NOW, Tier::Raw),
            (ago(h(1) + Duration::seconds(1)), NOW, Tier::Minute),
            (ago(h(24)), NOW, Tier::Minute),
            (ago(h(200)), NOW, Tier::Minute),
            (ago(h(201)), NOW, Tier::Hour),
            (ago(Duration::days(30)), NOW, Tier::Hour),
            (ago(Duration::days(730)), NOW, Tier::Hour),
            // An hour 8 days ago: raw rows are gone, minute rollups answer.
            (
                ago(Duration::days(8)),
                ago(Duration::days(8) - h(1)),
                Tier::Minute,
            ),
            // 15 minutes 100 days ago: only the hour rollups reach that far.
            (
                ago(Duration::days(100)),
                ago(Duration::days(100) - Duration::minutes(15)),
                Tier::Hour,
            ),
            // Exactly at the raw horizon is still raw.
            (
                ago(Duration::days(7)),
                ago(Duration::days(7) - h(1)),
                Tier::Raw,
            ),
        ] {
            assert_eq!(choose(from, to, NOW, &k), Ok(want), "{from} .. {to}");
        }
    }

    #[test]
    fn older_than_every_tier_is_refused_unless_one_keeps_forever() {
        let k = defaults();
        let from = ago(Duration::days(731));
        assert_eq!(
            choose(from, NOW, NOW, &k),
            Err(Refusal::OlderThanKept {
                oldest: ago(Duration::days(730))
            })
        );
        let forever = Keeps { hour: None, ..k };
        assert_eq!(forever.oldest(NOW), None);
        assert_eq!(
            choose(from, from + Duration::days(30), NOW, &forever),
            Ok(Tier::Hour)
        );
        // Raw kept forever: an old short range comes from raw rows.
        let raw_forever = Keeps { raw: None, ..k };
        assert_eq!(
            choose(from, from + Duration::minutes(15), NOW, &raw_forever),
            Ok(Tier::Raw)
        );
        // Hour rollups kept shorter than minute ones: a long span that only the minute
        // tier reaches back to is not served.
        let odd = Keeps {
            hour: Some(Duration::days(1)),
            ..k
        };
        assert_eq!(
            choose(ago(Duration::days(20)), NOW, NOW, &odd),
            Err(Refusal::SpanNotServed)
        );
        assert_eq!(
            choose(ago(Duration::days(2)), NOW, NOW, &odd),
            Ok(Tier::Minute)
        );
    }

    #[test]
    fn keeps_beyond_the_representable_dates_are_no_bound() {
        // Anyone may write keep_seconds: 10^15 s (31.7 million years) and i64::MAX reach
        // before year -9999, which `time` cannot represent; they bound nothing.
        for huge in [1_000_000_000_000_000, i64::MAX] {
            let info = |tier| TierInfo {
                tier,
                keep_seconds: huge,
                rolled_up_to: None,
            };
            let k = Keeps::from_tiers(&[info(Tier::Raw), info(Tier::Minute), info(Tier::Hour)]);
            assert_eq!(k.oldest(NOW), None, "{huge}");
            let far = datetime!(-9999-01-01 00:00:00 UTC);
            assert_eq!(
                choose(far, far + Duration::minutes(15), NOW, &k),
                Ok(Tier::Raw)
            );
            assert_eq!(
                choose(ago(Duration::days(30)), NOW, NOW, &k),
                Ok(Tier::Hour)
            );
            // One huge tier among ordinary ones: the ordinary ones still bound theirs.
            let one = Keeps {
                hour: k.hour,
                ..defaults()
            };
            assert_eq!(one.oldest(NOW), None);
            assert_eq!(
                choose(
                    ago(Duration::days(8)),
                    ago(Duration::days(8) - Duration::minutes(15)),
                    NOW,
                    &one
                ),
                Ok(Tier::Minute)
            );
        }
        assert_eq!(
            horizon(NOW, Duration::days(1)),
            Some(ago(Duration::days(1)))
        );
        assert_eq!(horizon(NOW, Duration::MAX), None);
    }

    #[test]
    fn complete_to_is_the_raw_watermark() {
        let at = datetime!(2026-11-23 09:58:00 UTC);
        let rows = [
            TierInfo {
                tier: Tier::Raw,
                keep_seconds: 3_600,
                rolled_up_to: Some(at),
            },
            TierInfo {
                tier: Tier::Minute,
                keep_seconds: 0,
                rolled_up_to: None,
            },
        ];
        assert_eq!(Tiers::from_tiers(&rows).complete_to, Some(at));
        assert_eq!(Tiers::from_tiers(&rows[1..]).complete_to, None);
        assert_eq!(Tiers::from_tiers(&[]).complete_to, None);
    }

    #[test]
    fn keeps_come_from_the_tier_rows() {
        let info = |tier, keep_seconds| TierInfo {
            tier,
            keep_seconds,
            rolled_up_to: None,
        };
        let k = Keeps::from_tiers(&[info(Tier::Raw, 3_600), info(Tier::Hour, 0)]);
        assert_eq!(
            k,
            Keeps {
                raw: Some(Duration::hours(1)),
                minute: Some(Duration::ZERO),
                hour: None,
            }
        );
        assert_eq!(k.of(Tier::Minute), Some(Duration::ZERO));
    }

    #[test]
    fn grouping_gives_at_most_max_points_with_the_smallest_k() {
        // 24 hours of minutes: 1,440 buckets, two a point (the contract's example).
        let g = grouping(ago(Duration::hours(24)), NOW, 60);
        assert_eq!(
            g,
            Grouping {
                first_bucket: ago(Duration::hours(24)),
                buckets: 1_440,
                k: 2,
                step_seconds: 120,
            }
        );
        // 30 days of hours: 720 buckets, one a point.
        let g = grouping(ago(Duration::days(30)), NOW, 3_600);
        assert_eq!((g.buckets, g.k, g.step_seconds), (720, 1, 3_600));
        // An unaligned from: its bucket is read from its start.
        let from = datetime!(2026-11-23 09:44:30.5 UTC);
        let g = grouping(from, NOW, 60);
        assert_eq!(g.first_bucket, datetime!(2026-11-23 09:44:00 UTC));
        assert_eq!(g.buckets, 16);
        // A sub-second `to` still reads the bucket it falls in.
        let g = grouping(
            ago(Duration::minutes(2)),
            NOW + Duration::milliseconds(1),
            60,
        );
        assert_eq!(g.buckets, 3);
        // Every span up to the largest stays within the limits, at the smallest k.
        for (step, max_span) in [(60, MINUTE_MAX_SPAN), (3_600, MAX_SPAN)] {
            for minutes in (1..=max_span.whole_minutes()).step_by(997) {
                for offset in [0, 17, 59] {
                    let from = ago(Duration::minutes(minutes)) + Duration::seconds(offset);
                    let g = grouping(from, NOW, step);
                    let first = from.unix_timestamp().div_euclid(step);
                    let last = (NOW.unix_timestamp() - 1).div_euclid(step);
                    let points = |k: i64| last.div_euclid(k) - first.div_euclid(k) + 1;
                    assert!(points(g.k) <= MAX_ROLLUP_POINTS, "{minutes} {offset}");
                    assert!(g.k == 1 || points(g.k - 1) > MAX_ROLLUP_POINTS);
                    assert!(g.buckets < crate::feed::HISTORY_LOAD_ROWS);
                }
            }
        }
    }
}
