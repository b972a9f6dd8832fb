//! Hostile requests (issue 14, classes 6 and 7), sent as RAW request lines over a TCP
//! socket so that no client normalises the path: traversal in every encoding, dotfiles,
//! links out of the web directory, unknown routes, bad history queries. Each gets its
//! status and the JSON error shape, never a byte of a file outside `--web-dir` (or, with
//! the embedded dashboard, of any file at all), and every answer carries the security
//! headers.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

/// The content of a file next to (outside) the web directory.
const SECRET: &str = "procpulse-secret-7f3c9a";

/// One raw HTTP/1.1 exchange: `(status, lower-cased head, body)`.
async fn raw(server: &Server, method: &str, target: &str) -> (u16, String, String) {
    let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let req = format!("{method} {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf))
        .await
        .unwrap_or_else(|_| panic!("{method} {target}: no answer within 5 s"))
        .unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{method} {target}: no status in {head:?}"));
    (status, head.to_ascii_lowercase(), body.to_owned())
}

fn error_shape(body: &str) -> (String, Option<String>) {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    assert!(v["error"]["message"].is_string(), "{body}");
    (
        v["error"]["code"].as_str().unwrap().to_owned(),
        v["error"]["field"].as_str().map(str::to_owned),
    )
}

/// A server whose web directory has dotfiles, a dot-directory and a link to a secret that
/// lies next to it.
async fn hostile_server(db: &TestDb) -> (Server, tempfile::TempDir) {
    let outer = tempfile::tempdir().unwrap();
    let web = outer.path().join("web");
    std::fs::create_dir_all(web.join("assets")).unwrap();
    std::fs::create_dir_all(web.join(".git")).unwrap();
    std::fs::write(outer.path().join("secret.txt"), SECRET).unwrap();
    std::fs::write(outer.path().join("passwd"), SECRET).unwrap();
    std::fs::write(
        web.join("index.html"),
        "<!doctype html><title>procpulse</title>",
    )
    .unwrap();
    std::fs::write(web.join("assets/app.js"), "console.log(1)").unwrap();
    std::fs::write(web.join(".env"), SECRET).unwrap();
    std::fs::write(web.join(".git/config"), SECRET).unwrap();
    std::fs::write(web.join("assets/.hidden"), SECRET).unwrap();
    std::os::unix::fs::symlink(outer.path().join("secret.txt"), web.join("link.txt")).unwrap();
    std::os::unix::fs::symlink(outer.path(), web.join("up")).unwrap();
    let web2 = web.clone();
    let server = Server::start(db, move |c| c.web_dir = Some(web2)).await;
    (server, outer)
}

/// Traversal in every encoding, dotfiles and links out: each GET and HEAD is 400 or 404
/// with no byte of the secret or of /etc/passwd, GET 404s in the JSON error shape.
const ATTACKS: &[&str] = &[
    "/../x",
    "/../secret.txt",
    "/..%2fsecret.txt",
    "/..%2f..%2fetc/passwd",
    "/%2e%2e/secret.txt",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/%2E%2E%2Fsecret.txt",
    "//etc/passwd",
    "///etc/passwd",
    "/assets/..%5c..%5csecret.txt",
    "/assets/..%5c..%5cetc%5cpasswd",
    "/assets/..\\..\\secret.txt",
    "/assets\\..\\..\\secret.txt",
    "/.env",
    "/%2eenv",
    "/.git/config",
    "/%2egit/config",
    "/assets/.hidden",
    "/assets/%2ehidden",
    "/./.env",
    "/assets/../.env",
    "/index.html%00",
    "/secret.txt%00.html",
    "/%00/../secret.txt",
    "/%c0%ae%c0%ae/secret.txt",
    "/%c0%ae%c0%ae%c0%af%c0%ae%c0%ae%c0%afetc/passwd",
    "/%e0%80%ae%e0%80%ae/secret.txt",
    "/%252e%252e/secret.txt",
    "/link.txt",
    "/up/secret.txt",
    "/up/passwd",
    "/up/",
    "/lib/../../secret.txt",
    "/vendor/uplot/%2e%2e/%2e%2e/%2e%2e/secret.txt",
    "/views/..%2f..%2f..%2fCargo.toml",
];

async fn assert_attacks_refused(server: &Server) {
    for target in ATTACKS {
        for method in ["GET", "HEAD"] {
            let (status, head, body) = raw(server, method, target).await;
            assert!(
                status == 400 || status == 404,
                "{method} {target}: {status}\n{head}\n{body}"
            );
            assert!(
                !body.contains(SECRET),
                "{method} {target} leaked the secret"
            );
            assert!(
                !body.contains("root:"),
                "{method} {target} leaked /etc/passwd"
            );
            assert!(
                !body.contains("[package]"),
                "{method} {target} leaked a source file"
            );
            if method == "GET" && status == 404 {
                assert_eq!(error_shape(&body).0, "not_found", "{target}");
                assert!(head.contains("x-content-type-options: nosniff"), "{target}");
            }
        }
    }
}

#[tokio::test]
async fn raw_traversal_and_dotfiles_never_leave_the_web_dir() {
    let db = TestDb::sqlite().await;
    let (server, _outer) = hostile_server(&db).await;
    // Sanity: the real files are served, with their headers.
    let (status, head, body) = raw(&server, "GET", "/").await;
    assert_eq!(status, 200, "{head}");
    assert!(body.contains("<title>procpulse</title>"));
    assert!(head.contains("content-security-policy: default-src 'none'; script-src 'self'"));
    let (status, _, _) = raw(&server, "GET", "/assets/app.js").await;
    assert_eq!(status, 200);
    assert_attacks_refused(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn raw_traversal_and_dotfiles_never_leave_the_embedded_dashboard() {
    let db = TestDb::sqlite().await;
    let server = Server::start(&db, |c| c.web_dir = None).await;
    let (status, head, body) = raw(&server, "GET", "/").await;
    assert_eq!(status, 200, "{head}");
    assert!(body.contains("<title>procpulse</title>"));
    assert!(head.contains("content-security-policy: default-src 'none'; script-src 'self'"));
    let (status, _, _) = raw(&server, "HEAD", "/lib/format.js").await;
    assert_eq!(status, 200);
    assert_attacks_refused(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let db = TestDb::sqlite().await;
    let server = Server::start(&db, |_| {}).await;
    for (target, status) in [
        ("/", 200),
        ("/index.html", 200),
        ("/assets/index-BX3k2a9f.js", 200),
        ("/api/v1/latest", 200),
        ("/api/v1/history", 200),
        ("/api/v1/fleet", 200),
        ("/healthz", 200),
        ("/metrics", 200),
        ("/nope", 404),
        ("/api/v1/nope", 404),
        ("/ws", 426),
    ] {
        let (got, head, _) = raw(&server, "GET", target).await;
        assert_eq!(got, status, "{target}\n{head}");
        for h in [
            "x-content-type-options: nosniff",
            "referrer-policy: no-referrer",
            "x-frame-options: deny",
            "content-security-policy: ",
        ] {
            assert!(head.contains(h), "{target}: no {h} in\n{head}");
        }
        let html = head.contains("content-type: text/html");
        assert_eq!(
            head.contains("script-src 'self'"),
            html,
            "{target}: the dashboard policy belongs on HTML only\n{head}"
        );
        if !html {
            assert!(
                head.contains(
                    "content-security-policy: default-src 'none'; frame-ancestors 'none'"
                )
            );
        }
    }
    server.stop().await;
}

/// The broadcaster's bad-input corpus: `(method, raw target, status, code, field)`.
const CORPUS: &[(&str, &str, u16, &str, Option<&str>)] = &[
    // Unknown routes: 404 whatever the method (no 405 from a method filter behind a prefix).
    ("GET", "/api/v1/nope", 404, "not_found", None),
    ("POST", "/api/v1/nope", 404, "not_found", None),
    ("PUT", "/api/v1/nope", 404, "not_found", None),
    ("DELETE", "/api/v1/nope", 404, "not_found", None),
    ("OPTIONS", "/api/v1/nope", 404, "not_found", None),
    ("GET", "/api", 404, "not_found", None),
    ("GET", "/api/", 404, "not_found", None),
    ("GET", "/api/v1", 404, "not_found", None),
    ("GET", "/api/v2/latest", 404, "not_found", None),
    ("GET", "/api/v1/latest/x", 404, "not_found", None),
    ("GET", "/api/v1/history/x", 404, "not_found", None),
    ("GET", "/api/v1/metrics", 404, "not_found", None),
    ("GET", "/healthz/x", 404, "not_found", None),
    ("GET", "/ws/x", 404, "not_found", None),
    ("POST", "/nope", 404, "not_found", None),
    // A known path with the wrong method: 405, as on ingest.
    ("POST", "/api/v1/latest", 405, "method_not_allowed", None),
    ("PUT", "/api/v1/history", 405, "method_not_allowed", None),
    ("POST", "/api/v1/fleet", 405, "method_not_allowed", None),
    ("GET", "/api/v1/fleet/x", 404, "not_found", None),
    ("DELETE", "/healthz", 405, "method_not_allowed", None),
    ("POST", "/readyz", 405, "method_not_allowed", None),
    ("POST", "/ws", 405, "method_not_allowed", None),
    // /ws without an upgrade.
    ("GET", "/ws", 426, "upgrade_required", None),
    // History queries: 422 naming the field.
    (
        "GET",
        "/api/v1/history?host=bad%20host",
        422,
        "invalid_field",
        Some("host"),
    ),
    (
        "GET",
        "/api/v1/history?host=%C3%A9",
        422,
        "invalid_field",
        Some("host"),
    ),
    (
        "GET",
        "/api/v1/history?host=a%00b",
        422,
        "invalid_field",
        Some("host"),
    ),
    (
        "GET",
        "/api/v1/history?host=../x",
        422,
        "invalid_field",
        Some("host"),
    ),
    (
        "GET",
        "/api/v1/history?host=a&host=b",
        422,
        "invalid_field",
        Some("host"),
    ),
    (
        "GET",
        "/api/v1/history?since=yesterday",
        422,
        "invalid_field",
        Some("since"),
    ),
    (
        "GET",
        "/api/v1/history?since=2999-01-01T00:00:00Z",
        422,
        "invalid_field",
        Some("since"),
    ),
    (
        "GET",
        "/api/v1/history?since=1000-01-01T00:00:00Z",
        422,
        "invalid_field",
        Some("since"),
    ),
    (
        "GET",
        "/api/v1/history?since=0000-01-01T00:30:00%2B01:00",
        422,
        "invalid_field",
        Some("since"),
    ),
    (
        "GET",
        "/api/v1/history?since=2026-01-01x00:00:00Z",
        422,
        "invalid_field",
        Some("since"),
    ),
    (
        "GET",
        "/api/v1/history?since=2026-01-01%2000:00:00Z",
        422,
        "invalid_field",
        Some("since"),
    ),
    (
        "GET",
        "/api/v1/history?since=%C3%A9",
        422,
        "invalid_field",
        Some("since"),
    ),
    (
        "GET",
        "/api/v1/history?since=2026-13-01T00:00:00Z",
        422,
        "invalid_field",
        Some("since"),
    ),
    (
        "GET",
        "/api/v1/history?since=-1",
        422,
        "invalid_field",
        Some("since"),
    ),
    (
        "GET",
        "/api/v1/history?from_host=a%2Fb",
        422,
        "invalid_field",
        Some("from_host"),
    ),
    (
        "GET",
        "/api/v1/history?host=a&from_host=b",
        422,
        "invalid_field",
        Some("from_host"),
    ),
    (
        "GET",
        "/api/v1/history?window=%C3%A9",
        422,
        "invalid_field",
        Some("window"),
    ),
    (
        "GET",
        "/api/v1/history?%C3%A9=1",
        422,
        "invalid_field",
        Some("é"),
    ),
    (
        "GET",
        "/api/v1/history?limit=999999999",
        422,
        "invalid_field",
        Some("limit"),
    ),
    (
        "GET",
        "/api/v1/history?from=-1h&to=-2h",
        422,
        "invalid_field",
        Some("from"),
    ),
    (
        "GET",
        "/api/v1/history?from=-15x",
        422,
        "invalid_field",
        Some("from"),
    ),
    (
        "GET",
        "/api/v1/history?to=soon",
        422,
        "invalid_field",
        Some("to"),
    ),
    (
        "GET",
        "/api/v1/history?from=-1h&since=-2h",
        422,
        "invalid_field",
        Some("since"),
    ),
    (
        "GET",
        "/api/v1/history?from=-801d",
        422,
        "invalid_field",
        Some("from"),
    ),
    (
        "GET",
        "/api/v1/history?from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z",
        422,
        "invalid_field",
        Some("from"),
    ),
    // Static paths that must not be served.
    ("GET", "/.env", 404, "not_found", None),
    ("POST", "/.env", 404, "not_found", None),
    ("GET", "/.git/config", 404, "not_found", None),
    ("GET", "/%2e%2e/%2e%2e/etc/passwd", 404, "not_found", None),
    ("GET", "//etc/passwd", 404, "not_found", None),
    ("GET", "/index.html%00", 404, "not_found", None),
    ("GET", "/%c0%ae%c0%ae/etc/passwd", 404, "not_found", None),
];

#[tokio::test]
async fn bad_requests_get_their_error_and_change_nothing() {
    let db = TestDb::sqlite().await;
    db.insert(&[snapshot("vm-1", 1, Duration::ZERO, 2)], "a")
        .await;
    let server = Server::start(&db, |_| {}).await;
    let (_, _, before) = raw(&server, "GET", "/api/v1/latest").await;
    let feed = procpulse_broadcaster::feed::Feed::new(db.db.clone());
    let rows_before = feed.max_id().await.unwrap();
    for &(method, target, status, code, field) in CORPUS {
        let (got, head, body) = raw(&server, method, target).await;
        assert_eq!(got, status, "{method} {target}\n{head}\n{body}");
        assert_eq!(
            error_shape(&body),
            (code.to_owned(), field.map(str::to_owned)),
            "{method} {target}"
        );
        assert!(
            head.contains("content-type: application/json"),
            "{method} {target}"
        );
    }
    assert!(CORPUS.len() >= 40);
    let (_, _, after) = raw(&server, "GET", "/api/v1/latest").await;
    assert_eq!(before, after);
    assert_eq!(feed.max_id().await.unwrap(), rows_before);
    server.stop().await;
}

#[tokio::test]
async fn history_pages_by_host_and_refuses_since_older_than_kept() {
    let db = TestDb::sqlite().await;
    let n = procpulse_broadcaster::history_api::MAX_PAGE_HOSTS + 1;
    let rows: Vec<_> = (0..n)
        .map(|i| snapshot(&format!("h{i:03}"), i as u64 + 1, Duration::ZERO, 0))
        .collect();
    db.insert(&rows, "a").await;
    let server = Server::start(&db, |_| {}).await;
    let (status, _, body) = raw(&server, "GET", "/api/v1/history").await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["samples"].as_array().unwrap().len(), n - 1);
    assert_eq!(v["truncated"], true);
    let next = v["next_host"].as_str().unwrap().to_owned();
    assert_eq!(next, format!("h{:03}", n - 1));
    let (status, _, body) = raw(&server, "GET", &format!("/api/v1/history?from_host={next}")).await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["samples"].as_array().unwrap().len(), 1);
    assert_eq!(v["samples"][0]["host"], next.as_str());
    assert_eq!(v["truncated"], false);
    assert!(v.get("next_host").is_none());
    // `since` may reach back as far as a tier keeps (the migration's defaults: the hour
    // rollups, 730 days); older is a 422 naming it, not a clamped answer.
    let fmt = |d: time::Duration| {
        (time::OffsetDateTime::now_utc() - d)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let (status, _, body) = raw(
        &server,
        "GET",
        &format!(
            "/api/v1/history?host=h000&since={}",
            fmt(time::Duration::days(729))
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["tier"], "1h");
    let (status, _, body) = raw(
        &server,
        "GET",
        &format!(
            "/api/v1/history?host=h000&since={}",
            fmt(time::Duration::days(731))
        ),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(error_shape(&body).1.as_deref(), Some("since"));
    server.stop().await;
}
