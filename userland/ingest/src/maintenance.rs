//! The history maintenance flags (retention of each tier, pass interval and the knobs
//! tests and benchmarks turn) and the task that runs the storage maintainer
//! (`procpulse_storage::maintain`) next to the server. Every replica runs one; the
//! database lease lets one work at a time. Defaults come from procpulse-storage.

use procpulse_storage::history::Tier;
use procpulse_storage::maintain::config::{
    DEFAULT_DELETE_BATCH_ROWS, DEFAULT_FOLD_TAP_ROWS, DEFAULT_INTERVAL, DEFAULT_LEASE_TTL,
    DEFAULT_SETTLE,
};
use procpulse_storage::maintain::{HumanDuration, MaintainConfig};

/// `--retention` and friends (flattened into ingest's flags).
#[derive(Debug, Clone, clap::Args)]
pub struct MaintenanceArgs {
    /// How long raw rows are kept, by received_at (7d, 36h, 90m; 0 = forever). Older
    /// rows are deleted once folded into the 1-minute rollups.
    #[arg(
        long = "retention",
        env = "PROCPULSE_RETENTION",
        default_value_t = HumanDuration(Tier::Raw.default_keep())
    )]
    pub retention: HumanDuration,
    /// How long 1-minute rollup rows are kept (0 = forever).
    #[arg(
        long,
        env = "PROCPULSE_ROLLUP_1M_RETENTION",
        default_value_t = HumanDuration(Tier::Minute.default_keep())
    )]
    pub rollup_1m_retention: HumanDuration,
    /// How long 1-hour rollup rows are kept (0 = forever).
    #[arg(
        long,
        env = "PROCPULSE_ROLLUP_1H_RETENTION",
        default_value_t = HumanDuration(Tier::Hour.default_keep())
    )]
    pub rollup_1h_retention: HumanDuration,
    /// Pause between two maintenance passes (fold rows into rollups, delete old rows).
    #[arg(
        long,
        env = "PROCPULSE_MAINTENANCE_INTERVAL",
        default_value_t = HumanDuration(DEFAULT_INTERVAL),
        value_parser = positive
    )]
    pub maintenance_interval: HumanDuration,
    /// Raw rows are folded once received this long ago (covers requests still
    /// committing); 0 only where nothing writes meanwhile.
    #[arg(
        long,
        env = "PROCPULSE_MAINTENANCE_SETTLE",
        default_value_t = HumanDuration(DEFAULT_SETTLE)
    )]
    pub maintenance_settle: HumanDuration,
    /// Rows one retention DELETE removes (each batch is one short transaction).
    #[arg(
        long,
        env = "PROCPULSE_MAINTENANCE_DELETE_BATCH",
        default_value_t = DEFAULT_DELETE_BATCH_ROWS,
        value_parser = at_least_one
    )]
    pub maintenance_delete_batch: usize,
    /// How long the maintenance lease lasts unless renewed: another replica takes over
    /// this long after the holder died.
    #[arg(
        long,
        env = "PROCPULSE_MAINTENANCE_LEASE_TTL",
        default_value_t = HumanDuration(DEFAULT_LEASE_TTL),
        value_parser = positive
    )]
    pub maintenance_lease_ttl: HumanDuration,
    /// Most raw rows this replica keeps in memory for its next fold step, so the step
    /// need not read them back (the fold tap, ~120 bytes a row; 0 = always read back).
    #[arg(
        long,
        env = "PROCPULSE_MAINTENANCE_TAP_ROWS",
        default_value_t = DEFAULT_FOLD_TAP_ROWS
    )]
    pub maintenance_tap_rows: usize,
    /// Run no maintainer in this replica (another replica, or none, maintains the
    /// history; nothing is deleted or rolled up by this one).
    #[arg(long, env = "PROCPULSE_NO_MAINTENANCE")]
    pub no_maintenance: bool,
}

/// `--maintenance-interval`, `--maintenance-lease-ttl`: a usage error unless longer
/// than zero.
fn positive(s: &str) -> Result<HumanDuration, String> {
    let d: HumanDuration = s.parse()?;
    if d.0.is_zero() {
        Err("must be longer than 0 (use --no-maintenance to turn maintenance off)".into())
    } else {
        Ok(d)
    }
}

