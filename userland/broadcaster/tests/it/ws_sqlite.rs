//! WebSocket over SQLite: hello, history backfill, live delivery in id order, routes.

use std::time::{Duration, Instant};

use crate::support::*;

pub async fn backfill(db: &TestDb) {
    let old = snapshot("vm-1", 0, Duration::from_secs(20 * 60), 0);
    db.insert(&[old], "a").await;
    let vm1: Vec<_> = [60, 30, 0]
        .iter()
        .enumerate()
        .map(|(i, ago)| snapshot("vm-1", i as u64 + 1, Duration::from_secs(*ago), 3))
        .collect();
    db.insert(&vm1, "a").await;
    db.insert(&[snapshot("vm-2", 9, Duration::from_secs(5), 0)], "b")
        .await;

    let server = Server::start(db, |_| {}).await;
    let mut ws = server.connect(None).await.unwrap();
    let (hello, history, routes) = opening(&mut ws).await;
    assert_eq!(hello["hosts"], serde_json::json!(["vm-1", "vm-2"]));
    let server_time = time::OffsetDateTime::parse(
        hello["server_time"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!((time::OffsetDateTime::now_utc() - server_time).abs() < time::Duration::seconds(5));

    // vm-1's row from 20 minutes ago is outside its 15-minute window.
    assert_eq!(ids(&history), vec![2, 3, 4, 5], "{history}");
    let rows = history["samples"].as_array().unwrap();
    for (row, want) in rows.iter().zip(&vm1) {
        assert_eq!(row["sample_id"], want.sample_id.as_str());
        assert_eq!(row["host"], "vm-1");
        assert_eq!(row["route"], "a");
        assert!(row["received_at"].is_string() && row["collected_at"].is_string());
        assert_eq!(row["procs"]["total"], want.procs.total);
    }
    // Only each host's newest point carries its top table.
    assert!(rows[0].get("top").is_none() && rows[1].get("top").is_none());
    assert_eq!(rows[2]["top"].as_array().unwrap().len(), 3);
    assert_eq!(rows[3]["host"], "vm-2");
    assert_eq!(
        (routes["a"].as_u64(), routes["b"].as_u64()),
        (Some(4), Some(1))
    );
    close(ws).await;
    server.stop().await;
}

pub async fn live_delivery(db: &TestDb) {
    db.insert(&[snapshot("vm-1", 0, Duration::ZERO, 0)], "a")
        .await;
    let server = Server::start(db, |_| {}).await;
    let mut ws = server.connect(None).await.unwrap();
    let (_, history, _) = opening(&mut ws).await;
    assert_eq!(ids(&history), vec![1]);

    let start = Instant::now();
    for batch in 0..5u64 {
        let rows: Vec<_> = (0..10)
            .map(|i| snapshot("vm-1", batch * 10 + i, Duration::ZERO, 2))
            .collect();
        db.insert(&rows, if batch % 2 == 0 { "a" } else { "b" })
            .await;
    }
    let mut got = Vec::new();
    let mut last_routes = None;
    while got.len() < 50 {
        let v = next_json(&mut ws, Duration::from_secs(5)).await;
        match v["type"].as_str() {
            Some("samples") => {
                for r in v["samples"].as_array().unwrap() {
                    assert_eq!(
                        r["top"].as_array().map(Vec::len),
                        Some(2),
                        "live rows keep top"
                    );
                    got.push(r["id"].as_i64().unwrap());
                }
            }
            Some("routes") => last_routes = Some(v),
            other => panic!("unexpected frame {other:?}"),
        }
    }
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(
        got,
        (2..=51).collect::<Vec<i64>>(),
        "every row once, in id order"
    );
    // The split eventually reads a = 1 + 30, b = 20.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        if let Some(r) = &last_routes {
            if (r["a"].as_u64(), r["b"].as_u64()) == (Some(31), Some(20)) {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "routes never reached a=31 b=20: {last_routes:?}"
        );
        let v = next_json(&mut ws, Duration::from_secs(3)).await;
        if v["type"] == "routes" {
            last_routes = Some(v);
        }
    }
    close(ws).await;
    server.stop().await;
}

#[tokio::test]
async fn hello_history_backfill_and_routes() {
    backfill(&TestDb::sqlite().await).await;
}

#[tokio::test]
async fn new_rows_are_delivered_once_in_id_order() {
    live_delivery(&TestDb::sqlite().await).await;
}

#[tokio::test]
async fn replicas_side_by_side_deliver_the_same_rows() {
    let db = TestDb::sqlite().await;
    let a = Server::start(&db, |_| {}).await;
    let b = Server::start(&db, |_| {}).await;
    let mut wa = a.connect(None).await.unwrap();
    let mut wb = b.connect(None).await.unwrap();
    opening(&mut wa).await;
    opening(&mut wb).await;
    let rows: Vec<_> = (0..20)
        .map(|i| snapshot("vm-3", i, Duration::ZERO, 0))
        .collect();
    db.insert(&rows[..10], "a").await;
    db.insert(&rows[10..], "b").await;
    let ga = collect_ids(&mut wa, 20, Duration::from_secs(5)).await;
    let gb = collect_ids(&mut wb, 20, Duration::from_secs(5)).await;
    assert_eq!(ga, (1..=20).collect::<Vec<i64>>());
    assert_eq!(ga, gb);
    a.stop().await;
    b.stop().await;
}
