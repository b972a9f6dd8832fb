//! The evaluator: each host's alerts, moved through pending → firing → resolved.
//!
//! - **Comparison rules** are evaluated on every sample as it arrives, at the sample's
//!   `collected_at`: the condition `value op threshold` starts a *pending* alert, which
//!   *fires* once a sample at least `for` later still meets it (at once with `for = 0`);
//!   a pending alert whose condition fails is dropped unannounced. A firing alert stays
//!   firing while `value op clear` holds (the hysteresis: `cpu > 90` with the default
//!   clear stays firing down to 85.5 %) and *resolves* at the first sample past it.
//!   A sample older than the host's newest evaluated one is not evaluated (rows can
//!   commit out of order; the newest state wins, as on the fleet page).
//! - **Stale rules** are evaluated by the caller's clock ([`Evaluator::check_stale`],
//!   after every poll in the broadcaster), with the fleet page's definition of stale.
//! - A host the caller forgets (`--host-ttl`) has its alerts resolved. Until then a
//!   host that stops reporting keeps its comparison alerts as they were (the stale rule
//!   says it stopped); Prometheus would resolve them for want of data.
//! - Resolved alerts are kept [`RESOLVED_KEEP`], the newest one per alert.
//!
//! Every sample costs two hash lookups (one to find the host, one more the first time)
//! and one comparison per rule; nothing is allocated unless a host is new or an alert
//! starts, fires or resolves.

use std::collections::HashMap;

use time::OffsetDateTime;

use crate::metric::Sample;
use crate::rules::{Condition, Rule};

/// How long a resolved alert is kept (listed, re-sent): an hour.
pub const RESOLVED_KEEP: time::Duration = time::Duration::HOUR;

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// The condition holds, for less than the rule's `for` so far.
    Pending,
    /// Announced.
    Firing,
    /// Was firing, is no more.
    Resolved,
}

impl State {
    /// As on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Firing => "firing",
            State::Resolved => "resolved",
        }
    }
}

/// One alert of one rule on one host, at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Index of its rule in [`Evaluator::rules`].
    pub rule: usize,
    /// The host.
    pub host: String,
    /// Its state.
    pub state: State,
    /// The metric's newest value (`None` for stale rules).
    pub value: Option<f64>,
    /// When the condition started holding.
    pub active_at: OffsetDateTime,
    /// When it fired (`None` while pending).
    pub fired_at: Option<OffsetDateTime>,
    /// When it resolved.
    pub resolved_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Active {
    firing: bool,
    value: Option<f64>,
    active_at: OffsetDateTime,
    fired_at: Option<OffsetDateTime>,
}

#[derive(Debug)]
struct HostAlerts {
    /// The newest `collected_at` evaluated (`None` before the first sample: a host met
    /// by a stale check first).
    newest: Option<OffsetDateTime>,
    /// By rule index.
    active: Vec<Option<Active>>,
}

/// Every host's alerts under one set of rules.
#[derive(Debug)]
pub struct Evaluator {
    rules: Vec<Rule>,
    compare: Vec<usize>,
    stale: Vec<usize>,
    hosts: HashMap<String, HostAlerts>,
    /// The newest resolution of each alert, by (rule, host).
    resolved: HashMap<(usize, String), Alert>,
    /// Resolutions held after the last pruning (pruning runs when twice as many are).
    pruned_to: usize,
    /// Active alerts, kept as they change so [`Evaluator::counts`] (read after every
    /// poll) costs nothing however many hosts and rules there are.
    tally: Tally,
}

/// Firing and pending alerts.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Tally {
    firing: usize,
    pending: usize,
}

impl Tally {
    /// An alert started (firing at once when `firing`).
    fn start(&mut self, firing: bool) {
        if firing {
            self.firing += 1;
        } else {
            self.pending += 1;
        }
    }

    /// A pending alert fired.
    fn fire(&mut self) {
        self.pending -= 1;
        self.firing += 1;
    }

