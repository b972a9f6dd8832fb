//! The fold tap: the rollup columns of the raw rows this process committed, kept for the
//! maintainer's next fold step so that it need not read them back from the database.
//!
//! Ingest writes a row and, a minute later, the fold would read the same row back — on
//! MariaDB at a 10,000-host fleet's rate that read-back was most of what maintenance
//! cost ingest (BENCHMARKS.md "history"). With the tap, [`crate::write::insert_shared`]
//! records every row it committed (after the commit: only rows the database holds), and
//! a fold step takes the rows received in its range from here instead.
//!
//! The tap is only a shortcut, never trusted on its own: a step uses it only when the
//! database holds exactly as many raw rows received in the range as the tap does (one
//! index-only `COUNT`). The tap's rows are all stored, distinct and — the range lying past
//! the raw delete cutoff — not deleted, so equal counts mean the same rows. Another ingest
//! replica's rows, a row whose commit the caller never saw, rows received before the tap
//! was switched on, rows dropped when it was full: each makes the counts differ, and the
//! step scans the database as without the tap.
//!
//! The database ids of tapped rows are not known (a multi-row INSERT does not return
//! them); none is needed: rows are aggregated in [`RawPoint::key`] order (collection
//! time, then values), so tapped rows fold to the same bits as rows read back.

use crate::NewSample;
use crate::history_model::Tier;
use crate::rollup::{self, RawPoint};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use time::PrimitiveDateTime;

/// A tapped row: its `received_at` and rollup columns (host and source shared).
#[derive(Debug, Clone)]
struct TapRow {
    received_at: PrimitiveDateTime,
    collected_at: PrimitiveDateTime,
    host: Arc<str>,
    source: Arc<str>,
    cpu: f64,
    ram: f64,
    load1: f64,
    swap_total_kb: i64,
    swap_free_kb: i64,
    zombies: i64,
    disk_sleep: i64,
    cores: i32,
}

impl TapRow {
    fn point(&self) -> RawPoint {
        RawPoint {
            host: self.host.as_ref().to_owned(),
            collected_at: self.collected_at,
            cpu: self.cpu,
            ram: self.ram,
            swap_total_kb: self.swap_total_kb,
            swap_free_kb: self.swap_free_kb,
            load1: self.load1,
            zombies: self.zombies,
            disk_sleep: self.disk_sleep,
            cores: self.cores,
            source: self.source.as_ref().to_owned(),
        }
    }
}

#[derive(Debug, Default)]
struct TapState {
    /// Most rows held; more and the tap drops them all (the next steps then scan).
    max_rows: usize,
    rows: Vec<TapRow>,
    /// Host and source names, shared by the rows (pruned when rows are taken).
    names: HashSet<Arc<str>>,
}

impl TapState {
    fn name(&mut self, s: &str) -> Arc<str> {
        if let Some(k) = self.names.get(s) {
            return k.clone();
        }
        let k: Arc<str> = Arc::from(s);
        self.names.insert(k.clone());
        k
    }
}

/// The tap of one [`crate::Database`] handle (shared by its clones). Off until
/// [`FoldTap::enable`].
#[derive(Debug, Default)]
pub struct FoldTap {
    on: AtomicBool,
    state: Mutex<TapState>,
}

/// Rows a fold step took from the tap: those received in `(lower, upto]`.
#[derive(Debug)]
pub struct Tapped {
    /// The end of the range (the step's new watermark).
    pub upto: PrimitiveDateTime,
    /// The rows, as points.
    pub points: Vec<RawPoint>,
}

impl FoldTap {
    fn lock(&self) -> std::sync::MutexGuard<'_, TapState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts recording (holding at most `max_rows`; zero: stays off). Idempotent.
    pub fn enable(&self, max_rows: usize) {
        if max_rows == 0 {
            return self.disable();
        }
        self.lock().max_rows = max_rows;
        self.on.store(true, Ordering::Release);
    }

