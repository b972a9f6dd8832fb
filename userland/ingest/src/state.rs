//! Shared state injected into handlers.

use crate::config::Config;
use crate::metrics::IngestMetrics;
use crate::writer::Writer;
use procpulse_service::MetricsRegistry;
use procpulse_storage::Database;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Everything a handler needs, behind one `Arc`: warp clones the state into every
/// request (and with the filter tree), so a clone is one reference-count increment.
#[derive(Debug, Clone)]
pub struct AppState(Arc<State>);

impl AppState {
    /// Shares `state`.
    pub fn new(state: State) -> Self {
        AppState(Arc::new(state))
    }
}

impl std::ops::Deref for AppState {
    type Target = State;
    fn deref(&self) -> &State {
        &self.0
    }
}

/// The state's parts.
#[derive(Debug)]
pub struct State {
    /// The database.
    pub db: Database,
    /// The write path (direct or batched).
    pub writer: Arc<Writer>,
    /// Configuration.
    pub config: Arc<Config>,
    /// Ingest's own metrics.
    pub metrics: Arc<IngestMetrics>,
    /// The frozen registry `GET /metrics` renders.
    pub registry: MetricsRegistry,
    /// Set once migrations have been applied.
    pub migrated: Arc<AtomicBool>,
}

impl State {
    /// Whether the schema is in place (writes before that answer 503).
    pub fn is_migrated(&self) -> bool {
        self.migrated.load(Ordering::Acquire)
    }
}
