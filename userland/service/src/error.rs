//! The one JSON error shape of docs/design.md §4 and the `recover()` that maps every warp
//! rejection to it:
//! `{"error":{"code":"invalid_field","message":"cpu.usage_percent must be within 0..=100","field":"cpu.usage_percent"}}`
//!
//! Route filters should match the path before the method (`path!(..).and(get())`) so an
//! unknown path answers 404 and a known path with the wrong method answers 405.

use std::convert::Infallible;
use std::time::Duration;

use serde::Serialize;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;
use warp::{Rejection, Reply};

/// An error a handler reports; renders as the JSON error shape with `status`.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status (4xx or 5xx).
    pub status: StatusCode,
    /// Machine-readable code, e.g. `invalid_field`, `not_found`, `unavailable`.
    pub code: &'static str,
    /// Human-readable message.
    pub message: String,
    /// Path of the offending field, when one is at fault.
    pub field: Option<String>,
    /// Seconds for a `Retry-After` header (503 answers).
    pub retry_after: Option<Duration>,
}

impl warp::reject::Reject for ApiError {}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    /// A new error with `status`, `code` and `message`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// Names the field at fault.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    /// Adds a `Retry-After` header.
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 422 `invalid_field` naming `field`.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message).with_field(field)
    }

    /// 503 `unavailable` with `Retry-After`.
    pub fn unavailable(message: impl Into<String>, retry_after: Duration) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
            .with_retry_after(retry_after)
    }

    /// 500 `internal` (the message should not leak internals).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// The JSON body as bytes.
    pub fn body(&self) -> Vec<u8> {
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                field: self.field.as_deref(),
            },
        };
        serde_json::to_vec(&body)
            .unwrap_or_else(|_| br#"{"error":{"code":"internal","message":"error"}}"#.to_vec())
    }
}

impl Reply for ApiError {
    fn into_response(self) -> Response {
        let mut res = Response::new(self.body().into());
        *res.status_mut() = self.status;
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(after) = self.retry_after {
            let secs = after.as_secs().max(1);
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        res
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

/// Maps any rejection to the JSON error shape. Use as the last `.recover(recover)` of a
/// service's filter tree.
pub async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    Ok(to_api_error(&rejection).into_response())
}

/// The [`ApiError`] a rejection stands for.
pub fn to_api_error(rejection: &Rejection) -> ApiError {
    use warp::reject::{
        InvalidHeader, InvalidQuery, LengthRequired, MethodNotAllowed, MissingHeader,
        PayloadTooLarge, UnsupportedMediaType,
    };
    if let Some(e) = rejection.find::<ApiError>() {
        return e.clone();
    }
    if rejection.is_not_found() {
        return ApiError::not_found("no such route");
    }
    if let Some(e) = rejection.find::<warp::filters::body::BodyDeserializeError>() {
        return ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", e.to_string());
    }
    if rejection.find::<PayloadTooLarge>().is_some() {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is too large",
        );
    }
    if rejection.find::<UnsupportedMediaType>().is_some() {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "expected Content-Type: application/json",
        );
    }
    if rejection.find::<LengthRequired>().is_some() {
        return ApiError::new(
            StatusCode::LENGTH_REQUIRED,
            "length_required",
            "a Content-Length header is required",
        );
    }
    if let Some(e) = rejection.find::<InvalidQuery>() {
        return ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_query",
            e.to_string(),
        );
    }
    if let Some(e) = rejection.find::<MissingHeader>() {
        return ApiError::bad_request(e.to_string());
    }
    if let Some(e) = rejection.find::<InvalidHeader>() {
        return ApiError::bad_request(e.to_string());
    }
    if rejection.find::<MethodNotAllowed>().is_some() {
        return ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this route does not accept that method",
        );
    }
    tracing::warn!(?rejection, "Unhandled rejection");
    ApiError::internal("unhandled rejection")
}

#[cfg(test)]
mod tests {
    use super::*;
    use warp::Filter;

    fn routes() -> impl Filter<Extract = (Response,), Error = Infallible> + Clone {
        let get = warp::path!("a")
            .and(warp::get())
            .map(|| "a".into_response());
        let post = warp::path!("b")
            .and(warp::post())
            .and(warp::body::content_length_limit(16))
            .and(warp::body::json::<serde_json::Value>())
            .map(|_| "b".into_response());
        let fail = warp::path!("c").and(warp::get()).and_then(|| async {
            Err::<Response, _>(warp::reject::custom(ApiError::unavailable(
                "db down",
                Duration::from_secs(2),
            )))
        });
        get.or(post)
            .unify()
            .or(fail)
            .unify()
            .recover(recover)
            .unify()
    }

    #[tokio::test]
    async fn unknown_route_is_404_json() {
        let res = warp::test::request().path("/nope").reply(&routes()).await;
        assert_eq!(res.status(), 404);
        let v: serde_json::Value = serde_json::from_slice(res.body()).unwrap();
        assert_eq!(v["error"]["code"], "not_found");
    }

    #[tokio::test]
    async fn wrong_method_is_405_json() {
        let res = warp::test::request()
            .method("DELETE")
            .path("/a")
            .reply(&routes())
            .await;
        assert_eq!(res.status(), 405);
        let v: serde_json::Value = serde_json::from_slice(res.body()).unwrap();
        assert_eq!(v["error"]["code"], "method_not_allowed");
    }

    #[tokio::test]
    async fn body_errors_map_to_400_413_415() {
        let r = routes();
        let res = warp::test::request()
            .method("POST")
            .path("/b")
            .header("content-type", "application/json")
            .body("{nope")
            .reply(&r)
            .await;
        assert_eq!(res.status(), 400);
        let res = warp::test::request()
            .method("POST")
            .path("/b")
            .header("content-type", "application/json")
            .body("[1,2,3,4,5,6,7,8,9,10,11]")
            .reply(&r)
            .await;
        assert_eq!(res.status(), 413);
        let res = warp::test::request()
            .method("POST")
            .path("/b")
            .header("content-type", "text/plain")
            .body("{}")
            .reply(&r)
            .await;
        assert_eq!(res.status(), 415);
    }

    #[tokio::test]
    async fn api_error_keeps_status_and_retry_after() {
        let res = warp::test::request().path("/c").reply(&routes()).await;
        assert_eq!(res.status(), 503);
        assert_eq!(res.headers()["retry-after"], "2");
        let v: serde_json::Value = serde_json::from_slice(res.body()).unwrap();
        assert_eq!(v["error"]["message"], "db down");
    }

    #[test]
    fn field_is_rendered_only_when_present() {
        let e = ApiError::invalid_field(
            "cpu.usage_percent",
            "cpu.usage_percent must be within 0..=100",
        );
        let v: serde_json::Value = serde_json::from_slice(&e.body()).unwrap();
        assert_eq!(v["error"]["field"], "cpu.usage_percent");
        let v: serde_json::Value =
            serde_json::from_slice(&ApiError::not_found("x").body()).unwrap();
        assert!(v["error"].get("field").is_none());
    }
}
