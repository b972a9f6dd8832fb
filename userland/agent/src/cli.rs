//! The command line of `procpulse-agent` (flags with `PROCPULSE_*` fallbacks): the binary
//! parses it, and `procpulse-config-check` checks the unit, DaemonSet and compose file
//! against it.

use std::path::PathBuf;

use clap::Parser;

use crate::SourceMode;
use crate::config::{
    DEFAULT_LISTEN, DEFAULT_MODULE_CHECK_INTERVAL, DEFAULT_PASSWD_FILE, DEFAULT_PUSH_INTERVAL,
    DEFAULT_PUSH_QUEUE_CAPACITY, DEFAULT_SAMPLE_INTERVAL, DEFAULT_SNAPSHOT_TOP,
};

/// Serves snapshots of this host (kernel modules or /proc) over HTTP; optional push mode.
#[derive(Debug, Parser)]
#[command(name = "procpulse-agent", version, about)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, env = "PROCPULSE_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: String,
    /// Snapshot source: auto (modules when loaded, else /proc), kmod or procfs.
    #[arg(long, env = "PROCPULSE_SOURCE", value_enum, default_value = "auto")]
    pub source: SourceMode,
    /// Root of the proc filesystem.
    #[arg(long, env = "PROCPULSE_PROC_ROOT", default_value = "/proc")]
    pub proc_root: PathBuf,
    /// Host name in snapshots (default: <proc-root>/sys/kernel/hostname).
    #[arg(long, env = "PROCPULSE_HOSTNAME")]
    pub hostname: Option<String>,
    /// CPU sampling window of the /proc fallback, and the longest a process walk is reused.
    #[arg(long, env = "PROCPULSE_SAMPLE_INTERVAL_MS",
          default_value_t = DEFAULT_SAMPLE_INTERVAL.as_millis() as u64)]
    pub sample_interval_ms: u64,
    /// How often `auto` re-checks whether the modules are loaded.
    #[arg(
        long,
        env = "PROCPULSE_MODULE_CHECK_INTERVAL_SECONDS",
        default_value_t = DEFAULT_MODULE_CHECK_INTERVAL.as_secs()
    )]
    pub module_check_interval_seconds: u64,
    /// Entries of `top` in each snapshot (0-50).
    #[arg(long, env = "PROCPULSE_SNAPSHOT_TOP", default_value_t = DEFAULT_SNAPSHOT_TOP,
          value_parser = clap::value_parser!(u8).range(0..=50))]
    pub snapshot_top: u8,
    /// passwd file naming the uids of top rows (the monitored host's).
    #[arg(long, env = "PROCPULSE_PASSWD_FILE", default_value = DEFAULT_PASSWD_FILE)]
    pub passwd_file: PathBuf,
    /// Ingest URL to push snapshots to (enables push mode); may carry user:password@.
    #[arg(long, env = "PROCPULSE_PUSH_URL", hide_env_values = true)]
    pub push_url: Option<String>,
    /// Seconds between pushed snapshots.
    #[arg(long, env = "PROCPULSE_PUSH_INTERVAL_SECONDS",
          default_value_t = DEFAULT_PUSH_INTERVAL.as_secs())]
    pub push_interval_seconds: u64,
    /// Snapshots kept while ingest is unreachable (then the oldest is dropped).
    #[arg(long, env = "PROCPULSE_PUSH_QUEUE_CAPACITY", default_value_t = DEFAULT_PUSH_QUEUE_CAPACITY)]
    pub push_queue_capacity: usize,
    /// Bearer token for ingest (prefer --ingest-token-file: an environment is readable by
    /// more than the file).
    #[arg(long, env = "PROCPULSE_INGEST_TOKEN", hide_env_values = true)]
    pub ingest_token: Option<String>,
    /// File holding the bearer token for ingest (e.g. a systemd credential,
    /// `%d/ingest-token`); surrounding whitespace is ignored.
    #[arg(
        long,
        env = "PROCPULSE_INGEST_TOKEN_FILE",
        conflicts_with = "ingest_token"
    )]
    pub ingest_token_file: Option<PathBuf>,
    /// Allow sending the ingest token over plain http:// (refused by default).
    #[arg(long, env = "PROCPULSE_PUSH_INSECURE")]
    pub push_insecure: bool,
    /// Web config (TOML): TLS cert/key and bearer/basic authentication of this agent's
    /// HTTP server; see the README. Default: plain HTTP, no authentication.
    #[arg(long, env = "PROCPULSE_WEB_CONFIG")]
    pub web_config: Option<PathBuf>,
    /// HTTP server threads, each with its own runtime and SO_REUSEPORT socket (0 = one per
    /// CPU this process may run on).
    #[arg(long, env = "PROCPULSE_THREADS", default_value_t = 0)]
    pub threads: usize,
    /// Pin server thread i to the i-th allowed CPU (the sampler's nice-10 walk inherits the
    /// first thread's CPU).
    #[arg(long, env = "PROCPULSE_PIN_THREADS")]
    pub pin_threads: bool,
    /// HTTP deadlines and connection cap (procpulse-service).
    #[command(flatten)]
    pub http: procpulse_service::HttpLimits,
    /// Log format and filter (procpulse-service).
    #[command(flatten)]
    pub log: procpulse_service::telemetry::LogArgs,
}
