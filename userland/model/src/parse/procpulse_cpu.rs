//! `/proc/procpulse_cpu` (docs/design.md §2).

use super::stat::CpuTimes;
use super::{ParseError, json_object};
use crate::snapshot::{CoreUsage, Cpu};
use serde::Deserialize;

const FILE: &str = "/proc/procpulse_cpu";

/// The CPU module's file. Fractions are integers scaled by 100; times are cumulative
/// nanoseconds summed over all possible CPUs (like /proc/stat's `cpu` line).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct KmodCpu {
    /// Online CPUs.
    pub cores: u32,
    /// Busy share of all online CPUs over the last window, percent × 100.
    pub usage_percent_x100: u32,
    /// Length of the module's sampling window, ms.
    pub window_ms: u64,
    /// Cumulative user time, ns.
    pub user_ns: u64,
    /// Cumulative nice time, ns.
    pub nice_ns: u64,
    /// Cumulative system time, ns.
    pub system_ns: u64,
    /// Cumulative idle time, ns.
    pub idle_ns: u64,
    /// Cumulative iowait time, ns.
    pub iowait_ns: u64,
    /// Cumulative hard-irq time, ns.
    pub irq_ns: u64,
    /// Cumulative soft-irq time, ns.
    pub softirq_ns: u64,
    /// Cumulative steal time, ns.
    pub steal_ns: u64,
    /// 1-minute load average × 100.
    pub load1_x100: u64,
    /// 5-minute load average × 100.
    pub load5_x100: u64,
    /// 15-minute load average × 100.
    pub load15_x100: u64,
    /// Windows closed since the module was loaded (absent from older modules).
    #[serde(default)]
    pub window_seq: Option<u64>,
    /// Cumulative guest time (included in `user_ns`), ns; absent from older modules.
    #[serde(default)]
    pub guest_ns: Option<u64>,
    /// Cumulative niced guest time (included in `nice_ns`), ns; absent from older modules.
    #[serde(default)]
    pub guest_nice_ns: Option<u64>,
    /// One entry per online CPU, ascending by id (empty from older modules). Not part of
    /// the snapshot.
    #[serde(default)]
    pub per_cpu: Vec<KmodCpuCore>,
}

/// One CPU's entry in `per_cpu` (the counters of /proc/stat's `cpuN` line, in ns).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct KmodCpuCore {
    /// CPU id.
    pub cpu: u32,
    /// Busy share over the last window, percent × 100; `None` when the CPU was not
    /// online at both ends of the window.
    #[serde(default)]
    pub usage_percent_x100: Option<u32>,
    /// Cumulative user time (includes guest), ns.
    pub user_ns: u64,
    /// Cumulative nice time (includes guest_nice), ns.
    pub nice_ns: u64,
    /// Cumulative system time, ns.
    pub system_ns: u64,
    /// Cumulative idle time, ns.
    pub idle_ns: u64,
    /// Cumulative iowait time, ns.
    pub iowait_ns: u64,
    /// Cumulative hard-irq time, ns.
    pub irq_ns: u64,
    /// Cumulative soft-irq time, ns.
    pub softirq_ns: u64,
    /// Cumulative steal time, ns.
    pub steal_ns: u64,
    /// Cumulative guest time, ns.
    pub guest_ns: u64,
    /// Cumulative niced guest time, ns.
    pub guest_nice_ns: u64,
}

impl KmodCpuCore {
    /// This CPU's counters (ns) as [`CpuTimes`].
    pub fn times(&self) -> CpuTimes {
        CpuTimes::from_array([
            self.user_ns,
            self.nice_ns,
            self.system_ns,
            self.idle_ns,
            self.iowait_ns,
            self.irq_ns,
            self.softirq_ns,
            self.steal_ns,
            self.guest_ns,
            self.guest_nice_ns,
        ])
    }
}

impl KmodCpu {
    /// The snapshot's CPU section (usage clamped to 0–100).
    pub fn to_cpu(&self) -> Cpu {
        Cpu {
            usage_percent: f64::from(self.usage_percent_x100.min(10_000)) / 100.0,
            cores: self.cores,
            load1: self.load1_x100 as f64 / 100.0,
            load5: self.load5_x100 as f64 / 100.0,
            load15: self.load15_x100 as f64 / 100.0,
            modes: None,
            per_cpu: self
                .per_cpu
                .iter()
                .filter_map(|c| {
                    c.usage_percent_x100.map(|u| CoreUsage {
                        cpu: c.cpu,
                        usage_percent: f64::from(u.min(10_000)) / 100.0,
                    })
                })
                .collect(),
        }
    }

    /// The aggregate counters (ns) as [`CpuTimes`], for [`CpuTimes::modes_since`];
    /// guest fields are 0 when the module predates them.
    pub fn times(&self) -> CpuTimes {
        CpuTimes::from_array([
            self.user_ns,
            self.nice_ns,
            self.system_ns,
            self.idle_ns,
            self.iowait_ns,
            self.irq_ns,
            self.softirq_ns,
            self.steal_ns,
            self.guest_ns.unwrap_or(0),
            self.guest_nice_ns.unwrap_or(0),
        ])
    }
}

