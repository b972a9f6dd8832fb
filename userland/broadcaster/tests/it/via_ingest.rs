//! End to end: snapshots POSTed to the real ingest service (route a direct, route b
//! batched, in-process on the same database) reach WebSocket clients with their route,
//! and the live split counts them.

use std::time::Duration;

use procpulse_ingest::{Config as IngestConfig, WriteMode};
use procpulse_service::Shutdown;

use crate::support::*;

pub(crate) struct Ingest {
    pub(crate) url: String,
    pub(crate) shutdown: Shutdown,
    pub(crate) task: tokio::task::JoinHandle<()>,
}

pub(crate) async fn start_ingest(db: &TestDb, route: &str, mode: WriteMode) -> Ingest {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/v1/metrics", listener.local_addr().unwrap());
    let shutdown = Shutdown::new();
    let s = shutdown.clone();
    let database_url = db.url.parse().unwrap();
    let config = IngestConfig::new(route, mode);
    let task = tokio::spawn(async move {
        procpulse_ingest::run(listener, database_url, config, s)
            .await
            .unwrap()
    });
    Ingest {
        url,
        shutdown,
        task,
    }
}

pub(crate) async fn post(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
) -> serde_json::Value {
    for _ in 0..100 {
        let res = client.post(url).json(body).send().await.unwrap();
        if res.status() == 200 {
            return res.json().await.unwrap();
        }
        assert_eq!(
            res.status(),
            503,
            "ingest refused: {}",
            res.text().await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("ingest never became ready");
}

async fn through_ingest(db: TestDb) {
    let a = start_ingest(&db, "a", WriteMode::Direct).await;
    let b = start_ingest(&db, "b", WriteMode::Batched).await;
    let server = Server::start(&db, |_| {}).await;
    let mut ws = server.connect(None).await.unwrap();
    opening(&mut ws).await;

    let client = reqwest::Client::new();
    let batch: Vec<_> = (0..5)
        .map(|i| snapshot("vm-i", i, Duration::ZERO, 2))
        .collect();
    let ans = post(&client, &a.url, &serde_json::to_value(&batch[..3]).unwrap()).await;
    assert_eq!(
        (ans["accepted"].as_u64(), ans["route"].as_str()),
        (Some(3), Some("a"))
    );
    let ans = post(&client, &b.url, &serde_json::to_value(&batch[3..]).unwrap()).await;
    assert_eq!(
        (ans["accepted"].as_u64(), ans["route"].as_str()),
        (Some(2), Some("b"))
    );
    // A replay is a duplicate and is not delivered again.
    let ans = post(&client, &b.url, &serde_json::to_value(&batch[..1]).unwrap()).await;
    assert_eq!(ans["duplicates"].as_u64(), Some(1));

    let mut rows = Vec::new();
    let mut routes = None;
    while rows.len() < 5
        || routes
            .as_ref()
            .is_none_or(|r: &serde_json::Value| r["b"] != 2)
    {
        let v = next_json(&mut ws, Duration::from_secs(5)).await;
        match v["type"].as_str() {
            Some("samples") => rows.extend(v["samples"].as_array().unwrap().iter().cloned()),
            Some("routes") => routes = Some(v),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(rows.len(), 5, "the replay was not delivered twice");
    let got: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["sample_id"].as_str().unwrap(),
                r["route"].as_str().unwrap(),
            )
        })
        .collect();
    let want: Vec<(&str, &str)> = batch
        .iter()
        .enumerate()
        .map(|(i, s)| (s.sample_id.as_str(), if i < 3 { "a" } else { "b" }))
        .collect();
    assert_eq!(got, want);
    let ids: Vec<i64> = rows.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(routes.unwrap()["a"], 3);

    server.stop().await;
    for i in [a, b] {
        i.shutdown.trigger();
        tokio::time::timeout(Duration::from_secs(10), i.task)
            .await
            .unwrap()
            .unwrap();
    }
}

#[tokio::test]
async fn rows_posted_to_ingest_reach_clients_sqlite() {
    through_ingest(TestDb::sqlite().await).await;
}

#[tokio::test]
async fn rows_posted_to_ingest_reach_clients_mysql() {
    let Some(db) = TestDb::mysql().await else {
        return;
    };
    through_ingest(db).await;
}
