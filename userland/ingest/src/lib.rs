//! procpulse-ingest: the HTTP service that validates snapshots (docs/design.md §3) and stores them
//! through procpulse-storage, on SQLite or MySQL/MariaDB, in one of two write modes
//! (direct or group-committed). Every POST is answered only after the transaction that
//! holds its rows has committed; replays are counted as duplicates, never stored twice.
//!
//! Routes (docs/design.md §4): `POST /api/v1/metrics`, `GET /api/v1/stats`,
//! `GET /api/v1/averages?window=5m&host=`, `GET /healthz`, `GET /readyz`, `GET /metrics`.
//!
//! It is not a query API for dashboards (the broadcaster serves those) and keeps no state
//! of its own besides the database: any number of replicas may run side by side.

pub mod body;
pub mod cli;
pub mod client;
pub mod config;
pub mod filters;
pub mod handlers;
pub mod maintenance;
pub mod metrics;
pub mod state;
pub mod window;
pub mod writer;

pub use config::{Config, WriteMode};

use procpulse_service::Shutdown;
use procpulse_service::metrics::{HttpMetrics, new_registry};
use procpulse_storage::{Database, DatabaseUrl, StorageError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use warp::Filter;

/// Pause between migration attempts while the database is unreachable at start-up.
const MIGRATE_RETRY: Duration = Duration::from_secs(1);
/// Longest wait at shutdown for the maintainer's running step or delete batch.
const MAINTENANCE_STOP_WAIT: Duration = Duration::from_secs(10);

/// Serves ingest on `listener` until `shutdown` fires and in-flight requests have been
/// answered. The database need not be up yet: migrations are retried in the background
/// and the service answers 503 (and `/readyz` 503) until they have run.
pub async fn run(
    listener: TcpListener,
    database_url: DatabaseUrl,
    config: Config,
    shutdown: Shutdown,
) -> Result<(), StorageError> {
    let db = Database::new(&database_url, &config.pool)?;
    let mut registry = new_registry();
    let http = HttpMetrics::register(&mut registry, filters::ROUTES);
    let metrics = metrics::IngestMetrics::register(&mut registry);
    // On ingest's own pools: on SQLite its short transactions queue with the inserts on
    // the one writer connection (see procpulse_storage::maintain).
    let maintenance_metrics = metrics::MaintenanceMetrics::register(&mut registry);
    let maintainer = config.maintenance.clone().map(|m| {
        procpulse_storage::maintain::Maintainer::on(db.clone(), m)
            .with_observer(maintenance_metrics.clone())
    });
    let writer = Arc::new(writer::Writer::start(
        db.clone(),
        &config,
        Arc::clone(&metrics),
    ));
    let migrated = Arc::new(AtomicBool::new(false));
    let durability = Arc::new(Mutex::new(None));
    // Migrations, then (once the schema is there) the history maintainer until shutdown.
    let background = tokio::spawn({
        let (db, migrated, durability, shutdown) = (
            db.clone(),
            Arc::clone(&migrated),
            Arc::clone(&durability),
            shutdown.clone(),
        );
        async move {
            if migrate_until_done(db, migrated, durability, shutdown.clone()).await
                && let Some(m) = maintainer
            {
                let c = m.config();
                tracing::info!(
                    retention = %procpulse_storage::maintain::HumanDuration(c.keep_raw),
                    rollup_1m_retention = %procpulse_storage::maintain::HumanDuration(c.keep_1m),
                    rollup_1h_retention = %procpulse_storage::maintain::HumanDuration(c.keep_1h),
                    interval = %procpulse_storage::maintain::HumanDuration(c.interval),
                    holder = %c.holder,
                    "History maintenance on"
                );
                // A panic is logged, counted and the maintainer restarted (never a
                // silent stop); it ends for good when the server shuts down.
                maintenance::supervise(
                    || {
                        let (m, shutdown) = (m.clone(), shutdown.clone());
                        async move { m.run(shutdown.wait()).await }
                    },
                    maintenance::RESTART_DELAY,
                    shutdown.wait(),
                    || maintenance_metrics.panicked(),
                )
                .await;
            }
        }
    });
    tracing::info!(
        database = %database_url,
        route = %config.route,
        write_mode = config.write_mode.as_str(),
        auth = config.token.is_some(),
        "Starting ingest"
    );
    let limits = config.http.clone();
    let state = state::AppState::new(state::State {
        db,
        writer,
        config: Arc::new(config),
        metrics,
        registry: Arc::new(registry),
        migrated,
        durability,
    });
    let routes = filters::routes(state).with(http.log());
    procpulse_service::serve(listener, routes, shutdown, &limits).await;
    if tokio::time::timeout(MAINTENANCE_STOP_WAIT, background)
        .await
        .is_err()
    {
        tracing::warn!("History maintenance did not stop in time");
    }
    Ok(())
}

/// Applies migrations, retrying every second; false when shutdown came first.
async fn migrate_until_done(
    db: Database,
    migrated: Arc<AtomicBool>,
    durability: Arc<Mutex<Option<String>>>,
    shutdown: Shutdown,
) -> bool {
    let mut logged = false;
    loop {
        match db.migrate().await {
            Ok(()) => {
                check_durability(&db, &durability).await;
                migrated.store(true, Ordering::Release);
                tracing::info!(database = %db.url(), "Schema ready");
                return true;
            }
            Err(e) => {
                if !logged {
                    tracing::warn!(error = %e, "Database not ready; retrying migrations every second");
                    logged = true;
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(MIGRATE_RETRY) => {}
            _ = shutdown.wait() => return false,
        }
    }
}

/// Checks once, after migrations, that the database makes acknowledged commits durable;
/// logs a warning naming the setting and keeps it for `/readyz` when it does not.
async fn check_durability(db: &Database, durability: &Mutex<Option<String>>) {
    match db.durability_warning().await {
        Ok(Some(w)) => {
            tracing::warn!(
                setting = "innodb_flush_log_at_trx_commit",
                "Durability reduced: {w}"
            );
            *durability.lock().unwrap_or_else(|p| p.into_inner()) = Some(w);
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "Could not check innodb_flush_log_at_trx_commit"),
    }
}
