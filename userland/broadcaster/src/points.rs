//! Rollup rows as history points: merging consecutive buckets ([`merge`]) and the JSON
//! of one point ([`to_json`]).
//!
//! A point is
//! `{"host":"vm-1","t":"2026-11-23T10:00:00Z","n":120,"cpu":[min,avg,max],"ram":[…],
//! "swap":[…] or null,"load1":[…],"zombies_max":0,"disk_sleep_max":0,"cores":4,"source":"kmod"}`:
//! `t` is the start of the time the point covers (`step_seconds` long), `n` the raw rows
//! it summarises. The first point's `t` is never before the range's `from`: when its
//! group starts earlier (groups are aligned to the epoch, and the bucket holding `from`
//! is read whole) its `t` is `from` itself, so every `t` lies in `[from, to)`; its values
//! still include the rows of that first bucket from before `from`. Merging `k` buckets is the maintainer's rule for an hour from its
//! minutes: the minimum of the minimums, the maximum of the maximums and the mean
//! weighted by each bucket's rows (`n`); `cores` and `source` are the newest bucket's.
//! Swap is merged over the buckets that had swap, weighted by their `n` too, and is
//! `null` when none had.

use procpulse_storage::history::{MinAvgMax, RollupRow};
use procpulse_storage::rollup;
use procpulse_storage::row::to_db_time;
use serde::Serialize;
use time::OffsetDateTime;

/// Merges `rows` (one host, oldest first, buckets `step` seconds wide) into points of `k`
/// consecutive buckets aligned to multiples of `k × step` since the Unix epoch, by the
/// maintainer's own rule for an hour from its minutes
/// ([`procpulse_storage::rollup::merge`]): each result's `bucket` is its group's start
/// and `samples` the group's total. `k ≤ 1` leaves the rows as they are. Then the first
/// point's `bucket` is raised to `from` when it starts before it (see the module docs).
pub fn merge(rows: Vec<RollupRow>, k: i64, step: i64, from: OffsetDateTime) -> Vec<RollupRow> {
    let mut points = if k <= 1 {
        rows
    } else {
        let width = k * step;
        let group = |r: &RollupRow| r.bucket.unix_timestamp().div_euclid(width);
        rows.chunk_by(|a, b| group(a) == group(b))
            .filter_map(|g| {
                let t = OffsetDateTime::from_unix_timestamp(group(&g[0]) * width).ok()?;
                rollup::merge(&g[0].host, to_db_time(t), g)
            })
            .collect()
    };
    if let Some(first) = points.first_mut() {
        first.bucket = first.bucket.max(from);
    }
    points
}

#[derive(Serialize)]
struct Wire<'a> {
    host: &'a str,
    #[serde(with = "time::serde::rfc3339")]
    t: OffsetDateTime,
    n: i64,
    cpu: [f64; 3],
    ram: [f64; 3],
    swap: Option<[f64; 3]>,
    load1: [f64; 3],
    zombies_max: i64,
    disk_sleep_max: i64,
    cores: i32,
    source: &'a str,
}

fn triple(m: MinAvgMax) -> [f64; 3] {
    [m.min, m.avg, m.max]
}

