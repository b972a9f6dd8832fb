//! Happy paths on every backend × write mode: counts, idempotency, stats, averages,
//! concurrency, auth, probes, metrics.

use crate::common::{self, Server, body, snapshot};
use procpulse_ingest::WriteMode;
use serde_json::json;

#[tokio::test]
async fn post_replay_and_arrays_count_accepted_and_duplicates() {
    for (kind, mode) in common::matrix() {
        let s = Server::start(kind, mode).await;
        let route = if mode == WriteMode::Direct { "a" } else { "b" };
        let mut c = s.conn().await;
        let ctx = format!("{kind:?}/{mode:?}");

        let a = c
            .post_json("/api/v1/metrics", body(&snapshot("s-1", "h1")))
            .await
            .unwrap();
        assert_eq!(a.status, 200, "{ctx}: {:?}", a.body);
        assert_eq!(
            a.json(),
            json!({"accepted": 1, "duplicates": 0, "route": route}),
            "{ctx}"
        );

        // The same sample again (a retry) is a duplicate, not an error.
        let a = c
            .post_json("/api/v1/metrics", body(&snapshot("s-1", "h1")))
            .await
            .unwrap();
        assert_eq!(
            a.json(),
            json!({"accepted": 0, "duplicates": 1, "route": route}),
            "{ctx}"
        );

        // An array with a stored id, two new ones and an in-request repeat.
        let arr = json!([
            snapshot("s-1", "h1"),
            snapshot("s-2", "h1"),
            snapshot("s-3", "h2"),
            snapshot("s-3", "h2")
        ]);
        let a = c.post_json("/api/v1/metrics", body(&arr)).await.unwrap();
        assert_eq!(
            a.json(),
            json!({"accepted": 2, "duplicates": 2, "route": route}),
            "{ctx}"
        );
        assert_eq!(common::count(s.db()).await, 3, "{ctx}");

        let st = c.get("/api/v1/stats").await.unwrap().json();
        assert_eq!(st["total_rows"], 3, "{ctx}: {st}");
        assert_eq!(st["routes"], json!([{"route": route, "rows": 3}]), "{ctx}");
        assert_eq!(st["hosts"][0]["host"], "h1");
        assert_eq!(st["hosts"][0]["rows"], 2);
        assert!(st["hosts"][1]["first_collected_at"].is_string());

        let av = c.get("/api/v1/averages?window=5m&host=h2").await.unwrap();
        assert_eq!(av.status, 200, "{ctx}");
        let av = av.json();
        assert_eq!(av["window_seconds"], 300);
        assert_eq!(
            av["hosts"],
            json!([{"host": "h2", "samples": 1, "cpu_usage_percent": 23.45, "load1": 0.5, "ram_used_percent": 50.0}]),
            "{ctx}"
        );
        let all = c.get("/api/v1/averages").await.unwrap().json();
        assert_eq!(all["hosts"].as_array().unwrap().len(), 2, "{ctx}: {all}");

        // Metrics reflect what happened.
        let m = c.get("/metrics").await.unwrap();
        let text = String::from_utf8_lossy(&m.body);
        assert!(
            text.contains("procpulse_ingest_rows_committed_total 3"),
            "{ctx}: {text}"
        );
        assert!(
            text.contains("procpulse_ingest_duplicates_total 3"),
            "{ctx}"
        );
        assert!(text.contains(r#"procpulse_http_requests_total{route="/api/v1/metrics",method="POST",status="200"} 3"#), "{ctx}");
        assert!(
            text.contains("procpulse_ingest_pool_wait_seconds_bucket"),
            "{ctx}"
        );
        assert!(
            text.contains("procpulse_ingest_commit_rows_bucket"),
            "{ctx}"
        );
        s.stop().await;
    }
}

#[tokio::test]
async fn concurrent_clients_with_overlapping_ids_store_each_id_once() {
    for (kind, mode) in common::matrix() {
        let s = Server::start(kind, mode).await;
        let ctx = format!("{kind:?}/{mode:?}");
        // 20 clients × 30 posts over 300 distinct ids: every id is posted twice.
        let mut tasks = Vec::new();
        for client in 0..20u32 {
            let mut c = s.conn().await;
            tasks.push(tokio::spawn(async move {
                let (mut acc, mut dup) = (0u64, 0u64);
                for i in 0..30u32 {
                    let id = format!("c-{}", (client * 30 + i) % 300);
                    let a = c
                        .post_json("/api/v1/metrics", body(&snapshot(&id, "h")))
                        .await
                        .unwrap();
                    assert_eq!(a.status, 200);
                    let v = a.json();
                    acc += v["accepted"].as_u64().unwrap();
                    dup += v["duplicates"].as_u64().unwrap();
                }
                (acc, dup)
            }));
        }
        let (mut acc, mut dup) = (0, 0);
        for t in tasks {
            let (a, d) = t.await.unwrap();
            acc += a;
            dup += d;
        }
        assert_eq!((acc, dup), (300, 300), "{ctx}");
        assert_eq!(common::count(s.db()).await, 300, "{ctx}");
        s.stop().await;
    }
}

#[tokio::test]
async fn the_token_guards_the_api_but_not_the_probes() {
    for (kind, mode) in common::matrix() {
        let s = Server::start_with(kind, mode, |c| c.token = Some("s3cret-token".into())).await;
        let mut c = s.conn().await;
        let ctx = format!("{kind:?}/{mode:?}");
        let snap = body(&snapshot("t-1", "h"));
        let a = c.post_json("/api/v1/metrics", snap.clone()).await.unwrap();
        assert_eq!(a.status, 401, "{ctx}");
        assert_eq!(a.json()["error"]["code"], "unauthorized");
        let wrong = [
            ("content-type", "application/json"),
            ("authorization", "Bearer nope"),
        ];
        let a = c
            .send(hyper::Method::POST, "/api/v1/metrics", &wrong, snap.clone())
            .await
            .unwrap();
        assert_eq!(a.status, 401, "{ctx}");
        assert_eq!(c.get("/api/v1/stats").await.unwrap().status, 401);
        assert_eq!(common::count(s.db()).await, 0);
        let right = [
            ("content-type", "application/json"),
            ("authorization", "Bearer s3cret-token"),
        ];
        let a = c
            .send(hyper::Method::POST, "/api/v1/metrics", &right, snap)
            .await
            .unwrap();
        assert_eq!(a.status, 200, "{ctx}");
        assert_eq!(c.get("/healthz").await.unwrap().status, 200);
        assert_eq!(c.get("/readyz").await.unwrap().status, 200);
        s.stop().await;
    }
}

#[tokio::test]
async fn readyz_is_503_while_the_database_is_unreachable() {
    // A MySQL URL with nothing listening: the service starts, answers 503 with
    // Retry-After on writes and readiness, and stays alive.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = dead.local_addr().unwrap().port();
    drop(dead);
    let addr = listener.local_addr().unwrap();
    let shutdown = procpulse_service::Shutdown::new();
    let url = format!("mysql://u:p@127.0.0.1:{dead_port}/x")
        .parse()
        .unwrap();
    let mut config = procpulse_ingest::Config::new("a", WriteMode::Direct);
    config.pool.timeout = std::time::Duration::from_millis(300);
    let task = tokio::spawn(procpulse_ingest::run(
        listener,
        url,
        config,
        shutdown.clone(),
    ));
    let mut c = procpulse_ingest::client::Conn::connect(addr).await.unwrap();
    let a = c.get("/readyz").await.unwrap();
    assert_eq!(a.status, 503);
    assert_eq!(a.json()["error"]["code"], "unavailable");
    assert!(a.headers.contains_key("retry-after"));
    let a = c
        .post_json("/api/v1/metrics", body(&snapshot("x", "h")))
        .await
        .unwrap();
    assert_eq!(a.status, 503);
    assert_eq!(a.headers["retry-after"], "1");
    assert_eq!(c.get("/healthz").await.unwrap().status, 200);
    shutdown.trigger();
    task.await.unwrap().unwrap();
}

/// `received_at` is stamped just before the INSERT, not when the request arrived (review
/// item 2): the maintainer folds rows whose `received_at` is a settle delay behind the
/// database's clock, so a row that waited in the group-commit queue must not carry the
/// time it arrived. Another process holds SQLite's write lock for 1.5 s: request A waits
/// for it inside its commit, request B (posted 0.5 s in) waits in the queue behind A and
/// is stamped only once A has committed.
#[tokio::test]
async fn received_at_is_stamped_when_the_row_is_written() {
    use diesel::Connection;
    use diesel::connection::SimpleConnection;
    let s = Server::start(common::Kind::Sqlite, WriteMode::Batched).await;
    let path = s.tdb.url.target().to_owned();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let mut c = diesel::SqliteConnection::establish(&path).unwrap();
        c.batch_execute("BEGIN IMMEDIATE").unwrap();
        locked_tx.send(()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1500));
        c.batch_execute("COMMIT").unwrap();
    });
    locked_rx.recv().unwrap();
    let post = |id: &'static str| {
        let addr = s.addr;
        tokio::spawn(async move {
            let mut c = procpulse_ingest::client::Conn::connect(addr).await.unwrap();
            let sent = time::OffsetDateTime::now_utc();
            let a = c
                .post_json("/api/v1/metrics", body(&snapshot(id, "stamp")))
                .await
                .unwrap();
            assert_eq!(a.status, 200, "{id}: {:?}", a.body);
            sent
        })
    };
    let a = post("stamp-a");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let b_sent = post("stamp-b").await.unwrap();
    a.await.unwrap();
    holder.join().unwrap();
    let received: Vec<(String, time::PrimitiveDateTime)> = {
        use diesel::prelude::*;
        use diesel_async::RunQueryDsl;
        use procpulse_storage::schema::samples::dsl;
        procpulse_storage::with_conn!(s.db().read_pool(), c => {
            Ok::<_, procpulse_storage::StorageError>(dsl::samples
                .filter(dsl::host.eq("stamp"))
                .select((dsl::sample_id, dsl::received_at))
                .order(dsl::sample_id)
                .load(c)
                .await?)
        })
        .unwrap()
    };
    assert_eq!(received.len(), 2, "{received:?}");
    let waited = received[1].1.assume_utc() - b_sent;
    assert!(
        waited >= time::Duration::milliseconds(700),
        "B was stamped {waited} after it was sent (the lock was held 1 s longer)"
    );
    s.stop().await;
}
