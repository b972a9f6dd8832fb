//! Shared state injected into handlers.

use crate::config::Config;
use crate::metrics::IngestMetrics;
use crate::writer::Writer;
use procpulse_service::MetricsRegistry;
use procpulse_storage::Database;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Everything a handler needs; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
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

impl AppState {
    /// Whether the schema is in place (writes before that answer 503).
    pub fn is_migrated(&self) -> bool {
        self.migrated.load(Ordering::Acquire)
    }
}
