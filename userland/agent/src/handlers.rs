//! One function per route; filters are in [`crate::filters`].

use crate::collect::{Agent, CollectError, SortBy};
use procpulse_model::TopProcess;
use procpulse_service::ApiError;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;

/// How long a client should wait before retrying a 503.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Most rows `/api/v1/processes` returns (a host rarely has more processes).
pub const MAX_PROCESSES: usize = 100_000;

fn unavailable(e: &CollectError) -> warp::Rejection {
    match e {
        CollectError::Encode(_) => warp::reject::custom(ApiError::internal(e.to_string())),
        _ => warp::reject::custom(ApiError::unavailable(e.to_string(), RETRY_AFTER)),
    }
}

fn json_response(body: Vec<u8>) -> Response {
    let mut res = Response::new(body.into());
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// GET /api/v1/snapshot
pub async fn snapshot(agent: Arc<Agent>) -> Result<Response, warp::Rejection> {
    let body = agent.snapshot_json().map_err(|e| unavailable(&e))?;
    Ok(json_response(body))
}

/// Query of `/api/v1/processes`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessesQuery {
    /// Rows to return (default 20).
    pub top: Option<usize>,
    /// `cpu` (default) or `rss`.
    pub sort: Option<SortBy>,
}

#[derive(Serialize)]
struct ProcessesBody<'a> {
    host: &'a str,
    source: procpulse_model::Source,
    sort: SortBy,
    /// Processes in the sample (before `top`).
    total: usize,
    /// Age of the background sample the table comes from, ms.
    sample_age_ms: u64,
    processes: Vec<TopProcess>,
}

impl Serialize for SortBy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            SortBy::Cpu => "cpu",
            SortBy::Rss => "rss",
        })
    }
}

/// GET /api/v1/processes?top=N&sort=cpu|rss
pub async fn processes(q: ProcessesQuery, agent: Arc<Agent>) -> Result<Response, warp::Rejection> {
    let top = q.top.unwrap_or(20);
    if top == 0 || top > MAX_PROCESSES {
        return Err(warp::reject::custom(
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_query",
                format!("top must be within 1..={MAX_PROCESSES}"),
            )
            .with_field("top"),
        ));
    }
    let sort = q.sort.unwrap_or(SortBy::Cpu);
    let (sample, rows) = agent.processes(top, sort).map_err(|e| unavailable(&e))?;
    let body = ProcessesBody {
        host: agent.host(),
        source: agent.source(),
        sort,
        total: sample.tasks.len(),
        sample_age_ms: sample.at.elapsed().as_millis() as u64,
        processes: rows,
    };
    let body = serde_json::to_vec(&body)
        .map_err(|e| warp::reject::custom(ApiError::internal(e.to_string())))?;
    Ok(json_response(body))
}

/// GET /healthz
pub async fn healthz() -> Result<Response, warp::Rejection> {
    Ok(json_response(br#"{"status":"ok"}"#.to_vec()))
}

/// GET /readyz
pub async fn readyz(agent: Arc<Agent>) -> Result<Response, warp::Rejection> {
    let source = agent.ready().map_err(|e| unavailable(&e))?;
    Ok(json_response(
        format!(r#"{{"status":"ready","source":"{source}"}}"#).into_bytes(),
    ))
}

/// GET /metrics: OpenMetrics or the text format 0.0.4, as `Accept` asks.
pub async fn metrics(
    format: procpulse_service::metrics::Format,
    agent: Arc<Agent>,
) -> Result<Response, warp::Rejection> {
    let body = agent.render_metrics(format);
    Ok(procpulse_service::metrics::response(format, body))
}
