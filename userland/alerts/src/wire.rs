//! Alerts on the wire: the dashboard's `GET /api/v1/alerts` answer, and the
//! notifications — Alertmanager's `POST /api/v2/alerts` body as Prometheus sends it, and
//! the plain webhook's.
//!
//! An alert's identity (for Alertmanager, and the key a delivery keeps its newest state
//! by) is its labels: `alertname` (the rule's name), `host`, `severity` and the rule's
//! own labels. As Prometheus does, a firing alert is sent with `startsAt` = when it
//! fired and `endsAt` = now + 4 × the resend interval (so that Alertmanager resolves it
//! by itself if procpulse stops), and re-sent every resend interval while firing; a
//! resolved one with `endsAt` = when it resolved.

use std::collections::BTreeMap;

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::rules::{Condition, Rule};
use crate::state::{Alert, State};

fn rfc3339(t: OffsetDateTime) -> String {
    // Times of validated samples and of the clock: always formattable.
    t.format(&Rfc3339).unwrap_or_default()
}

/// The summary annotation: the rule's, or one written from its condition
/// (`cpu > 90.0 %`, `host stopped reporting`).
pub fn summary(rule: &Rule) -> String {
    if let Some(s) = &rule.summary {
        return s.clone();
    }
    match rule.condition {
        Condition::Compare {
            metric,
            op,
            threshold,
            ..
        } => format!(
            "{} {} {}",
            metric.as_str(),
            op.as_str(),
            metric.format(threshold)
        ),
        Condition::Stale => "host stopped reporting".to_owned(),
    }
}

/// `host: value (threshold …, clears at …)`, the description annotation.
fn description(rule: &Rule, a: &Alert) -> String {
    match (rule.condition.clone(), a.value) {
        (
            Condition::Compare {
                metric,
                op,
                threshold,
                clear,
            },
            value,
        ) => format!(
            "{}: {} is {} (fires at {} {}, clears past {})",
            a.host,
            metric.as_str(),
            value.map_or("unknown".to_owned(), |v| metric.format(v)),
            op.as_str(),
            metric.format(threshold),
            metric.format(clear),
        ),
        (Condition::Stale, _) => format!("{}: no sample for longer than its stale limit", a.host),
    }
}

/// An alert's labels.
pub fn labels(rule: &Rule, host: &str) -> BTreeMap<String, String> {
    let mut l = rule.labels.clone();
    l.insert("alertname".to_owned(), rule.name.clone());
    l.insert("host".to_owned(), host.to_owned());
    l.insert("severity".to_owned(), rule.severity.clone());
    l
}

/// One alert as Alertmanager's API v2 takes it (`postableAlert`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notice {
    /// Identity.
    pub labels: BTreeMap<String, String>,
    /// `summary`, `description`, `value`.
    pub annotations: BTreeMap<String, String>,
    /// When it fired.
    #[serde(rename = "startsAt")]
    pub starts_at: String,
    /// When it resolved, or until when a firing alert holds without news.
    #[serde(rename = "endsAt")]
    pub ends_at: String,
    /// The dashboard's page of the host, when the public URL is known.
    #[serde(rename = "generatorURL", skip_serializing_if = "Option::is_none")]
    pub generator_url: Option<String>,
    /// Firing or resolved (not sent to Alertmanager, whose API infers it from `endsAt`).
    #[serde(skip)]
    pub firing: bool,
}

/// The notification of `a` (firing or resolved) at `now`; a firing one holds until
/// `now + valid_for`. `dashboard` is the dashboard's public URL, if known.
pub fn notice(
    rule: &Rule,
    a: &Alert,
    now: OffsetDateTime,
    valid_for: std::time::Duration,
    dashboard: Option<&str>,
) -> Notice {
    let mut annotations = BTreeMap::new();
    annotations.insert("summary".to_owned(), summary(rule));
    annotations.insert("description".to_owned(), description(rule, a));
    if let Some(v) = a.value {
        annotations.insert("value".to_owned(), v.to_string());
    }
    let firing = a.state != State::Resolved;
    // Times come from the hosts' clocks, which ingest lets run up to 5 minutes ahead:
    // Alertmanager refuses startsAt after endsAt, and would keep a resolved alert active
    // until an endsAt in the future. Neither lies after now here.
    let starts = a.fired_at.unwrap_or(a.active_at).min(now);
    let ends = a
        .resolved_at
        .map_or(now + valid_for, |r| r.min(now))
        .max(starts);
    Notice {
        labels: labels(rule, &a.host),
        annotations,
        starts_at: rfc3339(starts),
        ends_at: rfc3339(ends),
        generator_url: dashboard
            .map(|d| format!("{}/?host={}", d.trim_end_matches('/'), url_escape(&a.host))),
        firing,
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
fn url_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The body of Alertmanager's `POST /api/v2/alerts`.
pub fn alertmanager_body(notices: &[Notice]) -> Vec<u8> {
    serde_json::to_vec(notices).unwrap_or_default()
}

#[derive(Serialize)]
struct WebhookAlert<'a> {
    status: &'static str,
    #[serde(flatten)]
    notice: &'a Notice,
}

#[derive(Serialize)]
struct Webhook<'a> {
    version: &'static str,
    status: &'static str,
    alerts: Vec<WebhookAlert<'a>>,
}

