//! `/proc/stat`: the aggregate `cpu` line and the `cpuN` lines.

use super::{ParseError, num, round2};
use crate::snapshot::{CoreUsage, CpuModes};

const FILE: &str = "/proc/stat";

/// Cumulative CPU times by mode, all in one unit: clock ticks (USER_HZ) from /proc/stat,
/// nanoseconds from the procpulse_cpu module.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    /// user, ticks (includes guest).
    pub user: u64,
    /// nice, ticks (includes guest_nice).
    pub nice: u64,
    /// system, ticks.
    pub system: u64,
    /// idle, ticks.
    pub idle: u64,
    /// iowait, ticks (absent before 2.5.41: 0).
    pub iowait: u64,
    /// irq, ticks.
    pub irq: u64,
    /// softirq, ticks.
    pub softirq: u64,
    /// steal, ticks.
    pub steal: u64,
    /// guest, ticks (already inside `user`; absent before 2.6.24: 0).
    pub guest: u64,
    /// guest_nice, ticks (already inside `nice`; absent before 2.6.33: 0).
    pub guest_nice: u64,
}

impl CpuTimes {
    /// The ten counters in /proc/stat order: user nice system idle iowait irq softirq
    /// steal guest guest_nice.
    pub fn from_array(v: [u64; 10]) -> Self {
        let [
            user,
            nice,
            system,
            idle,
            iowait,
            irq,
            softirq,
            steal,
            guest,
            guest_nice,
        ] = v;
        CpuTimes {
            user,
            nice,
            system,
            idle,
            iowait,
            irq,
            softirq,
            steal,
            guest,
            guest_nice,
        }
    }

    /// Ticks spent idle or waiting for I/O.
    pub fn idle_all(&self) -> u64 {
        self.idle.saturating_add(self.iowait)
    }

    /// All ticks (guest time is already inside user/nice and is not added again).
    pub fn total(&self) -> u64 {
        [
            self.user,
            self.nice,
            self.system,
            self.idle,
            self.iowait,
            self.irq,
            self.softirq,
            self.steal,
        ]
        .iter()
        .fold(0u64, |a, b| a.saturating_add(*b))
    }

    /// Busy share of all CPUs between `earlier` and `self`, percent in 0–100, rounded to
    /// two decimals; 0 when no tick elapsed (or the counters went backwards).
    pub fn usage_percent_since(&self, earlier: &CpuTimes) -> f64 {
        let total = self.total().saturating_sub(earlier.total());
        let idle = self.idle_all().saturating_sub(earlier.idle_all());
        if total == 0 {
            return 0.0;
        }
        let busy = total.saturating_sub(idle);
        round2((busy as f64 * 100.0 / total as f64).clamp(0.0, 100.0))
    }

    /// Share of the window between `earlier` and `self` per mode, percent rounded to two
    /// decimals: each mode's increase over the increase of [`CpuTimes::total`]. `None`
    /// when no time elapsed. A counter that went backwards (a CPU going offline) counts
    /// as 0 for that mode, so the exclusive modes then sum to at most 100.
    pub fn modes_since(&self, earlier: &CpuTimes) -> Option<CpuModes> {
        let d = |now: u64, then: u64| now.saturating_sub(then) as f64;
        let parts = [
            d(self.user, earlier.user),
            d(self.nice, earlier.nice),
            d(self.system, earlier.system),
            d(self.idle, earlier.idle),
            d(self.iowait, earlier.iowait),
            d(self.irq, earlier.irq),
            d(self.softirq, earlier.softirq),
            d(self.steal, earlier.steal),
        ];
        let total: f64 = parts.iter().sum();
        if total <= 0.0 {
            return None;
        }
        let pct = |v: f64| round2((v * 100.0 / total).clamp(0.0, 100.0));
        Some(CpuModes {
            user: pct(parts[0]),
            nice: pct(parts[1]),
            system: pct(parts[2]),
            idle: pct(parts[3]),
            iowait: pct(parts[4]),
            irq: pct(parts[5]),
            softirq: pct(parts[6]),
            steal: pct(parts[7]),
            // A guest share never exceeds the share it is part of.
            guest: pct(d(self.guest, earlier.guest).min(parts[0])),
            guest_nice: pct(d(self.guest_nice, earlier.guest_nice).min(parts[1])),
        })
    }
}

