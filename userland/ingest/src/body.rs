//! Request-body filters: JSON content type, a size limit that also holds for chunked
//! bodies, and bearer-token auth.

use bytes::{Buf, Bytes, BytesMut};
use futures_util::StreamExt;
use procpulse_service::ApiError;
use warp::Filter;
use warp::http::StatusCode;

/// Rejects (415) unless `Content-Type` is `application/json` (parameters such as
/// `charset=utf-8` allowed).
pub fn json_content_type() -> impl Filter<Extract = (), Error = warp::Rejection> + Clone {
    warp::header::optional::<String>("content-type")
        .and_then(async |ct: Option<String>| {
            let ok = ct.as_deref().is_some_and(|ct| {
                let essence = ct.split(';').next().unwrap_or("").trim();
                essence.eq_ignore_ascii_case("application/json")
            });
            if ok {
                Ok(())
            } else {
                Err(warp::reject::custom(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "expected Content-Type: application/json",
                )))
            }
        })
        .untuple_one()
}

fn too_large(limit: u64) -> warp::Rejection {
    warp::reject::custom(ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the request body exceeds {limit} bytes"),
    ))
}

/// The whole body, at most `limit` bytes: a larger `Content-Length` is refused before
/// reading, a chunked body as soon as it passes the limit (413 either way).
pub fn limited_body(
    limit: u64,
) -> impl Filter<Extract = (Bytes,), Error = warp::Rejection> + Clone {
    warp::header::optional::<u64>("content-length")
        .and_then(move |len: Option<u64>| async move {
            if len.is_some_and(|l| l > limit) {
                Err(too_large(limit))
            } else {
                Ok(())
            }
        })
        .untuple_one()
        .and(warp::body::stream())
        .and_then(move |stream| collect_limited(stream, limit))
}

async fn collect_limited<S, B>(stream: S, limit: u64) -> Result<Bytes, warp::Rejection>
where
    S: futures_util::Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let mut stream = std::pin::pin!(stream);
    let mut buf = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let mut chunk = chunk.map_err(|e| {
            warp::reject::custom(ApiError::bad_request(format!("cannot read body: {e}")))
        })?;
        if buf.len() as u64 + chunk.remaining() as u64 > limit {
            return Err(too_large(limit));
        }
        while chunk.has_remaining() {
            let part = chunk.chunk();
            let n = part.len();
            buf.extend_from_slice(part);
            chunk.advance(n);
        }
    }
    Ok(buf.freeze())
}

/// Requires `Authorization: Bearer <token>` when `token` is set (401 otherwise).
pub fn bearer(token: Option<String>) -> impl Filter<Extract = (), Error = warp::Rejection> + Clone {
    let token = token.map(std::sync::Arc::<str>::from);
    warp::header::optional::<String>("authorization")
        .and_then(move |auth: Option<String>| {
            let token = token.clone();
            async move {
                let Some(token) = token else { return Ok(()) };
                let given = auth.as_deref().and_then(|a| a.strip_prefix("Bearer "));
                if given.is_some_and(|g| constant_time_eq(g.as_bytes(), token.as_bytes())) {
                    Ok(())
                } else {
                    Err(warp::reject::custom(ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "unauthorized",
                        "a valid Authorization: Bearer token is required",
                    )))
                }
            }
        })
        .untuple_one()
}

/// Compares without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
