//! Ingest's own metrics, next to procpulse-service's HTTP request metrics:
//! rows committed, duplicates, batch sizes, commit time, pool wait, write errors.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Duration;

/// Row-count buckets: a single snapshot up to a full group commit.
const ROW_BUCKETS: [f64; 12] = [
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0,
];

/// Counters and histograms of the write path.
#[derive(Debug)]
pub struct IngestMetrics {
    rows_committed: Counter,
    duplicates: Counter,
    write_errors: Counter,
    request_rows: Histogram,
    commit_rows: Histogram,
    commit_seconds: Histogram,
    pool_wait_seconds: Histogram,
}

impl IngestMetrics {
    /// Registers the `procpulse_ingest_*` metrics in `registry`.
    pub fn register(registry: &mut Registry) -> Arc<Self> {
        let latency = || Histogram::new(procpulse_service::metrics::LATENCY_BUCKETS_SECONDS);
        let m = IngestMetrics {
            rows_committed: Counter::default(),
            duplicates: Counter::default(),
            write_errors: Counter::default(),
            request_rows: Histogram::new(ROW_BUCKETS),
            commit_rows: Histogram::new(ROW_BUCKETS),
            commit_seconds: latency(),
            pool_wait_seconds: latency(),
        };
        let r = registry.sub_registry_with_prefix("ingest");
        r.register(
            "rows_committed",
            "Rows stored (committed)",
            m.rows_committed.clone(),
        );
        r.register(
            "duplicates",
            "Snapshots whose sample_id was already stored",
            m.duplicates.clone(),
        );
        r.register(
            "write_errors",
            "Transactions that failed (their requests got 503)",
            m.write_errors.clone(),
        );
        r.register(
            "request_rows",
            "Snapshots per accepted POST",
            m.request_rows.clone(),
        );
        r.register(
            "commit_rows",
            "Rows per transaction (batched mode groups requests)",
            m.commit_rows.clone(),
        );
        r.register(
            "commit_duration_seconds",
            "Time of one write transaction, connection wait included",
            m.commit_seconds.clone(),
        );
        r.register(
            "pool_wait_seconds",
            "Time spent waiting for a pooled database connection",
            m.pool_wait_seconds.clone(),
        );
        Arc::new(m)
    }

    /// One decoded request of `rows` snapshots.
    pub fn request(&self, rows: usize) {
        self.request_rows.observe(rows as f64);
    }

    /// One committed transaction.
    pub fn commit(&self, rows: usize, accepted: usize, took: Duration, pool_wait: Duration) {
        self.rows_committed.inc_by(accepted as u64);
        self.duplicates.inc_by((rows - accepted) as u64);
        self.commit_rows.observe(rows as f64);
        self.commit_seconds.observe(took.as_secs_f64());
        self.pool_wait_seconds.observe(pool_wait.as_secs_f64());
    }

    /// One failed transaction.
    pub fn write_error(&self) {
        self.write_errors.inc();
    }
}

/// Tier label of the maintenance metrics.
#[derive(Debug, Clone, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct TierLabel {
    tier: &'static str,
}

/// Delete-batch buckets in seconds: 100 µs (an SQLite batch on a warm cache) to 1 s.
const DELETE_BATCH_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0,
];

/// The history maintainer's metrics (`procpulse_maintenance_*`): how long each
/// retention batch held its transaction (the issue asks to measure what deletes cost
/// ingest), rows deleted per tier, raw rows folded, and whether this replica holds the
/// lease.
#[derive(Debug)]
pub struct MaintenanceMetrics {
    delete_batch_seconds: Histogram,
    rows_deleted: prometheus_client::metrics::family::Family<TierLabel, Counter>,
    rows_folded: Counter,
    pass_seconds: Histogram,
    lease_held: prometheus_client::metrics::gauge::Gauge,
    lease_acquired: Counter,
    failures: prometheus_client::metrics::family::Family<KindLabel, Counter>,
    held: std::sync::atomic::AtomicBool,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

impl MaintenanceMetrics {
    /// Registers the `procpulse_maintenance_*` metrics in `registry`.
    pub fn register(registry: &mut Registry) -> Arc<Self> {
        let m = MaintenanceMetrics {
            delete_batch_seconds: Histogram::new(DELETE_BATCH_BUCKETS),
            rows_deleted: Default::default(),
            rows_folded: Counter::default(),
            pass_seconds: Histogram::new(procpulse_service::metrics::LATENCY_BUCKETS_SECONDS),
            lease_held: Default::default(),
            lease_acquired: Counter::default(),
            failures: Default::default(),
            held: Default::default(),
        };
        let r = registry.sub_registry_with_prefix("maintenance");
        r.register(
            "delete_batch_seconds",
            "How long one retention DELETE batch held its lock (SQLite: the write lock, commit included)",
            m.delete_batch_seconds.clone(),
        );
        r.register(
            "rows_deleted",
            "Rows deleted by retention, by tier (raw, 1m, 1h)",
            m.rows_deleted.clone(),
        );
        r.register(
            "rows_folded",
            "Raw rows folded into the rollup tiers",
            m.rows_folded.clone(),
        );
        r.register(
            "pass_seconds",
            "Duration of one maintenance pass",
            m.pass_seconds.clone(),
        );
        r.register(
            "lease_held",
            "1 while this replica holds the maintenance lease",
            m.lease_held.clone(),
        );
        r.register(
            "lease_acquired",
            "Times this replica took the maintenance lease (not renewals)",
            m.lease_acquired.clone(),
        );
        r.register(
            "failures",
            "Maintenance passes that failed (kind=pass, e.g. database down) and maintainer panics (kind=panic, restarted)",
            m.failures.clone(),
        );
        Arc::new(m)
    }

    /// Counts a maintainer panic (it is restarted).
    pub fn panicked(&self) {
        self.failures
            .get_or_create(&KindLabel { kind: "panic" })
            .inc();
        self.lease_held.set(0);
        self.held.store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

impl procpulse_storage::maintain::MaintainObserver for MaintenanceMetrics {
    fn fold_step(&self, step: &procpulse_storage::maintain::FoldStep) {
        self.rows_folded.inc_by(step.rows as u64);
    }

    fn delete_batch(
        &self,
        tier: procpulse_storage::history::Tier,
        rows: usize,
        timing: procpulse_storage::maintain::retention::BatchTiming,
    ) {
        self.delete_batch_seconds.observe(timing.held.as_secs_f64());
        self.rows_deleted
            .get_or_create(&TierLabel {
                tier: tier.as_str(),
            })
            .inc_by(rows as u64);
    }

    fn pass(&self, report: &procpulse_storage::maintain::PassReport) {
        self.pass_seconds.observe(report.took.as_secs_f64());
        self.lease_held.set(i64::from(report.held));
        let was = self
            .held
            .swap(report.held, std::sync::atomic::Ordering::Relaxed);
        if report.held && !was {
            self.lease_acquired.inc();
        }
    }

    fn pass_failed(&self, _error: &procpulse_storage::StorageError) {
        self.failures
            .get_or_create(&KindLabel { kind: "pass" })
            .inc();
    }
}