    /// Stops recording and drops what it held.
    pub fn disable(&self) {
        self.on.store(false, Ordering::Release);
        *self.lock() = TapState::default();
    }

    /// Whether it records.
    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::Acquire)
    }

    /// Rows held now.
    pub fn len(&self) -> usize {
        self.lock().rows.len()
    }

    /// Whether it holds no row.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records the rows of `rows` marked `stored` — call only once they are committed.
    /// A row whose times are not whole milliseconds is not recorded (MySQL stores them
    /// truncated, SQLite whole: the tap's copy could differ from the stored row; ingest
    /// always stamps whole milliseconds), so a step over it scans.
    pub fn record(&self, rows: &[NewSample], stored: &[bool]) {
        if !self.is_on() {
            return;
        }
        let whole_ms = |t: PrimitiveDateTime| t.nanosecond() % 1_000_000 == 0;
        let mut st = self.lock();
        let n = stored.iter().filter(|s| **s).count();
        if st.rows.len() + n > st.max_rows {
            // Full (no step took rows for a while): start over; the counts tell.
            tracing::debug!(rows = st.rows.len(), "Fold tap full; dropped");
            st.rows = Vec::new();
            st.names.clear();
            if n > st.max_rows {
                return;
            }
        }
        for (r, _) in rows.iter().zip(stored).filter(|(_, s)| **s) {
            if !(whole_ms(r.received_at) && whole_ms(r.collected_at)) {
                continue;
            }
            let host = st.name(&r.host);
            let source = st.name(&r.source);
            st.rows.push(TapRow {
                received_at: r.received_at,
                collected_at: r.collected_at,
                host,
                source,
                cpu: r.cpu_usage_percent,
                ram: r.ram_used_percent,
                load1: r.load1,
                swap_total_kb: r.ram_swap_total_kb,
                swap_free_kb: r.ram_swap_free_kb,
                zombies: r.procs_zombie,
                disk_sleep: r.procs_disk_sleep,
                cores: r.cpu_cores,
            });
        }
    }

    /// Takes the rows received in `(lower, upto]` — fewer when they touch more than
    /// `max_buckets` (host, minute) buckets: then those received up to the millisecond
    /// at which the limit was reached, all of that millisecond included (as a fold
    /// step's scan cuts). Rows received at or before `lower` are dropped (folded
    /// already); later ones stay. `None` when the tap is off.
    pub fn take(
        &self,
        lower: PrimitiveDateTime,
        upto: PrimitiveDateTime,
        max_buckets: usize,
    ) -> Option<Tapped> {
        if !self.is_on() {
            return None;
        }
        // The lock is held only to swap the rows out and back: writers record while
        // the range is sorted and converted (the order of held rows does not matter).
        let rows = std::mem::take(&mut self.lock().rows);
        let (mut range, keep): (Vec<TapRow>, Vec<TapRow>) = rows
            .into_iter()
            .filter(|r| r.received_at > lower)
            .partition(|r| r.received_at <= upto);
        range.sort_by_key(|r| r.received_at);
        let mut buckets: HashSet<(&str, PrimitiveDateTime)> = HashSet::new();
        let mut cut = range.len();
        for (i, r) in range.iter().enumerate() {
            buckets.insert((&r.host, rollup::bucket_start(r.collected_at, Tier::Minute)));
            if buckets.len() >= max_buckets.max(1) {
                let at = r.received_at;
                cut = i + range[i..]
                    .iter()
                    .take_while(|x| x.received_at == at)
                    .count();
                break;
            }
        }
        drop(buckets);
        let end = if cut < range.len() {
            range[cut - 1].received_at
        } else {
            upto
        };
        let later: Vec<TapRow> = keep.into_iter().chain(range.drain(cut..)).collect();
        let points = range.iter().map(TapRow::point).collect();
        drop(range);
        let mut st = self.lock();
        if st.rows.len() + later.len() > st.max_rows {
            // Rows recorded meanwhile and those put back would exceed the limit.
            st.rows = Vec::new();
        } else {
            st.rows.extend(later);
        }
        // Names only the map still holds belong to no row left.
        st.names.retain(|k| Arc::strong_count(k) > 1);
        drop(st);
        Some(Tapped { upto: end, points })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::to_db_time;
    use time::OffsetDateTime;

    fn row(host: &str, collected_s: i64, received_ms: i64) -> NewSample {
        let snap: procpulse_model::Snapshot = serde_json::from_str(include_str!(
            "../../model/tests/fixtures/snapshot_valid.json"
        ))
        .unwrap();
        let base = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let mut r =
            NewSample::from_snapshot(&snap, "a", base + time::Duration::milliseconds(received_ms));
        r.host = host.to_owned();
        r.collected_at = to_db_time(base + time::Duration::seconds(collected_s));
        r
    }

    fn at(ms: i64) -> PrimitiveDateTime {
        let base = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        to_db_time(base + time::Duration::milliseconds(ms))
    }

    #[test]
    fn off_records_nothing_and_takes_nothing() {
        let tap = FoldTap::default();
        tap.record(&[row("a", 0, 1)], &[true]);
        assert!(tap.is_empty());
        assert!(tap.take(at(-1), at(10), 10).is_none());
    }

    #[test]
    fn takes_the_range_drops_older_rows_and_keeps_later_ones() {
        let tap = FoldTap::default();
        tap.enable(100);
        let rows = [
            row("a", 0, 1),
            row("a", 1, 5),
            row("b", 1, 9),
            row("a", 2, 20),
        ];
        tap.record(&rows, &[true, true, false, true]);
        assert_eq!(tap.len(), 3, "the duplicate is not recorded");
        let t = tap.take(at(1), at(10), 10).unwrap();
        assert_eq!(t.upto, at(10));
        assert_eq!(t.points.len(), 1);
        assert_eq!(t.points[0].host, "a");
        assert_eq!(t.points[0].collected_at, rows[1].collected_at);
        assert_eq!(tap.len(), 1, "the row received later stays");
        let t = tap.take(at(10), at(30), 10).unwrap();
        assert_eq!(t.points.len(), 1);
        assert!(tap.is_empty());
    }

    #[test]
    fn a_step_full_of_buckets_cuts_after_a_whole_millisecond() {
        let tap = FoldTap::default();
        tap.enable(100);
        // Three hosts' minutes; the second bucket is reached at 5 ms, where two rows
        // were received.
        let rows = [
            row("a", 0, 1),
            row("b", 0, 5),
            row("c", 0, 5),
            row("a", 1, 7),
        ];
        tap.record(&rows, &[true; 4]);
        let t = tap.take(at(-1), at(10), 2).unwrap();
        assert_eq!(t.upto, at(5));
        assert_eq!(t.points.len(), 3);
        assert_eq!(tap.len(), 1);
    }

    #[test]
    fn a_time_finer_than_a_millisecond_is_not_recorded() {
        let tap = FoldTap::default();
        tap.enable(100);
        let mut fine = row("a", 0, 1);
        fine.received_at += time::Duration::microseconds(5);
        let mut fine_collected = row("a", 1, 2);
        fine_collected.collected_at += time::Duration::microseconds(5);
        tap.record(&[fine, fine_collected, row("a", 2, 3)], &[true; 3]);
        assert_eq!(tap.len(), 1);
    }

    #[test]
    fn a_full_tap_starts_over() {
        let tap = FoldTap::default();
        tap.enable(3);
        tap.record(&[row("a", 0, 1), row("a", 1, 2)], &[true, true]);
        tap.record(&[row("a", 2, 3), row("a", 3, 4)], &[true, true]);
        assert_eq!(tap.len(), 2, "dropped the two before");
        tap.record(&vec![row("a", 4, 5); 4], &[true; 4]);
        assert!(tap.is_empty(), "more than it holds at once");
        tap.disable();
        assert!(!tap.is_on());
    }
}