    /// An alert ended (resolved when it was firing, dropped when pending).
    fn end(&mut self, firing: bool) {
        if firing {
            self.firing -= 1;
        } else {
            self.pending -= 1;
        }
    }
}

impl Evaluator {
    /// An evaluator of `rules`, with no alerts.
    pub fn new(rules: Vec<Rule>) -> Evaluator {
        let (stale, compare) =
            (0..rules.len()).partition(|i| rules[*i].condition == Condition::Stale);
        Evaluator {
            rules,
            compare,
            stale,
            hosts: HashMap::new(),
            resolved: HashMap::new(),
            pruned_to: 0,
            tally: Tally::default(),
        }
    }

    /// The rules, by index.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Evaluates the comparison rules on `s`; alerts that fire or resolve are pushed to
    /// `changes`.
    pub fn observe(&mut self, s: &Sample<'_>, changes: &mut Vec<Alert>) {
        let t = s.collected_at;
        let Evaluator {
            rules,
            compare,
            hosts,
            resolved,
            pruned_to,
            tally,
            ..
        } = self;
        let h = host_entry(hosts, rules.len(), s.host);
        if h.newest.is_some_and(|n| t < n) {
            return;
        }
        h.newest = Some(t);
        for &i in compare.iter() {
            let rule = &rules[i];
            let Condition::Compare {
                metric,
                op,
                threshold,
                clear,
            } = rule.condition
            else {
                continue;
            };
            let value = metric.value(s);
            let slot = &mut h.active[i];
            match slot {
                None => {
                    if value.is_some_and(|v| op.holds(v, threshold)) {
                        let fire = rule.for_.is_zero();
                        *slot = Some(Active {
                            firing: fire,
                            value,
                            active_at: t,
                            fired_at: fire.then_some(t),
                        });
                        tally.start(fire);
                        if fire {
                            changes.push(alert(i, s.host, slot.as_ref().expect("set"), None));
                        }
                    }
                }
                Some(a) if !a.firing => {
                    if value.is_some_and(|v| op.holds(v, threshold)) {
                        a.value = value;
                        if t - a.active_at >= rule.for_ {
                            a.firing = true;
                            a.fired_at = Some(t);
                            tally.fire();
                            changes.push(alert(i, s.host, a, None));
                        }
                    } else {
                        *slot = None;
                        tally.end(false);
                    }
                }
                Some(a) => {
                    if value.is_some_and(|v| op.holds(v, clear)) {
                        a.value = value;
                    } else {
                        a.value = value;
                        let done = alert(i, s.host, a, Some(t));
                        *slot = None;
                        tally.end(true);
                        keep_resolved(resolved, pruned_to, &done);
                        changes.push(done);
                    }
                }
            }
        }
    }

    /// Evaluates the stale rules of `host` at `now`: `stale` is whether it has stopped
    /// reporting. Changes are pushed to `changes`.
    pub fn check_stale(
        &mut self,
        host: &str,
        stale: bool,
        now: OffsetDateTime,
        changes: &mut Vec<Alert>,
    ) {
        let Evaluator {
            rules,
            stale: stale_rules,
            hosts,
            resolved,
            pruned_to,
            tally,
            ..
        } = self;
        if stale_rules.is_empty() {
            return;
        }
        let h = host_entry(hosts, rules.len(), host);
        for &i in stale_rules.iter() {
            let for_ = rules[i].for_;
            let slot = &mut h.active[i];
            match (slot.as_mut(), stale) {
                (None, true) => {
                    let fire = for_.is_zero();
                    let a = Active {
                        firing: fire,
                        value: None,
                        active_at: now,
                        fired_at: fire.then_some(now),
                    };
                    *slot = Some(a);
                    tally.start(fire);
                    if fire {
                        changes.push(alert(i, host, &a, None));
                    }
                }
                (Some(a), true) if !a.firing && now - a.active_at >= for_ => {
                    a.firing = true;
                    a.fired_at = Some(now);
                    tally.fire();
                    changes.push(alert(i, host, a, None));
                }
                (Some(a), false) => {
                    tally.end(a.firing);
                    if a.firing {
                        let done = alert(i, host, a, Some(now));
                        keep_resolved(resolved, pruned_to, &done);
                        changes.push(done);
                    }
                    *slot = None;
                }
                _ => {}
            }
        }
    }

