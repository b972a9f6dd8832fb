//! The agent's TLS acceptor (`procpulse_agent::tls`): a real handshake on loopback with
//! a self-signed certificate generated here (rcgen), a client that trusts only it, and
//! refusals of bad files.

use procpulse_agent::auth::TlsFiles;
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
