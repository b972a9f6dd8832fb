//! `/api/v1/history` over time ranges, on SQLite and MariaDB: raw rows and rollup rows
//! are written straight into the database (storage's write path and
//! `procpulse_storage::history::replace_rollups`), then the real broadcaster answers
//! 15 minutes from raw rows, 24 hours from minute rollups merged two a point and 30 days
//! from hour rollups, refuses ranges the tiers do not keep (read from `history_tiers`)
//! with a 422 naming the field, and pages hosts. Rollup answers carry the raw tier's
//! `rolled_up_to` as `complete_to`; without a `to`, rows and buckets of a clock running
//! up to 5 minutes ahead are included; every point's `t` is within `[from, read end)`;
//! absurd `keep_seconds` in `history_tiers` answer instead of panicking.

use std::time::Duration;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use procpulse_storage::history::{MinAvgMax, RollupRow, Tier, replace_rollups};
use procpulse_storage::row::to_db_time;
use procpulse_storage::schema::history_tiers;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::support::*;

fn m(min: f64, avg: f64, max: f64) -> MinAvgMax {
    MinAvgMax { min, avg, max }
}

/// Bucket `i` of `host`: values that differ from bucket to bucket, so that a wrong merge
/// shows.
fn bucket(host: &str, start: OffsetDateTime, i: i64) -> RollupRow {
    let x = (i * 37 % 101) as f64;
    RollupRow {
        host: host.to_owned(),
        bucket: start,
        samples: 30 + i % 31,
        cpu: m(x / 2.0, x, x + 5.0),
        ram: m(40.0, 40.0 + x / 10.0, 60.0),
        // No swap in runs of four buckets: some merged points have none.
        swap: ((i / 4) % 3 != 0).then(|| m(1.0, 1.0 + x / 100.0, 2.0 + x)),
        load1: m(0.1, x / 50.0, 4.0),
        zombies_max: i % 7,
        disk_sleep_max: i % 5,
        cpu_cores: 4 + (i % 2) as i32,
        source: if i % 2 == 0 { "kmod" } else { "procfs" }.to_owned(),
    }
}

/// `n` consecutive buckets of `step` seconds of `host`, the last one holding `now`.
fn buckets(host: &str, now: OffsetDateTime, step: i64, n: i64) -> Vec<RollupRow> {
    let last = now.unix_timestamp().div_euclid(step) * step;
    (0..n)
        .map(|i| {
            let t = OffsetDateTime::from_unix_timestamp(last - (n - 1 - i) * step).unwrap();
            bucket(host, t, i)
        })
        .collect()
}

/// What the answer's points must be: the rows with `bucket` in [floor(from), to) merged
/// in groups of `width` seconds aligned to the epoch, the first one's `t` no earlier than
/// `from` — computed here independently of the broadcaster's code.
fn expected(
    rows: &[RollupRow],
    from: OffsetDateTime,
    to: OffsetDateTime,
    step: i64,
    width: i64,
) -> Vec<Value> {
    let lo = from.unix_timestamp().div_euclid(step) * step;
    let mut groups: std::collections::BTreeMap<i64, Vec<&RollupRow>> = Default::default();
    for r in rows
        .iter()
        .filter(|r| r.bucket.unix_timestamp() >= lo && r.bucket < to)
    {
        groups
            .entry(r.bucket.unix_timestamp().div_euclid(width))
            .or_default()
            .push(r);
    }
    groups
        .into_iter()
        .map(|(g, rs)| {
            let n: i64 = rs.iter().map(|r| r.samples).sum();
            let agg = |f: &dyn Fn(&RollupRow) -> Option<MinAvgMax>| -> Value {
                let with: Vec<(i64, MinAvgMax)> =
                    rs.iter().filter_map(|r| f(r).map(|v| (r.samples, v))).collect();
                if with.is_empty() {
                    return Value::Null;
                }
                let w: i64 = with.iter().map(|(n, _)| n).sum();
                let min = with.iter().map(|(_, v)| v.min).fold(f64::INFINITY, f64::min);
                let max = with.iter().map(|(_, v)| v.max).fold(f64::NEG_INFINITY, f64::max);
                let avg = with.iter().map(|(n, v)| v.avg * *n as f64).sum::<f64>() / w as f64;
                serde_json::json!([min, avg, max])
            };
            let newest = rs.last().unwrap();
            serde_json::json!({
                "host": newest.host,
                "t": OffsetDateTime::from_unix_timestamp(g * width).unwrap().max(from).format(&Rfc3339).unwrap(),
                "n": n,
                "cpu": agg(&|r| Some(r.cpu)),
                "ram": agg(&|r| Some(r.ram)),
                "swap": agg(&|r| r.swap),
                "load1": agg(&|r| Some(r.load1)),
                "zombies_max": rs.iter().map(|r| r.zombies_max).max().unwrap(),
                "disk_sleep_max": rs.iter().map(|r| r.disk_sleep_max).max().unwrap(),
                "cores": newest.cpu_cores,
                "source": newest.source,
            })
        })
        .collect()
}

