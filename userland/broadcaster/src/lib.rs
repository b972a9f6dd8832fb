//! procpulse-broadcaster: follows new rows of the `samples` table (SQLite or
//! MySQL/MariaDB, through `procpulse-storage`) and pushes them to every connected
//! dashboard over WebSocket (tokio-tungstenite), serves the dashboard itself and a REST
//! fallback of the same data (docs/design.md §4).
//!
//! How it works: one poller per process reads rows by id cursor every
//! `--poll-interval-ms` (one query per interval, however many clients), serializes each
//! batch once into a `samples` frame and hands it to a bounded `tokio::sync::broadcast`
//! queue that every connection reads ([`hub`]). A client that falls behind skips to the
//! newest state; a client that stops answering pings is dropped. Replicas need no
//! coordination: each keeps its own cursor.
//!
//! Rows go out as the stored snapshot plus `id`, `route` and `received_at` ([`row`]), in
//! whichever shape was posted: a snapshot v2 row carries `cpu.modes`, `cpu.per_cpu`,
//! `ram.buffers_kb/shared_kb/swap_used_kb`, `pressure` and the v2 keys of its `top`
//! entries in `samples` frames, in every `history` point (only `top` is left out of all
//! but a host's newest point) and in `/api/v1/latest` and `/api/v1/history`; a v1 row has
//! none of these keys. The history is bounded per host by points (900 sent) and by bytes
//! ([`history::MAX_HOST_BYTES`]): a 64-CPU v2 point is about 3.3 KB, so such hosts keep
//! full resolution while hosts with hundreds of CPUs get fewer, evenly spread points.
//!
//! It is not a message broker: nothing is persisted here and a client that reconnects
//! starts again from `hello` + `history`.
//!
//! Beyond the live view it answers any time range from the tier that holds it
//! (`/api/v1/history?from=-24h`: raw rows, or the minute/hour rollups that ingest's
//! maintainer writes; [`tiers`], [`history_api`]) and lists every host's newest state
//! (`/api/v1/fleet`, from memory; [`fleet`]). Hosts not seen for `--host-ttl` are
//! forgotten by the in-memory state ([`hub::Hub::evict`]).
//!
//! Modules: [`row`] (a stored sample on the wire), [`frames`] (the frames), [`cursor`]
//! (gap-aware id cursor), [`history`] (the live 15-minute history), [`feed`] (SQL),
//! [`poller`], [`hub`] (fan-out, eviction), [`fleet`] (the fleet overview), [`ws`] (the
//! socket), [`api`] (REST routes, health), [`query`] (the history query), [`range`]
//! (durations and times as typed), [`tiers`] (tier choice, grouping), [`points`]
//! (rollup points), [`history_api`] (the history answer), [`static_files`] (the
//! dashboard: [`embedded`] at build time from `web/app`, or `--web-dir`;
//! [`content_type`]), [`origin`] (allowed origins), [`metrics`].

pub mod alerting;
pub mod api;
pub mod cli;
pub mod content_type;
pub mod cursor;
pub mod embedded;
pub mod feed;
pub mod fleet;
pub mod frames;
pub mod history;
pub mod history_api;
pub mod hub;
pub mod metrics;
pub mod origin;
pub mod points;
pub mod poller;
pub mod query;
pub mod range;
pub mod row;
pub mod static_files;
pub mod tiers;
pub mod ws;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use procpulse_service::{HttpMetrics, Shutdown};
use procpulse_storage::{Database, DatabaseUrl, PoolOptions, StorageError};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;
use warp::{Filter, Rejection};

use crate::origin::Origins;

/// Paths used as the `route` label of the HTTP metrics.
const ROUTES: &[&str] = &[
    "/",
    "/ws",
    "/healthz",
    "/readyz",
    "/metrics",
    "/api/v1/latest",
    "/api/v1/history",
    "/api/v1/fleet",
    "/api/v1/alerts",
];

/// How long shutdown waits for WebSocket clients to take their close frame.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Default most clients at once: the docs/design.md §8 target (10,000) with headroom.
pub const DEFAULT_MAX_CLIENTS: usize = 20_000;
/// Default interval between database polls (`--poll-interval-ms`): a row waits at most
/// this long before its fan-out starts, which keeps commit → delivery p99 under 250 ms
/// at 10,000 clients, for one cheap indexed query per interval (docs/design.md §8,
/// BENCHMARKS.md "broadcaster").
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Default interval between WebSocket pings (`--ping-interval-seconds`).
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(20);
/// Default silence after which a WebSocket client is dropped (`--idle-timeout-seconds`).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(45);
/// Default silence after which a host is forgotten (`--host-ttl`): a day.
pub const DEFAULT_HOST_TTL: Duration = Duration::from_secs(24 * 3_600);

