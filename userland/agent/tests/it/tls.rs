//! The agent's TLS (`procpulse_agent::tls`, `tls_server_config` of the web config): a
//! real handshake on loopback with a self-signed certificate generated here (rcgen) and
//! a client that trusts only it — the acceptor alone, then the whole agent over HTTPS
//! with authentication — and refusals of bad files.

use crate::support::*;
use procpulse_agent::SourceMode;
use procpulse_agent::auth::{TlsFiles, WebConfig};
use rustls::pki_types::{CertificateDer, ServerName};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Dir(PathBuf);
impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn self_signed(dir: &Dir) -> (TlsFiles, CertificateDer<'static>) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let files = TlsFiles {
        cert_file: dir.0.join("agent.crt"),
        key_file: dir.0.join("agent.key"),
    };
    std::fs::write(&files.cert_file, ck.cert.pem()).unwrap();
    std::fs::write(&files.key_file, ck.signing_key.serialize_pem()).unwrap();
    (files, ck.cert.der().clone())
}

fn tempdir(tag: &str) -> Dir {
    let d = std::env::temp_dir().join(format!("procpulse-tls-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    Dir(d)
}

#[tokio::test]
async fn handshake_with_a_self_signed_certificate() {
    let dir = tempdir("ok");
    let (files, der) = self_signed(&dir);
    let acceptor = procpulse_agent::tls::acceptor(&files).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = procpulse_agent::tls::handshake(&acceptor, tcp)
            .await
            .unwrap();
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await.unwrap();
        tls.write_all(b"pong").await.unwrap();
        tls.shutdown().await.unwrap();
        buf
    });
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    tls.write_all(b"ping").await.unwrap();
    let mut answer = Vec::new();
    tls.read_to_end(&mut answer).await.unwrap();
    assert_eq!(answer, b"pong");
    assert_eq!(&server.await.unwrap(), b"ping");
}

#[tokio::test]
async fn a_plain_http_client_gets_no_answer_and_the_handshake_fails() {
    let dir = tempdir("plain");
    let (files, _) = self_signed(&dir);
    let acceptor = procpulse_agent::tls::acceptor(&files).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        procpulse_agent::tls::handshake(&acceptor, tcp)
            .await
            .is_err()
    });
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /api/v1/snapshot HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        tcp.read_to_end(&mut answer),
    )
    .await
    .expect("closed");
    assert!(!answer.starts_with(b"HTTP/"), "answered in clear");
    assert!(server.await.unwrap(), "handshake succeeded");
}

#[test]
fn bad_files_are_refused_with_their_name() {
    let dir = tempdir("bad");
    let (files, _) = self_signed(&dir);
    let missing = TlsFiles {
        cert_file: dir.0.join("nope.crt"),
        key_file: files.key_file.clone(),
    };
    let Err(e) = procpulse_agent::tls::acceptor(&missing) else {
        panic!("accepted a missing file")
    };
    assert!(format!("{e:#}").contains("nope.crt"), "{e:#}");
    // A key that does not belong to the certificate.
    let other = rcgen::KeyPair::generate().unwrap();
    std::fs::write(dir.0.join("other.key"), other.serialize_pem()).unwrap();
    let mismatched = TlsFiles {
        cert_file: files.cert_file.clone(),
        key_file: dir.0.join("other.key"),
    };
    assert!(procpulse_agent::tls::acceptor(&mismatched).is_err());
    // A certificate file without a certificate.
    std::fs::write(dir.0.join("empty.crt"), "").unwrap();
    let empty = TlsFiles {
        cert_file: dir.0.join("empty.crt"),
        key_file: files.key_file,
    };
    assert!(procpulse_agent::tls::acceptor(&empty).is_err());
}

#[tokio::test]
async fn the_agent_serves_https_with_auth_and_refuses_plain_http() {
    let dir = tempdir("agent");
    let (files, _) = self_signed(&dir);
    let pem = std::fs::read(&files.cert_file).unwrap();
    let web = dir.0.join("web.toml");
    // Relative paths: resolved against the web config's directory.
    std::fs::write(
        &web,
        format!(
            "bearer_token_sha256 = [\"{}\"]\n[tls_server_config]\ncert_file = \"agent.crt\"\nkey_file = \"agent.key\"\n",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" // sha256("test")
        ),
    )
    .unwrap();
    let mut c = config(&fixture("kmod"), SourceMode::Kmod);
    c.web = WebConfig::load(&web).unwrap();
    let a = start(c).await;
    let port = a.addr.port();
    let https = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .resolve("localhost", a.addr)
        .build()
        .unwrap();
    let url = format!("https://localhost:{port}/api/v1/snapshot");
    let res = https.get(&url).bearer_auth("test").send().await.unwrap();
    assert_eq!(res.status(), 200);
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["host"], "test-host");
    let res = https.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 401);
    // Keep-alive over TLS: a second request on the same client.
    let res = https
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Plain HTTP to the TLS port gets no HTTP answer.
    assert!(client().get(a.url("/healthz")).send().await.is_err());
    // The agent still serves HTTPS afterwards.
    let res = https.get(&url).bearer_auth("test").send().await.unwrap();
    assert_eq!(res.status(), 200);
    a.stop().await;
}

#[tokio::test]
async fn bad_tls_files_stop_the_start() {
    let mut c = config(&fixture("kmod"), SourceMode::Kmod);
    c.web = WebConfig::parse(
        "[tls_server_config]\ncert_file = \"/nonexistent.crt\"\nkey_file = \"/nonexistent.key\"\n",
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let r = procpulse_agent::spawn(c, listener, procpulse_service::Shutdown::new()).await;
    let Err(e) = r else {
        panic!("started with missing TLS files")
    };
    assert!(format!("{e:#}").contains("nonexistent.crt"), "{e:#}");
}

#[tokio::test]
async fn a_silent_or_trickling_tls_client_is_closed_within_the_header_timeout() {
    let dir = tempdir("slow");
    let (files, _) = self_signed(&dir);
    let mut c = config(&fixture("kmod"), SourceMode::Kmod);
    c.web.tls_server_config = Some(files);
    c.http.header_timeout_ms = 400;
    let a = start(c).await;
    // One silent socket and one that trickles a ClientHello byte every 100 ms.
    let t0 = std::time::Instant::now();
    let mut silent = tokio::net::TcpStream::connect(a.addr).await.unwrap();
    let mut trickle = tokio::net::TcpStream::connect(a.addr).await.unwrap();
    let trickler = tokio::spawn(async move {
        for b in [
            0x16u8, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
        ]
        .iter()
        .cycle()
        .take(100)
        {
            if trickle.write_all(&[*b]).await.is_err() {
                return t0.elapsed();
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        t0.elapsed()
    });
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), silent.read(&mut buf))
        .await
        .expect("silent TLS socket still open after 5 s");
    assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
    let closed_after = t0.elapsed();
    assert!(
        closed_after < std::time::Duration::from_secs(2),
        "{closed_after:?}"
    );
    let trickled = trickler.await.unwrap();
    assert!(
        trickled < std::time::Duration::from_secs(3),
        "trickler held {trickled:?}"
    );
    a.stop().await;
}
