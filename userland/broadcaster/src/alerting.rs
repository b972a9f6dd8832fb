//! Alerts in the broadcaster (`--alert-rules`): the [`procpulse_alerts`] evaluator fed
//! with every row the poller delivers, `GET /api/v1/alerts` for the dashboard, and
//! delivery to Alertmanager (`--alertmanager-url`) and plain webhooks
//! (`--alert-webhook-url`).
//!
//! **Why here.** The broadcaster reads every stored row of every host, whichever ingest
//! replica or route stored it, in one ordered stream; ingest replicas each see only
//! their share of the split.
//!
//! **One evaluator's notifications, however many replicas.** Every replica evaluates
//! (the same rows give the same states, since comparison rules run on each sample's
//! `collected_at`), so each one's dashboard shows the alerts; only the holder of the
//! database lease `alerts` (the table ingest's maintainer uses for `history`; taken and
//! renewed every [`LEASE_RENEW`] for [`LEASE_TTL`], by the database's clock) sends
//! notifications. When another replica takes the lease over (the holder stopped or
//! cannot reach the database) it re-sends every firing alert at once; Alertmanager
//! de-duplicates alerts by their labels, so the switch neither loses nor doubles an
//! alert there. A plain webhook may see the firing alerts once more after a switch.
//!
//! **Sending as Prometheus does.** Changes (fired, resolved) go out as they happen;
//! every `--alert-resend-interval` (default 1 m) each firing alert is re-sent with
//! `endsAt` = now + 4 × that interval, and alerts resolved in the last
//! [`RESOLVED_RESEND_FOR`] are re-sent too (an Alertmanager that restarted learns they
//! ended). Webhooks get changes only. Delivery runs in its own task per receiver
//! ([`procpulse_alerts::deliver`]): the poller only takes a mutex to hand changes over.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use procpulse_alerts::deliver::{self, DEFAULT_BACKOFF, Outbox, Target};
use procpulse_alerts::wire::{api_json, notice, sort_active};
use procpulse_alerts::{Alert, Evaluator, Rule, Sample, State};
use procpulse_service::Shutdown;
use procpulse_storage::Database;
use procpulse_storage::maintain::lease;
use procpulse_storage::rollup::swap_used_percent;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use time::OffsetDateTime;

use crate::hub::Hub;
use crate::row::Row;

/// The lease row whose holder sends notifications.
pub const ALERTS_LEASE: &str = "alerts";
/// How long a taken lease lasts without renewal.
pub const LEASE_TTL: Duration = Duration::from_secs(15);
/// How often the lease is taken or renewed (a third of its ttl: two renewals may fail).
pub const LEASE_RENEW: Duration = Duration::from_secs(5);
/// How often stale rules are evaluated.
pub const STALE_CHECK: Duration = Duration::from_secs(1);
/// Default of `--alert-resend-interval` (Prometheus's `--rules.alert.resend-delay`).
pub const DEFAULT_RESEND_INTERVAL: Duration = Duration::from_secs(60);
/// Resolved alerts are re-sent to Alertmanager for this long (as Prometheus does).
pub const RESOLVED_RESEND_FOR: Duration = Duration::from_secs(15 * 60);
/// Resolved alerts listed by `/api/v1/alerts` (at most
/// [`procpulse_alerts::state::RESOLVED_KEPT`]).
pub const RESOLVED_SHOWN_FOR: Duration = Duration::from_secs(3_600);

/// What alerting runs with.
#[derive(Debug, Clone)]
pub struct AlertConfig {
    /// The checked rules.
    pub rules: Vec<Rule>,
    /// Receivers.
    pub targets: Vec<Target>,
    /// Firing alerts are re-sent to Alertmanager this often.
    pub resend_interval: Duration,
    /// The dashboard's public URL, for each alert's `generatorURL`.
    pub dashboard_url: Option<String>,
}

/// The evaluator, the receivers' outboxes and whether this replica sends.
#[derive(Debug)]
pub struct Alerting {
    evaluator: Mutex<Evaluator>,
    outboxes: Vec<(Target, Arc<Outbox>)>,
    sending: AtomicBool,
    resend_interval: Duration,
    dashboard_url: Option<String>,
    /// `procpulse_broadcaster_alerts_samples_evaluated_total`.
    pub evaluated: Counter,
    /// `procpulse_broadcaster_alerts_firing`.
    pub firing: Gauge,
    /// `procpulse_broadcaster_alerts_pending`.
    pub pending: Gauge,
    /// `procpulse_broadcaster_alerts_sender`: 1 while this replica holds the lease.
    pub sender: Gauge,
}