/// Everything `run` needs besides the listener.
#[derive(Debug, Clone)]
pub struct Config {
    /// `sqlite://path` or `mysql://user:pass@host:port/db`.
    pub database_url: String,
    /// Interval between database polls.
    pub poll_interval: Duration,
    /// Origins allowed to open the WebSocket / read cross-origin (empty: no restriction on
    /// the socket, no CORS).
    pub allowed_origins: Vec<String>,
    /// A directory to serve the dashboard from instead of the copy built into the binary
    /// (`None`: the embedded copy).
    pub web_dir: Option<PathBuf>,
    /// Interval between WebSocket pings.
    pub ping_interval: Duration,
    /// Silence after which a client is dropped.
    pub idle_timeout: Duration,
    /// Most WebSocket clients at once.
    pub max_clients: usize,
    /// HTTP deadlines and connection cap of the server (WebSocket clients count too).
    pub http: procpulse_service::HttpLimits,
    /// Hosts without a row for this long leave the in-memory history, `hello`, latest
    /// and fleet; zero keeps every host.
    pub host_ttl: Duration,
    /// `/api/v1/fleet` calls a host stale after this many of its intervals without a row.
    pub stale_after_intervals: u32,
    /// Alert rules and receivers (`None`: no alerting, `/api/v1/alerts` says so).
    pub alerts: Option<alerting::AlertConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: procpulse_storage::DEFAULT_DATABASE_URL.to_owned(),
            poll_interval: DEFAULT_POLL_INTERVAL,
            allowed_origins: Vec::new(),
            web_dir: None,
            ping_interval: DEFAULT_PING_INTERVAL,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_clients: DEFAULT_MAX_CLIENTS,
            http: procpulse_service::HttpLimits::default(),
            host_ttl: DEFAULT_HOST_TTL,
            stale_after_intervals: fleet::DEFAULT_STALE_AFTER_INTERVALS,
            alerts: None,
        }
    }
}

/// Why the broadcaster could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad `--database-url` or pool set-up failure.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// `--web-dir` names no directory with an `index.html`.
    #[error(
        "--web-dir {0}: no index.html there (leave --web-dir out to serve the dashboard built into the binary)"
    )]
    WebDir(PathBuf),
}

/// Where the dashboard comes from, logged once; a `--web-dir` without `index.html` is an
/// error rather than a server that answers 404 at `/`.
fn web_source(web_dir: Option<&PathBuf>) -> Result<static_files::WebSource, Error> {
    match web_dir {
        None => {
            tracing::info!(
                files = embedded::FILES.len(),
                bytes = embedded::total_bytes(),
                "Serving the dashboard embedded in the binary"
            );
            Ok(static_files::WebSource::Embedded)
        }
        Some(dir) if dir.join("index.html").is_file() => {
            tracing::info!(web_dir = %dir.display(), "Serving the dashboard from a directory");
            Ok(static_files::WebSource::Dir(dir.clone()))
        }
        Some(dir) => Err(Error::WebDir(dir.clone())),
    }
}

/// Adds CORS headers for listed origins to REST answers, and answers preflights.
fn with_cors(
    origins: Origins,
    routes: impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync + 'static,
) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let origin = warp::header::optional::<String>("origin");
    let o1 = origins.clone();
    let answered = origin
        .and(routes)
        .map(move |origin: Option<String>, mut res: Response| {
            if let Some(allow) = o1.cors(origin.as_deref()) {
                if let Ok(v) = HeaderValue::from_str(&allow) {
                    res.headers_mut()
                        .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
                }
            }
            res.headers_mut()
                .insert(header::VARY, HeaderValue::from_static("Origin"));
            res
        });
    // Only the REST paths have a preflight, and only OPTIONS reaches it: a method filter
    // behind a path prefix would turn every other unknown /api path into 405.
    let preflight = warp::method()
        .and_then(|m: warp::http::Method| async move {
            if m == warp::http::Method::OPTIONS {
                Ok(())
            } else {
                Err(warp::reject::not_found())
            }
        })
        .untuple_one()
        .and(api::rest_path())
        .and(origin)
        .map(move |origin: Option<String>| {
            let mut res = Response::new(Default::default());
            match origins
                .cors(origin.as_deref())
                .and_then(|o| HeaderValue::from_str(&o).ok())
            {
                Some(allow) => {
                    *res.status_mut() = StatusCode::NO_CONTENT;
                    let h = res.headers_mut();
                    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
                    h.insert(
                        header::ACCESS_CONTROL_ALLOW_METHODS,
                        HeaderValue::from_static("GET"),
                    );
                    h.insert(
                        header::ACCESS_CONTROL_MAX_AGE,
                        HeaderValue::from_static("600"),
                    );
                }
                None => *res.status_mut() = StatusCode::FORBIDDEN,
            }
            res.headers_mut()
                .insert(header::VARY, HeaderValue::from_static("Origin"));
            res
        });
    answered.or(preflight).unify()
}