    /// Forgets `host`: its firing alerts resolve at `now` (pushed to `changes`).
    pub fn forget(&mut self, host: &str, now: OffsetDateTime, changes: &mut Vec<Alert>) {
        let Some(h) = self.hosts.remove(host) else {
            return;
        };
        for (i, a) in h.active.iter().enumerate() {
            let Some(a) = a else { continue };
            self.tally.end(a.firing);
            if a.firing {
                let done = alert(i, host, a, Some(now));
                keep_resolved(&mut self.resolved, &mut self.pruned_to, &done);
                changes.push(done);
            }
        }
    }

    /// Every pending and firing alert, in no particular order.
    pub fn active(&self) -> Vec<Alert> {
        let mut out = Vec::new();
        for (host, h) in &self.hosts {
            for (i, a) in h.active.iter().enumerate() {
                if let Some(a) = a {
                    out.push(alert(i, host, a, None));
                }
            }
        }
        out
    }

    /// The newest resolution of each alert resolved at or after `since` (and not more
    /// than [`RESOLVED_KEEP`] before the newest resolution held), newest first.
    pub fn resolved_since(&self, since: OffsetDateTime) -> Vec<Alert> {
        let mut out: Vec<Alert> = self
            .resolved
            .values()
            .filter(|a| a.resolved_at.is_some_and(|r| r >= since))
            .cloned()
            .collect();
        out.sort_by(|a, b| {
            b.resolved_at
                .cmp(&a.resolved_at)
                .then_with(|| a.host.cmp(&b.host))
                .then_with(|| a.rule.cmp(&b.rule))
        });
        out
    }

    /// Alerts firing and pending now, in O(1) (kept as they change).
    pub fn counts(&self) -> (usize, usize) {
        (self.tally.firing, self.tally.pending)
    }

    /// Hosts with any state held.
    pub fn hosts(&self) -> usize {
        self.hosts.len()
    }
}

/// The state of `host`, created (nothing active, nothing evaluated) if new.
fn host_entry<'a>(
    hosts: &'a mut HashMap<String, HostAlerts>,
    rules: usize,
    host: &str,
) -> &'a mut HostAlerts {
    if !hosts.contains_key(host) {
        hosts.insert(
            host.to_owned(),
            HostAlerts {
                newest: None,
                active: vec![None; rules],
            },
        );
    }
    hosts.get_mut(host).expect("inserted above")
}

fn alert(rule: usize, host: &str, a: &Active, resolved_at: Option<OffsetDateTime>) -> Alert {
    Alert {
        rule,
        host: host.to_owned(),
        state: match (resolved_at, a.firing) {
            (Some(_), _) => State::Resolved,
            (None, true) => State::Firing,
            (None, false) => State::Pending,
        },
        value: a.value,
        active_at: a.active_at,
        fired_at: a.fired_at,
        resolved_at,
    }
}

