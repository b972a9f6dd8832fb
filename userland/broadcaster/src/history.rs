//! The in-memory history every new client receives: per host, the rows of the last
//! [`WINDOW`] (ending at that host's newest `collected_at`, so a replayed or clock-skewed
//! host still shows its last 15 minutes), at most [`MAX_POINTS`] per host, oldest first,
//! downsampled evenly when there are more.
//!
//! The poller loads it once from the database at start-up and then appends every row it
//! delivers, so a client's history and the `samples` frames that follow it meet exactly at
//! the cursor (no gap, no duplicate) and a connect costs no query. History points carry
//! no `top` table except each host's newest row.

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
/// Points kept per host before thinning in memory: twice what is sent, so that thinning
/// is rare and the sent points stay close to even.
const MAX_KEPT: usize = 2 * MAX_POINTS;

#[derive(Debug, Clone)]
struct Point {
    id: i64,
    collected_at: OffsetDateTime,
    lite: Arc<str>,
}

#[derive(Debug, Clone)]
struct HostHistory {
    /// Sorted by (collected_at, id).
    points: Vec<Point>,
    newest_id: i64,
    newest_at: OffsetDateTime,
    newest_full: Arc<str>,
}

/// Per-host recent rows.
#[derive(Debug, Clone, Default)]
pub struct History {
    hosts: BTreeMap<String, HostHistory>,
}

impl History {
    /// Adds one delivered row.
    pub fn push(&mut self, row: &Row, full: Arc<str>) {
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
        };
        let host = self
            .hosts
            .entry(row.snapshot.host.clone())
            .or_insert_with(|| HostHistory {
                points: Vec::new(),
                newest_id: row.id,
                newest_at: at,
                newest_full: Arc::clone(&full),
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
        host.points.insert(pos, point);
        let horizon = host.newest_at - WINDOW;
        let old = host.points.partition_point(|p| p.collected_at < horizon);
        host.points.drain(..old);
        if host.points.len() > MAX_KEPT {
            let keep = downsample(host.points.len(), MAX_POINTS);
            let mut i = 0;
            let mut next = keep.iter().copied().peekable();
            host.points.retain(|_| {
                let kept = next.peek() == Some(&i);
                if kept {
                    next.next();
                }
                i += 1;
                kept
            });
        }
    }

    /// Host names, sorted.
    pub fn hosts(&self) -> Vec<String> {
        self.hosts.keys().cloned().collect()
    }

    /// The `history` frame.
    pub fn frame(&self) -> Utf8Bytes {
        let mut rows: Vec<&str> = Vec::new();
        for host in self.hosts.values() {
            for i in downsample(host.points.len(), MAX_POINTS) {
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
    use crate::row::tests::row;

    fn ids(frame: &str) -> Vec<i64> {
        let v: serde_json::Value = serde_json::from_str(frame).unwrap();
        assert_eq!(v["type"], "history");
        v["samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect()
    }

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
