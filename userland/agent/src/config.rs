//! The agent's configuration (flags are parsed in `main.rs`).

use procpulse_model::redact::redact_password;
use std::path::PathBuf;
use std::time::Duration;

/// Where snapshots come from (`--source`: a clap value enum, so a wrong value is a usage
/// error listing these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SourceMode {
    /// The modules when all three files exist, else /proc; re-checked periodically.
    Auto,
    /// Only the modules (503 when they are absent).
    Kmod,
    /// Only the standard /proc files.
    Procfs,
}

impl std::str::FromStr for SourceMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(SourceMode::Auto),
            "kmod" => Ok(SourceMode::Kmod),
            "procfs" => Ok(SourceMode::Procfs),
            other => Err(format!("unknown source {other:?} (auto, kmod or procfs)")),
        }
    }
}

/// Push mode.
#[derive(Debug, Clone)]
pub struct PushConfig {
    /// Ingest URL snapshots are POSTed to (`…/api/v1/metrics`).
    pub url: String,
    /// Time between two snapshots.
    pub interval: Duration,
    /// Snapshots kept while ingest is unreachable; beyond that the oldest is dropped.
    pub queue_capacity: usize,
    /// Most snapshots in one POST (ingest accepts ≤ 1000).
    pub batch_max: usize,
    /// Optional bearer token for ingest.
    pub token: Option<String>,
    /// Send the token over plain `http://` anyway (`--push-insecure`).
    pub allow_insecure: bool,
    /// Longest wait between retries (a larger `Retry-After` is capped to it).
    pub max_backoff: Duration,
    /// How long SIGTERM waits for the queue to drain.
    pub drain_timeout: Duration,
}

impl PushConfig {
    /// Refuses a configuration that would send the bearer token in clear: a token with
    /// an `http://` URL needs `allow_insecure` (`--push-insecure`).
    pub fn validate(&self) -> Result<(), String> {
        let scheme = self
            .url
            .split_once("://")
            .map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("https") => Ok(()),
            Some("http") if self.token.is_none() || self.allow_insecure => Ok(()),
            Some("http") => Err(format!(
                "refusing to send the ingest token over plain http to {}: use an https:// URL, or pass --push-insecure (PROCPULSE_PUSH_INSECURE=true) to accept it",
                redact_password(&self.url)
            )),
            _ => Err(format!(
                "push URL {:?} must start with http:// or https://",
                redact_password(&self.url)
            )),
        }
    }

    /// Defaults for `url` every `interval`.
    pub fn new(url: impl Into<String>, interval: Duration) -> Self {
        PushConfig {
            url: url.into(),
            interval,
            queue_capacity: DEFAULT_PUSH_QUEUE_CAPACITY,
            batch_max: 100,
            token: None,
            allow_insecure: false,
            max_backoff: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(5),
        }
    }
}

/// Default address (`--listen`): loopback only; deployments open it explicitly.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:5200";
/// Default window of the /proc fallback's CPU sampler (`--sample-interval-ms`).
pub const DEFAULT_SAMPLE_INTERVAL: Duration = Duration::from_millis(1000);
/// Default interval of `auto`'s module check (`--module-check-interval-seconds`).
pub const DEFAULT_MODULE_CHECK_INTERVAL: Duration = Duration::from_secs(5);
/// Default entries of `top` per snapshot (`--snapshot-top`).
pub const DEFAULT_SNAPSHOT_TOP: u8 = 10;
/// Default passwd file (`--passwd-file`).
pub const DEFAULT_PASSWD_FILE: &str = "/etc/passwd";
/// Default interval between pushed snapshots (`--push-interval-seconds`).
pub const DEFAULT_PUSH_INTERVAL: Duration = Duration::from_secs(5);
/// Default snapshots kept while ingest is unreachable (`--push-queue-capacity`).
pub const DEFAULT_PUSH_QUEUE_CAPACITY: usize = 1024;

/// Everything the agent needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Source selection.
    pub source: SourceMode,
    /// Root of the proc filesystem (`/proc`, or a fixture tree in tests).
    pub proc_root: PathBuf,
    /// Host name in snapshots; `None` = `<proc-root>/sys/kernel/hostname`.
    pub hostname: Option<String>,
    /// Window of the /proc fallback's CPU sampler and the longest a process walk is
    /// reused.
    pub sample_interval: Duration,
    /// How often `auto` re-checks whether the modules are loaded.
    pub module_check_interval: Duration,
    /// Entries of `top` in each snapshot (0 = none, at most
    /// [`MAX_TOP`](procpulse_model::snapshot::MAX_TOP) = 50; more is an error at start).
    pub snapshot_top: usize,
    /// The passwd file naming the uids of `top` rows (`/etc/passwd`; the monitored
    /// host's when the agent runs in a container with its /etc mounted elsewhere).
    pub passwd_path: PathBuf,
    /// Push mode, if enabled.
    pub push: Option<PushConfig>,
    /// HTTP deadlines and connection cap of the server.
    pub http: procpulse_service::HttpLimits,
    /// TLS and authentication of the HTTP server (`--web-config`; default: neither).
    pub web: crate::auth::WebConfig,
}

impl Config {
    /// Checks what can be checked before start (push URL vs token).
    pub fn validate(&self) -> Result<(), String> {
        self.push.as_ref().map_or(Ok(()), PushConfig::validate)
    }

    /// Defaults for a proc root.
    pub fn new(proc_root: impl Into<PathBuf>) -> Self {
        Config {
            source: SourceMode::Auto,
            proc_root: proc_root.into(),
            hostname: None,
            sample_interval: DEFAULT_SAMPLE_INTERVAL,
            module_check_interval: DEFAULT_MODULE_CHECK_INTERVAL,
            snapshot_top: DEFAULT_SNAPSHOT_TOP as usize,
            passwd_path: PathBuf::from(DEFAULT_PASSWD_FILE),
            push: None,
            http: procpulse_service::HttpLimits::default(),
            web: crate::auth::WebConfig::default(),
        }
    }
}
