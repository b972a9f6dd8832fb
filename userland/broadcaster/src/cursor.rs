//! The id cursor that follows new rows, aware of commit-order gaps.
//!
//! Auto-increment ids are handed out at insert time but become visible at commit time:
//! with concurrent writers (two ingest routes, MySQL) row 101 can be visible while row 100
//! is still uncommitted. A plain `id > last` cursor would skip row 100 forever. So the
//! cursor remembers every id it jumped over as a *gap* and asks for gaps again on every
//! poll (`id > high OR id IN (gaps)`), until the row shows up or the gap is older than
//! [`Cursor::grace`] (ids burnt by rolled-back transactions or duplicate inserts never
//! show up). At most [`MAX_GAPS`] gaps are tracked.
//!
//! Pure bookkeeping: no I/O, the caller runs the query.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// Most missing ids tracked at once. Bounds the `IN (…)` list of the poll query; a jump
/// larger than this (a bulk of burnt ids) tracks only the newest ids of the jump.
pub const MAX_GAPS: usize = 512;

/// Default grace for a gap: far longer than a commit takes under load, short enough that a
/// burnt id stops costing a lookup soon.
pub const DEFAULT_GAP_GRACE: Duration = Duration::from_secs(10);

/// Which ids have been delivered.
#[derive(Debug, Clone)]
pub struct Cursor {
    /// Every id ≤ `settled` is delivered or given up on.
    settled: i64,
    /// Delivered ids above `settled`.
    seen: BTreeSet<i64>,
    /// Missing ids above `settled`, with when they were first noticed.
    gaps: BTreeMap<i64, Instant>,
    grace: Duration,
    /// Ids given up on so far: gaps that expired, or that a jump past [`MAX_GAPS`] left
    /// untracked.
    lost: u64,
}

impl Cursor {
    /// A cursor that considers every id ≤ `start` delivered.
    pub fn new(start: i64, grace: Duration) -> Self {
        Cursor {
            settled: start,
            seen: BTreeSet::new(),
            gaps: BTreeMap::new(),
            grace,
            lost: 0,
        }
    }

    /// Ids given up on so far (a row among them that commits later is never delivered;
    /// most are ids burnt by rollbacks and duplicate inserts).
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// How long a gap is waited for.
    pub fn grace(&self) -> Duration {
        self.grace
    }

    /// The highest id delivered (or the start): poll for `id > high()`.
    pub fn high(&self) -> i64 {
        self.seen
            .last()
            .copied()
            .unwrap_or(self.settled)
            .max(self.settled)
    }

    /// Missing ids to ask for again, ascending.
    pub fn gaps(&self) -> Vec<i64> {
        self.gaps.keys().copied().collect()
    }

    /// Records a fetched id; `true` when it is new and must be delivered.
    pub fn accept(&mut self, id: i64, now: Instant) -> bool {
        if id <= self.settled || self.seen.contains(&id) {
            return false;
        }
        let high = self.high();
        if id > high + 1 {
            let from = (high + 1).max(id - MAX_GAPS as i64);
            self.lost += (from - (high + 1)) as u64;
            for missing in from..id {
                self.gaps.insert(missing, now);
            }
            while self.gaps.len() > MAX_GAPS {
                self.gaps.pop_first();
                self.lost += 1;
            }
        }
        self.gaps.remove(&id);
        self.seen.insert(id);
        true
    }

    /// Gives up on expired gaps and moves `settled` up; call once per poll.
    pub fn settle(&mut self, now: Instant) {
        let high = self.high();
        let grace = self.grace;
        let before = self.gaps.len();
        self.gaps
            .retain(|_, first| now.saturating_duration_since(*first) < grace);
        self.lost += (before - self.gaps.len()) as u64;
        self.settled = match self.gaps.first_key_value() {
            Some((&gap, _)) => gap - 1,
            None => high,
        };
        self.seen = self.seen.split_off(&(self.settled + 1));
    }

    /// Delivered ids held above the settled mark (memory use; for tests and metrics).
    pub fn pending(&self) -> usize {
        self.seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_ids_settle_immediately() {
        let t = Instant::now();
        let mut c = Cursor::new(10, DEFAULT_GAP_GRACE);
        assert!(c.accept(11, t));
        assert!(c.accept(12, t));
        assert!(!c.accept(12, t), "a row is delivered once");
        assert!(!c.accept(9, t), "rows before the start are never delivered");
        c.settle(t);
        assert_eq!(c.high(), 12);
        assert!(c.gaps().is_empty());
        assert_eq!(c.pending(), 0);
    }

    #[test]
    fn late_commit_inside_a_gap_is_delivered_once() {
        let t = Instant::now();
        let mut c = Cursor::new(0, DEFAULT_GAP_GRACE);
        assert!(c.accept(1, t));
        assert!(c.accept(4, t));
        c.settle(t);
        assert_eq!(c.gaps(), vec![2, 3]);
        assert_eq!(c.high(), 4);
        // Row 3 commits late; the next query (id > 4 OR id IN (2,3)) returns 3 and 4 again?
        // No: 4 is not asked for, but a replay of it must still be refused.
        assert!(c.accept(3, t));
        assert!(!c.accept(4, t));
        c.settle(t);
        assert_eq!(c.gaps(), vec![2]);
        assert_eq!(c.pending(), 2, "3 and 4 wait above the gap at 2");
    }

    #[test]
    fn burnt_ids_are_given_up_after_the_grace() {
        let t = Instant::now();
        let mut c = Cursor::new(0, Duration::from_secs(5));
        assert!(c.accept(3, t));
        c.settle(t + Duration::from_secs(4));
        assert_eq!(c.gaps(), vec![1, 2]);
        assert_eq!(c.lost(), 0);
        c.settle(t + Duration::from_secs(6));
        assert!(c.gaps().is_empty());
        assert_eq!(c.lost(), 2, "both burnt ids are counted as given up");
        assert_eq!(c.pending(), 0);
        assert!(
            !c.accept(2, t),
            "a row older than the grace is not delivered"
        );
    }

    #[test]
    fn huge_jump_tracks_at_most_max_gaps() {
        let t = Instant::now();
        let mut c = Cursor::new(0, DEFAULT_GAP_GRACE);
        assert!(c.accept(1_000_000, t));
        assert_eq!(c.gaps().len(), MAX_GAPS);
        assert_eq!(
            c.lost(),
            1_000_000 - 1 - MAX_GAPS as u64,
            "the untracked ids"
        );
        assert_eq!(c.gaps()[0], 1_000_000 - MAX_GAPS as i64);
        c.settle(t);
        assert!(c.accept(999_999, t));
        assert!(!c.accept(5, t), "untracked old ids are settled");
    }
}
