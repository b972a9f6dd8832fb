//! The command line of `procpulse-ingest` (flags with `PROCPULSE_*` fallbacks): the
//! binary parses it, and `procpulse-config-check` checks deployment manifests against it.

use clap::Parser;

use crate::WriteMode;
use procpulse_storage::PoolOptions;
use procpulse_storage::cli::DatabaseArgs;

use crate::config::{DEFAULT_BATCH_MAX_ROWS, DEFAULT_BATCH_MAX_WAIT, valid_route};

/// Validates procpulse snapshots and stores them in SQLite or MySQL/MariaDB.
#[derive(Debug, Parser)]
#[command(name = "procpulse-ingest", version)]
pub struct Cli {
    /// Address to listen on.
    #[arg(long, env = "PROCPULSE_LISTEN", default_value = "0.0.0.0:8000")]
    pub listen: String,
    /// The database.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Route label stored with every row and echoed in answers: 1-16 characters of
    /// [A-Za-z0-9_-] (the deployment runs a and b).
    #[arg(long, env = "PROCPULSE_ROUTE", default_value = "a", value_parser = route_label)]
    pub route: String,
    /// direct (one transaction per request) or batched (group commit).
    #[arg(
        long,
        env = "PROCPULSE_WRITE_MODE",
        value_enum,
        default_value = "direct"
    )]
    pub write_mode: WriteMode,
    /// Batched: longest the oldest request waits behind another commit, milliseconds.
    #[arg(long, env = "PROCPULSE_BATCH_MAX_WAIT_MS",
          default_value_t = DEFAULT_BATCH_MAX_WAIT.as_millis() as u64)]
    pub batch_max_wait_ms: u64,
    /// Batched: rows that fill a group commit.
    #[arg(long, env = "PROCPULSE_BATCH_MAX_ROWS", default_value_t = DEFAULT_BATCH_MAX_ROWS)]
    pub batch_max_rows: usize,
    /// Batched: writer tasks, one gathering while others commit (0 = 1 on SQLite, 2 on MySQL).
    #[arg(long, env = "PROCPULSE_BATCH_WRITERS", default_value_t = 0)]
    pub batch_writers: usize,
    /// Database connections in the pool.
    #[arg(long, env = "PROCPULSE_DB_POOL_SIZE", default_value_t = PoolOptions::default().max_size)]
    pub db_pool_size: usize,
    /// Longest wait for a database connection before answering 503, milliseconds.
    #[arg(long, env = "PROCPULSE_DB_TIMEOUT_MS",
          default_value_t = PoolOptions::default().timeout.as_millis() as u64)]
    pub db_timeout_ms: u64,
    /// Require `Authorization: Bearer TOKEN` on /api/v1/*.
    #[arg(long, env = "PROCPULSE_INGEST_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// HTTP deadlines and connection cap (procpulse-service).
    #[command(flatten)]
    pub http: procpulse_service::HttpLimits,
    /// The history maintainer's flags.
    #[command(flatten)]
    pub maintenance: crate::maintenance::MaintenanceArgs,
    /// Log format and filter (procpulse-service).
    #[command(flatten)]
    pub log: procpulse_service::telemetry::LogArgs,
}

/// `--route`: a usage error (exit 2, clap's message) unless [`valid_route`].
pub fn route_label(s: &str) -> Result<String, String> {
    if valid_route(s) {
        Ok(s.to_owned())
    } else {
        Err("a route is 1-16 characters of [A-Za-z0-9_-], e.g. a or b".to_owned())
    }
}