/// Runs the broadcaster on `listener` until `shutdown` fires: starts the poller, serves
/// HTTP and WebSocket, then closes every socket with Going Away and returns.
pub async fn run(listener: TcpListener, config: Config, shutdown: Shutdown) -> Result<(), Error> {
    let url: DatabaseUrl = config.database_url.parse()?;
    let web = web_source(config.web_dir.as_ref())?;
    // Accepted sockets inherit TCP_NODELAY from the listener on Linux: a small frame is
    // then written at once instead of waiting for the peer's delayed ACK (Nagle).
    if let Err(error) = socket2::SockRef::from(&listener).set_tcp_nodelay(true) {
        tracing::warn!(%error, "Cannot set TCP_NODELAY on the listener");
    }
    let db = Database::new(&url, &PoolOptions::default())?;
    let feed = feed::Feed::new(db.clone());

    let mut registry = procpulse_service::metrics::new_registry();
    let http_metrics = HttpMetrics::register(&mut registry, ROUTES);
    let metrics = metrics::Metrics::register(&mut registry);
    let alerting = config.alerts.map(|c| {
        tracing::info!(
            rules = c.rules.len(),
            receivers = c.targets.len(),
            "Evaluating alert rules"
        );
        alerting::Alerting::new(c, &mut registry)
    });
    let registry = Arc::new(registry);

    let hub = hub::Hub::with_settings(
        Arc::clone(&metrics),
        hub::HostSettings {
            stale_after_intervals: config.stale_after_intervals.max(1),
            host_ttl: (!config.host_ttl.is_zero()).then_some(config.host_ttl),
        },
    );
    let poller = tokio::spawn(poller::run(
        feed.clone(),
        Arc::clone(&hub),
        Arc::clone(&metrics),
        alerting.clone(),
        config.poll_interval,
        shutdown.clone(),
    ));
    let alert_loop = alerting
        .clone()
        .map(|a| tokio::spawn(a.run(Arc::clone(&hub), db, shutdown.clone())));

    let origins = Origins::new(&config.allowed_origins);
    let (alive, mut drained) = mpsc::channel::<()>(1);
    let ws_settings = ws::WsSettings {
        ping_interval: config.ping_interval,
        idle_timeout: config.idle_timeout,
        max_clients: config.max_clients,
        origins: origins.clone(),
    };
    let ws_state = ws::WsState {
        hub: Arc::clone(&hub),
        metrics: Arc::clone(&metrics),
        slots: ws::WsState::slots_for(&ws_settings),
        settings: Arc::new(ws_settings),
        shutdown: shutdown.clone(),
        alive,
    };
    let api = api::routes(api::ApiState {
        feed,
        hub,
        metrics,
        alerting,
    });
    let routes = ws::route(ws_state)
        .or(with_cors(origins, api))
        .unify()
        .or(procpulse_service::metrics::route(registry))
        .unify()
        .or(static_files::route(web))
        .unify()
        .recover(procpulse_service::recover)
        .unify()
        .map(static_files::security_headers)
        .with(http_metrics.log());

    tracing::info!(database = %url, poll_interval_ms = config.poll_interval.as_millis() as u64, "Starting broadcaster");
    procpulse_service::serve(listener, routes, shutdown.clone(), &config.http).await;
    // The filter tree (and its sender) is gone; each connection holds a clone until it
    // has sent its Going Away close frame.
    if tokio::time::timeout(DRAIN_TIMEOUT, drained.recv())
        .await
        .is_err()
    {
        tracing::warn!("Some WebSocket clients did not close in time");
    }
    let _ = poller.await;
    if let Some(task) = alert_loop {
        let _ = task.await;
    }
    tracing::info!("Broadcaster stopped");
    Ok(())
}
