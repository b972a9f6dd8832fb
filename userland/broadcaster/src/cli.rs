//! The command line of `procpulse-broadcaster` (flags with `PROCPULSE_*` fallbacks): the
//! binary parses it, and `procpulse-config-check` checks deployment manifests against it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use procpulse_storage::cli::DatabaseArgs;
use procpulse_storage::maintain::HumanDuration;

use crate::alerting::DEFAULT_RESEND_INTERVAL;
use crate::fleet::DEFAULT_STALE_AFTER_INTERVALS;
use crate::{
    DEFAULT_HOST_TTL, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CLIENTS, DEFAULT_PING_INTERVAL,
    DEFAULT_POLL_INTERVAL,
};

/// Follows new samples in the database and pushes them to dashboards over WebSocket.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, env = "PROCPULSE_LISTEN", default_value = "127.0.0.1:4000")]
    pub listen: SocketAddr,
    /// The database.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Interval between database polls, milliseconds.
    #[arg(long, env = "PROCPULSE_POLL_INTERVAL_MS",
          default_value_t = DEFAULT_POLL_INTERVAL.as_millis() as u64,
          value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub poll_interval_ms: u64,
    /// Origin allowed to open the WebSocket and read the REST routes cross-origin
    /// (repeat or comma-separate; none: any origin may connect, no CORS).
    #[arg(long, env = "PROCPULSE_ALLOWED_ORIGIN", value_delimiter = ',')]
    pub allowed_origin: Vec<String>,
    /// Serve the dashboard from this directory, read per request (development, e.g.
    /// web/app), instead of the copy built into the binary.
    #[arg(long, env = "PROCPULSE_WEB_DIR")]
    pub web_dir: Option<PathBuf>,
    /// Interval between WebSocket pings, seconds.
    #[arg(long, env = "PROCPULSE_PING_INTERVAL_SECONDS",
          default_value_t = DEFAULT_PING_INTERVAL.as_secs())]
    pub ping_interval_seconds: u64,
    /// Silence after which a WebSocket client is dropped, seconds.
    #[arg(long, env = "PROCPULSE_IDLE_TIMEOUT_SECONDS",
          default_value_t = DEFAULT_IDLE_TIMEOUT.as_secs())]
    pub idle_timeout_seconds: u64,
    /// Most WebSocket clients at once (more are answered 503).
    #[arg(long, env = "PROCPULSE_MAX_CLIENTS", default_value_t = DEFAULT_MAX_CLIENTS)]
    pub max_clients: usize,
    /// Forget a host after this long without a row (it leaves the live history, the
    /// host list, latest and the fleet; its rows stay in the database): `24h`, `90m`,
    /// `7d`, `1h30m`, or `0` to keep every host.
    #[arg(long, env = "PROCPULSE_HOST_TTL",
          default_value_t = HumanDuration(DEFAULT_HOST_TTL))]
    pub host_ttl: HumanDuration,
    /// The fleet overview calls a host stale after this many of its sampling intervals
    /// without a row.
    #[arg(long, env = "PROCPULSE_STALE_AFTER_INTERVALS",
          default_value_t = DEFAULT_STALE_AFTER_INTERVALS,
          value_parser = clap::value_parser!(u32).range(1..=1_000))]
    pub stale_after_intervals: u32,
    /// Alert rules (TOML, see userland/alerts/README.md): evaluated on every sample and
    /// listed at /api/v1/alerts; a mistake stops start-up with the line it is on.
    #[arg(long, env = "PROCPULSE_ALERT_RULES")]
    pub alert_rules: Option<PathBuf>,
    /// Alertmanager to send alerts to, as Prometheus does (POST {url}/api/v2/alerts);
    /// repeat or comma-separate for several. Needs --alert-rules.
    #[arg(long, env = "PROCPULSE_ALERTMANAGER_URL", value_delimiter = ',', value_parser = http_url)]
    pub alertmanager_url: Vec<String>,
    /// Plain webhook to POST alert changes (firing, resolved) to, as JSON shaped like
    /// Alertmanager's webhook; repeat or comma-separate. Needs --alert-rules.
    #[arg(long, env = "PROCPULSE_ALERT_WEBHOOK_URL", value_delimiter = ',', value_parser = http_url)]
    pub alert_webhook_url: Vec<String>,
    /// How often firing alerts are re-sent to Alertmanager (each holds for 4 times this
    /// without news): `1m`, `30s`.
    #[arg(long, env = "PROCPULSE_ALERT_RESEND_INTERVAL",
          default_value_t = HumanDuration(DEFAULT_RESEND_INTERVAL),
          value_parser = resend_interval)]
    pub alert_resend_interval: HumanDuration,
    /// The dashboard's public URL, for each alert's link back (generatorURL), e.g.
    /// https://procpulse.example.
    #[arg(long, env = "PROCPULSE_PUBLIC_URL", value_parser = http_url)]
    pub public_url: Option<String>,
    /// HTTP deadlines and connection cap (procpulse-service).
    #[command(flatten)]
    pub http: procpulse_service::HttpLimits,
    /// Log format and filter (procpulse-service).
    #[command(flatten)]
    pub log: procpulse_service::telemetry::LogArgs,
}

/// An absolute http(s) URL.
pub fn http_url(s: &str) -> Result<String, String> {
    match reqwest::Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => Ok(s.to_owned()),
        Ok(_) => Err(format!("{s:?} is not an http:// or https:// URL")),
        Err(e) => Err(format!("{s:?}: {e}")),
    }
}

/// A resend interval: at least a second.
pub fn resend_interval(s: &str) -> Result<HumanDuration, String> {
    let d: HumanDuration = s.parse()?;
    if d.0 < Duration::from_secs(1) {
        return Err(format!("{s:?} is too short: at least 1s"));
    }
    Ok(d)
}
