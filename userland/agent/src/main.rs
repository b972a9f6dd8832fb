//! `procpulse-agent`: flags → [`procpulse_agent::threads::run`].

use anyhow::Context;
use clap::Parser;
use procpulse_agent::auth::WebConfig;
use procpulse_agent::{Config, PushConfig, SourceMode, threads};
use procpulse_service::Shutdown;
use std::path::PathBuf;
use std::time::Duration;

/// Serves snapshots of this host (kernel modules or /proc) over HTTP; optional push mode.
#[derive(Debug, Parser)]
#[command(name = "procpulse-agent", version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "PROCPULSE_LISTEN", default_value = "127.0.0.1:5200")]
    listen: String,
    /// Snapshot source: auto (modules when loaded, else /proc), kmod or procfs.
    #[arg(long, env = "PROCPULSE_SOURCE", value_enum, default_value = "auto")]
    source: SourceMode,
    /// Root of the proc filesystem.
    #[arg(long, env = "PROCPULSE_PROC_ROOT", default_value = "/proc")]
    proc_root: PathBuf,
    /// Host name in snapshots (default: <proc-root>/sys/kernel/hostname).
    #[arg(long, env = "PROCPULSE_HOSTNAME")]
    hostname: Option<String>,
    /// CPU sampling window of the /proc fallback, and the longest a process walk is reused.
    #[arg(long, env = "PROCPULSE_SAMPLE_INTERVAL_MS", default_value_t = 1000)]
    sample_interval_ms: u64,
    /// How often `auto` re-checks whether the modules are loaded.
    #[arg(
        long,
        env = "PROCPULSE_MODULE_CHECK_INTERVAL_SECONDS",
        default_value_t = 5
    )]
    module_check_interval_seconds: u64,
    /// Entries of `top` in each snapshot (0-50).
    #[arg(long, env = "PROCPULSE_SNAPSHOT_TOP", default_value_t = 10,
          value_parser = clap::value_parser!(u8).range(0..=50))]
    snapshot_top: u8,
    /// passwd file naming the uids of top rows (the monitored host's).
    #[arg(long, env = "PROCPULSE_PASSWD_FILE", default_value = "/etc/passwd")]
    passwd_file: PathBuf,
    /// Ingest URL to push snapshots to (enables push mode); may carry user:password@.
    #[arg(long, env = "PROCPULSE_PUSH_URL", hide_env_values = true)]
    push_url: Option<String>,
    /// Seconds between pushed snapshots.
    #[arg(long, env = "PROCPULSE_PUSH_INTERVAL_SECONDS", default_value_t = 5)]
    push_interval_seconds: u64,
    /// Snapshots kept while ingest is unreachable (then the oldest is dropped).
    #[arg(long, env = "PROCPULSE_PUSH_QUEUE_CAPACITY", default_value_t = 1024)]
    push_queue_capacity: usize,
    /// Bearer token for ingest (prefer --ingest-token-file: an environment is readable by
    /// more than the file).
    #[arg(long, env = "PROCPULSE_INGEST_TOKEN", hide_env_values = true)]
    ingest_token: Option<String>,
    /// File holding the bearer token for ingest (e.g. a systemd credential,
    /// `%d/ingest-token`); surrounding whitespace is ignored.
    #[arg(
        long,
        env = "PROCPULSE_INGEST_TOKEN_FILE",
        conflicts_with = "ingest_token"
    )]
    ingest_token_file: Option<PathBuf>,
    /// Allow sending the ingest token over plain http:// (refused by default).
    #[arg(long, env = "PROCPULSE_PUSH_INSECURE")]
    push_insecure: bool,
    /// Web config (TOML): TLS cert/key and bearer/basic authentication of this agent's
    /// HTTP server; see the README. Default: plain HTTP, no authentication.
    #[arg(long, env = "PROCPULSE_WEB_CONFIG")]
    web_config: Option<PathBuf>,
    /// HTTP server threads, each with its own runtime and SO_REUSEPORT socket (0 = one per
    /// CPU this process may run on).
    #[arg(long, env = "PROCPULSE_THREADS", default_value_t = 0)]
    threads: usize,
    /// Pin server thread i to the i-th allowed CPU (the sampler's nice-10 walk inherits the
    /// first thread's CPU).
    #[arg(long, env = "PROCPULSE_PIN_THREADS")]
    pin_threads: bool,
    #[command(flatten)]
    http: procpulse_service::HttpLimits,
    #[command(flatten)]
    log: procpulse_service::telemetry::LogArgs,
}

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
