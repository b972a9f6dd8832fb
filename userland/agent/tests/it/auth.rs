//! The web config's authentication: bearer tokens (SHA-256 digests in the file) and basic
//! users (bcrypt), 401 JSON + WWW-Authenticate, open /healthz and /readyz, no credential
//! in the log; push mode's refusal to send a token over plain http.

use crate::support::*;
use base64::Engine;
use procpulse_agent::auth::WebConfig;
use procpulse_agent::{PushConfig, SourceMode};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TOKEN: &str = "correct-horse-battery-staple-0123456789";

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn web_config(basic_password: &str) -> WebConfig {
    let hash = bcrypt::hash(basic_password, 4).unwrap();
    WebConfig::parse(&format!(
        "bearer_token_sha256 = [\"{}\"]\n[basic_auth_users]\nprometheus = \"{hash}\"\n",
        sha256_hex(TOKEN)
    ))
    .unwrap()
}

async fn get(url: &str, auth: Option<&str>) -> (u16, Option<String>, serde_json::Value) {
    let mut req = client().get(url);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let challenge = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = res.bytes().await.unwrap();
    let v = if status == 200 && url.ends_with("/metrics") {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("{url}: not JSON ({e}): {}", String::from_utf8_lossy(&body)))
    };
    (status, challenge, v)
}

fn basic(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

/// Collects every log line of the test (all levels) to check no credential is written.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn bearer_and_basic_are_required_except_on_health_and_never_logged() {
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut c = config(&fixture("kmod"), SourceMode::Kmod);
    c.web = web_config("pa55word");
    let a = start(c).await;

    for path in [
        "/api/v1/snapshot",
        "/api/v1/processes?top=3",
        "/metrics",
        "/nope",
    ] {
        // No credentials: 401, JSON shape, a challenge naming both schemes.
        let (status, challenge, v) = get(&a.url(path), None).await;
        assert_eq!(status, 401, "{path}: {v}");
        assert_eq!(v["error"]["code"], "unauthorized", "{path}");
        let challenge = challenge.expect("WWW-Authenticate");
        assert!(
            challenge.contains("Bearer") && challenge.contains("Basic"),
            "{challenge}"
        );
        // Wrong credentials of either scheme, and an unknown scheme: 401.
        for bad in [
            "Bearer wrong".to_owned(),
            format!("Bearer {TOKEN}x"),
            basic("prometheus", "wrong"),
            basic("nobody", "pa55word"),
            format!("Token {TOKEN}"),
            "Basic %%%".to_owned(),
        ] {
            let (status, _, v) = get(&a.url(path), Some(&bad)).await;
            assert_eq!(status, 401, "{path} with {bad}: {v}");
            assert_eq!(v["error"]["code"], "unauthorized");
        }
    }
    // Right credentials: the route answers (an unknown path is then a 404).
    for auth in [format!("Bearer {TOKEN}"), basic("prometheus", "pa55word")] {
        for (path, want) in [
            ("/api/v1/snapshot", 200),
            ("/api/v1/processes?top=3", 200),
            ("/metrics", 200),
            ("/nope", 404),
        ] {
            let (status, _, v) = get(&a.url(path), Some(&auth)).await;
            assert_eq!(status, want, "{path}: {v}");
        }
    }
    // Probes stay open.
    for path in ["/healthz", "/readyz"] {
        let (status, _, _) = get(&a.url(path), None).await;
        assert_eq!(status, 200, "{path}");
    }
    a.stop().await;

    let log = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(!log.is_empty(), "nothing captured");
    for secret in [
        TOKEN,
        "pa55word",
        &basic("prometheus", "pa55word")["Basic ".len()..],
    ] {
        assert!(!log.contains(secret), "a credential was logged:\n{log}");
    }
}

#[tokio::test]
async fn no_web_config_means_no_authentication() {
    let a = start(config(&fixture("kmod"), SourceMode::Kmod)).await;
    let (status, _, _) = get(&a.url("/api/v1/snapshot"), None).await;
    assert_eq!(status, 200);
    a.stop().await;
}

#[test]
fn web_config_files_are_validated() {
    let dir = std::env::temp_dir().join(format!("procpulse-webcfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("web.toml");
    std::fs::write(
        &f,
        "[tls_server_config]\ncert_file = \"c.pem\"\nkey_file = \"/k.pem\"\n",
    )
    .unwrap();
    let c = WebConfig::load(&f).unwrap();
    let tls = c.tls_server_config.unwrap();
    assert_eq!(tls.cert_file, dir.join("c.pem"), "relative to the file");
    assert_eq!(tls.key_file, std::path::Path::new("/k.pem"));
    std::fs::write(&f, "basic_auth_users = { x = \"plaintext\" }\n").unwrap();
    assert!(
        WebConfig::load(&f)
            .unwrap_err()
            .to_string()
            .contains("bcrypt")
    );
    std::fs::write(&f, "bearer_tokens = [\"t\"]\n").unwrap();
    assert!(WebConfig::load(&f).is_err(), "unknown keys are refused");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn push_refuses_a_token_over_plain_http_unless_told() {
    let mut p = PushConfig::new("http://127.0.0.1:9/api/v1/metrics", Duration::from_secs(5));
    p.token = Some(TOKEN.into());
    let err = p.validate().unwrap_err();
    assert!(err.contains("--push-insecure"), "{err}");
    assert!(!err.contains(TOKEN), "the error must not show the token");
    // The library entry point refuses to start, too.
    let mut c = config(&fixture("kmod"), SourceMode::Kmod);
    c.push = Some(p.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let shutdown = procpulse_service::Shutdown::new();
    let r = procpulse_agent::spawn(c, listener, shutdown.clone()).await;
    assert!(r.is_err(), "spawned despite a token over http");
    shutdown.trigger();
    // Told: accepted. https, or no token: accepted. No scheme: refused.
    p.allow_insecure = true;
    assert!(p.validate().is_ok());
    let mut s = PushConfig::new(
        "https://ingest.example/api/v1/metrics",
        Duration::from_secs(5),
    );
    s.token = Some(TOKEN.into());
    assert!(s.validate().is_ok());
    assert!(
        PushConfig::new("http://x/api/v1/metrics", Duration::from_secs(5))
            .validate()
            .is_ok()
    );
    assert!(
        PushConfig::new("ingest:8080", Duration::from_secs(5))
            .validate()
            .is_err()
    );
}

#[test]
fn the_binary_refuses_a_token_over_plain_http_at_start() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_procpulse-agent"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--push-url",
            "http://127.0.0.1:9/api/v1/metrics",
            "--ingest-token",
            TOKEN,
        ])
        .env_remove("PROCPULSE_PUSH_INSECURE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--push-insecure"), "{stderr}");
    assert!(!stderr.contains(TOKEN), "token printed: {stderr}");
}
