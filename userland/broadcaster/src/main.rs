//! `procpulse-broadcaster`: flags (with `PROCPULSE_*` environment fallbacks), tracing,
//! then [`procpulse_broadcaster::run`].

use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use procpulse_alerts::deliver::Target;
use procpulse_broadcaster::alerting::AlertConfig;
use procpulse_broadcaster::cli::Args;
use procpulse_broadcaster::{Config, run};
use procpulse_service::Shutdown;

/// The alerting configuration the flags ask for; a bad rules file is an error naming
/// its line.
fn alert_config(args: &Args) -> anyhow::Result<Option<AlertConfig>> {
    let mut targets: Vec<Target> = args
        .alertmanager_url
        .iter()
        .map(|u| Target::Alertmanager(u.clone()))
        .collect();
    targets.extend(
        args.alert_webhook_url
            .iter()
            .map(|u| Target::Webhook(u.clone())),
    );
    let Some(path) = &args.alert_rules else {
        if !targets.is_empty() {
            anyhow::bail!("--alertmanager-url and --alert-webhook-url need --alert-rules");
        }
        return Ok(None);
    };
    let rules = procpulse_alerts::rules::load(path)
        .map_err(|e| anyhow::anyhow!("bad --alert-rules: {e}"))?;
    Ok(Some(AlertConfig {
        rules,
        targets,
        resend_interval: args.alert_resend_interval.0,
        dashboard_url: args.public_url.clone(),
    }))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    procpulse_service::telemetry::install(&args.log);
    let alerts = alert_config(&args)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let shutdown = Shutdown::new();
    shutdown.trigger_on_signals();
    let config = Config {
        database_url: args.database.database_url,
        poll_interval: Duration::from_millis(args.poll_interval_ms),
        allowed_origins: args.allowed_origin,
        web_dir: args.web_dir,
        ping_interval: Duration::from_secs(args.ping_interval_seconds.max(1)),
        idle_timeout: Duration::from_secs(args.idle_timeout_seconds.max(1)),
        max_clients: args.max_clients,
        http: args.http,
        host_ttl: args.host_ttl.0,
        stale_after_intervals: args.stale_after_intervals,
        alerts,
    };
    run(listener, config, shutdown).await?;
    Ok(())
}
