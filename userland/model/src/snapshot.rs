//! The snapshot (SPEC §3): one sample of one host, as JSON on the wire.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Which path of the agent produced a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Read from the procpulse kernel modules' /proc files.
    Kmod,
    /// Read from the standard /proc files (modules absent).
    Procfs,
}

impl Source {
    /// The wire name (`kmod` or `procfs`).
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Kmod => "kmod",
            Source::Procfs => "procfs",
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Source {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "kmod" => Ok(Source::Kmod),
            "procfs" => Ok(Source::Procfs),
            other => Err(format!(
                "unknown source {other:?} (expected kmod or procfs)"
            )),
        }
    }
}

/// One sample of one host. `sample_id` is the idempotency key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Unique per sample, stable across retries (1–128 printable ASCII).
    pub sample_id: String,
    /// Host name (1–64 chars of `[A-Za-z0-9._-]`).
    pub host: String,
    /// When the sample was taken, RFC 3339 on the wire (UTC, millisecond precision).
    #[serde(with = "time::serde::rfc3339")]
    pub collected_at: OffsetDateTime,
    /// Which path produced the sample.
    pub source: Source,
    /// CPU usage and load.
    pub cpu: Cpu,
    /// Memory.
    pub ram: Ram,
    /// Process-state counts.
    pub procs: Procs,
    /// Optional top processes (at most [`MAX_TOP`] entries).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub top: Vec<TopProcess>,
}

/// Most entries `top` may hold.
pub const MAX_TOP: usize = 50;

/// CPU usage and load averages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cpu {
    /// Busy share of all online CPUs over the last sampling window, percent (0–100).
    pub usage_percent: f64,
    /// Online CPUs.
    pub cores: u32,
    /// 1-minute load average (runnable + uninterruptible tasks).
    pub load1: f64,
    /// 5-minute load average.
    pub load5: f64,
    /// 15-minute load average.
    pub load15: f64,
}

/// Memory, in KiB as /proc/meminfo reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ram {
    /// MemTotal, KiB.
    pub total_kb: u64,
    /// MemFree, KiB.
    pub free_kb: u64,
    /// MemAvailable, KiB.
    pub available_kb: u64,
    /// total_kb − available_kb, KiB (procps 4 `free` definition).
    pub used_kb: u64,
    /// Cached, KiB.
    pub cached_kb: u64,
    /// SwapTotal, KiB.
    pub swap_total_kb: u64,
    /// SwapFree, KiB.
    pub swap_free_kb: u64,
    /// used_kb / total_kb, percent (0–100).
    pub used_percent: f64,
}

/// Process counts by procps state letter. `total` is the sum of the categories.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Procs {
    /// Processes (thread-group leaders), sum of the categories below.
    pub total: u64,
    /// R.
    pub running: u64,
    /// S.
    pub sleeping: u64,
    /// D.
    pub disk_sleep: u64,
    /// T.
    pub stopped: u64,
    /// t.
    pub traced: u64,
    /// Z.
    pub zombie: u64,
    /// X.
    pub dead: u64,
    /// I.
    pub idle: u64,
    /// All threads of all processes.
    pub threads: u64,
}

impl Procs {
    /// Sum of the state categories (what `total` must equal).
    pub fn category_sum(&self) -> u64 {
        self.running
            + self.sleeping
            + self.disk_sleep
            + self.stopped
            + self.traced
            + self.zombie
            + self.dead
            + self.idle
    }

    /// Counts one process with procps state letter `state`; unknown letters are ignored
    /// and reported as `false`.
    pub fn count_state(&mut self, state: char) -> bool {
        let slot = match state {
            'R' => &mut self.running,
            'S' => &mut self.sleeping,
            'D' => &mut self.disk_sleep,
            'T' => &mut self.stopped,
            't' => &mut self.traced,
            'Z' => &mut self.zombie,
            'X' | 'x' => &mut self.dead,
            'I' => &mut self.idle,
            _ => return false,
        };
        *slot += 1;
        self.total += 1;
        true
    }
}

/// One row of the top-processes table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopProcess {
    /// Process id.
    pub pid: u32,
    /// Parent process id.
    pub ppid: u32,
    /// Command name (at most 15 bytes in the kernel; may contain spaces and parentheses).
    pub comm: String,
    /// procps state letter.
    pub state: String,
    /// Resident set size, KiB.
    pub rss_kb: u64,
    /// Share of one CPU over the last sampling interval, percent (may exceed 100 for
    /// multi-threaded processes).
    pub cpu_percent: f64,
}