/// The evaluator's view of a stored row.
pub fn sample(row: &Row) -> Sample {
    let s = &row.snapshot;
    Sample {
        host: s.host.clone(),
        collected_at: s.collected_at,
        cpu: s.cpu.usage_percent,
        ram: s.ram.used_percent,
        swap: swap_used_percent(s.ram.swap_total_kb, s.ram.swap_free_kb),
        load1: s.cpu.load1,
        cores: s.cpu.cores,
        zombies: s.procs.zombie,
        disk_sleep: s.procs.disk_sleep,
    }
}

impl Alerting {
    /// Alerting under `config`, its metrics registered in `registry` (prefix
    /// `procpulse_broadcaster_alerts`).
    pub fn new(config: AlertConfig, registry: &mut Registry) -> Arc<Alerting> {
        let a = Alerting {
            evaluator: Mutex::new(Evaluator::new(config.rules)),
            outboxes: config
                .targets
                .into_iter()
                .map(|t| (t, Arc::new(Outbox::default())))
                .collect(),
            sending: AtomicBool::new(false),
            resend_interval: config.resend_interval,
            dashboard_url: config.dashboard_url,
            evaluated: Counter::default(),
            firing: Gauge::default(),
            pending: Gauge::default(),
            sender: Gauge::default(),
        };
        let r = registry.sub_registry_with_prefix("broadcaster_alerts");
        r.register(
            "samples_evaluated",
            "Samples the alert rules were evaluated on",
            a.evaluated.clone(),
        );
        r.register("firing", "Alerts firing now", a.firing.clone());
        r.register("pending", "Alerts pending now", a.pending.clone());
        r.register(
            "sender",
            "1 while this replica holds the alerts lease and sends notifications",
            a.sender.clone(),
        );
        for (target, outbox) in &a.outboxes {
            let r = r.sub_registry_with_label((
                std::borrow::Cow::Borrowed("receiver"),
                std::borrow::Cow::Owned(target.kind().to_owned()),
            ));
            r.register(
                "delivered",
                "Alert notifications a receiver acknowledged",
                outbox.sent.clone(),
            );
            r.register(
                "delivery_failures",
                "Delivery requests that failed (retried with backoff)",
                outbox.failures.clone(),
            );
            r.register(
                "refused",
                "Alert notifications a receiver refused (4xx; dropped)",
                outbox.refused.clone(),
            );
        }
        Arc::new(a)
    }

