//! What the maintainer remembers between fold steps, so that a step need not re-read
//! from the database the raw rows of minutes (and the minute rows of hours) it folded
//! moments ago: a running aggregate of each recently folded minute and hour, valid at
//! one watermark.
//!
//! A bucket computed from memory is bit-for-bit the row a recompute from the database
//! gives, because every aggregate is a running sum in a fixed order:
//! - a minute is a [`BucketBuilder`] over its raw rows in [`RawPoint::key`] order; a
//!   step extends it only with rows that come after all of them in that order (a row
//!   that does not — a late one — sends the minute to the database);
//! - an hour is a [`MergeBuilder`] over its *settled* minutes (those more than
//!   [`SETTLE_MINUTES`] behind the watermark when a step last touched the hour) plus its
//!   open minutes kept as rows; a step that touches a settled minute sends the hour to
//!   the database.
//!
//! The memory is valid only at the watermark it was left at: it holds exactly the rows
//! received up to it. A step that finds another watermark (another maintainer folded,
//! or this one's last write failed) starts from empty memory, and a step takes the
//! memory out while it works and puts it back only after its write committed, so an
//! error or a dropped step leaves it empty. Empty memory is always valid: a bucket it
//! does not hold is either in the database (recomputed from there) or new (computed
//! from the step's rows alone, which are then all of its rows received up to the
//! watermark — but for a row that committed after the watermark passed its
//! `received_at`, which the fold does not promise to count; see [`super::fold`]).

use crate::history::RollupRow;
use crate::rollup::{BucketBuilder, BucketKey, MergeBuilder};
use std::collections::{BTreeMap, HashMap};
use time::{Duration, PrimitiveDateTime};

/// Minutes further than this behind the watermark are merged into their hour's running
/// state (a row for them after that sends the hour to the database). Rows arrive within
/// seconds of being collected, so a minute is complete well before.
pub const SETTLE_MINUTES: i64 = 2;

/// An hour in memory: its settled minutes merged, and the open ones.
#[derive(Debug, Clone, Default)]
pub struct HourState {
    /// The minutes before `open`'s, merged in order.
    pub settled: MergeBuilder,
    /// Minutes not merged yet, by bucket (all after the settled ones).
    pub open: BTreeMap<PrimitiveDateTime, RollupRow>,
}

impl HourState {
    /// Whether a step touching `minute` can be computed from this state: only open
    /// minutes and later ones can change.
    pub fn accepts(&self, minute: PrimitiveDateTime) -> bool {
        self.settled
            .last()
            .is_none_or(|l| crate::row::from_db_time(minute) > l)
    }

    /// The hour's row (None: no minute left).
    pub fn row(&self, host: &str, hour: PrimitiveDateTime) -> Option<RollupRow> {
        let mut b = self.settled.clone();
        for m in self.open.values() {
            b.push(m);
        }
        b.row(host, hour)
    }

    /// Merges the open minutes before `before` into the settled state.
    pub fn settle(&mut self, before: PrimitiveDateTime) {
        let keep = self.open.split_off(&before);
        for m in std::mem::replace(&mut self.open, keep).into_values() {
            self.settled.push(&m);
        }
    }
}

/// The maintainer's memory of recently folded buckets.
#[derive(Debug, Default)]
pub struct FoldMemory {
    /// The watermark the memory is valid at (None: empty).
    pub at: Option<PrimitiveDateTime>,
    /// Minutes, with every raw row received up to `at`.
    pub minutes: HashMap<BucketKey, BucketBuilder>,
    /// Hours, with every minute row as of `at`.
    pub hours: HashMap<BucketKey, HourState>,
}

impl FoldMemory {
    /// The memory if it is valid at watermark `w`, else empty memory (valid at any).
    /// Leaves `self` empty: the step puts it back with [`FoldMemory::keep`].
    pub fn take_at(&mut self, w: Option<PrimitiveDateTime>) -> FoldMemory {
        let m = std::mem::take(self);
        if m.at.is_some() && m.at == w {
            m
        } else {
            FoldMemory::default()
        }
    }