/// What the agent needs from /proc/stat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// The aggregate `cpu` line.
    pub total: CpuTimes,
    /// Number of `cpuN` lines (online CPUs).
    pub cores: u32,
    /// Each `cpuN` line: the CPU number and its counters, in file order (ascending).
    pub per_cpu: Vec<(u32, CpuTimes)>,
}

/// Busy share of each CPU present in both readings (online at both ends of the window),
/// ascending by CPU number; both inputs are ascending, as [`parse_stat`] returns them.
pub fn per_cpu_usage_since(now: &[(u32, CpuTimes)], earlier: &[(u32, CpuTimes)]) -> Vec<CoreUsage> {
    let mut out = Vec::with_capacity(now.len());
    let mut then = earlier.iter().peekable();
    for (cpu, t) in now {
        while then.next_if(|(c, _)| c < cpu).is_some() {}
        if let Some((_, e)) = then.next_if(|(c, _)| c == cpu) {
            out.push(CoreUsage {
                cpu: *cpu,
                usage_percent: t.usage_percent_since(e),
            });
        }
    }
    out
}

/// The counters after `cpu` or `cpuN`: at least user nice system idle; later fields
/// default to 0 as on old kernels.
fn times(fields: &str) -> Result<CpuTimes, ParseError> {
    let mut f = fields.split_ascii_whitespace();
    let mut t = CpuTimes {
        user: num(FILE, "cpu.user", f.next())?,
        nice: num(FILE, "cpu.nice", f.next())?,
        system: num(FILE, "cpu.system", f.next())?,
        idle: num(FILE, "cpu.idle", f.next())?,
        ..CpuTimes::default()
    };
    let mut opt = |field| f.next().map(|v| num(FILE, field, Some(v))).transpose();
    t.iowait = opt("cpu.iowait")?.unwrap_or(0);
    t.irq = opt("cpu.irq")?.unwrap_or(0);
    t.softirq = opt("cpu.softirq")?.unwrap_or(0);
    t.steal = opt("cpu.steal")?.unwrap_or(0);
    t.guest = opt("cpu.guest")?.unwrap_or(0);
    t.guest_nice = opt("cpu.guest_nice")?.unwrap_or(0);
    Ok(t)
}

