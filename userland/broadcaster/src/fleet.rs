//! The fleet overview (`GET /api/v1/fleet`): every host's newest values, when it was last
//! seen and whether it is stale, from memory (no database query).
//!
//! The hub feeds every delivered row to [`Fleet::push`]; per host it keeps the newest
//! row's summary, the newest `received_at` (`last_seen`) and the last
//! [`RECENT_TIMES`] `collected_at` values, whose median positive gap is the host's
//! sampling interval. A host is **stale** when `now − last_seen` is more than
//! `stale_after_intervals` intervals (the interval taken as at least [`MIN_INTERVAL`],
//! since rows reach the broadcaster once per poll, and as [`UNKNOWN_INTERVAL`] while a
//! host has sent a single time). The answer is
//!
//! ```json
//! {"server_time":"…","stale_after_intervals":3,"hosts":[{"host":"vm-1","source":"kmod",
//!  "collected_at":"…","last_seen":"…","interval_seconds":1.0,"stale":false,"cpu":12.5,
//!  "ram":40.1,"swap":null,"load1":0.5,"cores":4,"zombies":0,"disk_sleep":0}]}
//! ```
//!
//! hosts in name order; `interval_seconds` is `null` while unknown, `swap` (used %, by
//! the rollups' own formula [`procpulse_storage::rollup::swap_used_percent`]) is `null`
//! for a host without swap. [`Fleet::json`] builds it in one pass (1,000 hosts:
//! see the test that measures it); the hub caches it per poll.

use std::collections::{BTreeMap, VecDeque};

use procpulse_storage::rollup::swap_used_percent;
use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::row::Row;

/// `collected_at` values kept per host to estimate its interval (8 gaps).
pub const RECENT_TIMES: usize = 9;
/// The shortest interval staleness is judged by: rows reach the broadcaster once per
/// poll (default 100 ms) after ingest commits them, so a host sampling faster than this
/// is not called stale between two polls.
pub const MIN_INTERVAL: Duration = Duration::seconds(1);
/// The interval assumed while a host has sent rows of a single `collected_at` (twice the
/// agent's default push interval of 5 s), so that a new host is not called stale before
/// its second row can arrive.
pub const UNKNOWN_INTERVAL: Duration = Duration::seconds(10);
/// Default of `--stale-after-intervals`.
pub const DEFAULT_STALE_AFTER_INTERVALS: u32 = 3;
/// How long one fleet answer is shared when no row has arrived since it was built: its
/// `stale` flags and `server_time` are at most this old. Its own figure, not the poll
/// interval's: at a 100 ms poll an idle fleet page under request load would otherwise
/// rebuild the whole answer ten times a second for nothing. A row still rebuilds it at
/// the next request.
pub const FLEET_MAX_AGE: std::time::Duration = std::time::Duration::from_millis(500);

/// The newest state of one host.
#[derive(Debug, Clone, PartialEq)]
struct HostState {
    id: i64,
    source: &'static str,
    collected_at: OffsetDateTime,
    last_seen: OffsetDateTime,
    /// The newest `collected_at` values, ascending, at most [`RECENT_TIMES`].
    recent: VecDeque<OffsetDateTime>,
    cpu: f64,
    ram: f64,
    swap: Option<f64>,
    load1: f64,
    cores: u32,
    zombies: u64,
    disk_sleep: u64,
}

/// The median of the positive gaps between consecutive `times` (ascending), in seconds.
pub fn interval(times: &VecDeque<OffsetDateTime>) -> Option<f64> {
    let mut gaps: Vec<f64> = times
        .iter()
        .zip(times.iter().skip(1))
        .map(|(a, b)| (*b - *a).as_seconds_f64())
        .filter(|g| *g > 0.0)
        .collect();
    if gaps.is_empty() {
        return None;
    }
    gaps.sort_by(f64::total_cmp);
    let mid = gaps.len() / 2;
    Some(if gaps.len() % 2 == 1 {
        gaps[mid]
    } else {
        (gaps[mid - 1] + gaps[mid]) / 2.0
    })
}