/// The point's JSON (keys as in the module docs; a non-finite number, which no stored
/// row holds, would be `null`).
pub fn to_json(p: &RollupRow) -> String {
    let wire = Wire {
        host: &p.host,
        t: p.bucket,
        n: p.samples,
        cpu: triple(p.cpu),
        ram: triple(p.ram),
        swap: p.swap.map(triple),
        load1: triple(p.load1),
        zombies_max: p.zombies_max,
        disk_sleep_max: p.disk_sleep_max,
        cores: p.cpu_cores,
        source: &p.source,
    };
    // Strings, integers, floats and an RFC 3339 time (buckets are within years 1970-9999).
    serde_json::to_string(&wire).unwrap_or_else(|_| "{}".to_owned())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);

    fn m(min: f64, avg: f64, max: f64) -> MinAvgMax {
        MinAvgMax { min, avg, max }
    }

    /// A minute bucket of vm-1 `minute` minutes after 10:00 with `n` rows around `cpu`.
    pub(crate) fn bucket(minute: i64, n: i64, cpu: f64, swap: Option<f64>) -> RollupRow {
        RollupRow {
            host: "vm-1".to_owned(),
            bucket: datetime!(2026-11-23 10:00:00 UTC) + time::Duration::minutes(minute),
            samples: n,
            cpu: m(cpu - 1.0, cpu, cpu + 1.0),
            ram: m(40.0, 41.0, 42.0 + minute as f64),
            swap: swap.map(|s| m(s, s, s)),
            load1: m(0.1, 0.5, 0.9),
            zombies_max: minute,
            disk_sleep_max: 1,
            cpu_cores: 4 + minute as i32,
            source: if minute % 2 == 0 { "kmod" } else { "procfs" }.to_owned(),
        }
    }

    #[test]
    fn merging_takes_extremes_weighted_means_and_the_newest_cores() {
        // Minutes 0, 1 and 3 (2 is missing), in groups of two minutes.
        let rows = vec![
            bucket(0, 60, 10.0, Some(5.0)),
            bucket(1, 20, 50.0, None),
            bucket(3, 30, 20.0, Some(7.0)),
        ];
        let got = merge(rows.clone(), 2, 60, T0);
        assert_eq!(got.len(), 2);
        let a = &got[0];
        assert_eq!(a.bucket, datetime!(2026-11-23 10:00:00 UTC));
        assert_eq!(a.samples, 80);
        assert_eq!(a.cpu, m(9.0, (10.0 * 60.0 + 50.0 * 20.0) / 80.0, 51.0));
        assert_eq!(a.ram, m(40.0, 41.0, 43.0));
        assert_eq!(a.swap, Some(m(5.0, 5.0, 5.0)), "only the bucket with swap");
        assert_eq!((a.zombies_max, a.disk_sleep_max), (1, 1));
        assert_eq!((a.cpu_cores, a.source.as_str()), (5, "procfs"));
        let b = &got[1];
        assert_eq!(b.bucket, datetime!(2026-11-23 10:02:00 UTC));
        assert_eq!(b.samples, 30);
        assert_eq!(b.cpu, rows[2].cpu);
        // k = 1 leaves the rows alone; no swap anywhere is null.
        assert_eq!(merge(rows.clone(), 1, 60, T0), rows);
        let none = merge(
            vec![bucket(0, 1, 1.0, None), bucket(1, 1, 1.0, None)],
            2,
            60,
            T0,
        );
        assert_eq!(none[0].swap, None);
        assert!(merge(Vec::new(), 5, 60, T0).is_empty());
    }

    #[test]
    fn the_first_point_never_starts_before_from() {
        let rows: Vec<_> = (0..6).map(|i| bucket(i, 10, 5.0, None)).collect();
        // from inside minute 1: groups of 4 minutes start at 10:00 (before from) and 10:04.
        let from = T0 + time::Duration::seconds(75);
        let got = merge(rows[1..].to_vec(), 4, 60, from);
        let ts: Vec<_> = got.iter().map(|p| p.bucket).collect();
        assert_eq!(ts, [from, T0 + time::Duration::minutes(4)]);
        assert_eq!(got[0].samples, 30, "the first bucket is read whole");
        // k = 1: the bucket holding from starts before it, too.
        let got = merge(rows[1..3].to_vec(), 1, 60, from);
        assert_eq!(got[0].bucket, from);
        assert_eq!(got[1].bucket, T0 + time::Duration::minutes(2));
        // An aligned from leaves every start alone.
        let aligned = T0 + time::Duration::minutes(1);
        assert_eq!(
            merge(rows[1..].to_vec(), 1, 60, aligned),
            rows[1..].to_vec()
        );
        // A first group that starts after from (no rows at from) is not moved.
        assert_eq!(
            merge(rows[3..].to_vec(), 2, 60, from)[0].bucket,
            T0 + time::Duration::minutes(2)
        );
    }

    #[test]
    fn merged_points_equal_one_big_bucket() {
        // 10 minutes, each of 60 rows with known values: merging all equals the
        // aggregate of the 600 rows.
        let rows: Vec<_> = (0..10)
            .map(|i| bucket(i, 60, f64::from(i as i32) * 3.0, Some(1.0)))
            .collect();
        let got = merge(rows, 10, 60, T0);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].samples, 600);
        assert_eq!(got[0].cpu, m(-1.0, 13.5, 28.0));
        assert_eq!(got[0].zombies_max, 9);
        // A group without rows (never stored: every bucket has at least one) gives no
        // point.
        let zero = vec![bucket(0, 0, 10.0, None), bucket(1, 0, 20.0, None)];
        assert!(merge(zero, 2, 60, T0).is_empty());
    }

    #[test]
    fn a_point_has_exactly_the_contract_keys() {
        let v: serde_json::Value =
            serde_json::from_str(&to_json(&bucket(1, 120, 12.5, None))).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut want = vec![
            "host",
            "t",
            "n",
            "cpu",
            "ram",
            "swap",
            "load1",
            "zombies_max",
            "disk_sleep_max",
            "cores",
            "source",
        ];
        want.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, want);
        assert_eq!(v["t"], "2026-11-23T10:01:00Z");
        assert_eq!(v["n"], 120);
        assert_eq!(v["cpu"], serde_json::json!([11.5, 12.5, 13.5]));
        assert_eq!(v["swap"], serde_json::Value::Null);
        assert_eq!(
            (v["cores"].as_i64(), v["source"].as_str()),
            (Some(5), Some("procfs"))
        );
        let with_swap: serde_json::Value =
            serde_json::from_str(&to_json(&bucket(0, 1, 1.0, Some(3.0)))).unwrap();
        assert_eq!(with_swap["swap"], serde_json::json!([3.0, 3.0, 3.0]));
    }
}
