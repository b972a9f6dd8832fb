//! The rules file (`--alert-rules`, TOML): one `[[rule]]` table per rule.
//!
//! ```toml
//! [[rule]]
//! name = "HostHighCpu"        # required: Alertmanager's alertname, [A-Za-z_][A-Za-z0-9_]*
//! metric = "cpu"              # cpu ram swap load1 load_per_core zombies disk_sleep stale
//! op = ">"                    # > >= < <=, default ">" (not for stale)
//! threshold = 90              # required, except for stale
//! clear = 85                  # optional: a firing alert resolves only once the value is
//!                             # back past this (default: 5 % of the threshold back)
//! for = "2m"                  # optional: how long the condition must hold, default 0
//! severity = "critical"       # optional, default "warning"
//! summary = "CPU above 90 %"  # optional
//! [rule.labels]               # optional extra labels sent with the alert
//! team = "infra"
//! ```
//!
//! Every mistake is refused at start-up with the file and line it is on: TOML syntax,
//! an unknown key or metric, a missing or non-finite threshold, a `clear` on the wrong
//! side of the threshold, a bad duration, label name or rule name, two rules with the
//! same labels (Alertmanager could not tell their alerts apart).

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::time::Duration;

use procpulse_storage::maintain::HumanDuration;
use serde::Deserialize;
use toml::Spanned;

use crate::metric::{Metric, Op};

/// The severity of a rule without one.
pub const DEFAULT_SEVERITY: &str = "warning";

/// Labels every alert carries, which a rule's `labels` may not set.
pub const RESERVED_LABELS: [&str; 3] = ["alertname", "host", "severity"];

/// What a rule fires on.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `metric op threshold`; once firing it stays so while `metric op clear`.
    Compare {
        /// The value compared.
        metric: Metric,
        /// The comparison.
        op: Op,
        /// Fires beyond this.
        threshold: f64,
        /// Resolves once back past this.
        clear: f64,
    },
    /// The host stopped reporting ([`Metric::Stale`]).
    Stale,
}

impl Condition {
    /// The metric watched.
    pub fn metric(&self) -> Metric {
        match self {
            Condition::Compare { metric, .. } => *metric,
            Condition::Stale => Metric::Stale,
        }
    }
}

/// One checked rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The alert's name (`alertname`).
    pub name: String,
    /// What it fires on.
    pub condition: Condition,
    /// How long the condition must hold before the alert fires (pending until then).
    pub for_: Duration,
    /// The `severity` label.
    pub severity: String,
    /// The `summary` annotation (a default is written from the condition when absent).
    pub summary: Option<String>,
    /// Extra labels.
    pub labels: BTreeMap<String, String>,
    /// The line of its `[[rule]]` in the file.
    pub line: usize,
}

/// A rules file that could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}:{line}: {message}", line = line.map_or("-".to_owned(), |l| l.to_string()))]
pub struct RulesError {
    /// The file.
    pub path: String,
    /// The line the mistake is on (`None`: the file as a whole).
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Spanned<String>,
    metric: Metric,
    op: Option<Spanned<Op>>,
    threshold: Option<Spanned<f64>>,
    clear: Option<Spanned<f64>>,
    #[serde(rename = "for")]
    for_: Option<Spanned<String>>,
    severity: Option<Spanned<String>>,
    summary: Option<String>,
    labels: Option<Spanned<BTreeMap<String, String>>>,
}

/// Whether `s` is a Prometheus label or alert name: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_label_name(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Reads and checks the rules file at `path`.
pub fn load(path: &Path) -> Result<Vec<Rule>, RulesError> {
    let text = std::fs::read_to_string(path).map_err(|e| RulesError {
        path: path.display().to_string(),
        line: None,
        message: format!("cannot read the rules file: {e}"),
    })?;
    parse(&text, &path.display().to_string())
}