/// Whether a host last seen at `last_seen`, sampling every `interval` seconds, is stale
/// at `now` (see the module docs).
pub fn is_stale(
    now: OffsetDateTime,
    last_seen: OffsetDateTime,
    interval: Option<f64>,
    stale_after_intervals: u32,
) -> bool {
    let every = interval.map_or(UNKNOWN_INTERVAL, |s| {
        Duration::seconds_f64(s).max(MIN_INTERVAL)
    });
    // A gap of centuries times a large count passes Duration's range: never stale then
    // (counts past i32::MAX, which the flag's 1..=1000 never gives, count as i32::MAX).
    every
        .checked_mul(i32::try_from(stale_after_intervals).unwrap_or(i32::MAX))
        .is_some_and(|after| now - last_seen > after)
}

/// Every host's newest state.
#[derive(Debug, Clone, Default)]
pub struct Fleet {
    hosts: BTreeMap<String, HostState>,
}

#[derive(Serialize)]
struct WireHost<'a> {
    host: &'a str,
    source: &'a str,
    #[serde(with = "time::serde::rfc3339")]
    collected_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    last_seen: OffsetDateTime,
    interval_seconds: Option<f64>,
    stale: bool,
    cpu: f64,
    ram: f64,
    swap: Option<f64>,
    load1: f64,
    cores: u32,
    zombies: u64,
    disk_sleep: u64,
}

#[derive(Serialize)]
struct Wire<'a> {
    #[serde(with = "time::serde::rfc3339")]
    server_time: OffsetDateTime,
    stale_after_intervals: u32,
    hosts: Vec<WireHost<'a>>,
}

impl Fleet {
    /// Takes one delivered row into account (any order).
    pub fn push(&mut self, row: &Row) {
        let s = &row.snapshot;
        let at = s.collected_at;
        let summary = HostState {
            id: row.id,
            source: s.source.as_str(),
            collected_at: at,
            last_seen: row.received_at,
            recent: VecDeque::new(),
            cpu: s.cpu.usage_percent,
            ram: s.ram.used_percent,
            swap: swap_used_percent(s.ram.swap_total_kb, s.ram.swap_free_kb),
            load1: s.cpu.load1,
            cores: s.cpu.cores,
            zombies: s.procs.zombie,
            disk_sleep: s.procs.disk_sleep,
        };
        let host = self
            .hosts
            .entry(s.host.clone())
            .or_insert_with(|| summary.clone());
        let last_seen = host.last_seen.max(row.received_at);
        if (at, row.id) >= (host.collected_at, host.id) {
            let recent = std::mem::take(&mut host.recent);
            *host = summary;
            host.recent = recent;
        }
        host.last_seen = last_seen;
        let pos = host.recent.partition_point(|t| *t < at);
        if host.recent.get(pos) != Some(&at) && (pos > 0 || host.recent.len() < RECENT_TIMES) {
            host.recent.insert(pos, at);
            if host.recent.len() > RECENT_TIMES {
                host.recent.pop_front();
            }
        }
    }

    /// Forgets `host`.
    pub fn remove(&mut self, host: &str) {
        self.hosts.remove(host);
    }

