//! The REST routes (`/api/v1/latest`, `/api/v1/history`, `/api/v1/fleet`), `/healthz`
//! and `/readyz`.

use std::sync::Arc;
use std::time::Duration;

use procpulse_service::ApiError;
use procpulse_storage::StorageError;
use time::OffsetDateTime;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;
use warp::{Filter, Rejection};

use crate::alerting::Alerting;
use crate::feed::Feed;
use crate::history_api;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::query::parse_history_query;

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
    /// Alerts (`None`: no `--alert-rules`).
    pub alerting: Option<Arc<Alerting>>,
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

/// The paths of the REST fallback (what a CORS preflight may ask about).
pub fn rest_path() -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "latest")
        .or(warp::path!("api" / "v1" / "history"))
        .unify()
        .or(warp::path!("api" / "v1" / "fleet"))
        .unify()
        .or(warp::path!("api" / "v1" / "alerts"))
        .unify()
}

/// The query string as `(name, value)` pairs in order (none when there is no query);
/// percent-decoded, invalid UTF-8 replaced, never a rejection.
fn query_pairs()
-> impl Filter<Extract = (Vec<(String, String)>,), Error = std::convert::Infallible> + Clone {
    warp::query::raw()
        .or(warp::any().map(String::new))
        .unify()
        .map(|raw: String| url_pairs(&raw))
}

/// Splits and decodes an `application/x-www-form-urlencoded` query (`+` is a space).
pub fn url_pairs(raw: &str) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            let hex = |j: usize| b.get(j).and_then(|c| (*c as char).to_digit(16));
            match b[i] {
                b'+' => {
                    out.push(b' ');
                    i += 1;
                }
                b'%' => match (hex(i + 1), hex(i + 2)) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                    }
                    _ => {
                        out.push(b'%');
                        i += 1;
                    }
                },
                c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
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
        .and(query_pairs())
        .and(with.clone())
        .and_then(history);
    let fleet = warp::path!("api" / "v1" / "fleet")
        .and(warp::get())
        .and(with.clone())
        .map(fleet);
    let alerts = warp::path!("api" / "v1" / "alerts")
        .and(warp::get())
        .and(with)
        .map(alerts);
    healthz
        .or(readyz)
        .unify()
        .or(latest)
        .unify()
        .or(history)
        .unify()
        .or(fleet)
        .unify()
        .or(alerts)
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

/// GET /api/v1/history?host=&from=&to=&from_host= (`since` = `from`): the range from
/// the tier that holds it, see [`crate::history_api`]; a bad query or a range no tier
/// keeps is a 422 naming the field.
async fn history(q: Vec<(String, String)>, state: ApiState) -> Result<Response, Rejection> {
    let now = OffsetDateTime::now_utc();
    let q = parse_history_query(&q, now).map_err(warp::reject::custom)?;
    let out = history_api::answer(&state.feed, &state.hub, &q, now)
        .await
        .map_err(|e| e.reject(unavailable))?;
    Ok(json(out, StatusCode::OK))
}

/// GET /api/v1/fleet: every host's newest values, last seen and staleness, from memory
/// (see [`crate::fleet`]).
fn fleet(state: ApiState) -> Response {
    let body = state
        .hub
        .fleet_json(OffsetDateTime::now_utc(), std::time::Instant::now());
    json(body.to_string(), StatusCode::OK)
}

/// GET /api/v1/alerts: every pending and firing alert and those resolved in the last
/// hour, from memory (see [`crate::alerting`]); `enabled: false` without `--alert-rules`.
fn alerts(state: ApiState) -> Response {
    let now = OffsetDateTime::now_utc();
    let body = match &state.alerting {
        Some(a) => a.json(now),
        None => procpulse_alerts::wire::api_json(now, false, &[], &[], &[]),
    };
    json(body, StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn query_strings_decode_without_failing() {
        assert_eq!(
            url_pairs("host=vm-1&since=2026-11-23T09%3A00%3A00Z&&x"),
            q(&[
                ("host", "vm-1"),
                ("since", "2026-11-23T09:00:00Z"),
                ("x", "")
            ])
        );
        assert_eq!(url_pairs("a=%C3%A9+b%"), q(&[("a", "é b%")]));
        assert_eq!(url_pairs("a=%C3"), q(&[("a", "\u{fffd}")]));
        assert_eq!(url_pairs(""), q(&[]));
    }
}