/// Compares points, numbers to 1e-9 (a weighted mean's rounding may differ).
fn same_points(got: &[Value], want: &[Value]) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        for key in [
            "host",
            "t",
            "n",
            "zombies_max",
            "disk_sleep_max",
            "cores",
            "source",
        ] {
            assert_eq!(g[key], w[key], "point {i} {key}: {g} vs {w}");
        }
        for key in ["cpu", "ram", "swap", "load1"] {
            match (g[key].as_array(), w[key].as_array()) {
                (Some(a), Some(b)) => {
                    for (x, y) in a.iter().zip(b) {
                        let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
                        assert!((x - y).abs() < 1e-9, "point {i} {key}: {g} vs {w}");
                    }
                }
                (None, None) => assert!(g[key].is_null() && w[key].is_null()),
                _ => panic!("point {i} {key}: {g} vs {w}"),
            }
        }
    }
}

async fn get(server: &Server, path: &str) -> (u16, Value) {
    let res = reqwest::get(server.url(path)).await.unwrap();
    let status = res.status().as_u16();
    let body = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&body).unwrap_or_else(|_| panic!("{path}: not JSON: {body}")),
    )
}

fn time_of(v: &Value, key: &str) -> OffsetDateTime {
    OffsetDateTime::parse(v[key].as_str().unwrap(), &Rfc3339).unwrap()
}

/// Where an answer without `to` stops reading: 5 minutes (the model's MAX_FUTURE_SKEW)
/// after its `to`.
fn read_end(v: &Value) -> OffsetDateTime {
    time_of(v, "to") + procpulse_model::validate::MAX_FUTURE_SKEW
}

/// Every point's `t` lies in `[from, end)`.
fn times_within(v: &Value, end: OffsetDateTime) {
    let from = time_of(v, "from");
    for p in v["points"].as_array().unwrap() {
        let t = time_of(p, "t");
        assert!(from <= t && t < end, "{t} not in [{from}, {end})");
    }
}

/// Runs `sql` on the database.
async fn execute(db: &TestDb, sql: String) {
    procpulse_storage::with_conn!(db.db.write_pool(), c => {
        Ok::<_, procpulse_storage::StorageError>(diesel::sql_query(sql.clone()).execute(c).await?)
    })
    .unwrap();
}

/// Sets the raw tier's `rolled_up_to`, as the maintainer does.
async fn set_watermark(db: &TestDb, at: OffsetDateTime) {
    procpulse_storage::with_conn!(db.db.write_pool(), c => {
        use history_tiers::dsl;
        Ok::<_, procpulse_storage::StorageError>(
            diesel::update(dsl::history_tiers.filter(dsl::tier.eq("raw")))
                .set(dsl::rolled_up_to.eq(Some(to_db_time(at))))
                .execute(c)
                .await?,
        )
    })
    .unwrap();
}

fn points_of(v: &Value, host: &str) -> Vec<Value> {
    v["points"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["host"] == host)
        .cloned()
        .collect()
}

