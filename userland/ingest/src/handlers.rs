//! One function per route.

use crate::state::AppState;
use crate::window::{DEFAULT_WINDOW, parse_window, valid_host};
use crate::writer::WriteError;
use bytes::Bytes;
use procpulse_model::validate::{ValidationError, decode_batch};
use procpulse_service::ApiError;
use procpulse_storage::{NewSample, StorageError, read};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use time::OffsetDateTime;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

/// The answer to an accepted POST.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Accepted {
    /// Snapshots stored by this request.
    pub accepted: usize,
    /// Snapshots already stored (or repeated in the request).
    pub duplicates: usize,
    /// The route that stored them.
    pub route: String,
}

fn reject(e: ApiError) -> warp::Rejection {
    warp::reject::custom(e)
}

fn validation_error(e: ValidationError) -> ApiError {
    match &e {
        ValidationError::Malformed { message } => ApiError::new(
            StatusCode::BAD_REQUEST,
            e.code(),
            format!("malformed JSON: {message}"),
        ),
        ValidationError::Invalid {
            code,
            field,
            message,
        } => {
            let err = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message.clone());
            if field.is_empty() {
                err
            } else {
                err.with_field(field.clone())
            }
        }
    }
}

fn unavailable(state: &AppState, e: impl std::fmt::Display) -> ApiError {
    ApiError::unavailable(
        format!("database unavailable, nothing was stored: {e}"),
        state.config.retry_after,
    )
}

/// The answer to a failed write (nothing of the request was stored):
/// - the database refused the rows (a constraint, a value the column cannot hold):
///   422 `rejected_by_database`, no Retry-After — the same body would fail again;
/// - the database is unreachable, busy or failed in a way that may pass (and a writer
///   that is shutting down): 503 `unavailable` + Retry-After;
/// - anything else (a bug on this side): 500 `internal`, no Retry-After.
fn write_error(state: &AppState, e: WriteError) -> ApiError {
    match e {
        WriteError::Storage(e) if e.is_rejected() => {
            tracing::warn!(error = %e, "Database refused a request's rows");
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "rejected_by_database",
                format!("the database refused these snapshots, nothing was stored: {e}"),
            )
        }
        WriteError::Storage(e) if !e.is_unavailable() => {
            tracing::error!(error = %e, "Write failed");
            ApiError::internal("write failed, nothing was stored")
        }
        e => unavailable(state, e),
    }
}

/// POST /api/v1/metrics — one snapshot or an array (≤ 1000); answers after the commit.
pub async fn post_metrics(state: AppState, body: Bytes) -> Result<Response, warp::Rejection> {
    let now = OffsetDateTime::now_utc();
    let snapshots = decode_batch(&body, now).map_err(|e| reject(validation_error(e)))?;
    if !state.is_migrated() {
        return Err(reject(unavailable(&state, "schema not migrated yet")));
    }
    state.metrics.request(snapshots.len());
    let route = state.config.route.as_str();
    let rows: Vec<NewSample> = snapshots
        .iter()
        .map(|s| NewSample::from_snapshot(s, route, now))
        .collect();
    drop(snapshots);
    let outcome = state
        .writer
        .write(rows)
        .await
        .map_err(|e| reject(write_error(&state, e)))?;
    Ok(warp::reply::json(&Accepted {
        accepted: outcome.accepted,
        duplicates: outcome.duplicates,
        route: route.to_owned(),
    })
    .into_response())
}

fn read_error(state: &AppState, e: StorageError) -> warp::Rejection {
    if e.is_unavailable() {
        reject(unavailable(state, e))
    } else {
        tracing::error!(error = %e, "Read query failed");
        reject(ApiError::internal("read query failed"))
    }
}

/// GET /api/v1/stats — rows per host (first/last collected_at) and per route.
pub async fn stats(state: AppState) -> Result<Response, warp::Rejection> {
    let stats = read::stats(&state.db)
        .await
        .map_err(|e| read_error(&state, e))?;
    Ok(warp::reply::json(&stats).into_response())
}

/// Query of `GET /api/v1/averages`.
#[derive(Debug, Deserialize)]
pub struct AveragesQuery {
    /// `30s`, `5m`, `1h`, `1d`; default 5m.
    pub window: Option<String>,
    /// One host only.
    pub host: Option<String>,
}

#[derive(Serialize)]
struct AveragesBody {
    window_seconds: u64,
    #[serde(with = "time::serde::rfc3339")]
    since: OffsetDateTime,
    host: Option<String>,
    hosts: Vec<read::HostAverages>,
}

/// GET /api/v1/averages?window=5m&host= — CPU and RAM averages per host over the window.
pub async fn averages(state: AppState, q: AveragesQuery) -> Result<Response, warp::Rejection> {
    let window = match q.window.as_deref() {
        None | Some("") => DEFAULT_WINDOW,
        Some(w) => parse_window(w).map_err(|m| {
            reject(
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_query", m)
                    .with_field("window"),
            )
        })?,
    };
    let host = q.host.filter(|h| !h.is_empty());
    if let Some(h) = &host
        && !valid_host(h)
    {
        return Err(reject(
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_query",
                "host must be 1-64 chars of [A-Za-z0-9._-]",
            )
            .with_field("host"),
        ));
    }
    let since = OffsetDateTime::now_utc() - window;
    let hosts = read::averages(&state.db, since, host.as_deref())
        .await
        .map_err(|e| read_error(&state, e))?;
    Ok(warp::reply::json(&AveragesBody {
        window_seconds: window.as_secs(),
        since,
        host,
        hosts,
    })
    .into_response())
}

/// GET /healthz — the process is alive.
pub async fn healthz() -> Result<Response, warp::Rejection> {
    Ok(warp::reply::json(&serde_json::json!({"status": "ok"})).into_response())
}

/// Longest a readiness probe waits for the database.
const READY_TIMEOUT: Duration = Duration::from_secs(1);

/// GET /readyz — 200 when migrated and the database answers, 503 otherwise. A server
/// that acknowledges commits before they are durable (checked after migrations, see
/// `Database::durability_warning`) adds `durability: {reduced: true, detail}`.
pub async fn readyz(state: AppState) -> Result<Response, warp::Rejection> {
    if !state.is_migrated() {
        return Err(reject(unavailable(&state, "schema not migrated yet")));
    }
    match tokio::time::timeout(READY_TIMEOUT, state.db.ping()).await {
        Ok(Ok(took)) => {
            let mut body = serde_json::json!({
                "status": "ready",
                "database": state.db.backend().as_str(),
                "ping_seconds": took.as_secs_f64(),
            });
            // Still ready (writes work), but commits may not survive a server crash.
            if let Some(w) = state.durability_warning() {
                body["durability"] = serde_json::json!({"reduced": true, "detail": w});
            }
            Ok(warp::reply::json(&body).into_response())
        }
        Ok(Err(e)) => Err(reject(unavailable(&state, e))),
        Err(_) => Err(reject(unavailable(&state, "ping timed out"))),
    }
}
