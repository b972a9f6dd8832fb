//! What a rule watches: the [`Metric`]s, how a [`Sample`] gives their values, and the
//! comparison ([`Op`]) with its hysteresis.

use serde::Deserialize;
use time::OffsetDateTime;

/// One stored sample of one host, as the evaluator sees it: the summary values the
/// dashboard grades and the fleet page lists.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    /// The host that sent it.
    pub host: &'a str,
    /// When the host took it: rules are evaluated at this time, so every replica that
    /// reads the same rows reaches the same states.
    pub collected_at: OffsetDateTime,
    /// CPU in use, percent of all cores.
    pub cpu: f64,
    /// RAM in use, percent.
    pub ram: f64,
    /// Swap in use, percent (`None`: the host has no swap).
    pub swap: Option<f64>,
    /// 1-minute load average.
    pub load1: f64,
    /// Online CPUs.
    pub cores: u32,
    /// Processes in state Z.
    pub zombies: u64,
    /// Processes in state D (uninterruptible sleep).
    pub disk_sleep: u64,
}

/// A value a rule compares with its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// CPU in use, percent.
    Cpu,
    /// RAM in use, percent.
    Ram,
    /// Swap in use, percent (hosts without swap never match).
    Swap,
    /// 1-minute load average.
    Load1,
    /// 1-minute load average divided by the online CPUs.
    LoadPerCore,
    /// Zombie processes.
    Zombies,
    /// Processes in uninterruptible sleep (D state).
    DiskSleep,
    /// The host stopped reporting: no row for `--stale-after-intervals` of its sampling
    /// intervals (the fleet page's definition). Has no value, op or threshold.
    Stale,
}

impl Metric {
    /// Every metric, as the rules file spells them.
    pub const ALL: [Metric; 8] = [
        Metric::Cpu,
        Metric::Ram,
        Metric::Swap,
        Metric::Load1,
        Metric::LoadPerCore,
        Metric::Zombies,
        Metric::DiskSleep,
        Metric::Stale,
    ];

    /// The name in the rules file and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Cpu => "cpu",
            Metric::Ram => "ram",
            Metric::Swap => "swap",
            Metric::Load1 => "load1",
            Metric::LoadPerCore => "load_per_core",
            Metric::Zombies => "zombies",
            Metric::DiskSleep => "disk_sleep",
            Metric::Stale => "stale",
        }
    }

    /// The metric's value in `s`; `None` where it has none (swap on a host without swap,
    /// load per core with no core counted, and always for [`Metric::Stale`]).
    pub fn value(self, s: &Sample<'_>) -> Option<f64> {
        match self {
            Metric::Cpu => Some(s.cpu),
            Metric::Ram => Some(s.ram),
            Metric::Swap => s.swap,
            Metric::Load1 => Some(s.load1),
            Metric::LoadPerCore => (s.cores > 0).then(|| s.load1 / f64::from(s.cores)),
            Metric::Zombies => Some(s.zombies as f64),
            Metric::DiskSleep => Some(s.disk_sleep as f64),
            Metric::Stale => None,
        }
    }

    /// How a value of this metric is written in a summary: `97.5 %`, `1.25`, `3`.
    pub fn format(self, v: f64) -> String {
        match self {
            Metric::Cpu | Metric::Ram | Metric::Swap => format!("{v:.1} %"),
            Metric::Load1 | Metric::LoadPerCore => format!("{v:.2}"),
            Metric::Zombies | Metric::DiskSleep | Metric::Stale => format!("{v:.0}"),
        }
    }
}

/// The comparison of a rule: the alert's condition is `value op threshold`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Op {
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
}

impl Op {
    /// As written in the rules file.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
        }
    }

    /// Whether `value op bound`.
    pub fn holds(self, value: f64, bound: f64) -> bool {
        match self {
            Op::Gt => value > bound,
            Op::Ge => value >= bound,
            Op::Lt => value < bound,
            Op::Le => value <= bound,
        }
    }

    /// Whether the op alerts on high values (`>`, `>=`).
    pub fn is_upper(self) -> bool {
        matches!(self, Op::Gt | Op::Ge)
    }

    /// The clear bound a rule without `clear` gets: 5 % of the threshold's magnitude back
    /// from it (`cpu > 90` stays firing while above 85.5; `zombies > 0` clears at 0, since
    /// a count has nothing between).
    pub fn default_clear(self, threshold: f64) -> f64 {
        let margin = threshold.abs() * DEFAULT_HYSTERESIS;
        if self.is_upper() {
            threshold - margin
        } else {
            threshold + margin
        }
    }
}

/// The default hysteresis: the clear bound lies this fraction of the threshold back.
pub const DEFAULT_HYSTERESIS: f64 = 0.05;

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    pub(crate) fn sample(host: &str) -> Sample<'_> {
        Sample {
            host,
            collected_at: datetime!(2026-12-01 10:00 UTC),
            cpu: 12.5,
            ram: 40.0,
            swap: None,
            load1: 3.0,
            cores: 4,
            zombies: 2,
            disk_sleep: 1,
        }
    }

    #[test]
    fn values_come_from_the_sample_and_are_absent_where_undefined() {
        let mut s = sample("vm-1");
        assert_eq!(Metric::Cpu.value(&s), Some(12.5));
        assert_eq!(Metric::LoadPerCore.value(&s), Some(0.75));
        assert_eq!(Metric::Zombies.value(&s), Some(2.0));
        assert_eq!(Metric::Swap.value(&s), None, "no swap: no value");
        assert_eq!(Metric::Stale.value(&s), None);
        s.cores = 0;
        assert_eq!(Metric::LoadPerCore.value(&s), None);
    }

    #[test]
    fn the_default_clear_bound_lies_back_from_the_threshold() {
        assert_eq!(Op::Gt.default_clear(90.0), 85.5);
        assert_eq!(Op::Lt.default_clear(10.0), 10.5);
        assert_eq!(Op::Gt.default_clear(0.0), 0.0);
        assert!(Op::Ge.holds(90.0, 90.0) && !Op::Gt.holds(90.0, 90.0));
        assert!(Op::Le.holds(1.0, 1.0) && !Op::Lt.holds(1.0, 1.0));
    }

    #[test]
    fn names_round_trip_through_serde() {
        for m in Metric::ALL {
            let back: Metric = serde_json::from_value(m.as_str().into()).unwrap();
            assert_eq!(back, m);
        }
    }
}