/// Checks the rules in `text` (read from `path`, named in errors).
pub fn parse(text: &str, path: &str) -> Result<Vec<Rule>, RulesError> {
    let err = |span: Option<std::ops::Range<usize>>, message: String| RulesError {
        path: path.to_owned(),
        line: span.map(|s| line_of(text, s.start)),
        message,
    };
    let raw: RawFile = toml::from_str(text).map_err(|e| err(e.span(), e.message().to_owned()))?;
    if raw.rule.is_empty() {
        return Err(err(
            None,
            "no rules: add at least one [[rule]] table (or leave --alert-rules out)".to_owned(),
        ));
    }
    let mut seen = HashSet::new();
    let mut rules = Vec::with_capacity(raw.rule.len());
    for spanned in raw.rule {
        let span = spanned.span();
        let r = spanned.into_inner();
        let at = |s: std::ops::Range<usize>, m: String| err(Some(s), m);
        let name = r.name.get_ref();
        if !is_label_name(name) {
            return Err(at(
                r.name.span(),
                format!("rule name {name:?} is not a valid alert name ([A-Za-z_][A-Za-z0-9_]*)"),
            ));
        }
        let condition = if r.metric == Metric::Stale {
            for (key, s) in [
                ("op", r.op.as_ref().map(Spanned::span)),
                ("threshold", r.threshold.as_ref().map(Spanned::span)),
                ("clear", r.clear.as_ref().map(Spanned::span)),
            ] {
                if let Some(s) = s {
                    return Err(at(
                        s,
                        format!(
                            "rule {name}: metric \"stale\" takes no {key} (it fires when the host stops reporting)"
                        ),
                    ));
                }
            }
            Condition::Stale
        } else {
            let op = r.op.as_ref().map_or(Op::Gt, |o| *o.get_ref());
            let Some(threshold) = r.threshold.as_ref() else {
                return Err(at(
                    span.clone(),
                    format!(
                        "rule {name}: threshold is required for metric {:?}",
                        r.metric.as_str()
                    ),
                ));
            };
            let t = *threshold.get_ref();
            if !t.is_finite() {
                return Err(at(
                    threshold.span(),
                    format!("rule {name}: threshold must be a finite number"),
                ));
            }
            let clear = match r.clear.as_ref() {
                None => op.default_clear(t),
                Some(c) => {
                    let v = *c.get_ref();
                    let wrong_side = if op.is_upper() { v > t } else { v < t };
                    if !v.is_finite() || wrong_side {
                        return Err(at(
                            c.span(),
                            format!(
                                "rule {name}: clear {v} must be a finite number on the resolved side of threshold {t} ({} {t} for {} {t})",
                                if op.is_upper() { "≤" } else { "≥" },
                                op.as_str()
                            ),
                        ));
                    }
                    v
                }
            };
            Condition::Compare {
                metric: r.metric,
                op,
                threshold: t,
                clear,
            }
        };
        let for_ = match &r.for_ {
            None => Duration::ZERO,
            Some(f) => {
                f.get_ref()
                    .parse::<HumanDuration>()
                    .map_err(|e| at(f.span(), format!("rule {name}: for: {e}")))?
                    .0
            }
        };
        let severity = match &r.severity {
            None => DEFAULT_SEVERITY.to_owned(),
            Some(s) if s.get_ref().trim().is_empty() => {
                return Err(at(s.span(), format!("rule {name}: severity is empty")));
            }
            Some(s) => s.get_ref().clone(),
        };
        let labels_span = r.labels.as_ref().map_or(span.clone(), Spanned::span);
        let labels = r.labels.map(Spanned::into_inner).unwrap_or_default();
        for (key, value) in &labels {
            if value.is_empty() {
                return Err(at(
                    labels_span.clone(),
                    format!(
                        "rule {name}: label {key:?} is empty (Alertmanager drops empty labels, so alerts could no longer be told apart)"
                    ),
                ));
            }
            if !is_label_name(key) || RESERVED_LABELS.contains(&key.as_str()) {
                return Err(at(
                    labels_span,
                    format!(
                        "rule {name}: label {key:?} is not allowed (a label name is [A-Za-z_][A-Za-z0-9_]*, and {} are set by procpulse)",
                        RESERVED_LABELS.join(", ")
                    ),
                ));
            }
        }
        if !seen.insert((name.clone(), severity.clone(), labels.clone())) {
            return Err(at(
                span,
                format!(
                    "rule {name}: another rule has the same name, severity and labels, so their alerts could not be told apart; give one a different severity or label"
                ),
            ));
        }
        rules.push(Rule {
            name: name.clone(),
            condition,
            for_,
            severity,
            summary: r.summary,
            labels,
            line: line_of(text, span.start),
        });
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
# Two rules of one name, told apart by severity.
[[rule]]
name = "HostHighCpu"
metric = "cpu"
threshold = 80
for = "1m"

[[rule]]
name = "HostHighCpu"
metric = "cpu"
op = ">="
threshold = 95.5
clear = 90
severity = "critical"
summary = "CPU pegged"
[rule.labels]
team = "infra"

[[rule]]
name = "HostLowLoad"
metric = "load_per_core"
op = "<"
threshold = 20

[[rule]]
name = "HostStale"
metric = "stale"
for = "30s"
"#;

    fn error(text: &str) -> RulesError {
        parse(text, "rules.toml").unwrap_err()
    }

    #[test]
    fn a_good_file_gives_checked_rules_with_defaults() {
        let rules = parse(GOOD, "rules.toml").unwrap();
        assert_eq!(rules.len(), 4);
        let r = &rules[0];
        assert_eq!(
            (r.name.as_str(), r.severity.as_str(), r.for_, r.line),
            ("HostHighCpu", "warning", Duration::from_secs(60), 3)
        );
        assert_eq!(
            r.condition,
            Condition::Compare {
                metric: Metric::Cpu,
                op: Op::Gt,
                threshold: 80.0,
                clear: 76.0
            }
        );
        let r = &rules[1];
        assert_eq!(
            r.condition,
            Condition::Compare {
                metric: Metric::Cpu,
                op: Op::Ge,
                threshold: 95.5,
                clear: 90.0
            }
        );
        assert_eq!(r.labels.get("team").map(String::as_str), Some("infra"));
        assert_eq!(r.summary.as_deref(), Some("CPU pegged"));
        assert_eq!(
            rules[2].condition,
            Condition::Compare {
                metric: Metric::LoadPerCore,
                op: Op::Lt,
                threshold: 20.0,
                clear: 21.0
            }
        );
        assert_eq!(
            (rules[3].condition.clone(), rules[3].for_),
            (Condition::Stale, Duration::from_secs(30))
        );
    }

    #[test]
    fn every_mistake_names_its_line() {
        let cases: &[(&str, usize, &str)] = &[
            (
                "[[rule]]\nname = \"A\"\nmetric = \"cpux\"\nthreshold = 1\n",
                3,
                "unknown variant `cpux`",
            ),
            (
                "[[rule]]\nname = \"A\"\nmetric = \"cpu\"\nthreshhold = 1\n",
                4,
                "unknown field `threshhold`",
            ),
            (
                "# a comment\n[[rule]]\nname = \"A\"\nmetric = \"cpu\"\n",
                2,
                "threshold is required",
            ),
            (
                "[[rule]]\nname = \"A\"\nmetric = \"cpu\"\nthreshold = 1\n\n[[rule]]\nname = \"B\"\nthreshold = 1\n",
                6,
                "missing field `metric`",
            ),
            (
                "[[rule]]\nname = \"A\"\nmetric = \"cpu\"\nthreshold = 90\nclear = 95\n",
                5,
                "clear 95 must be",
            ),
            (
                "[[rule]]\nname = \"A\"\nmetric = \"cpu\"\nop = \"<\"\nthreshold = 5\nclear = 1\n",
                6,
                "clear 1 must be",
            ),
            (
                "[[rule]]\nname = \"A\"\nmetric = \"cpu\"\nop = \"=>\"\nthreshold = 5\n",
                4,
                "unknown variant `=>`",
            ),
            (
                "[[rule]]\nname = \"A\"\nmetric = \"stale\"\nthreshold = 5\n",
                4,
                "takes no threshold",
            ),
            (
                "[[rule]]\nname = \"A\"\nmetric = \"ram\"\nthreshold = 5\nfor = \"2 minutes\"\n",
                5,
                "for: expected a duration",
            ),
            (
                "[[rule]]\nname = \"High CPU\"\nmetric = \"cpu\"\nthreshold = 5\n",
                2,
                "not a valid alert name",
            ),
            (
                "[[rule]]\nname = \"A\"\nmetric = \"cpu\"\nthreshold = 5\nlabels = { host = \"x\" }\n",
                5,
                "label \"host\" is not allowed",
            ),
            (
                "[[rule]]\nname = \"A\"\nmetric = \"cpu\"\nthreshold = nan\n",
                4,
                "finite",
            ),
            (
                "[[rule]]\nname = \"A\"\nmetric = \"cpu\"\nthreshold = 5\n[rule.labels]\nteam = \"\"\n",
                5,
                "label \"team\" is empty",
            ),
            (
                "[[rule]]\nname = \"A\"\nmetric = \"cpu\"\nthreshold = 5\n[[rule]]\nname = \"A\"\nmetric = \"ram\"\nthreshold = 6\n",
                5,
                "same name, severity and labels",
            ),
            (
                "[[rule]]\nname = \"A\"\nmetric = \"cpu\"\nthreshold = 5\nseverity = \"\"\n",
                5,
                "severity is empty",
            ),
            ("[[rule]\nname = \"A\"\n", 1, ""),
            (
                "[[rule]]\nname = \"A\"\nmetric = \"cpu\"\nthreshold = \"90\"\n",
                4,
                "invalid type",
            ),
        ];
        for (text, line, needle) in cases {
            let e = error(text);
            assert_eq!(e.line, Some(*line), "{text:?}: {e}");
            assert!(e.message.contains(needle), "{text:?}: {e}");
            assert!(
                e.to_string().starts_with(&format!("rules.toml:{line}: ")),
                "{e}"
            );
        }
        let e = error("# nothing here\n");
        assert_eq!(e.line, None);
        assert!(e.to_string().contains("no rules"), "{e}");
    }

    #[test]
    fn a_missing_file_is_named() {
        let e = load(Path::new("/nonexistent/rules.toml")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/nonexistent/rules.toml:-: cannot read"),
            "{e}"
        );
    }

    #[test]
    fn label_names_follow_prometheus() {
        for ok in ["a", "_x", "Host_9"] {
            assert!(is_label_name(ok), "{ok}");
        }
        for bad in ["", "9a", "a-b", "a b", "é"] {
            assert!(!is_label_name(bad), "{bad}");
        }
    }
}

#[cfg(test)]
mod shipped {
    use super::*;

    /// The rules files in the repository (the defaults ci/stack.sh and k8s run, the
    /// benchmark's 20) load.
    #[test]
    fn the_shipped_rule_files_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let defaults = load(&dir.join("rules.example.toml")).unwrap();
        assert_eq!(defaults.len(), 7);
        assert!(defaults.iter().any(|r| r.condition == Condition::Stale));
        let bench = load(&dir.join("bench/rules-20.toml")).unwrap();
        assert_eq!(bench.len(), 20);
        let metrics: HashSet<_> = bench.iter().map(|r| r.condition.metric()).collect();
        assert_eq!(
            metrics.len(),
            Metric::ALL.len(),
            "every metric is benchmarked"
        );
    }
}
