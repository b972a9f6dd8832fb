//! Snapshot v2 rows reach clients with their v2 fields — in live `samples` frames, in the
//! `history` frame (every point, not just the newest), in `/api/v1/latest` and
//! `/api/v1/history` — and v1 rows still arrive without them, on SQLite and MariaDB.

use std::time::Duration;

use procpulse_ingest::WriteMode;
use procpulse_model::{CoreUsage, Snapshot};
use serde_json::Value;

use crate::support::*;

const CPUS: u32 = 64;

/// [`snapshot`] with every v2 field: the model's v2 fixture values, `CPUS` per-CPU
/// entries (CPU 5 offline) and top entries with uid/user/threads/nice.
fn snapshot_v2(host: &str, n: u64, ago: Duration) -> Snapshot {
    let fixture: Snapshot = serde_json::from_str(include_str!(
        "../../../model/tests/fixtures/snapshot_v2.json"
    ))
    .unwrap();
    let mut s = snapshot(host, n, ago, 0);
    s.cpu.cores = CPUS - 1;
    s.cpu.modes = fixture.cpu.modes;
    s.cpu.per_cpu = (0..CPUS)
        .filter(|cpu| *cpu != 5)
        .map(|cpu| CoreUsage {
            cpu,
            usage_percent: f64::from((cpu * 1543 + n as u32) % 10_000) / 100.0,
        })
        .collect();
    s.ram = fixture.ram.clone();
    s.pressure = fixture.pressure;
    s.top = fixture.top.clone();
    s
}

/// `s` as stored: `collected_at` at millisecond precision.
fn stored(s: &Snapshot) -> Snapshot {
    let mut s = s.clone();
    s.collected_at =
        procpulse_storage::row::from_db_time(procpulse_storage::row::to_db_time(s.collected_at));
    s
}

/// The snapshot part of a wire row (`id`, `route`, `received_at` are extra keys).
fn decode(row: &Value) -> Snapshot {
    serde_json::from_value(row.clone()).unwrap()
}

fn assert_v2(row: &Value, ctx: &str) {
    assert_eq!(
        row["cpu"]["per_cpu"].as_array().map(Vec::len),
        Some(CPUS as usize - 1),
        "{ctx}: {row}"
    );
    assert_eq!(row["cpu"]["per_cpu"][5]["cpu"], 6, "{ctx}");
    assert!(row["cpu"]["modes"]["user"].is_number(), "{ctx}");
    assert_eq!(row["ram"]["buffers_kb"], 250_000, "{ctx}");
    assert_eq!(row["ram"]["shared_kb"], 120_000, "{ctx}");
    assert_eq!(row["ram"]["swap_used_kb"], 1_048_572, "{ctx}");
    assert_eq!(row["pressure"]["cpu"]["some"]["avg10"], 12.04, "{ctx}");
}

fn assert_v1(row: &Value, ctx: &str) {
    for key in ["per_cpu", "modes"] {
        assert!(row["cpu"].get(key).is_none(), "{ctx}: {key} in {row}");
    }
    for key in ["buffers_kb", "shared_kb", "swap_used_kb"] {
        assert!(row["ram"].get(key).is_none(), "{ctx}: {key} in {row}");
    }
    assert!(row.get("pressure").is_none(), "{ctx}: {row}");
}

fn rows_of<'a>(frame: &'a Value, host: &str) -> Vec<&'a Value> {
    frame["samples"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["host"] == host)
        .collect()
}

