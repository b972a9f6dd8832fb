//! The REST fallback (`/api/v1/latest`, `/api/v1/history`), `/healthz` and `/readyz`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use procpulse_service::ApiError;
use procpulse_storage::StorageError;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;
use warp::{Filter, Rejection};

use crate::feed::{Feed, HISTORY_LOAD_ROWS};
use crate::history::{MAX_POINTS, WINDOW, downsample, points_budget};
use crate::hub::Hub;
use crate::metrics::Metrics;

/// How long `/readyz` waits for the database.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// What the handlers need.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// Database reads.
    pub feed: Feed,
    /// The fan-out (latest rows, load state).
    pub hub: Arc<Hub>,
    /// Metrics (client count).
    pub metrics: Arc<Metrics>,
}

fn json(body: String, status: StatusCode) -> Response {
    let mut res = Response::new(body.into());
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

fn unavailable(error: &StorageError) -> Rejection {
    warp::reject::custom(ApiError::unavailable(
        format!("database unavailable: {error}"),
        Duration::from_secs(1),
    ))
}

/// Every route of this module.
pub fn routes(state: ApiState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let with = warp::any().map(move || state.clone());
    let healthz = warp::path!("healthz")
        .and(warp::get())
        .and(with.clone())
        .map(healthz);
    let readyz = warp::path!("readyz")
        .and(warp::get())
        .and(with.clone())
        .and_then(readyz);
    let latest = warp::path!("api" / "v1" / "latest")
        .and(warp::get())
        .and(with.clone())
        .map(latest);
    let history = warp::path!("api" / "v1" / "history")
        .and(warp::get())
        .and(warp::query::<HashMap<String, String>>())
        .and(with)
        .and_then(history);
    healthz
        .or(readyz)
        .unify()
        .or(latest)
        .unify()
        .or(history)
        .unify()
}

/// GET /healthz
fn healthz(state: ApiState) -> Response {
    json(
        serde_json::json!({
            "status": "ok",
            "clients": state.metrics.clients.get(),
            "history_loaded": state.hub.is_loaded(),
        })
        .to_string(),
        StatusCode::OK,
    )
}

/// GET /readyz
async fn readyz(state: ApiState) -> Result<Response, Rejection> {
    match tokio::time::timeout(READY_TIMEOUT, state.feed.database().ping()).await {
        Ok(Ok(took)) if state.hub.is_loaded() => Ok(json(
            serde_json::json!({"status": "ready", "database_seconds": took.as_secs_f64()})
                .to_string(),
            StatusCode::OK,
        )),
        Ok(Ok(_)) => Err(warp::reject::custom(ApiError::unavailable(
            "history not loaded yet",
            Duration::from_secs(1),
        ))),
        Ok(Err(e)) => Err(unavailable(&e)),
        Err(_) => Err(warp::reject::custom(ApiError::unavailable(
            "database did not answer in time",
            Duration::from_secs(1),
        ))),
    }
}

/// GET /api/v1/latest
fn latest(state: ApiState) -> Response {
    json(state.hub.latest_json(), StatusCode::OK)
}

/// Query of `/api/v1/history`.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryQuery {
    /// One host, or every host.
    pub host: Option<String>,
    /// Rows collected at or after this instant.
    pub since: OffsetDateTime,
}

/// Parses and validates `host` and `since` (default: 15 minutes before `now`).
pub fn parse_history_query(
    q: &HashMap<String, String>,
    now: OffsetDateTime,
) -> Result<HistoryQuery, ApiError> {
    let host = match q.get("host").map(String::as_str) {
        None | Some("") => None,
        Some(h) => {
            let ok = h.len() <= 64
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
            if !ok {
                return Err(ApiError::invalid_field(
                    "host",
                    "host must be 1-64 characters of [A-Za-z0-9._-]",
                ));
            }
            Some(h.to_owned())
        }
    };
    let since = match q.get("since").map(String::as_str) {
        None | Some("") => now - WINDOW,
        Some(s) => OffsetDateTime::parse(s, &Rfc3339).map_err(|e| {
            ApiError::invalid_field("since", format!("since must be an RFC 3339 time: {e}"))
        })?,
    };
    if since > now {
        return Err(ApiError::invalid_field(
            "since",
            "since must not be in the future",
        ));
    }
    Ok(HistoryQuery { host, since })
}

/// GET /api/v1/history?host=&since=
async fn history(q: HashMap<String, String>, state: ApiState) -> Result<Response, Rejection> {
    let q = parse_history_query(&q, OffsetDateTime::now_utc()).map_err(warp::reject::custom)?;
    let hosts = match q.host {
        Some(h) => vec![h],
        None => state
            .feed
            .hosts(i64::MAX)
            .await
            .map_err(|e| unavailable(&e))?,
    };
    let mut out = String::from(r#"{"samples":["#);
    let mut first = true;
    for host in hosts {
        let rows = state
            .feed
            .host_rows(&host, q.since, i64::MAX, HISTORY_LOAD_ROWS)
            .await
            .map_err(|e| unavailable(&e))?;
        // At most MAX_POINTS, and no more than MAX_HOST_BYTES of them (big v2 rows of
        // hosts with hundreds of CPUs), evenly spread and always with the newest.
        let encoded: Vec<String> = downsample(rows.len(), MAX_POINTS)
            .into_iter()
            .map(|i| rows[i].to_json())
            .collect();
        let bytes = encoded.iter().map(String::len).sum();
        for i in downsample(encoded.len(), points_budget(encoded.len(), bytes)) {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(&encoded[i]);
        }
    }
    out.push_str("]}");
    Ok(json(out, StatusCode::OK))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn history_query_defaults_and_errors_name_the_field() {
        let now = datetime!(2026-11-23 10:00:00 UTC);
        let ok = parse_history_query(&q(&[]), now).unwrap();
        assert_eq!(
            ok,
            HistoryQuery {
                host: None,
                since: now - WINDOW
            }
        );
        let ok = parse_history_query(
            &q(&[("host", "vm-1"), ("since", "2026-11-23T09:00:00Z")]),
            now,
        )
        .unwrap();
        assert_eq!(ok.host.as_deref(), Some("vm-1"));
        assert_eq!(ok.since, datetime!(2026-11-23 09:00:00 UTC));
        for (bad, field) in [
            (q(&[("host", "vm 1")]), "host"),
            (q(&[("host", &"x".repeat(65))]), "host"),
            (q(&[("since", "yesterday")]), "since"),
            (q(&[("since", "2026-11-23T11:00:00Z")]), "since"),
        ] {
            let e = parse_history_query(&bad, now).unwrap_err();
            assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(e.field.as_deref(), Some(field));
        }
    }
}
