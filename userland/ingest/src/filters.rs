//! The filter tree: every route, matched path first and method second (so a known path
//! with the wrong method answers 405, an unknown path 404), ending in one `recover()`.

use crate::body::{bearer, json_content_type, limited_body};
use crate::config::MAX_BODY_BYTES;
use crate::handlers::{self, AveragesQuery};
use crate::state::AppState;
use std::convert::Infallible;
use warp::Filter;
use warp::reply::Response;

/// Paths used as the `route` label of the HTTP metrics.
pub const ROUTES: &[&str] = &[
    "/api/v1/metrics",
    "/api/v1/stats",
    "/api/v1/averages",
    "/healthz",
    "/readyz",
    "/metrics",
];

fn with_state(state: AppState) -> impl Filter<Extract = (AppState,), Error = Infallible> + Clone {
    warp::any().map(move || state.clone())
}

/// The production filter tree (also what tests drive with `warp::test::request()`).
pub fn routes(state: AppState) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone {
    let auth = bearer(state.config.token.clone());
    let post_metrics = warp::path!("api" / "v1" / "metrics")
        .and(warp::post())
        .and(auth.clone())
        .and(json_content_type())
        .and(with_state(state.clone()))
        .and(limited_body(MAX_BODY_BYTES))
        .and_then(handlers::post_metrics);
    let stats = warp::path!("api" / "v1" / "stats")
        .and(warp::get())
        .and(auth.clone())
        .and(with_state(state.clone()))
        .and_then(handlers::stats);
    let averages = warp::path!("api" / "v1" / "averages")
        .and(warp::get())
        .and(auth)
        .and(with_state(state.clone()))
        .and(warp::query::<AveragesQuery>())
        .and_then(handlers::averages);
    let healthz = warp::path!("healthz")
        .and(warp::get())
        .and_then(handlers::healthz);
    let readyz = warp::path!("readyz")
        .and(warp::get())
        .and(with_state(state.clone()))
        .and_then(handlers::readyz);
    let metrics = procpulse_service::metrics::route(state.registry.clone());
    post_metrics
        .or(stats)
        .unify()
        .or(averages)
        .unify()
        .or(healthz)
        .unify()
        .or(readyz)
        .unify()
        .or(metrics)
        .unify()
        .recover(procpulse_service::recover)
        .unify()
}
