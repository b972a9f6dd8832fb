//! The broadcaster's own metrics (besides the HTTP request metrics of
//! `procpulse-service`): connected clients, frames sent, lagged and dropped clients,
//! poll latency, commit-to-delivery latency, hosts held and evicted.

use std::sync::Arc;

use procpulse_service::metrics::LATENCY_BUCKETS_SECONDS;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Delivery latency buckets, 10 ms to 30 s (the poll interval is 100 ms by default).
const DELIVERY_BUCKETS_SECONDS: [f64; 14] = [
    0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0,
];

/// Counters shared by the poller and every connection.
#[derive(Debug)]
pub struct Metrics {
    /// `procpulse_broadcaster_clients`: WebSocket clients connected now.
    pub clients: Gauge,
    /// `procpulse_broadcaster_frames_sent_total`: frames written to clients.
    pub frames_sent: Counter,
    /// `procpulse_broadcaster_rows_delivered_total`: rows the poller read and fanned out.
    pub rows: Counter,
    /// `procpulse_broadcaster_lagged_total`: times a client fell behind the bounded queue
    /// and was skipped to the newest state.
    pub lagged: Counter,
    /// `procpulse_broadcaster_frames_skipped_total`: frames a lagging client never got.
    pub skipped: Counter,
    /// `procpulse_broadcaster_dropped_clients_total`: clients disconnected by the server
    /// (no pong within the idle timeout, or a write that could not complete in it).
    pub dropped: Counter,
    /// `procpulse_broadcaster_rejected_clients_total`: upgrades refused (origin, limit).
    pub rejected: Counter,
    /// `procpulse_broadcaster_poll_errors_total`: failed database polls.
    pub poll_errors: Counter,
    /// `procpulse_broadcaster_poll_duration_seconds`: one poll (all its pages).
    pub poll_seconds: Histogram,
    /// `procpulse_broadcaster_commit_to_publish_seconds`: from a row's `received_at` to
    /// the moment its frame is handed to the clients' queues.
    pub delivery_seconds: Histogram,
    /// `procpulse_broadcaster_queue_capacity_frames`: the bound of every client's queue.
    pub queue_capacity: Gauge,
    /// `procpulse_broadcaster_hosts`: hosts held in memory (history, latest, fleet).
    pub hosts: Gauge,
    /// `procpulse_broadcaster_hosts_evicted_total`: hosts forgotten after `--host-ttl`
    /// without a row.
    pub evicted: Counter,
    /// `procpulse_broadcaster_history_raw_hosts_from_memory_total`: hosts of raw-tier
    /// `/api/v1/history` answers read from the in-memory window.
    pub history_from_memory: Counter,
    /// `procpulse_broadcaster_history_raw_hosts_from_database_total`: hosts of raw-tier
    /// `/api/v1/history` answers read from the database (memory did not hold the range).
    pub history_from_database: Counter,
}

impl Metrics {
    /// New metrics registered in `registry` (prefix `procpulse`).
    pub fn register(registry: &mut Registry) -> Arc<Self> {
        let m = Metrics {
            clients: Gauge::default(),
            frames_sent: Counter::default(),
            rows: Counter::default(),
            lagged: Counter::default(),
            skipped: Counter::default(),
            dropped: Counter::default(),
            rejected: Counter::default(),
            poll_errors: Counter::default(),
            poll_seconds: Histogram::new(LATENCY_BUCKETS_SECONDS),
            delivery_seconds: Histogram::new(DELIVERY_BUCKETS_SECONDS),
            queue_capacity: Gauge::default(),
            hosts: Gauge::default(),
            evicted: Counter::default(),
            history_from_memory: Counter::default(),
            history_from_database: Counter::default(),
        };
        let r = registry.sub_registry_with_prefix("broadcaster");
        r.register(
            "clients",
            "WebSocket clients connected now",
            m.clients.clone(),
        );
        r.register(
            "frames_sent",
            "Frames written to WebSocket clients",
            m.frames_sent.clone(),
        );
        r.register(
            "rows_delivered",
            "Rows read from the database and fanned out",
            m.rows.clone(),
        );
        r.register(
            "lagged",
            "Times a slow client was skipped to the newest state",
            m.lagged.clone(),
        );
        r.register(
            "frames_skipped",
            "Frames lagging clients never received",
            m.skipped.clone(),
        );
        r.register(
            "dropped_clients",
            "Clients disconnected for silence or a stuck write",
            m.dropped.clone(),
        );
        r.register(
            "rejected_clients",
            "WebSocket upgrades refused (origin, client limit)",
            m.rejected.clone(),
        );
        r.register(
            "poll_errors",
            "Failed database polls",
            m.poll_errors.clone(),
        );
        r.register(
            "poll_duration_seconds",
            "Duration of one database poll, all pages",
            m.poll_seconds.clone(),
        );
        r.register(
            "commit_to_publish_seconds",
            "From a row's received_at to its frame entering the client queues",
            m.delivery_seconds.clone(),
        );
        r.register(
            "queue_capacity_frames",
            "Bound of every client's frame queue",
            m.queue_capacity.clone(),
        );
        r.register(
            "hosts",
            "Hosts held in memory (history, latest, fleet)",
            m.hosts.clone(),
        );
        r.register(
            "hosts_evicted",
            "Hosts forgotten after --host-ttl without a row",
            m.evicted.clone(),
        );
        r.register(
            "history_raw_hosts_from_memory",
            "Hosts of raw-tier history answers read from the in-memory window",
            m.history_from_memory.clone(),
        );
        r.register(
            "history_raw_hosts_from_database",
            "Hosts of raw-tier history answers read from the database",
            m.history_from_database.clone(),
        );
        Arc::new(m)
    }
}
