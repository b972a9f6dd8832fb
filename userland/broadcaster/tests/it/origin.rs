//! Origin checks on the WebSocket upgrade and CORS on REST.

use tokio_tungstenite::tungstenite::Error as WsError;

use crate::support::*;

#[tokio::test]
async fn upgrade_checks_origin_against_the_allowed_list() {
    let db = TestDb::sqlite().await;
    let server = Server::start(&db, |c| {
        c.allowed_origins = vec!["http://dash.example".into()]
    })
    .await;
    match server.connect(Some("http://evil.example")).await {
        Err(WsError::Http(res)) => {
            assert_eq!(res.status(), 403);
            let body: serde_json::Value =
                serde_json::from_slice(res.body().as_deref().unwrap()).unwrap();
            assert_eq!(body["error"]["code"], "forbidden_origin");
        }
        other => panic!("evil origin got {other:?}"),
    }
    let mut ok = server.connect(Some("http://dash.example")).await.unwrap();
    opening(&mut ok).await;
    // Non-browser clients send no Origin.
    let mut tool = server.connect(None).await.unwrap();
    opening(&mut tool).await;
    assert_eq!(
        server
            .metric("procpulse_broadcaster_rejected_clients_total")
            .await,
        1.0
    );
    server.stop().await;
}

#[tokio::test]
async fn cors_only_for_listed_origins() {
    let db = TestDb::sqlite().await;
    let server = Server::start(&db, |c| {
        c.allowed_origins = vec!["http://dash.example".into()]
    })
    .await;
    let client = reqwest::Client::new();
    let res = client
        .get(server.url("/api/v1/latest"))
        .header("origin", "http://dash.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "http://dash.example"
    );
    let res = client
        .get(server.url("/api/v1/latest"))
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
    let res = client
        .request(reqwest::Method::OPTIONS, server.url("/api/v1/history"))
        .header("origin", "http://dash.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(res.headers()["access-control-allow-methods"], "GET");
    server.stop().await;
}