pub async fn v2_and_v1_rows_reach_clients(db: &TestDb) {
    let old_v2: Vec<Snapshot> = [60, 30, 10]
        .iter()
        .enumerate()
        .map(|(i, ago)| snapshot_v2("vm-v2", i as u64, Duration::from_secs(*ago)))
        .collect();
    db.insert(&old_v2, "a").await;
    db.insert(
        &[
            snapshot("vm-v1", 1, Duration::from_secs(20), 2),
            snapshot("vm-v1", 2, Duration::from_secs(5), 2),
        ],
        "b",
    )
    .await;

    let server = Server::start(db, |c| c.poll_interval = Duration::from_millis(50)).await;
    let mut ws = server.connect(None).await.unwrap();
    let (_, history, _) = opening(&mut ws).await;
    // History: every v2 point has per_cpu, modes, RAM v2 and pressure; top only on the
    // newest; v1 points gain nothing.
    let points = rows_of(&history, "vm-v2");
    assert_eq!(points.len(), 3, "{history}");
    for (i, (p, want)) in points.iter().zip(&old_v2).enumerate() {
        assert_v2(p, "history");
        assert_eq!(p.get("top").is_some(), i == 2, "history point {i}");
        let mut want = stored(want);
        if i < 2 {
            want.top.clear();
        }
        assert_eq!(decode(p), want, "history point {i}");
    }
    assert_eq!(points[2]["top"][0]["user"], "alice");
    for p in rows_of(&history, "vm-v1") {
        assert_v1(p, "history v1");
    }

    // Live rows.
    let live_v2 = snapshot_v2("vm-v2", 9, Duration::ZERO);
    let live_v1 = snapshot("vm-v1", 9, Duration::ZERO, 1);
    db.insert(&[live_v2.clone(), live_v1.clone()], "a").await;
    let mut got = Vec::new();
    while got.len() < 2 {
        let v = next_json(&mut ws, Duration::from_secs(10)).await;
        if v["type"] == "samples" {
            got.extend(v["samples"].as_array().unwrap().iter().cloned());
        }
    }
    assert_v2(&got[0], "live");
    assert_eq!(decode(&got[0]), stored(&live_v2), "live v2 row");
    assert_eq!(got[0]["top"][2]["nice"], -5);
    assert_v1(&got[1], "live v1");
    assert_eq!(decode(&got[1]), stored(&live_v1), "live v1 row");
    close(ws).await;

    // REST: the newest row per host, and the history of the v2 host.
    let latest: Value = reqwest::get(server.url("/api/v1/latest"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let v2_latest = rows_of(&latest, "vm-v2");
    assert_v2(v2_latest[0], "latest");
    assert_eq!(decode(v2_latest[0]), stored(&live_v2));
    assert_v1(rows_of(&latest, "vm-v1")[0], "latest v1");
    let rest: Value = reqwest::get(server.url("/api/v1/history?host=vm-v2"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rest = rest["samples"].as_array().unwrap();
    assert_eq!(rest.len(), 4);
    for (i, p) in rest.iter().enumerate() {
        assert_v2(p, "REST history");
        // Like the WebSocket history: only the host's newest point carries its table.
        assert_eq!(p.get("top").is_some(), i == 3, "REST history point {i}");
    }
    assert_eq!(
        decode(&rest[3]),
        stored(&live_v2),
        "newest REST point whole"
    );

    // A client joining now gets the live rows in its history (the in-memory path).
    let mut ws = server.connect(None).await.unwrap();
    let (_, history, _) = opening(&mut ws).await;
    let points = rows_of(&history, "vm-v2");
    assert_eq!(points.len(), 4);
    for p in &points {
        assert_v2(p, "history after live");
    }
    assert_eq!(decode(points[3]), stored(&live_v2));
    let v1_points = rows_of(&history, "vm-v1");
    assert_eq!(v1_points.len(), 3);
    for p in v1_points {
        assert_v1(p, "history after live v1");
    }
    close(ws).await;
    server.stop().await;
}

#[tokio::test]
async fn v2_and_v1_rows_reach_clients_sqlite() {
    v2_and_v1_rows_reach_clients(&TestDb::sqlite().await).await;
}

#[tokio::test]
async fn v2_and_v1_rows_reach_clients_mysql() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    v2_and_v1_rows_reach_clients(&db).await;
}

/// A v2 snapshot POSTed to the real ingest (batched route b) arrives with its per-CPU
/// and mode figures; a v1 one in the same request without them.
#[tokio::test]
async fn a_v2_snapshot_posted_to_ingest_reaches_clients() {
    let db = TestDb::sqlite().await;
    let ingest = crate::via_ingest::start_ingest(&db, "b", WriteMode::Batched).await;
    let server = Server::start(&db, |c| c.poll_interval = Duration::from_millis(50)).await;
    let mut ws = server.connect(None).await.unwrap();
    opening(&mut ws).await;
    let v2 = snapshot_v2("vm-post", 1, Duration::ZERO);
    let v1 = snapshot("vm-post", 2, Duration::ZERO, 0);
    let body = serde_json::to_value([&v2, &v1]).unwrap();
    let client = reqwest::Client::new();
    let answer = crate::via_ingest::post(&client, &ingest.url, &body).await;
    assert_eq!(answer["accepted"], 2);
    let mut got = Vec::new();
    while got.len() < 2 {
        let v = next_json(&mut ws, Duration::from_secs(10)).await;
        if v["type"] == "samples" {
            got.extend(v["samples"].as_array().unwrap().iter().cloned());
        }
    }
    assert_eq!(got[0]["route"], "b");
    assert_v2(&got[0], "posted v2");
    assert_eq!(decode(&got[0]), stored(&v2));
    assert_v1(&got[1], "posted v1");
    assert_eq!(decode(&got[1]), stored(&v1));
    close(ws).await;
    server.stop().await;
    ingest.shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(10), ingest.task)
        .await
        .unwrap()
        .unwrap();
}