/// The whole scenario on one database.
pub async fn ranges(db: &TestDb) {
    let now = OffsetDateTime::now_utc();
    // Raw rows: vm-a every 20 s for the last 10 minutes, plus one 20 minutes ago.
    let mut raw: Vec<_> = (0..30)
        .map(|i| snapshot("vm-a", i, Duration::from_secs(600 - 20 * i), 0))
        .collect();
    raw.push(snapshot("vm-a", 99, Duration::from_secs(1_200), 0));
    raw.push(snapshot("vm-b", 1, Duration::from_secs(60), 0));
    // A row of vm-a's clock running 2 minutes ahead (ingest accepts up to 5).
    let mut ahead = snapshot("vm-a", 100, Duration::ZERO, 0);
    ahead.collected_at = now + time::Duration::minutes(2);
    raw.push(ahead);
    db.insert(&raw, "a").await;
    // Minute rollups for 25 hours (and one 3 minutes ahead, from that clock), hour
    // rollups for 35 days, of two hosts.
    let mut minutes = buckets("vm-a", now, 60, 25 * 60);
    let last = minutes.last().unwrap().bucket;
    minutes.push(bucket("vm-a", last + time::Duration::minutes(3), 25 * 60));
    let hours_a = buckets("vm-a", now, 3_600, 35 * 24);
    let hours_b = buckets("vm-b", now, 3_600, 35 * 24);
    replace_rollups(&db.db, Tier::Minute, &minutes)
        .await
        .unwrap();
    replace_rollups(&db.db, Tier::Hour, &hours_a).await.unwrap();
    replace_rollups(&db.db, Tier::Hour, &hours_b).await.unwrap();
    // Minute rollups are kept 30 days and hour rollups 40 here (ingest writes these from
    // its --rollup-*-retention flags).
    for (tier, days) in [("1m", 30), ("1h", 40)] {
        let sql = format!(
            "UPDATE history_tiers SET keep_seconds = {} WHERE tier = '{tier}'",
            days * 86_400
        );
        execute(db, sql).await;
    }
    // The maintainer has folded the raw rows received up to 90 s ago (milliseconds, as
    // stored).
    let watermark = OffsetDateTime::from_unix_timestamp(now.unix_timestamp() - 90).unwrap()
        + time::Duration::milliseconds(250);
    set_watermark(db, watermark).await;
    let server = Server::start(db, |_| {}).await;

    // 15 minutes: raw rows, as before plus the tier fields.
    let (status, v) = get(&server, "/api/v1/history?host=vm-a&from=-15m").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["tier"].as_str(), v["step_seconds"].as_i64()),
        (Some("raw"), None)
    );
    assert!(v["step_seconds"].is_null() && v["truncated"] == false);
    assert!(
        v.get("complete_to").is_none(),
        "raw rows need no watermark: {v}"
    );
    let span = time_of(&v, "to") - time_of(&v, "from");
    assert_eq!(span, time::Duration::minutes(15));
    let procs = |v: &Value| -> Vec<u64> {
        v["samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["procs"]["total"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(
        procs(&v),
        (0..30).chain([100]).collect::<Vec<_>>(),
        "oldest first, the 20-minute-old row left out, the row from 2 minutes ahead in"
    );
    // An explicit to is exact: the row ahead of it is not read.
    let (status, v) = get(&server, "/api/v1/history?host=vm-a&from=-15m&to=now").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(procs(&v), (0..30).collect::<Vec<_>>());

    // 24 hours: minute rollups merged two a point.
    let (status, v) = get(&server, "/api/v1/history?host=vm-a&from=-24h").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["tier"].as_str(), v["step_seconds"].as_i64()),
        (Some("1m"), Some(120))
    );
    let got = points_of(&v, "vm-a");
    assert!(got.len() <= 1_000 && got.len() >= 720, "{}", got.len());
    let want = expected(&minutes, time_of(&v, "from"), read_end(&v), 60, 120);
    same_points(&got, &want);
    assert!(got.iter().any(|p| p["swap"].is_null()) && got.iter().any(|p| p["swap"].is_array()));
    // The bucket from 3 minutes ahead is the last point; every t within the read range,
    // the first one at from (its group starts before it).
    assert_eq!(got.last().unwrap()["n"], minutes.last().unwrap().samples);
    times_within(&v, read_end(&v));
    assert_eq!(got[0]["t"], v["from"]);
    // The watermark, as stored.
    assert_eq!(time_of(&v, "complete_to"), watermark);
    // With an explicit to the bucket ahead is left out.
    let (_, v) = get(&server, "/api/v1/history?host=vm-a&from=-24h&to=now").await;
    let want = expected(&minutes, time_of(&v, "from"), time_of(&v, "to"), 60, 120);
    same_points(&points_of(&v, "vm-a"), &want);
    times_within(&v, time_of(&v, "to"));

    // 30 days, one host and every host: hour rollups, one a point.
    let (status, v) = get(&server, "/api/v1/history?host=vm-b&from=-30d").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["tier"].as_str(), v["step_seconds"].as_i64()),
        (Some("1h"), Some(3_600))
    );
    let want = expected(&hours_b, time_of(&v, "from"), read_end(&v), 3_600, 3_600);
    assert!((720..=721).contains(&want.len()));
    same_points(&points_of(&v, "vm-b"), &want);
    times_within(&v, read_end(&v));
    assert_eq!(time_of(&v, "complete_to"), watermark);
    let (_, all) = get(&server, "/api/v1/history?from=-30d").await;
    let hosts: Vec<&str> = all["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["host"].as_str().unwrap())
        .collect();
    let a = hosts.iter().filter(|h| **h == "vm-a").count();
    assert!(
        a >= 720 && hosts[..a].iter().all(|h| *h == "vm-a"),
        "grouped by host, in name order"
    );
    assert!(hosts[a..].iter().all(|h| *h == "vm-b") && hosts.len() > a);
    assert_eq!(all["truncated"], false);
    // from_host starts the page at that host.
    let (_, page) = get(&server, "/api/v1/history?from=-30d&from_host=vm-b").await;
    assert!(
        page["points"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["host"] == "vm-b")
    );
    // A day 34 days ago: older than the minute rollups' 30 days, so hours (`since` is
    // the same parameter as `from`); its first bucket is the hour holding `since`.
    let (status, v) = get(&server, "/api/v1/history?host=vm-a&since=-34d&to=-33d").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["tier"], "1h");
    let want = expected(
        &hours_a,
        time_of(&v, "from"),
        time_of(&v, "to"),
        3_600,
        3_600,
    );
    assert!((24..=25).contains(&want.len()));
    same_points(&points_of(&v, "vm-a"), &want);
    times_within(&v, time_of(&v, "to"));
    // A day 29 days ago: minutes (none stored that far back here: no points).
    let (_, v) = get(&server, "/api/v1/history?host=vm-a&from=-29d&to=-28d").await;
    assert_eq!(
        (v["tier"].as_str(), v["step_seconds"].as_i64()),
        (Some("1m"), Some(120))
    );
    assert!(v["points"].as_array().unwrap().is_empty());
    assert_eq!(time_of(&v, "complete_to"), watermark);

    // Errors: 422 naming the field, and the range the tiers keep comes from history_tiers.
    for (path, field, says) in [
        (
            "/api/v1/history?from=-41d",
            "from",
            "older than the history kept",
        ),
        (
            "/api/v1/history?since=-41d&to=-40d",
            "since",
            "older than the history kept",
        ),
        ("/api/v1/history?from=-1h&to=-2h", "from", "before to"),
        ("/api/v1/history?from=now", "from", "before to"),
        ("/api/v1/history?from=-5y", "from", "units d, h, m, s, ms"),
        ("/api/v1/history?from=-24", "from", "got \"24\""),
        ("/api/v1/history?to=tomorrow", "to", "relative time like"),
        (
            "/api/v1/history?from=-1h&since=-2h",
            "since",
            "another name for from",
        ),
        ("/api/v1/history?step=60", "step", "unknown parameter"),
    ] {
        let (status, v) = get(&server, path).await;
        assert_eq!(status, 422, "{path}: {v}");
        assert_eq!(v["error"]["field"], field, "{path}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(says),
            "{path}: {v}"
        );
    }
    let (status, _) = get(&server, "/api/v1/history?from=-39d").await;
    assert_eq!(status, 200);
    server.stop().await;
}

