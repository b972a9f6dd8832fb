//! The in-memory history every new client receives: per host, the rows of the last
//! [`WINDOW`] (ending at that host's newest `collected_at`, so a replayed or clock-skewed
//! host still shows its last 15 minutes), at most [`MAX_POINTS`] per host, oldest first,
//! downsampled evenly when there are more.
//!
//! The poller loads it once from the database at start-up and then appends every row it
//! delivers, so a client's history and the `samples` frames that follow it meet exactly at
//! the cursor (no gap, no duplicate) and a connect costs no query. History points carry
//! no `top` table except each host's newest row; they keep every other field, snapshot v2
//! ones included (`cpu.modes`, `cpu.per_cpu`, `ram.buffers_kb/shared_kb/swap_used_kb`,
//! `pressure`), which the dashboard charts over the window.
//!
//! Memory and frame size are bounded per host by points and by bytes. Measured (unit
//! tests below): a v1 point is 490 bytes of JSON, a v2 point of a 64-CPU host 3,250 bytes
//! (64 `per_cpu` entries of ~35 bytes each, plus modes and pressure), so 900 of them
//! (2.9 MB) fit [`MAX_HOST_BYTES`] and such a host keeps one point a second; a host with
//! much bigger rows gets fewer points, still evenly spread over the window, instead of a
//! frame that grows with its CPU count (1,024 CPUs: 35.7 KB a point, 88 points sent). In
//! memory a host holds at most about twice what it sends (≤ 1,800 points and
//! ≤ 2 × [`MAX_HOST_BYTES`] of text: 5.9 MB for the 64-CPU host, 0.9 MB for a v1 one).

use std::collections::BTreeMap;
use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::frames;
use crate::row::Row;

/// How far back a history reaches from a host's newest sample.
pub const WINDOW: Duration = Duration::minutes(15);
/// Most points per host in a `history` frame (one a second for 15 minutes).
pub const MAX_POINTS: usize = 900;
/// Most bytes of one host's points in a `history` frame (3 MiB: 900 points of a 64-CPU
/// v2 host fit with room to spare).
pub const MAX_HOST_BYTES: usize = 3 * 1024 * 1024;
/// Points kept per host before thinning in memory: twice what is sent, so that thinning
/// is rare and the sent points stay close to even.
const MAX_KEPT: usize = 2 * MAX_POINTS;
/// Bytes of points kept per host before thinning, for the same reason.
const MAX_KEPT_BYTES: usize = 2 * MAX_HOST_BYTES;

/// How many of `n` points holding `bytes` of text in all a history sends: at most
/// [`MAX_POINTS`], and no more than fit [`MAX_HOST_BYTES`] at their average size (at
/// least two, the window's ends).
pub fn points_budget(n: usize, bytes: usize) -> usize {
    if n == 0 {
        return 0;
    }
    let avg = bytes.div_ceil(n).max(1);
    MAX_POINTS.min(MAX_HOST_BYTES / avg).max(2).min(n)
}

#[derive(Debug, Clone)]
struct Point {
    id: i64,
    collected_at: OffsetDateTime,
    lite: Arc<str>,
    /// Whether the row had a `top` table (then `lite` is not the whole row).
    had_top: bool,
}

#[derive(Debug, Clone)]
struct HostHistory {
    /// Sorted by (collected_at, id).
    points: Vec<Point>,
    /// Sum of the points' text lengths.
    bytes: usize,
    newest_id: i64,
    newest_at: OffsetDateTime,
    newest_full: Arc<str>,
    /// Every row of the host collected at or after this (and delivered so far) has been
    /// pushed: just after the first row seen, or where a start-up load began reading.
    complete_from: OffsetDateTime,
    /// Ranges must start at or after this: just after the newest point dropped by
    /// thinning, or past anything a row the poller gave up on could hold (see
    /// [`History::range`], [`History::lost_rows`]).
    missing_before: Option<OffsetDateTime>,
}