    /// Hosts last seen before `horizon`, in name order.
    pub fn unseen_since(&self, horizon: OffsetDateTime) -> Vec<String> {
        self.hosts
            .iter()
            .filter(|(_, h)| h.last_seen < horizon)
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Every host with whether it is stale at `now` (the answer's `stale`), in name order.
    pub fn staleness(
        &self,
        now: OffsetDateTime,
        stale_after_intervals: u32,
    ) -> Vec<(String, bool)> {
        self.hosts
            .iter()
            .map(|(name, h)| {
                let stale = is_stale(now, h.last_seen, interval(&h.recent), stale_after_intervals);
                (name.clone(), stale)
            })
            .collect()
    }

    /// Host names, sorted.
    pub fn hosts(&self) -> Vec<String> {
        self.hosts.keys().cloned().collect()
    }

    /// Hosts held.
    pub fn len(&self) -> usize {
        self.hosts.len()
    }

    /// Whether no host is held.
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty()
    }

    /// The `/api/v1/fleet` answer at `now`.
    pub fn json(&self, now: OffsetDateTime, stale_after_intervals: u32) -> String {
        let hosts = self
            .hosts
            .iter()
            .map(|(name, h)| {
                let interval = interval(&h.recent);
                WireHost {
                    host: name,
                    source: h.source,
                    collected_at: h.collected_at,
                    last_seen: h.last_seen,
                    interval_seconds: interval,
                    stale: is_stale(now, h.last_seen, interval, stale_after_intervals),
                    cpu: h.cpu,
                    ram: h.ram,
                    swap: h.swap,
                    load1: h.load1,
                    cores: h.cores,
                    zombies: h.zombies,
                    disk_sleep: h.disk_sleep,
                }
            })
            .collect();
        let wire = Wire {
            server_time: now,
            stale_after_intervals,
            hosts,
        };
        // Strings, numbers and RFC 3339 times of validated snapshots: always encodes.
        serde_json::to_string(&wire).unwrap_or_else(|_| "{}".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::tests::row;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);

    /// Row `id` of `host` collected `secs` after T0, received `late` seconds after that.
    fn at(id: i64, host: &str, secs: i64, late: i64) -> Row {
        let mut r = row(id, host, secs);
        r.received_at = r.snapshot.collected_at + Duration::seconds(late);
        r
    }

    fn parse(f: &Fleet, now: OffsetDateTime) -> serde_json::Value {
        serde_json::from_str(&f.json(now, DEFAULT_STALE_AFTER_INTERVALS)).unwrap()
    }

    #[test]
    fn interval_is_the_median_positive_gap() {
        let times = |secs: &[i64]| -> VecDeque<OffsetDateTime> {
            secs.iter().map(|s| T0 + Duration::seconds(*s)).collect()
        };
        assert_eq!(interval(&times(&[])), None);
        assert_eq!(interval(&times(&[5])), None);
        assert_eq!(interval(&times(&[5, 5])), None, "a repeated time is no gap");
        assert_eq!(interval(&times(&[0, 5])), Some(5.0));
        // One long outage does not move the median.
        assert_eq!(interval(&times(&[0, 1, 2, 3, 60, 61])), Some(1.0));
        assert_eq!(interval(&times(&[0, 1, 3, 6])), Some(2.0));
        assert_eq!(interval(&times(&[0, 1, 3, 6, 10])), Some(2.5));
    }

    #[test]
    fn staleness_counts_missed_intervals_with_floors() {
        let seen = T0;
        let after = |s: f64| T0 + Duration::seconds_f64(s);
        assert!(!is_stale(after(15.0), seen, Some(5.0), 3));
        assert!(is_stale(after(15.1), seen, Some(5.0), 3));
        assert!(
            !is_stale(after(15.0), seen, Some(5.0), 4) && is_stale(after(20.1), seen, Some(5.0), 4)
        );
        // Faster than a poll: judged as one row a second.
        assert!(!is_stale(after(2.9), seen, Some(0.1), 3));
        assert!(is_stale(after(3.1), seen, Some(0.1), 3));
        // Unknown interval: UNKNOWN_INTERVAL.
        assert!(!is_stale(after(30.0), seen, None, 3));
        assert!(is_stale(after(30.1), seen, None, 3));
        // A host whose clock runs ahead is not stale.
        assert!(!is_stale(T0, after(100.0), Some(1.0), 3));
        // An interval of millennia times the largest count overflows: not stale, no panic.
        let far = datetime!(9999-12-31 00:00:00 UTC);
        assert!(!is_stale(far, T0, Some(2.5e11), u32::MAX));
        assert!(is_stale(far, T0, Some(1.0), u32::MAX));
    }

    #[test]
    fn the_newest_row_wins_and_last_seen_is_the_newest_receipt() {
        let mut f = Fleet::default();
        f.push(&at(1, "vm-2", 0, 0));
        f.push(&at(3, "vm-1", 10, 1));
        // An older row received later (a replay): values stay, last_seen moves.
        let mut old = at(2, "vm-1", 5, 30);
        old.snapshot.cpu.usage_percent = 99.0;
        f.push(&old);
        let v = parse(&f, T0 + Duration::seconds(36));
        assert_eq!(v["server_time"], "2026-11-23T10:00:36Z");
        assert_eq!(v["stale_after_intervals"], 3);
        let hosts = v["hosts"].as_array().unwrap();
        assert_eq!(hosts.len(), 2);
        let h = &hosts[0];
        assert_eq!(h["host"], "vm-1");
        assert_eq!(h["collected_at"], "2026-11-23T10:00:10Z");
        assert_eq!(h["last_seen"], "2026-11-23T10:00:35Z");
        assert_eq!(h["cpu"], 12.5);
        assert_eq!(h["interval_seconds"], 5.0);
        assert_eq!(h["stale"], false);
        assert_eq!(hosts[1]["host"], "vm-2");
        assert_eq!(hosts[1]["interval_seconds"], serde_json::Value::Null);
        assert_eq!(hosts[1]["stale"], true, "36 s > 3 × UNKNOWN_INTERVAL");
        let mut keys: Vec<&str> = h.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "collected_at",
                "cores",
                "cpu",
                "disk_sleep",
                "host",
                "interval_seconds",
                "last_seen",
                "load1",
                "ram",
                "source",
                "stale",
                "swap",
                "zombies"
            ]
        );
    }

