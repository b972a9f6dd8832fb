//! A minimal HTTP/1.1 keep-alive client (hyper) used by the tests, the fault tests' driver
//! and the load-generating benchmark: one connection, one request at a time, no TLS.
//! Deliberately small so that the client's cost in a benchmark is close to the floor.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;

/// Why a request failed on the client side (no HTTP answer).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Connecting failed.
    #[error("connect: {0}")]
    Connect(#[from] std::io::Error),
    /// The connection failed or was closed.
    #[error("http: {0}")]
    Http(#[from] hyper::Error),
    /// A request could not be built (bad header).
    #[error("request: {0}")]
    Build(String),
}

/// An answer: status, headers, whole body.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status code.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl Answer {
    /// The body parsed as JSON (Null if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// One keep-alive connection.
#[derive(Debug)]
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    authority: String,
}

impl Conn {
    /// Opens a connection to `addr`.
    pub async fn connect(addr: SocketAddr) -> Result<Conn, ClientError> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn {
            sender,
            authority: addr.to_string(),
        })
    }

    /// Sends one request and reads the whole answer.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Answer, ClientError> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", self.authority.as_str());
        for (k, v) in headers {
            let k = HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| ClientError::Build(e.to_string()))?;
            let v = HeaderValue::from_str(v).map_err(|e| ClientError::Build(e.to_string()))?;
            req = req.header(k, v);
        }
        let req = req
            .body(Full::new(body))
            .map_err(|e| ClientError::Build(e.to_string()))?;
        self.sender.ready().await?;
        let res = self.sender.send_request(req).await?;
        let (parts, body) = res.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(
        &mut self,
        path: &str,
        body: impl Into<Bytes>,
    ) -> Result<Answer, ClientError> {
        self.send(
            Method::POST,
            path,
            &[("content-type", "application/json")],
            body.into(),
        )
        .await
    }

    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> Result<Answer, ClientError> {
        self.send(Method::GET, path, &[], Bytes::new()).await
    }
}
