//! HTTPS for the agent: the web config's `tls_server_config` (PEM certificate chain and
//! private key) loaded into a rustls server configuration (TLS 1.2 and 1.3, ring
//! provider, HTTP/1.1 ALPN). The acceptor wraps each accepted TCP stream before the HTTP
//! server sees it; a failed handshake closes just that connection.

use crate::auth::TlsFiles;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

/// Longest a TLS handshake may take before the connection is dropped.
pub const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Builds the acceptor from the configured files; errors name the file.
pub fn acceptor(files: &TlsFiles) -> anyhow::Result<TlsAcceptor> {
    use anyhow::Context;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert_file)
        .with_context(|| format!("reading cert_file {}", files.cert_file.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("parsing cert_file {}", files.cert_file.display()))?;
    anyhow::ensure!(
        !certs.is_empty(),
        "cert_file {} holds no certificate",
        files.cert_file.display()
    );
    let key = PrivateKeyDer::from_pem_file(&files.key_file)
        .with_context(|| format!("reading key_file {}", files.key_file.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("cert_file and key_file do not form a usable pair")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The acceptor of `config`'s web config, when it has a TLS section.
pub fn from_config(config: &crate::Config) -> anyhow::Result<Option<TlsAcceptor>> {
    use anyhow::Context;
    config
        .web
        .tls_server_config
        .as_ref()
        .map(|files| acceptor(files).context("web config tls_server_config"))
        .transpose()
}

/// Performs the server side of a handshake on `stream` within [`HANDSHAKE_TIMEOUT`].
pub async fn handshake<S>(
    acceptor: &TlsAcceptor,
    stream: S,
) -> std::io::Result<tokio_rustls::server::TlsStream<S>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake timed out"))?
}
