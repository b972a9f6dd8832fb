//! `/api/v1/fleet` and `--host-ttl` against the real broadcaster: stale and fresh hosts
//! on SQLite and MariaDB, a host forgotten after the ttl leaving the fleet, latest and
//! `hello` (and a host older than the ttl not loaded at start), and the time to answer
//! with 1,000 hosts.

use std::time::{Duration, Instant};

use serde_json::Value;
use time::OffsetDateTime;

use crate::support::*;

async fn fleet(server: &Server) -> Value {
    let res = reqwest::get(server.url("/api/v1/fleet")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    res.json().await.unwrap()
}

fn host<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["host"] == name)
        .unwrap_or_else(|| panic!("{name} not in {v}"))
}

fn names(v: &Value) -> Vec<String> {
    v["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["host"].as_str().unwrap().to_owned())
        .collect()
}

/// A stale host (one row a second until 60 s ago), a fresh one (one a second until
/// now) and a new one (a single row): stale only the first.
pub async fn stale_and_fresh(db: &TestDb) {
    let now = OffsetDateTime::now_utc();
    let stale: Vec<_> = (0..10)
        .map(|i| snapshot("vm-stale", i, Duration::from_secs(70 - i), 0))
        .collect();
    db.insert_received(&stale, "a", now - time::Duration::seconds(60))
        .await;
    let fresh: Vec<_> = (0..10)
        .map(|i| snapshot("vm-fresh", i, Duration::from_secs(9 - i), 0))
        .collect();
    db.insert(&fresh, "b").await;
    let mut one = snapshot("vm-new", 1, Duration::ZERO, 0);
    one.ram.swap_total_kb = 2_000;
    one.ram.swap_free_kb = 500;
    one.procs.zombie = 1;
    one.procs.total += 1;
    db.insert(&[one], "a").await;
    let server = Server::start(db, |_| {}).await;
    // One more fresh row after the start (which may take seconds on a busy machine).
    db.insert(&[snapshot("vm-fresh", 10, Duration::ZERO, 0)], "b")
        .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let v = fleet(&server).await;
    assert_eq!(v["stale_after_intervals"], 3);
    assert_eq!(names(&v), ["vm-fresh", "vm-new", "vm-stale"], "by name");
    let s = host(&v, "vm-stale");
    assert_eq!(
        (s["stale"].as_bool(), s["interval_seconds"].as_f64()),
        (Some(true), Some(1.0))
    );
    let f = host(&v, "vm-fresh");
    assert_eq!(
        (f["stale"].as_bool(), f["interval_seconds"].as_f64()),
        (Some(false), Some(1.0))
    );
    assert_eq!(f["cpu"], 10.0, "the newest row's values");
    assert_eq!(
        (f["source"].as_str(), f["cores"].as_u64()),
        (Some("procfs"), Some(2))
    );
    assert!(f["swap"].is_null());
    let n = host(&v, "vm-new");
    assert_eq!(
        (n["stale"].as_bool(), n["interval_seconds"].as_f64()),
        (Some(false), None)
    );
    assert_eq!(
        (n["swap"].as_f64(), n["zombies"].as_u64()),
        (Some(75.0), Some(1))
    );
    let server_time = OffsetDateTime::parse(
        v["server_time"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!((server_time - OffsetDateTime::now_utc()).abs() < time::Duration::seconds(5));
    server.stop().await;
}

#[tokio::test]
async fn sqlite_fleet_marks_stale_hosts() {
    stale_and_fresh(&TestDb::sqlite().await).await;
}

#[tokio::test]
async fn mysql_fleet_marks_stale_hosts() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    stale_and_fresh(&db).await;
}

/// `--stale-after-intervals` is the threshold: 10 intervals of silence is not stale at 20.
#[tokio::test]
async fn stale_after_intervals_is_configurable() {
    let db = TestDb::sqlite().await;
    let now = OffsetDateTime::now_utc();
    let rows: Vec<_> = (0..5)
        .map(|i| snapshot("vm-1", i, Duration::from_secs(14 - i), 0))
        .collect();
    db.insert_received(&rows, "a", now - time::Duration::seconds(10))
        .await;
    let server = Server::start(&db, |c| c.stale_after_intervals = 20).await;
    let v = fleet(&server).await;
    assert_eq!(v["stale_after_intervals"], 20);
    assert_eq!(host(&v, "vm-1")["stale"], false);
    server.stop().await;
    let server = Server::start(&db, |_| {}).await;
    assert_eq!(host(&fleet(&server).await, "vm-1")["stale"], true);
    server.stop().await;
}

fn hello_hosts(hello: &Value) -> Vec<String> {
    serde_json::from_value(hello["hosts"].clone()).unwrap()
}

/// A host silent for `--host-ttl` leaves the fleet, latest, the history and `hello`; a
/// host whose newest row is older than the ttl is not loaded at start.
#[tokio::test]
async fn hosts_unseen_for_the_ttl_are_forgotten() {
    let db = TestDb::sqlite().await;
    // Collected 10 minutes ago (received now): past the ttl when the server starts.
    db.insert(
        &[snapshot("vm-ancient", 1, Duration::from_secs(600), 0)],
        "a",
    )
    .await;
    let server = Server::start(&db, |c| c.host_ttl = Duration::from_secs(4)).await;
    db.insert(&[snapshot("vm-gone", 1, Duration::ZERO, 0)], "a")
        .await;
    let deadline = Instant::now() + Duration::from_secs(3);
    while names(&fleet(&server).await) != ["vm-gone"] {
        assert!(Instant::now() < deadline, "vm-gone never arrived");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut ws = server.connect(None).await.unwrap();
    let (hello, _, _) = opening(&mut ws).await;
    assert_eq!(
        hello_hosts(&hello),
        ["vm-gone"],
        "vm-ancient was not loaded"
    );
    close(ws).await;
    // vm-alive keeps posting; vm-gone stops.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut n = 0;
    let gone = loop {
        n += 1;
        db.insert(&[snapshot("vm-alive", n, Duration::ZERO, 0)], "b")
            .await;
        let v = fleet(&server).await;
        if names(&v) == ["vm-alive"] {
            break v;
        }
        assert!(Instant::now() < deadline, "vm-gone never evicted: {v}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(host(&gone, "vm-alive")["stale"], false);
    let latest: Value = reqwest::get(server.url("/api/v1/latest"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let latest_hosts: Vec<&str> = latest["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["host"].as_str().unwrap())
        .collect();
    assert_eq!(latest_hosts, ["vm-alive"]);
    let mut ws = server.connect(None).await.unwrap();
    let (hello, history, _) = opening(&mut ws).await;
    assert_eq!(hello_hosts(&hello), ["vm-alive"]);
    assert!(
        history["samples"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["host"] == "vm-alive")
    );
    close(ws).await;
    assert!(
        server
            .metric("procpulse_broadcaster_hosts_evicted_total")
            .await
            >= 1.0
    );
    assert_eq!(server.metric("procpulse_broadcaster_hosts").await, 1.0);
    // The rows stay in the database: the history route still has them.
    let v: Value = reqwest::get(server.url("/api/v1/history?host=vm-gone"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["samples"].as_array().unwrap().len(), 1);
    server.stop().await;
}

/// 1,000 hosts: the fleet answer's latency over 50 sequential requests (debug build).
#[tokio::test]
async fn a_thousand_hosts_answer_fast() {
    let db = TestDb::sqlite().await;
    let rows: Vec<_> = (0..1_000)
        .flat_map(|h| {
            (0..3).map(move |i| snapshot(&format!("host-{h:04}"), i, Duration::from_secs(3 - i), 0))
        })
        .collect();
    db.insert(&rows, "a").await;
    let server = Server::start(&db, |_| {}).await;
    let client = reqwest::Client::new();
    let mut took = Vec::new();
    let mut bytes = 0;
    for _ in 0..50 {
        let start = Instant::now();
        let body = client
            .get(server.url("/api/v1/fleet"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        took.push(start.elapsed());
        bytes = body.len();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["hosts"].as_array().unwrap().len(), 1_000);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    took.sort();
    println!(
        "fleet, 1,000 hosts: {bytes} bytes, p50 {:?}, max {:?} (50 requests)",
        took[25], took[49]
    );
    assert!(took[25] < Duration::from_millis(100), "{took:?}");
    server.stop().await;
}
