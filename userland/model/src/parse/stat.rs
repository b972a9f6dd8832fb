//! `/proc/stat`: the aggregate `cpu` line and the number of `cpuN` lines.

use super::{ParseError, num};

const FILE: &str = "/proc/stat";

/// Cumulative CPU times of the aggregate `cpu` line, in clock ticks (USER_HZ).
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
}

impl CpuTimes {
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
        super::round2((busy as f64 * 100.0 / total as f64).clamp(0.0, 100.0))
    }
}

/// What the agent needs from /proc/stat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// The aggregate `cpu` line.
    pub total: CpuTimes,
    /// Number of `cpuN` lines (online CPUs).
    pub cores: u32,
}

/// Parses /proc/stat. The aggregate `cpu` line needs at least its first four fields
/// (user nice system idle); later fields default to 0 as on old kernels.
pub fn parse_stat(text: &str) -> Result<Stat, ParseError> {
    let mut total = None;
    let mut cores = 0u32;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("cpu") else {
            // The cpu lines come first; nothing after them is needed.
            if total.is_some() {
                break;
            }
            continue;
        };
        if rest.starts_with(' ') {
            let mut f = rest.split_ascii_whitespace();
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
            total = Some(t);
        } else if rest.starts_with(|c: char| c.is_ascii_digit()) {
            cores += 1;
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
    if cores == 0 {
        return Err(ParseError::Missing {
            file: FILE,
            field: "cpuN lines",
        });
    }
    Ok(Stat { total, cores })
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