fn status(firing: bool) -> &'static str {
    if firing { "firing" } else { "resolved" }
}

/// The plain webhook's body, with the fields of Alertmanager's own webhook that make
/// sense without its grouping (no `receiver`, `groupLabels`, `commonLabels`): `{"version":"1",
/// "status":"firing"|"resolved","alerts":[{"status":…,"labels":…,"annotations":…,
/// "startsAt":…,"endsAt":…}]}`; the batch's status is firing if any alert in it is.
pub fn webhook_body(notices: &[Notice]) -> Vec<u8> {
    let body = Webhook {
        version: "1",
        status: status(notices.iter().any(|n| n.firing)),
        alerts: notices
            .iter()
            .map(|notice| WebhookAlert {
                status: status(notice.firing),
                notice,
            })
            .collect(),
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

#[derive(Serialize)]
struct ApiAlert<'a> {
    rule: &'a str,
    host: &'a str,
    state: &'static str,
    severity: &'a str,
    metric: &'static str,
    op: Option<&'static str>,
    threshold: Option<f64>,
    clear: Option<f64>,
    value: Option<f64>,
    active_at: String,
    fired_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resolved_at: Option<String>,
    summary: String,
    labels: &'a BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Api<'a> {
    server_time: String,
    enabled: bool,
    rules: usize,
    alerts: Vec<ApiAlert<'a>>,
    resolved: Vec<ApiAlert<'a>>,
}

fn severity_rank(s: &str) -> u8 {
    match s {
        "critical" => 0,
        "warning" => 1,
        "info" => 2,
        _ => 3,
    }
}

fn api_alert<'a>(rules: &'a [Rule], a: &'a Alert) -> ApiAlert<'a> {
    let rule = &rules[a.rule];
    let (op, threshold, clear) = match rule.condition {
        Condition::Compare {
            op,
            threshold,
            clear,
            ..
        } => (Some(op.as_str()), Some(threshold), Some(clear)),
        Condition::Stale => (None, None, None),
    };
    ApiAlert {
        rule: &rule.name,
        host: &a.host,
        state: a.state.as_str(),
        severity: &rule.severity,
        metric: rule.condition.metric().as_str(),
        op,
        threshold,
        clear,
        value: a.value.filter(|v| v.is_finite()),
        active_at: rfc3339(a.active_at),
        fired_at: a.fired_at.map(rfc3339),
        resolved_at: a.resolved_at.map(rfc3339),
        summary: summary(rule),
        labels: &rule.labels,
    }
}

/// Sorts `active` as the dashboard lists them: firing first, then by severity
/// (critical, warning, info, others), host and rule name.
pub fn sort_active(rules: &[Rule], active: &mut [Alert]) {
    active.sort_by(|a, b| {
        let key = |x: &Alert| {
            (
                x.state != State::Firing,
                severity_rank(&rules[x.rule].severity),
            )
        };
        key(a)
            .cmp(&key(b))
            .then_with(|| a.host.cmp(&b.host))
            .then_with(|| rules[a.rule].name.cmp(&rules[b.rule].name))
            .then_with(|| a.rule.cmp(&b.rule))
    });
}

/// The `GET /api/v1/alerts` answer: `active` (sorted by [`sort_active`]) and `resolved`
/// (newest first) under `rules`; `enabled` is false when no rules file is set.
pub fn api_json(
    now: OffsetDateTime,
    enabled: bool,
    rules: &[Rule],
    active: &[Alert],
    resolved: &[Alert],
) -> String {
    let body = Api {
        server_time: rfc3339(now),
        enabled,
        rules: rules.len(),
        alerts: active.iter().map(|a| api_alert(rules, a)).collect(),
        resolved: resolved.iter().map(|a| api_alert(rules, a)).collect(),
    };
    serde_json::to_string(&body).unwrap_or_else(|_| "{}".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::parse;
    use serde_json::{Value, json};
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2026-12-01 10:00 UTC);

    fn rules() -> Vec<Rule> {
        parse(
            "[[rule]]\nname = \"HostHighCpu\"\nmetric = \"cpu\"\nthreshold = 90\nclear = 85\nseverity = \"critical\"\nlabels = { team = \"infra\" }\n\
             [[rule]]\nname = \"HostStale\"\nmetric = \"stale\"\n",
            "r.toml",
        )
        .unwrap()
    }

    fn firing(host: &str) -> Alert {
        Alert {
            rule: 0,
            host: host.to_owned(),
            state: State::Firing,
            value: Some(97.25),
            active_at: T0,
            fired_at: Some(T0 + time::Duration::seconds(5)),
            resolved_at: None,
        }
    }

    #[test]
    fn a_firing_notice_is_what_prometheus_sends() {
        let r = rules();
        let n = notice(
            &r[0],
            &firing("vm 1"),
            T0 + time::Duration::seconds(10),
            std::time::Duration::from_secs(240),
            Some("http://dash.example/"),
        );
        let v: Value = serde_json::from_slice(&alertmanager_body(&[n])).unwrap();
        assert_eq!(
            v,
            json!([{
                "labels": {"alertname": "HostHighCpu", "host": "vm 1", "severity": "critical", "team": "infra"},
                "annotations": {
                    "summary": "cpu > 90.0 %",
                    "description": "vm 1: cpu is 97.2 % (fires at > 90.0 %, clears past 85.0 %)",
                    "value": "97.25"
                },
                "startsAt": "2026-12-01T10:00:05Z",
                "endsAt": "2026-12-01T10:04:10Z",
                "generatorURL": "http://dash.example/?host=vm%201"
            }])
        );
    }

    #[test]
    fn times_from_a_clock_ahead_are_never_after_now() {
        let r = rules();
        let mut a = firing("vm-1");
        a.fired_at = Some(T0 + time::Duration::minutes(5));
        let n = notice(&r[0], &a, T0, std::time::Duration::from_secs(4), None);
        assert_eq!(
            (n.starts_at.as_str(), n.ends_at.as_str()),
            ("2026-12-01T10:00:00Z", "2026-12-01T10:00:04Z")
        );
        a.state = State::Resolved;
        a.resolved_at = Some(T0 + time::Duration::minutes(6));
        let n = notice(&r[0], &a, T0, std::time::Duration::from_secs(4), None);
        assert_eq!(
            (n.starts_at.as_str(), n.ends_at.as_str()),
            ("2026-12-01T10:00:00Z", "2026-12-01T10:00:00Z")
        );
    }

    #[test]
    fn a_resolved_notice_ends_when_it_resolved_and_the_webhook_says_so() {
        let r = rules();
        let mut a = firing("vm-1");
        a.state = State::Resolved;
        a.resolved_at = Some(T0 + time::Duration::seconds(60));
        let n = notice(
            &r[0],
            &a,
            T0 + time::Duration::seconds(61),
            std::time::Duration::from_secs(240),
            None,
        );
        assert!(!n.firing);
        assert_eq!(n.ends_at, "2026-12-01T10:01:00Z");
        assert!(n.generator_url.is_none());
        let stale = Alert {
            rule: 1,
            value: None,
            ..firing("vm-2")
        };
        let s = notice(&r[1], &stale, T0, std::time::Duration::from_secs(240), None);
        let v: Value = serde_json::from_slice(&webhook_body(&[n, s])).unwrap();
        assert_eq!(v["version"], "1");
        assert_eq!(v["status"], "firing", "one of them fires");
        assert_eq!(v["alerts"][0]["status"], "resolved");
        assert_eq!(v["alerts"][1]["status"], "firing");
        assert_eq!(v["alerts"][1]["labels"]["alertname"], "HostStale");
        assert_eq!(
            v["alerts"][1]["annotations"]["summary"],
            "host stopped reporting"
        );
        assert!(v["alerts"][1]["annotations"].get("value").is_none());
    }

    #[test]
    fn the_api_lists_firing_first_then_severity_host_and_rule() {
        let r = rules();
        let pending = Alert {
            state: State::Pending,
            fired_at: None,
            ..firing("vm-0")
        };
        let stale = Alert {
            rule: 1,
            value: None,
            ..firing("vm-9")
        };
        let mut active = vec![pending, stale, firing("vm-5"), firing("vm-2")];
        sort_active(&r, &mut active);
        let order: Vec<_> = active.iter().map(|a| (a.host.as_str(), a.state)).collect();
        assert_eq!(
            order,
            vec![
                ("vm-2", State::Firing),
                ("vm-5", State::Firing),
                ("vm-9", State::Firing),
                ("vm-0", State::Pending)
            ],
            "critical before warning, then host"
        );
        let v: Value = serde_json::from_str(&api_json(T0, true, &r, &active, &[])).unwrap();
        assert_eq!(v["enabled"], true);
        assert_eq!(v["rules"], 2);
        assert_eq!(v["alerts"][0]["metric"], "cpu");
        assert_eq!(v["alerts"][0]["op"], ">");
        assert_eq!(v["alerts"][0]["clear"], 85.0);
        assert_eq!(v["alerts"][2]["metric"], "stale");
        assert_eq!(v["alerts"][2]["threshold"], Value::Null);
        assert_eq!(v["alerts"][3]["fired_at"], Value::Null);
        assert!(v["alerts"][3].get("resolved_at").is_none());
        let off: Value = serde_json::from_str(&api_json(T0, false, &[], &[], &[])).unwrap();
        assert_eq!(
            off,
            json!({"server_time": "2026-12-01T10:00:00Z", "enabled": false, "rules": 0, "alerts": [], "resolved": []})
        );
    }
}