fn rfc(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap()
}

const FROM_MEMORY: &str = "procpulse_broadcaster_history_raw_hosts_from_memory_total";
const FROM_DB: &str = "procpulse_broadcaster_history_raw_hosts_from_database_total";

/// `path`'s answer and which of memory and the database gave it.
async fn answered(server: &Server, path: &str) -> (Value, &'static str) {
    let (m0, d0) = (
        server.metric(FROM_MEMORY).await,
        server.metric(FROM_DB).await,
    );
    let (status, v) = get(server, path).await;
    assert_eq!(status, 200, "{v}");
    let (m1, d1) = (
        server.metric(FROM_MEMORY).await,
        server.metric(FROM_DB).await,
    );
    match (m1 - m0, d1 - d0) {
        (1.0, 0.0) => (v, "memory"),
        (0.0, 1.0) => (v, "database"),
        other => panic!("{path}: counters moved by {other:?}"),
    }
}

/// The samples of `whole` collected in `[from, to)` compared as the database does (at
/// millisecond precision).
fn within(whole: &Value, from: OffsetDateTime, to: OffsetDateTime) -> Vec<Value> {
    let ms = |t: OffsetDateTime| procpulse_storage::row::from_db_time(to_db_time(t));
    whole["samples"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| (ms(from)..ms(to)).contains(&time_of(r, "collected_at")))
        .cloned()
        .collect()
}