    fn evaluator(&self) -> MutexGuard<'_, Evaluator> {
        self.evaluator.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Evaluates every rule on `rows` (the poller's newly delivered rows).
    pub fn observe(&self, rows: &[Row]) {
        if rows.is_empty() {
            return;
        }
        let mut changes = Vec::new();
        let mut ev = self.evaluator();
        for row in rows {
            ev.observe(&sample(row), &mut changes);
        }
        self.evaluated.inc_by(rows.len() as u64);
        self.after(ev, changes);
    }

    /// Evaluates the stale rules at `now` over `staleness` (every host held, whether
    /// stale) and resolves the alerts of `forgotten` hosts.
    pub fn check(&self, staleness: &[(String, bool)], forgotten: &[String], now: OffsetDateTime) {
        let mut changes = Vec::new();
        let mut ev = self.evaluator();
        for (host, stale) in staleness {
            ev.check_stale(host, *stale, now, &mut changes);
        }
        for host in forgotten {
            ev.forget(host, now, &mut changes);
        }
        self.after(ev, changes);
    }

    /// Updates the gauges and hands `changes` to the receivers (when sending).
    fn after(&self, ev: MutexGuard<'_, Evaluator>, changes: Vec<Alert>) {
        let (firing, pending) = ev.counts();
        self.firing.set(firing as i64);
        self.pending.set(pending as i64);
        if !changes.is_empty() && self.sending.load(Ordering::Acquire) {
            self.send(&ev, &changes, OffsetDateTime::now_utc(), true);
        }
    }

    /// Queues `alerts` for Alertmanager, and for webhooks too when `webhooks`.
    fn send(&self, ev: &Evaluator, alerts: &[Alert], now: OffsetDateTime, webhooks: bool) {
        let valid_for = self.resend_interval.saturating_mul(4);
        let notices: Vec<_> = alerts
            .iter()
            .filter(|a| a.state != State::Pending)
            .map(|a| {
                let n = notice(
                    &ev.rules()[a.rule],
                    a,
                    now,
                    valid_for,
                    self.dashboard_url.as_deref(),
                );
                ((a.rule, a.host.clone()), n)
            })
            .collect();
        if notices.is_empty() {
            return;
        }
        for (target, outbox) in &self.outboxes {
            if webhooks || matches!(target, Target::Alertmanager(_)) {
                outbox.push(notices.iter().cloned());
            }
        }
    }

    /// Re-sends every firing alert and those resolved in the last
    /// [`RESOLVED_RESEND_FOR`] to Alertmanager (webhooks too after a lease take-over,
    /// `webhooks`).
    fn resend(&self, now: OffsetDateTime, webhooks: bool) {
        let ev = self.evaluator();
        let mut alerts: Vec<Alert> = ev
            .active()
            .into_iter()
            .filter(|a| a.state == State::Firing)
            .collect();
        alerts.extend(ev.resolved_since(now - RESOLVED_RESEND_FOR));
        self.send(&ev, &alerts, now, webhooks);
    }

    /// Whether this replica sends notifications now.
    pub fn is_sending(&self) -> bool {
        self.sending.load(Ordering::Acquire)
    }

    /// The `GET /api/v1/alerts` answer at `now`.
    pub fn json(&self, now: OffsetDateTime) -> String {
        let ev = self.evaluator();
        let mut active = ev.active();
        sort_active(ev.rules(), &mut active);
        let resolved = ev.resolved_since(now - RESOLVED_SHOWN_FOR);
        api_json(now, true, ev.rules(), &active, &resolved)
    }

    /// Runs the delivery tasks and the lease / stale / resend loop until `shutdown`.
    pub async fn run(self: Arc<Self>, hub: Arc<Hub>, db: Database, shutdown: Shutdown) {
        let client = deliver::client();
        for (target, outbox) in &self.outboxes {
            let s = shutdown.clone();
            tokio::spawn(deliver::deliver(
                Arc::clone(outbox),
                target.clone(),
                client.clone(),
                DEFAULT_BACKOFF,
                async move { s.wait().await },
            ));
        }
        let holder = holder_id();
        let mut stale_tick = tokio::time::interval(STALE_CHECK);
        stale_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut lease_tick = tokio::time::interval(LEASE_RENEW);
        lease_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut resend_tick = tokio::time::interval(self.resend_interval);
        resend_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        resend_tick.tick().await;
        loop {
            tokio::select! {
                _ = shutdown.wait() => break,
                _ = stale_tick.tick() => {
                    if hub.is_loaded() {
                        let now = OffsetDateTime::now_utc();
                        self.check(&hub.staleness(now), &[], now);
                    }
                }
                _ = lease_tick.tick() => self.renew(&db, &holder).await,
                _ = resend_tick.tick() => {
                    if self.is_sending() {
                        self.resend(OffsetDateTime::now_utc(), false);
                    }
                }
            }
        }
        if self.is_sending() {
            if let Err(error) = lease::release(&db, ALERTS_LEASE, &holder).await {
                tracing::debug!(%error, "Could not release the alerts lease");
            }
        }
    }

    /// Takes or renews the lease; a replica that takes it over re-sends every firing
    /// alert, and one that cannot renew it (or reach the database) stops sending.
    async fn renew(&self, db: &Database, holder: &str) {
        let held = match tokio::time::timeout(
            LEASE_RENEW,
            lease::acquire(db, ALERTS_LEASE, holder, LEASE_TTL),
        )
        .await
        {
            Ok(Ok(held)) => held,
            Ok(Err(error)) => {
                tracing::warn!(%error, "Cannot renew the alerts lease: not sending alerts until it is held again");
                false
            }
            Err(_) => {
                tracing::warn!(
                    "Renewing the alerts lease timed out: not sending alerts until it is held again"
                );
                false
            }
        };
        let was = self.sending.swap(held, Ordering::AcqRel);
        self.sender.set(i64::from(held));
        if held && !was {
            tracing::info!(
                holder,
                "This replica sends alert notifications (took the alerts lease)"
            );
            self.resend(OffsetDateTime::now_utc(), true);
        } else if was && !held {
            tracing::warn!(holder, "Another replica sends alert notifications now");
        }
    }
}

/// This process's name in the lease: host name, process id and start time.
fn holder_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned());
    let started = OffsetDateTime::now_utc().unix_timestamp_nanos() % 1_000_000_000;
    let id = format!("broadcaster:{host}:{}:{started}", std::process::id());
    id.chars().take(128).collect()
}
