//! Alerts in the broadcaster (`--alert-rules`): the [`procpulse_alerts`] evaluator fed
//! with every row the poller delivers, `GET /api/v1/alerts` for the dashboard, and
//! delivery to Alertmanager (`--alertmanager-url`) and plain webhooks
//! (`--alert-webhook-url`).
//!
//! **Why here.** The broadcaster reads every stored row of every host, whichever ingest
//! replica or route stored it, in one ordered stream; ingest replicas each see only
//! their share of the split.
//!
//! **One sender, however many replicas.** Every replica evaluates, so each one's
//! dashboard shows the alerts; only the holder of the database lease `alerts` (the table
//! ingest's maintainer uses for `history`; taken and renewed every [`LEASE_RENEW`] for
//! [`LEASE_TTL`], by the database's clock) sends notifications. Replicas reach the same
//! states from the same rows — comparison rules run on each sample's `collected_at`, and
//! a starting replica first evaluates the last 15 minutes of rows it loads (quietly) —
//! except where they saw different rows: a `for` longer than those 15 minutes restarts
//! on a replica that started since, and a row committed late may be evaluated by one
//! replica and skipped as older by another. A replica that takes the lease over from
//! another (or at start) drops whatever it had queued and re-sends every firing alert,
//! to webhooks too; Alertmanager de-duplicates by labels, a webhook may see them twice.
//! One that loses it pauses its deliveries; if it gets the lease back before anyone else
//! could have taken it (within [`LEASE_TTL`]) it just resumes.
//!
//! **Sending as Prometheus does.** Changes (fired, resolved) go out as they happen;
//! every `--alert-resend-interval` (default 1 m) each firing alert is re-sent with
//! `endsAt` = now + 4 × that interval, and alerts resolved in the last
//! [`RESOLVED_RESEND_FOR`] are re-sent too (an Alertmanager that restarted learns they
//! ended). Webhooks get changes only. Delivery runs in its own task per receiver
//! ([`procpulse_alerts::deliver`]): the poller only takes a mutex to hand changes over.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use procpulse_alerts::deliver::{self, DEFAULT_BACKOFF, Outbox, Target};
use procpulse_alerts::state::RESOLVED_KEEP;
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
/// Default of `--alert-resend-interval` (Prometheus's `--rules.alert.resend-delay`).
pub const DEFAULT_RESEND_INTERVAL: Duration = Duration::from_secs(60);
/// Resolved alerts are re-sent to Alertmanager for this long (as Prometheus does).
pub const RESOLVED_RESEND_FOR: Duration = Duration::from_secs(15 * 60);
/// Resolved alerts listed by `/api/v1/alerts`: the last hour's
/// ([`procpulse_alerts::state::RESOLVED_KEEP`]), at most this many.
pub const RESOLVED_SHOWN: usize = 100;

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
    rules: Vec<Rule>,
    outboxes: Vec<(Target, Arc<Outbox>)>,
    sending: AtomicBool,
    /// Whether any rule is a stale rule (from the rules, which never change).
    has_stale_rules: bool,
    /// When this replica last held the lease.
    held_at: Mutex<Option<Instant>>,
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
pub fn sample(row: &Row) -> Sample<'_> {
    let s = &row.snapshot;
    Sample {
        host: &s.host,
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
            has_stale_rules: config
                .rules
                .iter()
                .any(|r| r.condition == procpulse_alerts::Condition::Stale),
            rules: config.rules.clone(),
            evaluator: Mutex::new(Evaluator::new(config.rules)),
            outboxes: config
                .targets
                .into_iter()
                .map(|t| {
                    let outbox = Outbox::default();
                    outbox.pause(); // until this replica holds the lease
                    (t, Arc::new(outbox))
                })
                .collect(),
            sending: AtomicBool::new(false),
            held_at: Mutex::new(None),
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

    /// Evaluates rows loaded at start-up (the last 15 minutes of each host), sending
    /// nothing: the states they lead to are announced by the lease take-over's re-send.
    pub fn warm_up(&self, rows: &[Row]) {
        let mut changes = Vec::new();
        let mut ev = self.evaluator();
        for row in rows {
            ev.observe(&sample(row), &mut changes);
        }
        self.set_gauges(&ev);
    }

    /// After each poll (in the poller's task, so that no row, eviction and stale check
    /// can interleave): resolves the alerts of the hosts `forgotten` (evicted) and
    /// evaluates the stale rules at `now` over every host the hub holds.
    pub fn after_poll(&self, hub: &Hub, forgotten: &[String], now: OffsetDateTime) {
        let staleness = if self.has_stale_rules {
            hub.staleness(now)
        } else {
            Vec::new()
        };
        let mut changes = Vec::new();
        let mut ev = self.evaluator();
        for host in forgotten {
            ev.forget(host, now, &mut changes);
        }
        for (host, stale) in &staleness {
            ev.check_stale(host, *stale, now, &mut changes);
        }
        self.after(ev, changes);
    }

    /// Updates the gauges and hands `changes` to the receivers (when sending).
    fn after(&self, ev: MutexGuard<'_, Evaluator>, changes: Vec<Alert>) {
        self.set_gauges(&ev);
        if !changes.is_empty() && self.sending.load(Ordering::Acquire) {
            self.send(&ev, &changes, OffsetDateTime::now_utc(), true);
        }
    }

    fn set_gauges(&self, ev: &Evaluator) {
        let (firing, pending) = ev.counts();
        self.firing.set(firing as i64);
        self.pending.set(pending as i64);
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
    /// [`RESOLVED_RESEND_FOR`] (the newest resolution of each, and none of an alert that
    /// is active again) to Alertmanager (webhooks too after a lease take-over,
    /// `webhooks`).
    fn resend(&self, now: OffsetDateTime, webhooks: bool) {
        let ev = self.evaluator();
        let active = ev.active();
        let active_keys: HashSet<(usize, &str)> =
            active.iter().map(|a| (a.rule, a.host.as_str())).collect();
        let resolved: Vec<Alert> = ev
            .resolved_since(now - RESOLVED_RESEND_FOR)
            .into_iter()
            .filter(|a| !active_keys.contains(&(a.rule, a.host.as_str())))
            .collect();
        let mut alerts: Vec<Alert> = active
            .iter()
            .filter(|a| a.state == State::Firing)
            .cloned()
            .collect();
        alerts.extend(resolved);
        self.send(&ev, &alerts, now, webhooks);
    }

    /// Whether this replica sends notifications now.
    pub fn is_sending(&self) -> bool {
        self.sending.load(Ordering::Acquire)
    }

    /// The `GET /api/v1/alerts` answer at `now` (copied under the lock, sorted and
    /// encoded outside it).
    pub fn json(&self, now: OffsetDateTime) -> String {
        let (mut active, mut resolved) = {
            let ev = self.evaluator();
            (ev.active(), ev.resolved_since(now - RESOLVED_KEEP))
        };
        sort_active(&self.rules, &mut active);
        resolved.truncate(RESOLVED_SHOWN);
        api_json(now, true, &self.rules, &active, &resolved)
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
        // The lease is not taken before the start-up rows are evaluated: a take-over
        // re-sends what fires, and must know it.
        while !hub.is_loaded() {
            tokio::select! {
                _ = shutdown.wait() => return,
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
        let mut lease_tick = tokio::time::interval(LEASE_RENEW);
        lease_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut resend_tick = tokio::time::interval(self.resend_interval);
        resend_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        resend_tick.tick().await;
        loop {
            tokio::select! {
                _ = shutdown.wait() => break,
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
        let now = Instant::now();
        let held_before = {
            let mut at = self.held_at.lock().unwrap_or_else(|e| e.into_inner());
            let before = *at;
            if held {
                *at = Some(now);
            }
            before
        };
        let was = self.sending.swap(held, Ordering::AcqRel);
        self.sender.set(i64::from(held));
        if held && !was {
            // Held within the ttl: nobody else can have held it since (a blip).
            let blip = held_before.is_some_and(|t| now.duration_since(t) < LEASE_TTL);
            if blip {
                tracing::info!(
                    holder,
                    "This replica holds the alerts lease again; resuming deliveries"
                );
            } else {
                tracing::info!(
                    holder,
                    "This replica sends alert notifications (took the alerts lease)"
                );
                for (_, outbox) in &self.outboxes {
                    outbox.clear();
                }
            }
            for (_, outbox) in &self.outboxes {
                outbox.resume();
            }
            if !blip {
                self.resend(OffsetDateTime::now_utc(), true);
            }
        } else if was && !held {
            tracing::warn!(holder, "Lost the alerts lease: deliveries paused");
            for (_, outbox) in &self.outboxes {
                outbox.pause();
            }
        }
    }
}

/// This process's name in the lease: host name, process id and start time (ns).
fn holder_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".to_owned());
    let started = OffsetDateTime::now_utc().unix_timestamp_nanos();
    let id = format!("broadcaster:{host}:{}:{started}", std::process::id());
    id.chars().take(128).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::row::tests::row;

    fn alerting() -> Arc<Alerting> {
        let rules = procpulse_alerts::rules::parse(
            "[[rule]]\nname = \"HostHighCpu\"\nmetric = \"cpu\"\nthreshold = 90\nclear = 85\n",
            "rules.toml",
        )
        .unwrap();
        Alerting::new(
            AlertConfig {
                rules,
                targets: vec![
                    Target::Alertmanager("http://127.0.0.1:9".to_owned()),
                    Target::Webhook("http://127.0.0.1:9/hook".to_owned()),
                ],
                resend_interval: DEFAULT_RESEND_INTERVAL,
                dashboard_url: None,
            },
            &mut Registry::default(),
        )
    }

    /// Row `id` of vm-1 at `cpu` %, collected `ago` seconds before now.
    fn at(id: i64, ago: i64, cpu: f64) -> Row {
        let mut r = row(id, "vm-1", 0);
        r.snapshot.collected_at = OffsetDateTime::now_utc() - time::Duration::seconds(ago);
        r.snapshot.cpu.usage_percent = cpu;
        r
    }

    fn queued(a: &Alerting, i: usize) -> Vec<(String, bool)> {
        a.outboxes[i]
            .1
            .queued()
            .into_iter()
            .map(|((_, host), n)| (host, n.firing))
            .collect()
    }

    #[test]
    fn a_resend_carries_an_alert_that_fired_again_as_firing_not_its_old_resolution() {
        let a = alerting();
        a.sending.store(true, Ordering::Release);
        a.observe(&[at(1, 30, 95.0)]);
        a.observe(&[at(2, 20, 10.0)]);
        a.observe(&[at(3, 10, 96.0)]);
        assert_eq!(
            queued(&a, 0),
            vec![("vm-1".to_owned(), true)],
            "changes as they happen"
        );
        assert_eq!(queued(&a, 1), vec![("vm-1".to_owned(), true)]);
        for (_, o) in &a.outboxes {
            o.clear();
        }
        a.resend(OffsetDateTime::now_utc(), false);
        assert_eq!(queued(&a, 0), vec![("vm-1".to_owned(), true)]);
        assert!(queued(&a, 1).is_empty(), "webhooks get changes only");
        // Resolved again: the resend carries the newest resolution.
        a.observe(&[at(4, 5, 10.0)]);
        for (_, o) in &a.outboxes {
            o.clear();
        }
        a.resend(OffsetDateTime::now_utc(), true);
        assert_eq!(queued(&a, 0), vec![("vm-1".to_owned(), false)]);
        assert_eq!(queued(&a, 1), vec![("vm-1".to_owned(), false)]);
    }

    #[test]
    fn a_replica_that_does_not_send_queues_nothing_and_warm_up_sends_nothing() {
        let a = alerting();
        a.warm_up(&[at(1, 30, 95.0)]);
        a.sending.store(true, Ordering::Release);
        a.warm_up(&[at(2, 20, 10.0), at(3, 10, 97.0)]);
        assert!(a.outboxes.iter().all(|(_, o)| o.is_empty()));
        assert_eq!(a.firing.get(), 1);
        a.sending.store(false, Ordering::Release);
        a.observe(&[at(4, 5, 10.0)]);
        assert!(a.outboxes.iter().all(|(_, o)| o.is_empty()));
        assert!(
            a.outboxes.iter().all(|(_, o)| o.is_paused()),
            "paused until the lease is held"
        );
        let json: serde_json::Value =
            serde_json::from_str(&a.json(OffsetDateTime::now_utc())).unwrap();
        assert_eq!(
            json["resolved"][0]["value"], 10.0,
            "still evaluated and listed"
        );
    }
}
