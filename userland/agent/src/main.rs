//! `procpulse-agent`: flags → [`procpulse_agent::threads::run`].

use anyhow::Context;
use clap::Parser;
use procpulse_agent::auth::WebConfig;
use procpulse_agent::cli::Args;
use procpulse_agent::{Config, PushConfig, threads};
use procpulse_service::Shutdown;
use std::time::Duration;

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    procpulse_service::telemetry::install(&a.log);
    let mut config = Config::new(a.proc_root);
    config.source = a.source;
    config.hostname = a.hostname;
    config.sample_interval = Duration::from_millis(a.sample_interval_ms.max(10));
    config.module_check_interval = Duration::from_secs(a.module_check_interval_seconds.max(1));
    config.snapshot_top = usize::from(a.snapshot_top);
    config.passwd_path = a.passwd_file;
    config.http = a.http;
    if let Some(path) = &a.web_config {
        config.web = WebConfig::load(path).context("--web-config")?;
    }
    let token = match &a.ingest_token_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("--ingest-token-file {}", path.display()))?
                .trim()
                .to_owned(),
        ),
        None => a.ingest_token,
    };
    config.push = a.push_url.map(|url| {
        let mut p = PushConfig::new(url, Duration::from_secs(a.push_interval_seconds.max(1)));
        p.queue_capacity = a.push_queue_capacity.max(1);
        p.token = token;
        p.allow_insecure = a.push_insecure;
        p
    });
    config.validate().map_err(anyhow::Error::msg)?;
    let threads = match a.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let addr = threads::resolve(&a.listen).context("--listen")?;
    let listeners = threads::bind_reuseport(addr, threads)?;
    let pin = a.pin_threads.then(threads::allowed_cpus);
    threads::run(config, listeners, pin, Shutdown::new())
}