/// `--maintenance-delete-batch`: a usage error unless a whole number ≥ 1.
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("a number of rows, at least 1".into()),
    }
}

impl MaintenanceArgs {
    /// The maintainer's settings, or `None` with `--no-maintenance`.
    pub fn config(&self) -> Option<MaintainConfig> {
        (!self.no_maintenance).then(|| MaintainConfig {
            keep_raw: self.retention.0,
            keep_1m: self.rollup_1m_retention.0,
            keep_1h: self.rollup_1h_retention.0,
            interval: self.maintenance_interval.0,
            // Rollups lag a retention backlog by at most about one interval.
            retention_budget: self.maintenance_interval.0,
            settle: self.maintenance_settle.0,
            delete_batch_rows: self.maintenance_delete_batch,
            fold_tap_rows: self.maintenance_tap_rows,
            lease_ttl: self.maintenance_lease_ttl.0,
            ..MaintainConfig::default()
        })
    }
}

/// Pause before a maintainer that panicked is started again.
pub const RESTART_DELAY: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs `start()` as a task until it ends on its own (the maintainer stops when the
/// server shuts down). A task that panics is logged as an error, counted by
/// `on_panic`, and started again after `delay` — maintenance never stops silently —
/// unless `stop` completes first (then it returns).
pub async fn supervise<F, Fut>(
    mut start: F,
    delay: std::time::Duration,
    stop: impl std::future::Future<Output = ()>,
    on_panic: impl Fn(),
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::pin!(stop);
    loop {
        match tokio::spawn(start()).await {
            Ok(()) => return,
            Err(e) => {
                on_panic();
                tracing::error!(
                    error = %e,
                    restart_in = %HumanDuration(delay),
                    "History maintenance panicked; restarting it"
                );
            }
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = &mut stop => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// A maintainer that panics twice is restarted each time (and counted), and the
    /// supervisor returns once it ends normally; with `stop` done it does not restart.
    #[tokio::test]
    async fn a_panicking_maintainer_is_logged_counted_and_restarted() {
        let (runs, panics) = (Arc::new(AtomicUsize::new(0)), AtomicUsize::new(0));
        let r = Arc::clone(&runs);
        supervise(
            move || {
                let n = r.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n < 2 {
                        panic!("maintainer bug {n}");
                    }
                }
            },
            Duration::from_millis(1),
            std::future::pending(),
            || {
                panics.fetch_add(1, Ordering::SeqCst);
            },
        )
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        assert_eq!(panics.load(Ordering::SeqCst), 2);

        let runs = Arc::new(AtomicUsize::new(0));
        let r = Arc::clone(&runs);
        supervise(
            move || {
                r.fetch_add(1, Ordering::SeqCst);
                async { panic!("always") }
            },
            Duration::from_secs(3600),
            std::future::ready(()),
            || {},
        )
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        m: MaintenanceArgs,
    }

    #[test]
    fn defaults_are_storages_and_flags_override_them() {
        let c = Cli::try_parse_from(["x"]).unwrap().m.config().unwrap();
        let d = MaintainConfig::default();
        assert_eq!(
            (c.keep_raw, c.keep_1m, c.keep_1h, c.interval, c.settle),
            (d.keep_raw, d.keep_1m, d.keep_1h, d.interval, d.settle)
        );
        let c = Cli::try_parse_from([
            "x",
            "--retention",
            "36h",
            "--rollup-1m-retention",
            "0",
            "--maintenance-interval",
            "250ms",
            "--maintenance-delete-batch",
            "100",
        ])
        .unwrap()
        .m
        .config()
        .unwrap();
        assert_eq!(c.keep_raw, Duration::from_secs(36 * 3600));
        assert_eq!(c.keep_1m, Duration::ZERO);
        assert_eq!(c.interval, Duration::from_millis(250));
        assert_eq!(c.delete_batch_rows, 100);
        assert!(
            Cli::try_parse_from(["x", "--no-maintenance"])
                .unwrap()
                .m
                .config()
                .is_none()
        );
        for bad in [
            &["x", "--retention", "7"][..],
            &["x", "--maintenance-interval", "0"],
            &["x", "--maintenance-delete-batch", "0"],
        ] {
            assert!(Cli::try_parse_from(bad).is_err(), "{bad:?}");
        }
    }
}