impl HostHistory {
    fn missing_before(&mut self, at: OffsetDateTime) {
        self.missing_before = Some(self.missing_before.map_or(at, |t| t.max(at)));
    }
}

/// `complete_from` of a host the start-up load created, until
/// [`History::mark_complete`]: no range is complete.
const UNCHECKED: OffsetDateTime = time::PrimitiveDateTime::MAX.assume_utc();

/// Per-host recent rows.
#[derive(Debug, Clone, Default)]
pub struct History {
    hosts: BTreeMap<String, HostHistory>,
}

impl History {
    /// Adds one delivered row.
    pub fn push(&mut self, row: &Row, full: Arc<str>) {
        self.add(row, full, !row.snapshot.top.is_empty(), false);
    }

    /// Adds one row of the start-up load, read without its `top` table unless it was
    /// its host's newest ([`crate::feed::Feed::host_rows`]): it counts as having had one.
    pub fn push_loaded(&mut self, row: &Row, full: Arc<str>) {
        self.add(row, full, true, true);
    }

    fn add(&mut self, row: &Row, full: Arc<str>, had_top: bool, loaded: bool) {
        let at = row.snapshot.collected_at;
        let lite: Arc<str> = if row.snapshot.top.is_empty() {
            Arc::clone(&full)
        } else {
            row.to_json_lite().into()
        };
        let point = Point {
            id: row.id,
            collected_at: at,
            lite,
            had_top,
        };
        let host = self
            .hosts
            .entry(row.snapshot.host.clone())
            .or_insert_with(|| HostHistory {
                points: Vec::new(),
                bytes: 0,
                newest_id: row.id,
                newest_at: at,
                newest_full: Arc::clone(&full),
                // Seen live: rows of the same instant with smaller ids may be elsewhere,
                // complete only after the first row. Loaded: nothing is complete until
                // the poller has checked the load (mark_complete).
                complete_from: if loaded {
                    UNCHECKED
                } else {
                    at + Duration::nanoseconds(1)
                },
                missing_before: None,
            });
        if (at, row.id) >= (host.newest_at, host.newest_id) {
            host.newest_id = row.id;
            host.newest_at = at;
            host.newest_full = full;
        }
        let key = (at, row.id);
        let pos = host
            .points
            .partition_point(|p| (p.collected_at, p.id) < key);
        host.bytes += point.lite.len();
        host.points.insert(pos, point);
        let horizon = host.newest_at - WINDOW;
        let old = host.points.partition_point(|p| p.collected_at < horizon);
        host.bytes -= host.points[..old]
            .iter()
            .map(|p| p.lite.len())
            .sum::<usize>();
        host.points.drain(..old);
        if host.points.len() > MAX_KEPT || host.bytes > MAX_KEPT_BYTES {
            let keep = downsample(
                host.points.len(),
                points_budget(host.points.len(), host.bytes),
            );
            let mut i = 0;
            let mut next = keep.iter().copied().peekable();
            let mut dropped_up_to = None;
            host.points.retain(|p| {
                let kept = next.peek() == Some(&i);
                if kept {
                    next.next();
                } else {
                    dropped_up_to = Some(p.collected_at);
                }
                i += 1;
                kept
            });
            if let Some(at) = dropped_up_to {
                host.missing_before(at + Duration::nanoseconds(1));
            }
            host.bytes = host.points.iter().map(|p| p.lite.len()).sum();
        }
    }

    /// Marks `host` as having been pushed every row collected from `from` on: the
    /// start-up load read all of them (checked by the poller once late commits had time
    /// to land), or, when it could not tell, every row from a `from` past what it may
    /// have missed. Until then a loaded host has no complete range. Only for a host the
    /// load created and not marked yet (one evicted and seen again since is left alone);
    /// points thinned or rows lost since stay missing.
    pub fn mark_complete(&mut self, host: &str, from: OffsetDateTime) {
        if let Some(h) = self
            .hosts
            .get_mut(host)
            .filter(|h| h.complete_from == UNCHECKED)
        {
            h.complete_from = h.complete_from.min(from);
        }
    }

