//! The agent's filter tree (docs/design.md §4). Paths are matched before methods so an unknown
//! path answers 404 and a known path with another method 405, both in the JSON error
//! shape via `procpulse_service::recover`. With a web config that names tokens or users
//! ([`crate::auth`]), every route but `/healthz` and `/readyz` needs credentials
//! (401 + `WWW-Authenticate` otherwise, unknown paths included).

use crate::collect::Agent;
use crate::handlers;
use std::convert::Infallible;
use std::sync::Arc;
use warp::Filter;

fn with_agent(
    agent: Arc<Agent>,
) -> impl Filter<Extract = (Arc<Agent>,), Error = Infallible> + Clone {
    warp::any().map(move || agent.clone())
}

/// Every route, with the JSON error shape and request metrics.
pub fn routes(
    agent: Arc<Agent>,
) -> impl Filter<Extract = (impl warp::Reply,), Error = Infallible> + Clone {
    let snapshot = warp::path!("api" / "v1" / "snapshot")
        .and(warp::get())
        .and(with_agent(agent.clone()))
        .and_then(handlers::snapshot);
    let processes = warp::path!("api" / "v1" / "processes")
        .and(warp::get())
        .and(warp::query::<handlers::ProcessesQuery>())
        .and(with_agent(agent.clone()))
        .and_then(handlers::processes);
    let auth = crate::auth::require(agent.authenticator());
    let healthz = warp::path!("healthz")
        .and(warp::get())
        .and_then(handlers::healthz);
    let readyz = warp::path!("readyz")
        .and(warp::get())
        .and(with_agent(agent.clone()))
        .and_then(handlers::readyz);
    let metrics = warp::path!("metrics")
        .and(warp::get())
        .and(procpulse_service::metrics::format())
        .and(with_agent(agent.clone()))
        .and_then(handlers::metrics);
    let protected = auth.and(snapshot.or(processes).unify().or(metrics).unify());
    healthz
        .or(readyz)
        .unify()
        .or(protected)
        .unify()
        .recover(crate::auth::recover)
        .unify()
        .with(agent.http_metrics().log())
}
