//! procpulse-agent: runs on the monitored machine and serves snapshots of it
//! (docs/design.md §3, §4) over HTTP with warp. It reads the procpulse kernel modules' files
//! (`/proc/procpulse_*`) when they are present and the standard /proc files otherwise,
//! and says which in every snapshot's `source`. Optionally it pushes a snapshot to an
//! ingest URL every N seconds, with retries and a bounded queue.
//!
//! It is not a collector of history or a general exporter: every answer is one fresh
//! sample of this host; storage, aggregation and the dashboard live elsewhere.
//!
//! Layout: [`files`] reads /proc with reusable buffers, [`sampler`] is the background
//! CPU/process sampler of the /proc fallback, [`source`] decides kmod vs procfs,
//! [`collect`] builds snapshots, [`filters`]/[`handlers`] are the HTTP routes,
//! [`host_metrics`] the Prometheus gauges, [`push`] the push mode, [`ids`] the sample ids,
//! [`threads`] the per-core server threads the binary runs, [`users`] the user names
//! of top rows, [`auth`] the optional web config (bearer/basic auth, TLS files), [`tls`]
//! the HTTPS acceptor.

pub mod auth;
pub mod cli;
pub mod collect;
pub mod config;
pub mod files;
pub mod filters;
pub mod handlers;
pub mod host_metrics;
pub mod ids;
pub mod push;
pub mod push_metrics;
pub mod sampler;
pub mod source;
pub mod threads;
pub mod tls;
pub mod users;

// Parts of `collect` split out by concern, private: their public items are re-exported
// from `collect`.
mod background;
mod routes;
mod same_ms;
mod snapshot_json;
mod sort;

pub use collect::Agent;
pub use config::{Config, PushConfig, SourceMode};

use procpulse_service::Shutdown;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Convenience for tests and embedders: an agent serving on an already-bound listener in
/// a spawned task. Returns the agent handle and the join handle.
pub async fn spawn(
    config: Config,
    listener: TcpListener,
    shutdown: Shutdown,
) -> anyhow::Result<(Arc<Agent>, tokio::task::JoinHandle<()>)> {
    config.validate().map_err(anyhow::Error::msg)?;
    let agent = Agent::start(config, shutdown.clone()).await?;
    let tls = tls::from_config(agent.config())?;
    let routes = filters::routes(agent.clone());
    let push_agent = agent.clone();
    let handle = tokio::spawn(async move {
        let push = spawn_push(&push_agent, &shutdown);
        let limits = push_agent.config().http.clone();
        let gate = limits.gate();
        procpulse_service::serve_tls(listener, routes, shutdown, &limits, gate, tls).await;
        if let Some(task) = push {
            let _ = task.await;
        }
    });
    Ok((agent, handle))
}

/// Starts push mode in a task when it is configured.
pub(crate) fn spawn_push(
    agent: &Arc<Agent>,
    shutdown: &Shutdown,
) -> Option<tokio::task::JoinHandle<()>> {
    let p = agent.config().push.clone()?;
    let (agent, shutdown) = (agent.clone(), shutdown.clone());
    Some(tokio::spawn(
        async move { push::run(agent, p, shutdown).await },
    ))
}
