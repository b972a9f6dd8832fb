//! REST fallback, health, metrics, JSON error shapes and the dashboard's static files.

use std::time::Duration;

use serde_json::Value;

use crate::support::*;

async fn get(server: &Server, path: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let res = reqwest::get(server.url(path)).await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.text().await.unwrap())
}

fn error_code(body: &str) -> (String, Option<String>) {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    (
        v["error"]["code"].as_str().unwrap().to_owned(),
        v["error"]["field"].as_str().map(str::to_owned),
    )
}

#[tokio::test]
async fn latest_and_history_rest_fallback() {
    let db = TestDb::sqlite().await;
    db.insert(
        &[
            snapshot("vm-1", 1, Duration::from_secs(30), 0),
            snapshot("vm-1", 2, Duration::ZERO, 4),
        ],
        "a",
    )
    .await;
    db.insert(&[snapshot("vm-2", 3, Duration::from_secs(10), 0)], "b")
        .await;
    let server = Server::start(&db, |_| {}).await;

    let (status, headers, body) = get(&server, "/api/v1/latest").await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/json");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ids(&v), vec![2, 3], "latest row per host: {body}");
    assert_eq!(v["samples"][0]["top"].as_array().unwrap().len(), 4);

    // New rows show up in /latest after a poll.
    db.insert(&[snapshot("vm-2", 4, Duration::ZERO, 0)], "b")
        .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (_, _, body) = get(&server, "/api/v1/latest").await;
    assert_eq!(ids(&serde_json::from_str(&body).unwrap()), vec![2, 4]);

    let (status, _, body) = get(&server, "/api/v1/history?host=vm-1").await;
    assert_eq!(status, 200);
    assert_eq!(ids(&serde_json::from_str(&body).unwrap()), vec![1, 2]);
    let since = (time::OffsetDateTime::now_utc() - time::Duration::seconds(20))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let (_, _, body) = get(&server, &format!("/api/v1/history?host=vm-1&since={since}")).await;
    assert_eq!(ids(&serde_json::from_str(&body).unwrap()), vec![2]);
    let (_, _, body) = get(&server, "/api/v1/history").await;
    assert_eq!(ids(&serde_json::from_str(&body).unwrap()), vec![1, 2, 3, 4]);

    for (path, field) in [
        ("/api/v1/history?host=bad%20host", "host"),
        ("/api/v1/history?since=yesterday", "since"),
        ("/api/v1/history?since=2999-01-01T00:00:00Z", "since"),
    ] {
        let (status, _, body) = get(&server, path).await;
        assert_eq!(status, 422, "{path}: {body}");
        assert_eq!(
            error_code(&body),
            ("invalid_field".to_owned(), Some(field.to_owned()))
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_the_json_error_shape() {
    let db = TestDb::sqlite().await;
    let server = Server::start(&db, |_| {}).await;
    let client = reqwest::Client::new();
    let (status, _, body) = get(&server, "/nope").await;
    assert_eq!((status, error_code(&body).0.as_str()), (404, "not_found"));
    let res = client.post(server.url("/nope")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let res = client
        .post(server.url("/api/v1/latest"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_eq!(
        error_code(&res.text().await.unwrap()).0,
        "method_not_allowed"
    );
    let res = client.delete(server.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    // /ws without an upgrade.
    let (status, _, body) = get(&server, "/ws").await;
    assert_eq!(
        (status, error_code(&body).0.as_str()),
        (426, "upgrade_required")
    );
    server.stop().await;
}

#[tokio::test]
async fn health_ready_and_metrics() {
    let db = TestDb::sqlite().await;
    let server = Server::start(&db, |_| {}).await;
    let mut a = server.connect(None).await.unwrap();
    let mut b = server.connect(None).await.unwrap();
    opening(&mut a).await;
    opening(&mut b).await;
    let (status, _, body) = get(&server, "/healthz").await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (v["status"].as_str(), v["clients"].as_i64()),
        (Some("ok"), Some(2))
    );
    close(a).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (_, _, body) = get(&server, "/healthz").await;
        if serde_json::from_str::<Value>(&body).unwrap()["clients"] == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "client count stayed at {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, _, _) = get(&server, "/readyz").await;
    assert_eq!(status, 200);
    db.insert(&[snapshot("vm-1", 1, Duration::ZERO, 0)], "a")
        .await;
    collect_ids(&mut b, 1, Duration::from_secs(5)).await;
    let (_, headers, text) = get(&server, "/metrics").await;
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    for name in [
        "procpulse_broadcaster_clients 1",
        "procpulse_broadcaster_rows_delivered_total 1",
        "procpulse_broadcaster_poll_duration_seconds_count",
        "procpulse_broadcaster_commit_to_publish_seconds_count 1",
        "procpulse_broadcaster_lagged_total 0",
        "procpulse_broadcaster_dropped_clients_total 0",
        "procpulse_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"}",
    ] {
        assert!(text.contains(name), "missing {name} in\n{text}");
    }
    let frames = server
        .metric("procpulse_broadcaster_frames_sent_total")
        .await;
    assert!(frames >= 7.0, "frames_sent {frames}");
    server.stop().await;
}

#[tokio::test]
async fn readyz_is_503_when_the_database_does_not_answer() {
    // Nothing listens on port 9 of loopback.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = procpulse_service::Shutdown::new();
    let config = procpulse_broadcaster::Config {
        database_url: "mysql://nobody:nothing@127.0.0.1:9/procpulse".into(),
        ..Default::default()
    };
    let s = shutdown.clone();
    let task = tokio::spawn(async move {
        procpulse_broadcaster::run(listener, config, s)
            .await
            .unwrap()
    });
    let res = reqwest::get(format!("http://{addr}/readyz")).await.unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["code"], "unavailable");
    let res = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "alive even when the database is not");
    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn serves_the_dashboard_with_types_and_caching() {
    let db = TestDb::sqlite().await;
    let server = Server::start(&db, |_| {}).await;
    let (status, headers, body) = get(&server, "/").await;
    assert_eq!(status, 200);
    assert!(body.contains("<title>procpulse</title>"));
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(headers["cache-control"], "no-cache");
    let (_, headers, _) = get(&server, "/index.html").await;
    assert_eq!(headers["cache-control"], "no-cache");
    let (status, headers, _) = get(&server, "/assets/index-BX3k2a9f.js").await;
    assert_eq!(status, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    assert_eq!(headers["cache-control"], "no-cache");
    let (status, _, _) = get(&server, "/assets/../../etc/passwd").await;
    assert_eq!(status, 404);
    server.stop().await;
}
