//! `procpulse-broadcaster`: flags (with `PROCPULSE_*` environment fallbacks), tracing,
//! then [`procpulse_broadcaster::run`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use procpulse_broadcaster::fleet::DEFAULT_STALE_AFTER_INTERVALS;
use procpulse_broadcaster::{
    Config, DEFAULT_HOST_TTL, DEFAULT_MAX_CLIENTS, DEFAULT_POLL_INTERVAL, run,
};
use procpulse_service::Shutdown;
use procpulse_storage::maintain::HumanDuration;

/// Follows new samples in the database and pushes them to dashboards over WebSocket.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "PROCPULSE_LISTEN", default_value = "127.0.0.1:4000")]
    listen: SocketAddr,
    /// Database: sqlite://path or mysql://user:pass@host:port/db.
    #[arg(
        long,
        env = "PROCPULSE_DATABASE_URL",
        default_value = "sqlite://procpulse.db",
        hide_env_values = true
    )]
    database_url: String,
    /// Interval between database polls, milliseconds.
    #[arg(long, env = "PROCPULSE_POLL_INTERVAL_MS",
          default_value_t = DEFAULT_POLL_INTERVAL.as_millis() as u64,
          value_parser = clap::value_parser!(u64).range(10..=60_000))]
    poll_interval_ms: u64,
    /// Origin allowed to open the WebSocket and read the REST routes cross-origin
    /// (repeat or comma-separate; none: any origin may connect, no CORS).
    #[arg(long, env = "PROCPULSE_ALLOWED_ORIGIN", value_delimiter = ',')]
    allowed_origin: Vec<String>,
    /// Serve the dashboard from this directory, read per request (development, e.g.
    /// web/app), instead of the copy built into the binary.
    #[arg(long, env = "PROCPULSE_WEB_DIR")]
    web_dir: Option<PathBuf>,
    /// Interval between WebSocket pings, seconds.
    #[arg(long, env = "PROCPULSE_PING_INTERVAL_SECONDS", default_value_t = 20)]
    ping_interval_seconds: u64,
    /// Silence after which a WebSocket client is dropped, seconds.
    #[arg(long, env = "PROCPULSE_IDLE_TIMEOUT_SECONDS", default_value_t = 45)]
    idle_timeout_seconds: u64,
    /// Most WebSocket clients at once (more are answered 503).
    #[arg(long, env = "PROCPULSE_MAX_CLIENTS", default_value_t = DEFAULT_MAX_CLIENTS)]
    max_clients: usize,
    /// Forget a host after this long without a row (it leaves the live history, the
    /// host list, latest and the fleet; its rows stay in the database): `24h`, `90m`,
    /// `7d`, `1h30m`, or `0` to keep every host.
    #[arg(long, env = "PROCPULSE_HOST_TTL",
          default_value_t = HumanDuration(DEFAULT_HOST_TTL))]
    host_ttl: HumanDuration,
    /// The fleet overview calls a host stale after this many of its sampling intervals
    /// without a row.
    #[arg(long, env = "PROCPULSE_STALE_AFTER_INTERVALS",
          default_value_t = DEFAULT_STALE_AFTER_INTERVALS,
          value_parser = clap::value_parser!(u32).range(1..=1_000))]
    stale_after_intervals: u32,
    #[command(flatten)]
    http: procpulse_service::HttpLimits,
    #[command(flatten)]
    log: procpulse_service::telemetry::LogArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    procpulse_service::telemetry::install(&args.log);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let shutdown = Shutdown::new();
    shutdown.trigger_on_signals();
    let config = Config {
        database_url: args.database_url,
        poll_interval: Duration::from_millis(args.poll_interval_ms),
        allowed_origins: args.allowed_origin,
        web_dir: args.web_dir,
        ping_interval: Duration::from_secs(args.ping_interval_seconds.max(1)),
        idle_timeout: Duration::from_secs(args.idle_timeout_seconds.max(1)),
        max_clients: args.max_clients,
        http: args.http,
        host_ttl: args.host_ttl.0,
        stale_after_intervals: args.stale_after_intervals,
    };
    run(listener, config, shutdown).await?;
    Ok(())
}