    /// Stores the memory after a step that committed watermark `w`, forgetting minutes
    /// and hours that ended more than `horizon` before it, and everything when more than
    /// `max_buckets` minutes are left (a backlog of old rows: memory would not help).
    pub fn keep(
        &mut self,
        mut m: FoldMemory,
        w: PrimitiveDateTime,
        horizon: Duration,
        max_buckets: usize,
    ) {
        let cut = w.checked_sub(horizon).unwrap_or(w);
        m.minutes.retain(|(_, b), _| *b + Duration::MINUTE > cut);
        m.hours.retain(|(_, b), _| *b + Duration::HOUR > cut);
        if m.minutes.len() > max_buckets || m.hours.len() > max_buckets {
            m = FoldMemory::default();
        }
        m.at = Some(w);
        *self = m;
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        *self = FoldMemory::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::MinAvgMax;
    use crate::rollup::merge;
    use time::macros::datetime;

    fn minute(b: PrimitiveDateTime, v: f64, n: i64) -> RollupRow {
        let m = MinAvgMax {
            min: v / 3.0,
            avg: v / 7.0,
            max: v,
        };
        RollupRow {
            host: "h".into(),
            bucket: crate::row::from_db_time(b),
            samples: n,
            cpu: m,
            ram: m,
            swap: None,
            load1: m,
            zombies_max: n,
            disk_sleep_max: 0,
            cpu_cores: n as i32,
            source: "kmod".into(),
        }
    }

    #[test]
    fn an_hour_from_settled_and_open_minutes_is_the_merge_of_all_of_them() {
        let h = datetime!(2026-11-30 10:00:00);
        let rows: Vec<RollupRow> = (0..7)
            .map(|i| minute(h + Duration::minutes(i), 0.1 + i as f64 * 1.37, 3 + i))
            .collect();
        let mut s = HourState::default();
        for r in &rows[..5] {
            s.open.insert(crate::row::to_db_time(r.bucket), r.clone());
        }
        s.settle(h + Duration::minutes(3));
        assert_eq!(s.open.len(), 2);
        assert!(!s.accepts(h + Duration::minutes(2)), "a settled minute");
        assert!(s.accepts(h + Duration::minutes(3)));
        for r in &rows[5..] {
            s.open.insert(crate::row::to_db_time(r.bucket), r.clone());
        }
        assert_eq!(s.row("h", h), merge("h", h, &rows), "bit-identical");
        assert_eq!(HourState::default().row("h", h), None);
    }

    #[test]
    fn memory_is_valid_only_at_its_watermark_and_forgets_old_buckets() {
        let w = datetime!(2026-11-30 10:30:00);
        let mut mem = FoldMemory::default();
        let mut m = mem.take_at(None);
        for i in 0..20 {
            let b = w - Duration::minutes(i);
            m.minutes
                .insert(("h".into(), b), BucketBuilder::new("h", b));
        }
        m.hours.insert(
            ("h".into(), datetime!(2026-11-30 09:00:00)),
            HourState::default(),
        );
        m.hours.insert(
            ("h".into(), datetime!(2026-11-30 10:00:00)),
            HourState::default(),
        );
        mem.keep(m, w, Duration::minutes(10), 100);
        // Minutes ending after 10:20 stay: 10:20 … 10:30.
        assert_eq!(mem.minutes.len(), 11);
        assert_eq!(mem.hours.len(), 1, "09:00 ended before 10:20");
        assert!(mem.take_at(Some(w + Duration::SECOND)).minutes.is_empty());
        assert!(mem.minutes.is_empty(), "taking leaves it empty");

        let mut m = FoldMemory::default();
        for i in 0..5 {
            let b = w - Duration::minutes(i);
            m.minutes
                .insert(("h".into(), b), BucketBuilder::new("h", b));
        }
        mem.keep(m, w, Duration::minutes(10), 4);
        assert!(mem.minutes.is_empty(), "over the bound: forgotten");
        assert_eq!(mem.take_at(Some(w)).at, Some(w), "still valid (empty)");
    }
}
