//! `procpulse-ingest`: flags → tracing → `procpulse_ingest::run`.

use anyhow::Context;
use clap::Parser;
use procpulse_ingest::{Config, WriteMode, config::valid_route};
use procpulse_service::Shutdown;
use procpulse_storage::DatabaseUrl;
use std::time::Duration;

/// mimalloc instead of glibc malloc: ingest allocates per request (JSON values, rows,
/// SQL text) from many threads, and glibc's arena locking and consolidation were the
/// largest single cost in a profile of batched mode (~30 % of the process's CPU).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Validates procpulse snapshots and stores them in SQLite or MySQL/MariaDB.
#[derive(Debug, Parser)]
#[command(name = "procpulse-ingest", version)]
struct Cli {
    /// Address to listen on.
    #[arg(long, env = "PROCPULSE_LISTEN", default_value = "0.0.0.0:8000")]
    listen: String,
    /// sqlite://path or mysql://user:pass@host:port/db.
    #[arg(
        long,
        env = "PROCPULSE_DATABASE_URL",
        default_value = "sqlite://procpulse.db",
        hide_env_values = true
    )]
    database_url: String,
    /// Route label stored with every row and echoed in answers: 1-16 characters of
    /// [A-Za-z0-9_-] (the deployment runs a and b).
    #[arg(long, env = "PROCPULSE_ROUTE", default_value = "a", value_parser = route_label)]
    route: String,
    /// direct (one transaction per request) or batched (group commit).
    #[arg(
        long,
        env = "PROCPULSE_WRITE_MODE",
        value_enum,
        default_value = "direct"
    )]
    write_mode: WriteMode,
    /// Batched: longest the oldest request waits behind another commit, milliseconds.
    #[arg(long, env = "PROCPULSE_BATCH_MAX_WAIT_MS", default_value_t = 2)]
    batch_max_wait_ms: u64,
    /// Batched: rows that fill a group commit.
    #[arg(long, env = "PROCPULSE_BATCH_MAX_ROWS", default_value_t = procpulse_ingest::config::DEFAULT_BATCH_MAX_ROWS)]
    batch_max_rows: usize,
    /// Batched: writer tasks, one gathering while others commit (0 = 1 on SQLite, 2 on MySQL).
    #[arg(long, env = "PROCPULSE_BATCH_WRITERS", default_value_t = 0)]
    batch_writers: usize,
    /// Database connections in the pool.
    #[arg(long, env = "PROCPULSE_DB_POOL_SIZE", default_value_t = 16)]
    db_pool_size: usize,
    /// Longest wait for a database connection before answering 503, milliseconds.
    #[arg(long, env = "PROCPULSE_DB_TIMEOUT_MS", default_value_t = 2000)]
    db_timeout_ms: u64,
    /// Require `Authorization: Bearer TOKEN` on /api/v1/*.
    #[arg(long, env = "PROCPULSE_INGEST_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[command(flatten)]
    http: procpulse_service::HttpLimits,
    #[command(flatten)]
    maintenance: procpulse_ingest::maintenance::MaintenanceArgs,
    #[command(flatten)]
    log: procpulse_service::telemetry::LogArgs,
}

/// `--route`: a usage error (exit 2, clap's message) unless [`valid_route`].
fn route_label(s: &str) -> Result<String, String> {
    if valid_route(s) {
        Ok(s.to_owned())
    } else {
        Err("a route is 1-16 characters of [A-Za-z0-9_-], e.g. a or b".to_owned())
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    procpulse_service::telemetry::install(&cli.log);
    let url: DatabaseUrl = cli.database_url.parse().context("--database-url")?;
    let mut config = Config::new(cli.route, cli.write_mode);
    config.batch_max_wait = Duration::from_millis(cli.batch_max_wait_ms);
    config.batch_max_rows = cli.batch_max_rows.max(1);
    config.batch_writers = cli.batch_writers;
    config.token = cli.token.filter(|t| !t.is_empty());
    config.pool.max_size = cli.db_pool_size.max(1);
    config.pool.timeout = Duration::from_millis(cli.db_timeout_ms.max(1));
    config.http = cli.http;
    config.maintenance = cli.maintenance.config();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&cli.listen)
            .await
            .with_context(|| format!("binding {}", cli.listen))?;
        let shutdown = Shutdown::new();
        shutdown.trigger_on_signals();
        procpulse_ingest::run(listener, url, config, shutdown).await?;
        tracing::info!("Ingest stopped");
        anyhow::Ok(())
    })
}