/// Parses /proc/stat: the aggregate `cpu` line and every `cpuN` line.
pub fn parse_stat(text: &str) -> Result<Stat, ParseError> {
    let mut total = None;
    let mut per_cpu = Vec::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("cpu") else {
            // The cpu lines come first; nothing after them is needed.
            if total.is_some() {
                break;
            }
            continue;
        };
        if rest.starts_with(' ') {
            total = Some(times(rest)?);
        } else if rest.starts_with(|c: char| c.is_ascii_digit()) {
            let (id, fields) = rest.split_once(' ').unwrap_or((rest, ""));
            let id: u32 = num(FILE, "cpuN", Some(id))?;
            per_cpu.push((id, times(fields)?));
        } else {
            return Err(ParseError::Malformed {
                file: FILE,
                message: format!("unexpected line {:?}", super::truncate(line)),
            });
        }
    }
    let total = total.ok_or(ParseError::Missing {
        file: FILE,
        field: "cpu line",
    })?;
    if per_cpu.is_empty() {
        return Err(ParseError::Missing {
            file: FILE,
            field: "cpuN lines",
        });
    }
    let cores = u32::try_from(per_cpu.len()).unwrap_or(u32::MAX);
    Ok(Stat {
        total,
        cores,
        per_cpu,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPTURED: &str = "cpu  27681 0 7777 75602 502 0 146 37 0 0\n\
cpu0 13296 0 3291 39180 59 0 19 19 0 0\n\
cpu1 14384 0 4486 36422 443 0 126 18 0 0\n\
intr 434419 0 0 0\n\
ctxt 823387\n\
btime 1795925000\n\
processes 15620\n\
procs_running 2\n\
procs_blocked 0\n";

    #[test]
    fn parses_captured_text() {
        let s = parse_stat(CAPTURED).unwrap();
        assert_eq!(s.cores, 2);
        assert_eq!(s.total.user, 27681);
        assert_eq!(s.total.idle, 75602);
        assert_eq!(s.total.steal, 37);
        assert_eq!(s.total.total(), 27681 + 7777 + 75602 + 502 + 146 + 37);
    }

    #[test]
    fn parses_every_cpu_line_with_guest_fields() {
        let s = parse_stat(CAPTURED).unwrap();
        assert_eq!(s.per_cpu.len(), 2);
        assert_eq!(s.per_cpu[1].0, 1);
        assert_eq!(s.per_cpu[1].1.user, 14384);
        assert_eq!(s.per_cpu[1].1.steal, 18);
        let g = parse_stat("cpu  10 1 2 3 4 5 6 7 8 9\ncpu3 10 1 2 3 4 5 6 7 8 9\n").unwrap();
        assert_eq!((g.total.guest, g.total.guest_nice), (8, 9));
        assert_eq!(g.per_cpu[0].0, 3);
        assert!(parse_stat("cpu  1 2 3 4\ncpu0x 1 2 3 4\n").is_err());
    }

    #[test]
    fn modes_are_shares_of_the_window() {
        let a = CpuTimes::default();
        let b = CpuTimes {
            user: 50,
            nice: 10,
            system: 20,
            idle: 15,
            iowait: 5,
            guest: 30,
            guest_nice: 4,
            ..Default::default()
        };
        let m = b.modes_since(&a).unwrap();
        assert_eq!(
            (m.user, m.nice, m.system, m.idle, m.iowait),
            (50.0, 10.0, 20.0, 15.0, 5.0)
        );
        assert_eq!((m.guest, m.guest_nice), (30.0, 4.0));
        let sum: f64 = m.exclusive().iter().map(|(_, v)| v).sum();
        assert!((sum - 100.0).abs() < 1e-9);
        assert_eq!(a.modes_since(&a), None);
        // Backwards counters never give a share above 100 or below 0.
        let m = a.modes_since(&b);
        assert_eq!(m, None);
    }

    #[test]
    fn per_cpu_usage_only_for_cpus_in_both_readings() {
        let t = |busy: u64, idle: u64| CpuTimes {
            user: busy,
            idle,
            ..Default::default()
        };
        let earlier = [(0, t(0, 0)), (1, t(0, 0)), (3, t(0, 0))];
        let now = [(0, t(25, 75)), (2, t(10, 10)), (3, t(50, 50))];
        let u = per_cpu_usage_since(&now, &earlier);
        assert_eq!(
            u,
            vec![
                CoreUsage {
                    cpu: 0,
                    usage_percent: 25.0
                },
                CoreUsage {
                    cpu: 3,
                    usage_percent: 50.0
                }
            ]
        );
    }

    #[test]
    fn usage_between_two_samples() {
        let a = CpuTimes {
            user: 100,
            idle: 100,
            ..Default::default()
        };
        let b = CpuTimes {
            user: 125,
            idle: 175,
            ..Default::default()
        };
        assert_eq!(b.usage_percent_since(&a), 25.0);
        assert_eq!(a.usage_percent_since(&a), 0.0);
        // Counters going backwards (e.g. a CPU going offline) never give nonsense.
        assert!((0.0..=100.0).contains(&a.usage_percent_since(&b)));
    }

    #[test]
    fn old_kernel_with_four_fields() {
        let s = parse_stat("cpu 1 2 3 4\ncpu0 1 2 3 4\n").unwrap();
        assert_eq!(s.total.iowait, 0);
        assert_eq!(s.cores, 1);
    }

    #[test]
    fn truncated_and_malformed() {
        assert_eq!(
            parse_stat("").unwrap_err(),
            ParseError::Missing {
                file: FILE,
                field: "cpu line"
            }
        );
        assert!(matches!(
            parse_stat("cpu  27681 0 7777\n"),
            Err(ParseError::Missing {
                field: "cpu.idle",
                ..
            })
        ));
        assert!(matches!(
            parse_stat("cpu  1 2 x 4\ncpu0 1 2 3 4\n"),
            Err(ParseError::Invalid {
                field: "cpu.system",
                ..
            })
        ));
        assert!(parse_stat("cpu  1 2 3 4\n").is_err());
        assert!(parse_stat("cpuX 1 2 3 4\n").is_err());
    }
}