    /// The poller gave up on rows it never saw (ids it waited for in vain, which may
    /// still commit; their host is unknown): no range of any host starting before
    /// `barrier` — past any `collected_at` such a row can have — is answered from memory.
    pub fn lost_rows(&mut self, barrier: OffsetDateTime) {
        for h in self.hosts.values_mut() {
            h.missing_before(barrier);
        }
    }

    /// The wire texts of `host`'s rows collected in `[from, to)`, oldest first, the newest
    /// of them whole (with its `top` table) and the others without `top` — what the
    /// database path of `/api/v1/history` reads for the raw tier, as of the last poll —
    /// when memory holds every one of them: `None` when the host is not held, `from` is
    /// before the window or before what memory holds completely (a start-up load cut
    /// short or not checked yet, thinned points, rows the poller gave up on), or the
    /// newest row in the range had a `top` table that memory does not keep. `from` and
    /// `to` are compared as given: truncate them to the stored precision first.
    pub fn range(
        &self,
        host: &str,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Option<Vec<Arc<str>>> {
        let h = self.hosts.get(host)?;
        let complete = h.complete_from.max(h.newest_at - WINDOW);
        if from < h.missing_before.map_or(complete, |t| t.max(complete)) {
            return None;
        }
        let lo = h.points.partition_point(|p| p.collected_at < from);
        let hi = h.points.partition_point(|p| p.collected_at < to).max(lo);
        let points = &h.points[lo..hi];
        let mut out: Vec<Arc<str>> = points.iter().map(|p| Arc::clone(&p.lite)).collect();
        if let (Some(last), Some(text)) = (points.last(), out.last_mut()) {
            if last.id == h.newest_id {
                *text = Arc::clone(&h.newest_full);
            } else if last.had_top {
                return None;
            }
        }
        Some(out)
    }

    /// Forgets `host` (evicted: not seen for `--host-ttl`).
    pub fn remove(&mut self, host: &str) {
        self.hosts.remove(host);
    }

    /// Host names, sorted.
    pub fn hosts(&self) -> Vec<String> {
        self.hosts.keys().cloned().collect()
    }

    /// The `history` frame.
    pub fn frame(&self) -> Utf8Bytes {
        let mut rows: Vec<&str> = Vec::new();
        for host in self.hosts.values() {
            let k = points_budget(host.points.len(), host.bytes);
            for i in downsample(host.points.len(), k) {
                let p = &host.points[i];
                rows.push(if p.id == host.newest_id {
                    &host.newest_full
                } else {
                    &p.lite
                });
            }
        }
        frames::samples("history", rows)
    }

    /// Each host's newest row (with its `top` table), sorted by id.
    pub fn latest(&self) -> Vec<(i64, Arc<str>)> {
        let mut v: Vec<_> = self
            .hosts
            .values()
            .map(|h| (h.newest_id, Arc::clone(&h.newest_full)))
            .collect();
        v.sort_by_key(|(id, _)| *id);
        v
    }

    /// Points held in memory, all hosts.
    pub fn len(&self) -> usize {
        self.hosts.values().map(|h| h.points.len()).sum()
    }

    /// Bytes of point text held in memory, all hosts (each host's newest full row, shared
    /// with its point when it has no `top`, is not counted).
    pub fn bytes(&self) -> usize {
        self.hosts.values().map(|h| h.bytes).sum()
    }

    /// Whether no point is held.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }
}

/// Indices of `k` points spread evenly over `n`, always including the first and the last
/// (the newest point must survive); all of them when `n ≤ k`.
pub fn downsample(n: usize, k: usize) -> Vec<usize> {
    if n <= k {
        return (0..n).collect();
    }
    if k == 0 {
        return Vec::new();
    }
    if k == 1 {
        return vec![n - 1];
    }
    (0..k).map(|i| i * (n - 1) / (k - 1)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frames::tests::ids;
    use crate::row::tests::{row, row_v2};

    fn push(h: &mut History, r: Row) {
        let full: Arc<str> = r.to_json().into();
        h.push(&r, full);
    }

    #[test]
    fn downsample_is_even_and_keeps_both_ends() {
        assert_eq!(downsample(3, 900), vec![0, 1, 2]);
        assert_eq!(downsample(5, 3), vec![0, 2, 4]);
        let d = downsample(10_000, 900);
        assert_eq!(d.len(), 900);
        assert_eq!((d[0], d[899]), (0, 9_999));
        assert!(d.windows(2).all(|w| w[1] > w[0]));
        let steps: Vec<usize> = d.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(steps.iter().all(|s| (11..=12).contains(s)), "{steps:?}");
    }

    #[test]
    fn history_is_oldest_first_per_host_and_windowed() {
        let mut h = History::default();
        push(&mut h, row(1, "vm-1", 0));
        push(&mut h, row(3, "vm-1", 10));
        push(&mut h, row(2, "vm-1", 5)); // out of order collected_at
        push(&mut h, row(4, "vm-2", 0));
        assert_eq!(ids(&h.frame()), vec![1, 2, 3, 4]);
        // 16 minutes later the first three fall out of vm-1's window.
        push(&mut h, row(5, "vm-1", 16 * 60));
        assert_eq!(ids(&h.frame()), vec![5, 4]);
        assert_eq!(h.hosts(), vec!["vm-1".to_owned(), "vm-2".to_owned()]);
        let latest: Vec<i64> = h.latest().iter().map(|(id, _)| *id).collect();
        assert_eq!(latest, vec![4, 5]);
    }

    #[test]
    fn only_the_newest_point_carries_top() {
        let mut h = History::default();
        for i in 0..3 {
            push(&mut h, row(i, "vm-1", i));
        }
        let v: serde_json::Value = serde_json::from_str(&h.frame()).unwrap();
        let s = v["samples"].as_array().unwrap();
        assert!(s[0].get("top").is_none() && s[1].get("top").is_none());
        assert_eq!(s[2]["top"][0]["pid"], 1);
    }

    fn at(secs: i64) -> OffsetDateTime {
        row(0, "x", secs).snapshot.collected_at
    }

    fn range_ids(h: &History, host: &str, from: i64, to: i64) -> Option<Vec<i64>> {
        h.range(host, at(from), at(to)).map(|texts| {
            texts
                .iter()
                .map(|t| {
                    serde_json::from_str::<serde_json::Value>(t).unwrap()["id"]
                        .as_i64()
                        .unwrap()
                })
                .collect()
        })
    }

    #[test]
    fn ranges_come_from_memory_only_where_it_holds_every_row() {
        let mut h = History::default();
        // ids 1..=10 at seconds 0..=9, each with a top table.
        for i in 0..10 {
            push(&mut h, row(i + 1, "vm-1", i));
        }
        // First seen live: rows of that same instant may be elsewhere.
        assert_eq!(range_ids(&h, "vm-1", 0, 10), None);
        assert_eq!(range_ids(&h, "vm-9", 1, 10), None, "a host not held");
        // Up to the newest: the older rows without top, the newest whole.
        assert_eq!(range_ids(&h, "vm-1", 1, 10), Some((2..=10).collect()));
        let texts = h.range("vm-1", at(1), at(10)).unwrap();
        let newest = row(10, "vm-1", 9);
        assert_eq!(&*texts[8], newest.to_json());
        assert_eq!(&*texts[0], row(2, "vm-1", 1).to_json_lite());
        // A range whose newest row had a top table that memory no longer keeps.
        assert_eq!(range_ids(&h, "vm-1", 1, 5), None);
        // An empty range inside what is held.
        assert_eq!(range_ids(&h, "vm-1", 20, 30), Some(vec![]));
        // Only a host the start-up load created is marked complete by it.
        h.mark_complete("vm-1", at(-60));
        assert_eq!(range_ids(&h, "vm-1", 0, 10), None);
        // A start-up load that read every row from a time on, older rows without their
        // top tables: complete once marked, but a range ending before the newest row
        // (whose top memory does not know) is left to the database.
        let mut loaded = History::default();
        for i in 0..10 {
            let mut r = row(i + 1, "vm-1", i);
            if i < 9 {
                r.snapshot.top.clear();
            }
            let full = r.to_json().into();
            loaded.push_loaded(&r, full);
        }
        assert_eq!(range_ids(&loaded, "vm-1", 1, 10), None, "not checked yet");
        loaded.mark_complete("vm-1", at(-60));
        assert_eq!(
            range_ids(&loaded, "vm-1", -60, 10),
            Some((1..=10).collect())
        );
        assert_eq!(range_ids(&loaded, "vm-1", 0, 5), None);
        // Rows the poller gave up on: nothing before the barrier comes from memory.
        loaded.lost_rows(at(7));
        assert_eq!(range_ids(&loaded, "vm-1", 6, 10), None);
        assert_eq!(range_ids(&loaded, "vm-1", 7, 10), Some(vec![8, 9, 10]));
        // Rows without top: any range inside, each row whole.
        let mut plain = History::default();
        for i in 0..5 {
            let mut r = row(i + 1, "vm-2", i);
            r.snapshot.top.clear();
            push(&mut plain, r);
        }
        assert_eq!(range_ids(&plain, "vm-2", 1, 3), Some(vec![2, 3]));
        // The window: 16 minutes later the first rows are gone, so is the range.
        push(&mut h, row(11, "vm-1", 16 * 60));
        assert_eq!(range_ids(&h, "vm-1", 0, 16 * 60 + 1), None);
        assert_eq!(range_ids(&h, "vm-1", 60, 16 * 60 + 1), Some(vec![11]));
    }

    #[test]
    fn thinned_points_move_where_memory_is_complete() {
        let mut h = History::default();
        // Three rows a second for 15 minutes: more than MAX_KEPT, so points are thinned.
        let n = 3 * 900;
        for i in 0..n {
            let r = row(i + 1, "vm-1", i / 3);
            let full = r.to_json().into();
            h.push_loaded(&r, full);
        }
        h.mark_complete("vm-1", at(-1));
        assert!(h.len() <= MAX_KEPT);
        let thinned = range_ids(&h, "vm-1", 0, 900).map(|ids| ids.len());
        assert_eq!(thinned, None, "thinned rows are missing");
        push(&mut h, row(n + 1, "vm-1", 900));
        let last = range_ids(&h, "vm-1", 900, 901);
        assert_eq!(last, Some(vec![n + 1]), "rows after the thinning are whole");
    }

    /// The samples of the frame that belong to `host`.
    fn host_points(frame: &str, host: &str) -> Vec<serde_json::Value> {
        let v: serde_json::Value = serde_json::from_str(frame).unwrap();
        v["samples"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["host"] == host)
            .cloned()
            .collect()
    }

    #[test]
    fn v2_points_keep_modes_per_cpu_ram_and_pressure_v1_points_do_not_gain_them() {
        let mut h = History::default();
        for i in 0..3 {
            push(&mut h, row_v2(i, "vm-2", i, 64));
            push(&mut h, row(10 + i, "vm-1", i));
        }
        let v2 = host_points(&h.frame(), "vm-2");
        assert_eq!(v2.len(), 3);
        for (i, p) in v2.iter().enumerate() {
            assert_eq!(p["cpu"]["per_cpu"].as_array().unwrap().len(), 64, "{i}");
            assert_eq!(p["cpu"]["per_cpu"][63]["cpu"], 63);
            assert!(p["cpu"]["modes"]["iowait"].is_number());
            assert!(p["ram"]["buffers_kb"].is_number() && p["ram"]["shared_kb"].is_number());
            assert!(p["pressure"]["io"]["some"]["avg300"].is_number());
            assert_eq!(p.get("top").is_some(), i == 2, "top only on the newest");
        }
        for p in host_points(&h.frame(), "vm-1") {
            assert!(p["cpu"].get("per_cpu").is_none() && p["cpu"].get("modes").is_none());
            assert!(p.get("pressure").is_none() && p["ram"].get("buffers_kb").is_none());
        }
        let latest = h.latest();
        let newest: serde_json::Value = serde_json::from_str(&latest[0].1).unwrap();
        assert_eq!(newest["host"], "vm-2");
        assert_eq!(newest["top"][0]["nice"], 5);
        assert_eq!(newest["cpu"]["per_cpu"].as_array().unwrap().len(), 64);
    }

    #[test]
    fn a_64_cpu_host_keeps_full_resolution_and_its_point_cost_is_known() {
        let point = row_v2(1, "vm-64", 0, 64).to_json_lite().len();
        let v1 = row(1, "vm-1", 0).to_json_lite().len();
        println!("history point: v1 {v1} B, v2 with 64 CPUs {point} B");
        // Stated in the module docs: ~0.5 KB (v1), ~3.4 KB (v2, 64 CPUs).
        assert!((300..700).contains(&v1), "v1 point {v1} bytes");
        assert!(
            (2_800..4_000).contains(&point),
            "64-CPU point {point} bytes"
        );
        assert!(MAX_POINTS * point <= MAX_HOST_BYTES);
        let mut h = History::default();
        for i in 0..2_000 {
            push(&mut h, row_v2(i, "vm-64", i * 600 / 2_000, 64));
        }
        assert_eq!(ids(&h.frame()).len(), MAX_POINTS);
        assert!(h.bytes() <= MAX_KEPT_BYTES);
    }

    #[test]
    fn a_host_with_huge_rows_is_bounded_by_bytes_not_just_points() {
        let mut h = History::default();
        let point = row_v2(0, "vm-1024", 0, 1024).to_json_lite().len();
        for i in 0..400 {
            push(&mut h, row_v2(i, "vm-1024", i * 600 / 400, 1024));
            assert!(
                h.bytes() <= MAX_KEPT_BYTES + point,
                "{i}: {} bytes",
                h.bytes()
            );
        }
        let frame = h.frame();
        let got = ids(&frame);
        println!(
            "1,024 CPUs: {point} B a point, {} points sent ({} B), {} B held",
            got.len(),
            frame.len(),
            h.bytes()
        );
        assert!(got.len() < MAX_POINTS && got.len() >= 2, "{}", got.len());
        assert_eq!(*got.last().unwrap(), 399, "the newest point survives");
        assert!(got.windows(2).all(|w| w[1] > w[0]));
        // The frame is within the budget (plus the newest row's top table).
        assert!(
            frame.len() <= MAX_HOST_BYTES + 4096,
            "{} bytes",
            frame.len()
        );
        assert_eq!(points_budget(0, 0), 0);
        assert_eq!(points_budget(5, 100), 5);
        assert_eq!(points_budget(10_000, 10_000 * MAX_HOST_BYTES), 2);
    }

    #[test]
    fn a_busy_host_is_capped_at_max_points_including_the_newest() {
        let mut h = History::default();
        for i in 0..5_000 {
            // 5,000 rows within 10 minutes.
            push(&mut h, row(i, "vm-1", i * 600 / 5_000));
        }
        assert!(h.len() <= MAX_KEPT);
        let got = ids(&h.frame());
        assert_eq!(got.len(), MAX_POINTS);
        assert_eq!(*got.last().unwrap(), 4_999);
        assert!(got.windows(2).all(|w| w[1] > w[0]));
    }
}
