//! The push sender's metrics (`procpulse_agent_push_*`), registered by the [`Agent`]
//! with its other metrics and updated by [`crate::push`]. Their own module, so that the
//! agent (`collect.rs`) and the sender (`push.rs`) do not import each other.
//!
//! [`Agent`]: crate::collect::Agent

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Push counters.
#[derive(Debug, Clone, Default)]
pub struct PushMetrics {
    /// Snapshots acknowledged by ingest.
    pub sent: Counter,
    /// Snapshots dropped (queue overflow or refused by ingest with a 4xx).
    pub dropped: Counter,
    /// Failed POST attempts.
    pub failures: Counter,
    /// Snapshots waiting.
    pub queued: Gauge,
}

impl PushMetrics {
    /// Registers the push metrics.
    pub fn register(reg: &mut Registry) -> Self {
        let m = PushMetrics::default();
        reg.register(
            "agent_push_sent",
            "Snapshots acknowledged by ingest",
            m.sent.clone(),
        );
        reg.register(
            "agent_push_dropped",
            "Snapshots dropped (queue overflow or refused by ingest)",
            m.dropped.clone(),
        );
        reg.register(
            "agent_push_failures",
            "Failed push attempts",
            m.failures.clone(),
        );
        reg.register(
            "agent_push_queue_length",
            "Snapshots waiting to be pushed",
            m.queued.clone(),
        );
        m
    }
}