/// Raw ranges inside the in-memory window are answered from memory once the start-up
/// load is checked, and give what the database gives: the same rows, the same values,
/// `top` only on the newest, a `from` inside a millisecond read as the database reads
/// it — before and after rows arrive live. A range ending before the newest row
/// (whose older rows were loaded without their top tables) is left to the database.
pub async fn memory_matches_database(db: &TestDb) {
    // vm-m every 2 s for the last 10 minutes, every row with a top table.
    let rows: Vec<_> = (0..300)
        .map(|i| snapshot("vm-m", i, Duration::from_secs(600 - 2 * i), 3))
        .collect();
    db.insert(&rows, "a").await;
    let server = Server::start(db, |_| {}).await;
    let now = OffsetDateTime::now_utc();
    // A nanosecond after row 150 was collected: the database compares at millisecond
    // precision (whatever precision it stores) and so reads that row too.
    let from = rows[150].collected_at + time::Duration::nanoseconds(1);
    let (old, to) = (
        now - time::Duration::minutes(20),
        now + time::Duration::minutes(1),
    );
    let path = |from: OffsetDateTime, to: OffsetDateTime| {
        format!(
            "/api/v1/history?host=vm-m&from={}&to={}",
            rfc(from),
            rfc(to)
        )
    };
    // The load is checked once late commits had time to land (the cursor's grace).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mem = loop {
        match answered(&server, &path(from, to)).await {
            (v, "memory") => break v,
            _ => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "never answered from memory"
                );
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    };
    // 20 minutes back is before the window: the database answers.
    let (whole, by) = answered(&server, &path(old, to)).await;
    assert_eq!(by, "database");
    let same = |mem: &Value, whole: &Value, n: usize| {
        let got = mem["samples"].as_array().unwrap();
        assert_eq!(got.len(), n);
        assert_eq!(got, &within(whole, from, to), "memory and database differ");
        assert!(got[..n - 1].iter().all(|r| r.get("top").is_none()));
        assert_eq!(got[n - 1]["top"].as_array().map(Vec::len), Some(3));
    };
    same(&mem, &whole, 150);
    // Ending before the newest row: the database, with each range's newest top.
    let before = from + time::Duration::minutes(2);
    let (v, by) = answered(&server, &path(from, before)).await;
    assert_eq!(by, "database");
    assert_eq!(
        v["samples"].as_array().unwrap().last().unwrap()["top"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    // Rows arriving live join the window (after a poll) and the answers still agree.
    let late: Vec<_> = (300..305)
        .map(|i| snapshot("vm-m", i, Duration::from_millis(500 - 100 * (i - 300)), 3))
        .collect();
    db.insert(&late, "b").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server
        .metric("procpulse_broadcaster_rows_delivered_total")
        .await
        < 5.0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "late rows not delivered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (mem, by) = answered(&server, &path(from, to)).await;
    assert_eq!(by, "memory");
    let (whole, _) = answered(&server, &path(old, to)).await;
    same(&mem, &whole, 155);
    server.stop().await;
}

#[tokio::test]
async fn sqlite_raw_ranges_from_memory_match_the_database() {
    memory_matches_database(&TestDb::sqlite().await).await;
}

#[tokio::test]
async fn mysql_raw_ranges_from_memory_match_the_database() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    memory_matches_database(&db).await;
}

#[tokio::test]
async fn sqlite_history_ranges_come_from_the_right_tier() {
    ranges(&TestDb::sqlite().await).await;
}

#[tokio::test]
async fn mysql_history_ranges_come_from_the_right_tier() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    ranges(&db).await;
}

