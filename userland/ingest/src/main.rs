//! `procpulse-ingest`: flags → tracing → `procpulse_ingest::run`.

use anyhow::Context;
use clap::Parser;
use procpulse_ingest::Config;
use procpulse_ingest::cli::Cli;
use procpulse_service::Shutdown;
use procpulse_storage::DatabaseUrl;
use std::time::Duration;

/// mimalloc instead of glibc malloc: ingest allocates per request (JSON values, rows,
/// SQL text) from many threads, and glibc's arena locking and consolidation were the
/// largest single cost in a profile of batched mode (BENCHMARKS.md "ingest" has the
/// before and after).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    procpulse_service::telemetry::install(&cli.log);
    let url: DatabaseUrl = cli
        .database
        .database_url
        .parse()
        .context("--database-url")?;
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
