//! Pure parsers for the files the agent reads: the procpulse modules' /proc files
//! (docs/design.md §2) and the standard /proc files used as a fallback. No I/O: each function takes
//! the text of one file and returns typed values or a [`ParseError`] naming the file and
//! the field.
//!
//! | file | parser |
//! |---|---|
//! | `/proc/procpulse_cpu` | [`procpulse_cpu::parse_procpulse_cpu`] |
//! | `/proc/procpulse_ram` | [`procpulse_ram::parse_procpulse_ram`] |
//! | `/proc/procpulse_procs` | [`procpulse_procs::parse_procpulse_procs`] |
//! | `/proc/procpulse_tasks` | [`procpulse_tasks::parse_procpulse_tasks`] |
//! | `/proc/stat` | [`stat::parse_stat`] |
//! | `/proc/meminfo` | [`meminfo::parse_meminfo`] |
//! | `/proc/loadavg` | [`loadavg::parse_loadavg`] |
//! | `/proc/pressure/{cpu,memory,io}` | [`pressure::parse_pressure`] |
//! | `/proc/[pid]/stat` | [`pid_stat::parse_pid_stat`] |
//! | `/proc/[pid]/status` | [`pid_status::parse_pid_status`] |

pub mod error;
pub mod loadavg;
pub mod meminfo;
pub mod pid_stat;
pub mod pid_status;
pub mod pressure;
pub mod procpulse_cpu;
pub mod procpulse_procs;
pub mod procpulse_ram;
pub mod procpulse_tasks;
pub mod stat;

pub use error::ParseError;
pub use loadavg::{Loadavg, parse_loadavg};
pub use meminfo::{Meminfo, parse_meminfo};
pub use pid_stat::{PidStat, parse_pid_stat};
pub use pid_status::{PidStatus, parse_pid_status};
pub use pressure::parse_pressure;
pub use procpulse_cpu::{KmodCpu, KmodCpuCore, parse_procpulse_cpu};
pub use procpulse_procs::parse_procpulse_procs;
pub use procpulse_ram::{KmodRam, parse_procpulse_ram};
pub use procpulse_tasks::{KmodTask, parse_procpulse_tasks};
pub use stat::{CpuTimes, Stat, parse_stat, per_cpu_usage_since};

/// Parses one unsigned decimal field.
pub(crate) fn num<T: std::str::FromStr>(
    file: &'static str,
    field: &'static str,
    text: Option<&str>,
) -> Result<T, ParseError> {
    let text = text.ok_or(ParseError::Missing { file, field })?;
    text.parse().map_err(|_| ParseError::Invalid {
        file,
        field,
        value: truncate(text),
    })
}

/// Parses a module file: exactly one JSON object, then optional whitespace.
pub(crate) fn json_object<T: serde::de::DeserializeOwned>(
    file: &'static str,
    text: &str,
) -> Result<T, ParseError> {
    serde_json::from_str(text).map_err(|e| ParseError::from_json(file, &e))
}

/// At most 64 bytes of an offending value, for error messages.
pub(crate) fn truncate(s: &str) -> String {
    let mut end = s.len().min(64);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// Rounds to two decimals (the precision of the modules' `_x100` fields).
pub(crate) fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}