    #[test]
    fn values_come_from_the_snapshot() {
        let mut f = Fleet::default();
        let mut r = at(1, "vm-1", 0, 0);
        r.snapshot.ram.swap_total_kb = 1000;
        r.snapshot.ram.swap_free_kb = 250;
        r.snapshot.procs.zombie = 2;
        r.snapshot.procs.disk_sleep = 3;
        r.snapshot.source = procpulse_model::Source::Kmod;
        f.push(&r);
        let h = &parse(&f, T0)["hosts"][0];
        assert_eq!(h["swap"], 75.0);
        assert_eq!(h["ram"], 60.0);
        assert_eq!(h["load1"], 0.5);
        assert_eq!(h["cores"], 2);
        assert_eq!(
            (h["zombies"].as_u64(), h["disk_sleep"].as_u64()),
            (Some(2), Some(3))
        );
        assert_eq!(h["source"], "kmod");
        // Without swap: null.
        r.snapshot.ram.swap_total_kb = 0;
        r.snapshot.ram.swap_free_kb = 0;
        r.id = 2;
        f.push(&r);
        assert!(parse(&f, T0)["hosts"][0]["swap"].is_null());
    }

    #[test]
    fn recent_times_are_bounded_and_ignore_old_stragglers() {
        let mut f = Fleet::default();
        for i in 0..100 {
            f.push(&at(i + 1, "vm-1", i * 2, 0));
        }
        let h = &f.hosts["vm-1"];
        assert_eq!(h.recent.len(), RECENT_TIMES);
        assert_eq!(*h.recent.back().unwrap(), T0 + Duration::seconds(198));
        // A very old row does not enter the window.
        f.push(&at(500, "vm-1", -1000, 0));
        assert_eq!(
            f.hosts["vm-1"].recent.front(),
            Some(&(T0 + Duration::seconds(182)))
        );
        assert_eq!(interval(&f.hosts["vm-1"].recent), Some(2.0));
    }

    #[test]
    fn unseen_hosts_are_listed_and_removed() {
        let mut f = Fleet::default();
        f.push(&at(1, "vm-1", 0, 0));
        f.push(&at(2, "vm-2", 100, 0));
        assert_eq!(
            f.unseen_since(T0 + Duration::seconds(50)),
            vec!["vm-1".to_owned()]
        );
        assert!(f.unseen_since(T0).is_empty());
        f.remove("vm-1");
        assert_eq!(f.hosts(), vec!["vm-2".to_owned()]);
        assert_eq!(f.len(), 1);
    }

    #[test]
    fn a_thousand_hosts_answer_fast() {
        let mut f = Fleet::default();
        for i in 0..1_000 {
            for s in 0..RECENT_TIMES as i64 {
                f.push(&at(i * 10 + s, &format!("host-{i:04}"), s, 0));
            }
        }
        let start = std::time::Instant::now();
        let rounds = 20;
        let mut bytes = 0;
        for _ in 0..rounds {
            bytes = f.json(T0 + Duration::seconds(9), 3).len();
        }
        let each = start.elapsed() / rounds;
        println!("fleet JSON of 1,000 hosts: {bytes} bytes in {each:?}");
        let v = parse(&f, T0 + Duration::seconds(9));
        assert_eq!(v["hosts"].as_array().unwrap().len(), 1_000);
        // Generous for a debug build on a shared 2-core machine; release is ~10× faster.
        assert!(each < std::time::Duration::from_millis(100), "{each:?}");
    }
}