/// Parses the file's text (one JSON object and a newline; unknown keys are ignored).
pub fn parse_procpulse_cpu(text: &str) -> Result<KmodCpu, ParseError> {
    let cpu: KmodCpu = json_object(FILE, text)?;
    if cpu.cores == 0 {
        return Err(ParseError::Invalid {
            file: FILE,
            field: "cores",
            value: "0".into(),
        });
    }
    Ok(cpu)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "{\"cores\":2,\"usage_percent_x100\":2345,\"window_ms\":1000,\"user_ns\":1,\"nice_ns\":2,\"system_ns\":3,\"idle_ns\":4,\"iowait_ns\":5,\"irq_ns\":6,\"softirq_ns\":7,\"steal_ns\":8,\"load1_x100\":50,\"load5_x100\":40,\"load15_x100\":30}\n";

    #[test]
    fn parses_the_spec_example() {
        let c = parse_procpulse_cpu(SAMPLE).unwrap();
        assert_eq!(c.cores, 2);
        assert_eq!(c.steal_ns, 8);
        let cpu = c.to_cpu();
        assert_eq!(cpu.usage_percent, 23.45);
        assert_eq!((cpu.load1, cpu.load5, cpu.load15), (0.5, 0.4, 0.3));
    }

    /// Captured from the 6.12 module on a 2-CPU guest where CPU 1 came online mid-window.
    const SAMPLE_612: &str = "{\"cores\":2,\"usage_percent_x100\":2512,\"window_ms\":1000,\"window_seq\":17,\"user_ns\":1,\"nice_ns\":2,\"system_ns\":3,\"idle_ns\":4,\"iowait_ns\":5,\"irq_ns\":6,\"softirq_ns\":7,\"steal_ns\":8,\"guest_ns\":0,\"guest_nice_ns\":0,\"load1_x100\":50,\"load5_x100\":40,\"load15_x100\":30,\"per_cpu\":[{\"cpu\":0,\"usage_percent_x100\":2512,\"user_ns\":1,\"nice_ns\":2,\"system_ns\":3,\"idle_ns\":4,\"iowait_ns\":5,\"irq_ns\":6,\"softirq_ns\":7,\"steal_ns\":8,\"guest_ns\":0,\"guest_nice_ns\":0},{\"cpu\":1,\"user_ns\":0,\"nice_ns\":0,\"system_ns\":0,\"idle_ns\":0,\"iowait_ns\":0,\"irq_ns\":0,\"softirq_ns\":0,\"steal_ns\":0,\"guest_ns\":0,\"guest_nice_ns\":0}]}\n";

    #[test]
    fn new_shape_with_per_cpu_parses_and_converts_the_same() {
        let c = parse_procpulse_cpu(SAMPLE_612).unwrap();
        assert_eq!(c.window_seq, Some(17));
        assert_eq!(c.guest_ns, Some(0));
        assert_eq!(c.per_cpu.len(), 2);
        assert_eq!(c.per_cpu[0].usage_percent_x100, Some(2512));
        assert_eq!(c.per_cpu[1].cpu, 1);
        assert_eq!(c.per_cpu[1].usage_percent_x100, None);
        assert_eq!(c.to_cpu().usage_percent, 25.12);
        let old = parse_procpulse_cpu(SAMPLE).unwrap();
        assert_eq!(old.window_seq, None);
        assert!(old.per_cpu.is_empty());
    }

    #[test]
    fn unknown_keys_are_ignored() {
        let text = SAMPLE.replace("{", "{\"future\":[1,2],");
        assert!(parse_procpulse_cpu(&text).is_ok());
    }

    #[test]
    fn missing_key_is_an_error_naming_it() {
        let text = SAMPLE.replace("\"steal_ns\":8,", "");
        let err = parse_procpulse_cpu(&text).unwrap_err();
        assert!(err.to_string().contains("steal_ns"), "{err}");
        assert_eq!(err.file(), FILE);
    }

    #[test]
    fn truncated_and_garbage_are_errors() {
        for cut in [0, 1, 10, SAMPLE.len() / 2, SAMPLE.len() - 3] {
            assert!(parse_procpulse_cpu(&SAMPLE[..cut]).is_err(), "cut {cut}");
        }
        assert!(parse_procpulse_cpu("{\"cores\":-1}").is_err());
        assert!(parse_procpulse_cpu(&SAMPLE.replace("\"cores\":2", "\"cores\":0")).is_err());
        assert!(parse_procpulse_cpu(&format!("{SAMPLE}{SAMPLE}")).is_err());
    }

    #[test]
    fn usage_above_100_is_clamped() {
        let text = SAMPLE.replace("2345", "10100");
        assert_eq!(
            parse_procpulse_cpu(&text).unwrap().to_cpu().usage_percent,
            100.0
        );
    }
}
