//! Service configuration (the binary fills it from flags and `PROCPULSE_*` variables).

use procpulse_storage::PoolOptions;
use std::str::FromStr;
use std::time::Duration;

/// How requests become transactions (docs/design.md §5); `--write-mode` (a clap value enum, so a
/// wrong value is a usage error listing these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WriteMode {
    /// One transaction per request.
    Direct,
    /// Group commit: concurrent requests share one transaction and multi-row insert.
    Batched,
}

impl WriteMode {
    /// `direct` or `batched`.
    pub fn as_str(self) -> &'static str {
        match self {
            WriteMode::Direct => "direct",
            WriteMode::Batched => "batched",
        }
    }
}

impl FromStr for WriteMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "direct" => Ok(WriteMode::Direct),
            "batched" => Ok(WriteMode::Batched),
            other => Err(format!(
                "unknown write mode {other:?} (expected direct or batched)"
            )),
        }
    }
}

/// Largest accepted request body: docs/design.md §4 (1 MiB).
pub const MAX_BODY_BYTES: u64 = 1024 * 1024;

/// Default longest wait of the batched writer's oldest request while another commit is in
/// flight (an idle writer commits at once, so this only bounds the wait behind a slow
/// commit). Chosen by measurement with ci/bench/ingest.sh's set-up (2 ms against 5 ms
/// and 0): the figures are in BENCHMARKS.md "ingest".
pub const DEFAULT_BATCH_MAX_WAIT: Duration = Duration::from_millis(2);
/// Default rows per group commit: a few MySQL statements' worth, and two SQLite statements
/// (910 rows each at 36 bound columns) for a full 1000-snapshot request.
pub const DEFAULT_BATCH_MAX_ROWS: usize = 2000;

/// Everything `run` needs besides the listener.
#[derive(Debug, Clone)]
pub struct Config {
    /// Route label stored in `samples.route` and echoed in answers (`a`, `b`).
    pub route: String,
    /// Direct or batched writes.
    pub write_mode: WriteMode,
    /// Batched: longest the oldest queued request waits for another writer's commit to
    /// end before its batch is written anyway.
    pub batch_max_wait: Duration,
    /// Batched: rows that make a batch full.
    pub batch_max_rows: usize,
    /// Batched: writer tasks gathering and committing in parallel (0 = backend default:
    /// 1 on SQLite, which has one writer anyway, 2 on MySQL so one batch gathers while
    /// the other commits).
    pub batch_writers: usize,
    /// Bearer token required on `/api/v1/*` when set.
    pub token: Option<String>,
    /// Pool sizes and timeouts.
    pub pool: PoolOptions,
    /// Seconds advertised in `Retry-After` on 503.
    pub retry_after: Duration,
    /// HTTP deadlines and connection cap of the server.
    pub http: procpulse_service::HttpLimits,
    /// The history maintainer's settings (retention, rollups); `None` runs none.
    pub maintenance: Option<procpulse_storage::maintain::MaintainConfig>,
}

impl Config {
    /// Defaults for `route` in `write_mode`.
    pub fn new(route: impl Into<String>, write_mode: WriteMode) -> Config {
        Config {
            route: route.into(),
            write_mode,
            batch_max_wait: DEFAULT_BATCH_MAX_WAIT,
            batch_max_rows: DEFAULT_BATCH_MAX_ROWS,
            batch_writers: 0,
            token: None,
            pool: PoolOptions::default(),
            retry_after: Duration::from_secs(1),
            http: procpulse_service::HttpLimits::default(),
            maintenance: Some(procpulse_storage::maintain::MaintainConfig::default()),
        }
    }
}

/// Checks a route label: 1–16 chars of `[A-Za-z0-9_-]`.
pub fn valid_route(route: &str) -> bool {
    (1..=16).contains(&route.len())
        && route
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}
