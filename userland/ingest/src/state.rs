//! Shared state injected into handlers.

use crate::config::Config;
use crate::metrics::IngestMetrics;
use crate::writer::Writer;
use procpulse_service::MetricsRegistry;
use procpulse_storage::Database;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

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
    /// The database's durability warning, checked after migrations (None: durable).
    pub durability: Arc<Mutex<Option<String>>>,
}

impl State {
    /// Whether the schema is in place (writes before that answer 503).
    pub fn is_migrated(&self) -> bool {
        self.migrated.load(Ordering::Acquire)
    }

    /// Why commits may not be durable, if the start-up check found a reason.
    pub fn durability_warning(&self) -> Option<String> {
        self.durability
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