/// `keep_seconds` anyone may have written: 10^15 s (31.7 million years, past the dates
/// `time` represents) on every tier, then on the hour tier only, and no watermark. Every
/// request is answered (no panic, no 500): such a keep bounds nothing, like forever.
pub async fn absurd_keeps(db: &TestDb) {
    db.insert(&[snapshot("vm-a", 1, Duration::from_secs(30), 0)], "a")
        .await;
    let hours = buckets("vm-a", OffsetDateTime::now_utc(), 3_600, 48);
    replace_rollups(&db.db, Tier::Hour, &hours).await.unwrap();
    for (tiers, label) in [("'raw', '1m', '1h'", "every tier"), ("'1h'", "hours")] {
        execute(
            db,
            format!(
                "UPDATE history_tiers SET keep_seconds = 1000000000000000 WHERE tier IN ({tiers})"
            ),
        )
        .await;
        // A fresh broadcaster: the tiers are cached for a minute.
        let server = Server::start(db, |_| {}).await;
        for (path, tier) in [
            ("/api/v1/history?host=vm-a&from=-15m", "raw"),
            ("/api/v1/history?host=vm-a&from=-30d", "1h"),
            ("/api/v1/history?from=-3000d&to=-2999d", ""),
            (
                "/api/v1/history?since=1970-01-01T00:00:00Z&to=1970-01-02T00:00:00Z",
                "",
            ),
        ] {
            let (status, v) = get(&server, path).await;
            assert_eq!(status, 200, "{label}: {path}: {v}");
            if !tier.is_empty() {
                assert_eq!(v["tier"], tier, "{label}: {path}: {v}");
            }
            if v["tier"] != "raw" {
                assert!(v["complete_to"].is_null(), "no watermark: {v}");
            }
        }
        let (_, v) = get(&server, "/api/v1/history?host=vm-a&from=-30d").await;
        same_points(
            &points_of(&v, "vm-a"),
            &expected(&hours, time_of(&v, "from"), read_end(&v), 3_600, 3_600),
        );
        server.stop().await;
        execute(
            db,
            "UPDATE history_tiers SET keep_seconds = 3600 WHERE tier IN ('raw', '1m')".to_owned(),
        )
        .await;
    }
}

#[tokio::test]
async fn sqlite_absurd_keeps_do_not_panic_history() {
    absurd_keeps(&TestDb::sqlite().await).await;
}

#[tokio::test]
async fn mysql_absurd_keeps_do_not_panic_history() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    absurd_keeps(&db).await;
}

/// Hosts are found one index seek at a time and at most `MAX_HOST_PROBES` are tried per
/// page: silent hosts (no rows in the range) cost bounded work and the answer says where
/// to go on.
#[tokio::test]
async fn many_silent_hosts_are_probed_in_bounded_pages() {
    use procpulse_broadcaster::history_api::MAX_HOST_PROBES;
    let db = TestDb::sqlite().await;
    let silent = MAX_HOST_PROBES + 5;
    let mut rows: Vec<_> = (0..silent)
        .map(|i| snapshot(&format!("a{i:04}"), 1, Duration::from_secs(3_600), 0))
        .collect();
    rows.push(snapshot("z1", 1, Duration::from_secs(60), 0));
    rows.push(snapshot("z2", 2, Duration::from_secs(30), 0));
    db.insert(&rows, "a").await;
    let server = Server::start(&db, |_| {}).await;
    let (status, v) = get(&server, "/api/v1/history?from=-15m").await;
    assert_eq!(status, 200, "{v}");
    assert!(v["samples"].as_array().unwrap().is_empty());
    assert_eq!(v["truncated"], true);
    let next = v["next_host"].as_str().unwrap().to_owned();
    assert_eq!(next, format!("a{MAX_HOST_PROBES:04}"));
    let (_, v) = get(
        &server,
        &format!("/api/v1/history?from=-15m&from_host={next}"),
    )
    .await;
    let hosts: Vec<&str> = v["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["host"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["z1", "z2"]);
    assert_eq!(v["truncated"], false);
    // An hour back reaches the silent hosts' rows: a full page of 100 hosts.
    let (_, v) = get(&server, "/api/v1/history?from=-61m&to=-59m").await;
    assert_eq!(v["samples"].as_array().unwrap().len(), 100);
    assert_eq!(v["next_host"], "a0100");
    server.stop().await;
}