/// Keeps `a` as its alert's newest resolution; when the map has doubled since the last
/// pruning, drops resolutions more than [`RESOLVED_KEEP`] older than `a` (alerts of hosts
/// that never came back), so it holds at most the alerts of the last hour (amortised
/// O(1) a resolution).
fn keep_resolved(resolved: &mut HashMap<(usize, String), Alert>, pruned_to: &mut usize, a: &Alert) {
    let key = (a.rule, a.host.clone());
    let newer = resolved
        .get(&key)
        .is_none_or(|old| old.resolved_at <= a.resolved_at);
    if newer {
        resolved.insert(key, a.clone());
    }
    if resolved.len() > (*pruned_to).max(64) * 2 {
        if let Some(horizon) = a.resolved_at.map(|t| t - RESOLVED_KEEP) {
            resolved.retain(|_, r| r.resolved_at.is_some_and(|t| t >= horizon));
        }
        *pruned_to = resolved.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::{Metric, Op};
    use std::time::Duration;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-12-01 10:00 UTC);

    fn rule(name: &str, condition: Condition, for_secs: u64) -> Rule {
        Rule {
            name: name.to_owned(),
            condition,
            for_: Duration::from_secs(for_secs),
            severity: "warning".to_owned(),
            summary: None,
            labels: Default::default(),
            line: 1,
        }
    }

    fn cpu_rule(for_secs: u64) -> Rule {
        rule(
            "HighCpu",
            Condition::Compare {
                metric: Metric::Cpu,
                op: Op::Gt,
                threshold: 90.0,
                clear: 85.0,
            },
            for_secs,
        )
    }

    fn at(host: &str, secs: i64, cpu: f64) -> Sample<'_> {
        Sample {
            host,
            collected_at: T0 + time::Duration::seconds(secs),
            cpu,
            ram: 10.0,
            swap: None,
            load1: 0.1,
            cores: 2,
            zombies: 0,
            disk_sleep: 0,
        }
    }

    /// Feeds `(secs, cpu)` samples of vm-1; returns each sample's changes as
    /// `(state, secs of the change)`.
    fn run(ev: &mut Evaluator, samples: &[(i64, f64)]) -> Vec<Vec<(State, i64)>> {
        samples
            .iter()
            .map(|(secs, cpu)| {
                let mut ch = Vec::new();
                ev.observe(&at("vm-1", *secs, *cpu), &mut ch);
                ch.iter()
                    .map(|a| {
                        let when = a.resolved_at.or(a.fired_at).unwrap();
                        (a.state, (when - T0).whole_seconds())
                    })
                    .collect()
            })
            .collect()
    }

    fn states(ev: &Evaluator) -> Vec<State> {
        ev.active().iter().map(|a| a.state).collect()
    }

    #[test]
    fn without_for_an_alert_fires_on_the_first_sample_and_resolves_past_clear() {
        let mut ev = Evaluator::new(vec![cpu_rule(0)]);
        let ch = run(
            &mut ev,
            &[(0, 50.0), (1, 95.0), (2, 99.0), (3, 88.0), (4, 85.0)],
        );
        assert_eq!(
            ch,
            vec![
                vec![],
                vec![(State::Firing, 1)],
                vec![],
                vec![],
                vec![(State::Resolved, 4)],
            ],
            "88 lies between clear and threshold: still firing (hysteresis)"
        );
        assert!(ev.active().is_empty());
        let r = ev.resolved_since(T0);
        assert_eq!(r.len(), 1);
        assert_eq!(
            (r[0].value, r[0].fired_at),
            (Some(85.0), Some(T0 + time::Duration::seconds(1)))
        );
    }

    #[test]
    fn a_pending_alert_fires_once_the_condition_held_for_its_duration() {
        let mut ev = Evaluator::new(vec![cpu_rule(10)]);
        let ch = run(&mut ev, &[(0, 95.0), (5, 96.0), (9, 97.0)]);
        assert!(ch.iter().all(Vec::is_empty));
        assert_eq!(states(&ev), vec![State::Pending]);
        assert_eq!(
            ev.active()[0].value,
            Some(97.0),
            "the newest value is shown"
        );
        assert_eq!(run(&mut ev, &[(10, 91.0)]), vec![vec![(State::Firing, 10)]]);
        assert_eq!(
            ev.active()[0].active_at,
            T0,
            "active since the first sample over"
        );
    }

    #[test]
    fn a_pending_alert_that_dips_below_the_threshold_starts_over_unannounced() {
        let mut ev = Evaluator::new(vec![cpu_rule(10)]);
        let ch = run(
            &mut ev,
            &[(0, 95.0), (5, 89.0), (8, 95.0), (15, 95.0), (17, 95.0)],
        );
        assert!(ch.iter().all(Vec::is_empty), "{ch:?}");
        assert_eq!(states(&ev), vec![State::Pending]);
        assert_eq!(
            run(&mut ev, &[(18, 95.0)]),
            vec![vec![(State::Firing, 18)]],
            "8 + 10"
        );
    }

    #[test]
    fn older_samples_are_not_evaluated() {
        let mut ev = Evaluator::new(vec![cpu_rule(0)]);
        assert_eq!(
            run(&mut ev, &[(10, 95.0), (5, 10.0)]),
            vec![vec![(State::Firing, 10)], vec![]]
        );
        assert_eq!(states(&ev), vec![State::Firing]);
    }

    #[test]
    fn hosts_and_rules_are_independent_and_missing_values_never_fire() {
        let swap = rule(
            "HighSwap",
            Condition::Compare {
                metric: Metric::Swap,
                op: Op::Ge,
                threshold: 50.0,
                clear: 50.0,
            },
            0,
        );
        let mut ev = Evaluator::new(vec![cpu_rule(0), swap]);
        let mut ch = Vec::new();
        ev.observe(&at("vm-1", 0, 95.0), &mut ch);
        ev.observe(&at("vm-2", 0, 10.0), &mut ch);
        let mut s = at("vm-2", 1, 10.0);
        s.swap = Some(50.0);
        ev.observe(&s, &mut ch);
        let got: Vec<_> = ch.iter().map(|a| (a.rule, a.host.as_str())).collect();
        assert_eq!(got, vec![(0, "vm-1"), (1, "vm-2")]);
        // Swap gone (swapoff): no value, so the firing alert resolves.
        let mut ch = Vec::new();
        ev.observe(&at("vm-2", 2, 10.0), &mut ch);
        assert_eq!((ch[0].state, ch[0].value), (State::Resolved, None));
    }

    #[test]
    fn stale_rules_follow_the_callers_clock_and_forgotten_hosts_resolve() {
        let stale = rule("HostStale", Condition::Stale, 30);
        let mut ev = Evaluator::new(vec![cpu_rule(0), stale]);
        let mut ch = Vec::new();
        ev.observe(&at("vm-1", 0, 95.0), &mut ch);
        ch.clear();
        let now = |s: i64| T0 + time::Duration::seconds(s);
        ev.check_stale("vm-1", true, now(10), &mut ch);
        assert!(ch.is_empty());
        ev.check_stale("vm-1", true, now(39), &mut ch);
        assert!(ch.is_empty(), "pending for 29 s of 30");
        ev.check_stale("vm-1", true, now(40), &mut ch);
        assert_eq!(
            (ch[0].rule, ch[0].state, ch[0].active_at),
            (1, State::Firing, now(10))
        );
        ch.clear();
        ev.check_stale("vm-1", false, now(41), &mut ch);
        assert_eq!(
            (ch[0].rule, ch[0].state, ch[0].resolved_at),
            (1, State::Resolved, Some(now(41)))
        );
        ch.clear();
        // A pending stale alert that ends is dropped unannounced.
        ev.check_stale("vm-1", true, now(50), &mut ch);
        ev.check_stale("vm-1", false, now(51), &mut ch);
        assert!(ch.is_empty());
        // Forgetting the host resolves its firing CPU alert.
        ev.forget("vm-1", now(60), &mut ch);
        assert_eq!((ch[0].rule, ch[0].state), (0, State::Resolved));
        assert_eq!(ev.hosts(), 0);
        let newest_first: Vec<_> = ev.resolved_since(T0).iter().map(|a| a.rule).collect();
        assert_eq!(newest_first, vec![0, 1]);
        assert!(ev.resolved_since(now(61)).is_empty());
    }

    #[test]
    fn each_alert_keeps_its_newest_resolution_for_an_hour() {
        let mut ev = Evaluator::new(vec![cpu_rule(0)]);
        for i in 0..10 {
            run(&mut ev, &[(2 * i, 95.0), (2 * i + 1, 10.0)]);
        }
        let r = ev.resolved_since(T0);
        assert_eq!(
            r.len(),
            1,
            "one alert resolved ten times: its newest resolution"
        );
        assert_eq!(r[0].resolved_at, Some(T0 + time::Duration::seconds(19)));
        // Many hosts resolving: all kept within the hour, newest first; older ones go
        // once the map has doubled.
        for h in 0..200 {
            let host = format!("vm-{h:03}");
            let mut ch = Vec::new();
            ev.observe(&at(&host, 100 + h, 95.0), &mut ch);
            ev.observe(&at(&host, 101 + h, 10.0), &mut ch);
        }
        let r = ev.resolved_since(T0);
        assert_eq!(r.len(), 201);
        assert_eq!(r[0].host, "vm-199");
        let late = 4_000 + RESOLVED_KEEP.whole_seconds();
        for h in 0..300 {
            let host = format!("late-{h:03}");
            let mut ch = Vec::new();
            ev.observe(&at(&host, late + h, 95.0), &mut ch);
            ev.observe(&at(&host, late + h + 1, 10.0), &mut ch);
        }
        let r = ev.resolved_since(T0);
        assert!(
            r.iter().all(|a| a.host.starts_with("late-")),
            "the hour-old ones were pruned"
        );
        assert_eq!(r.len(), 300);
    }

    #[test]
    fn a_host_met_by_a_stale_check_first_evaluates_its_first_sample_whatever_its_clock() {
        let stale = rule("HostStale", Condition::Stale, 0);
        let mut ev = Evaluator::new(vec![cpu_rule(0), stale]);
        let mut ch = Vec::new();
        // The stale check runs at a wall clock an hour ahead of the host's samples.
        ev.check_stale("vm-1", false, T0 + time::Duration::HOUR, &mut ch);
        assert_eq!(run(&mut ev, &[(0, 95.0)]), vec![vec![(State::Firing, 0)]]);
    }

    #[test]
    fn the_kept_counts_equal_a_recount_through_every_kind_of_change() {
        // Rules with and without `for`, comparison and stale; five hosts whose CPU walks
        // through pending, firing, clearing and dropping; stale flips; hosts forgotten
        // with alerts pending and firing. A fixed walk (no randomness): every transition
        // of `Tally` is taken many times.
        let mut ev = Evaluator::new(vec![
            cpu_rule(0),
            cpu_rule(3),
            rule("HostStale", Condition::Stale, 0),
            rule("HostStaleLong", Condition::Stale, 5),
        ]);
        let hosts = ["vm-0", "vm-1", "vm-2", "vm-3", "vm-4"];
        let mut seen = std::collections::HashSet::new();
        let mut ch = Vec::new();
        for i in 0..3_000_i64 {
            let host = hosts[(i % 5) as usize];
            let cpu = [50.0, 95.0, 97.0, 88.0, 99.0, 10.0, 92.0][((i / 5) % 7) as usize];
            ev.observe(&at(host, i, cpu), &mut ch);
            ev.check_stale(
                host,
                (i / 11) % 3 == 0,
                T0 + time::Duration::seconds(i),
                &mut ch,
            );
            if i % 97 == 0 {
                ev.forget(
                    hosts[((i / 97) % 5) as usize],
                    T0 + time::Duration::seconds(i),
                    &mut ch,
                );
            }
            let active = ev.active();
            let firing = active.iter().filter(|a| a.state == State::Firing).count();
            assert_eq!(
                ev.counts(),
                (firing, active.len() - firing),
                "after step {i}"
            );
            seen.insert(ev.counts());
        }
        assert!(seen.len() > 10, "the walk moved the counts: {seen:?}");
        assert!(seen.iter().any(|&(f, p)| f > 0 && p > 0));
    }
}
