//! The snapshot (docs/design.md §3): one sample of one host, as JSON on the wire.

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
#[serde(remote = "Self")]
pub struct Snapshot {
    /// Unique per sample, stable across retries (1–128 printable ASCII).
    pub sample_id: String,
    /// Host name (1–64 chars of `[A-Za-z0-9._-]`).
    pub host: String,
    /// When the sample was taken, RFC 3339 on the wire (UTC, millisecond precision).
    #[serde(with = "crate::time_text")]
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
    /// Pressure stall information (v2), absent when the kernel has no PSI
    /// (`/proc/pressure` missing or disabled) — never zeros in its place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pressure: Option<Pressure>,
}

/// The procps state letters a `top[].state` may hold: those [`Procs::count_state`]
/// counts (`R S D T t Z X x I`) and `P` (parked kernel thread, which Linux ≥ 4.14 shows in
/// /proc/[pid]/stat and no category counts).
pub const TOP_STATES: &[char] = &['R', 'S', 'D', 'T', 't', 'Z', 'X', 'x', 'I', 'P'];

/// Most entries `top` may hold.
pub const MAX_TOP: usize = 50;

/// Most entries `cpu.per_cpu` may hold.
pub const MAX_PER_CPU: usize = 1024;

/// How far the eight exclusive modes of [`CpuModes`] may sum away from 100 (each is
/// rounded to two decimals, so an honest sum is within 0.04).
pub const MODES_SUM_TOLERANCE: f64 = 0.5;

/// CPU usage and load averages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
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
    /// Share of the sampling window per CPU mode (v2); absent in v1 snapshots and when no
    /// tick elapsed in the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modes: Option<CpuModes>,
    /// Busy share of each CPU online at both ends of the window (v2), ascending by `cpu`,
    /// at most [`MAX_PER_CPU`] entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_cpu: Vec<CoreUsage>,
}

/// Percent of the sampling window (all CPUs together) spent in each mode, with the
/// definitions of /proc/stat: the first eight are exclusive and sum to 100; `guest` and
/// `guest_nice` are already inside `user` and `nice` (as the kernel counts them) and are
/// shown separately, like node_exporter's `mode="guest"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct CpuModes {
    /// Normal processes in user mode (guest time included).
    pub user: f64,
    /// Niced processes in user mode (guest_nice time included).
    pub nice: f64,
    /// Kernel mode.
    pub system: f64,
    /// Idle.
    pub idle: f64,
    /// Idle with I/O outstanding.
    pub iowait: f64,
    /// Hard interrupts.
    pub irq: f64,
    /// Soft interrupts.
    pub softirq: f64,
    /// Stolen by the hypervisor.
    pub steal: f64,
    /// Running a guest's vCPU (part of `user`).
    pub guest: f64,
    /// Running a niced guest's vCPU (part of `nice`).
    pub guest_nice: f64,
}

impl CpuModes {
    /// The ten modes in [`CpuModes::all`] order (/proc/stat order).
    pub fn from_array(v: [f64; 10]) -> Self {
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
        CpuModes {
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

    /// The eight exclusive modes, in /proc/stat order, with their wire names.
    pub fn exclusive(&self) -> [(&'static str, f64); 8] {
        [
            ("user", self.user),
            ("nice", self.nice),
            ("system", self.system),
            ("idle", self.idle),
            ("iowait", self.iowait),
            ("irq", self.irq),
            ("softirq", self.softirq),
            ("steal", self.steal),
        ]
    }

    /// Every mode with its wire name: the exclusive eight, then guest and guest_nice.
    pub fn all(&self) -> [(&'static str, f64); 10] {
        let e = self.exclusive();
        [
            e[0],
            e[1],
            e[2],
            e[3],
            e[4],
            e[5],
            e[6],
            e[7],
            ("guest", self.guest),
            ("guest_nice", self.guest_nice),
        ]
    }
}

/// One CPU's busy share over the sampling window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct CoreUsage {
    /// The kernel's CPU number (`cpuN` in /proc/stat).
    pub cpu: u32,
    /// Busy share of that CPU, percent (0–100).
    pub usage_percent: f64,
}

/// Pressure stall information of /proc/pressure/{cpu,memory,io}; each resource is absent
/// when its file could not be read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct Pressure {
    /// /proc/pressure/cpu.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<PressureStall>,
    /// /proc/pressure/memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<PressureStall>,
    /// /proc/pressure/io.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub io: Option<PressureStall>,
}

/// The `some` and `full` lines of one pressure file.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct PressureStall {
    /// Share of time at least one task was stalled on the resource.
    pub some: PressureLine,
    /// Share of time all non-idle tasks were stalled (absent where the kernel has no
    /// such line: /proc/pressure/cpu before Linux 5.13).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full: Option<PressureLine>,
}

/// One line of a pressure file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct PressureLine {
    /// Percent of the last 10 s.
    pub avg10: f64,
    /// Percent of the last 60 s.
    pub avg60: f64,
    /// Percent of the last 300 s.
    pub avg300: f64,
    /// Total stall time since boot, microseconds.
    pub total_us: u64,
}

/// Memory, in KiB as /proc/meminfo reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
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
    /// Buffers, KiB (v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffers_kb: Option<u64>,
    /// Shmem (tmpfs and shared memory), KiB (v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_kb: Option<u64>,
    /// swap_total_kb − swap_free_kb, KiB (v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swap_used_kb: Option<u64>,
}

/// Process counts by procps state letter. `total` is the sum of the categories.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
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
    /// Sum of the state categories (what `total` must equal), saturating at `u64::MAX`
    /// (see [`Procs::checked_category_sum`]).
    pub fn category_sum(&self) -> u64 {
        self.checked_category_sum().unwrap_or(u64::MAX)
    }

    /// Sum of the state categories, `None` when it does not fit a `u64` (a sum that
    /// wraps must never equal a small `total`).
    pub fn checked_category_sum(&self) -> Option<u64> {
        [
            self.sleeping,
            self.disk_sleep,
            self.stopped,
            self.traced,
            self.zombie,
            self.dead,
            self.idle,
        ]
        .into_iter()
        .try_fold(self.running, u64::checked_add)
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
#[serde(remote = "Self")]
pub struct TopProcess {
    /// Process id.
    pub pid: u32,
    /// Parent process id.
    pub ppid: u32,
    /// Command name (at most 15 bytes in the kernel; may contain spaces and parentheses).
    pub comm: String,
    /// procps state letter, one of [`TOP_STATES`].
    pub state: String,
    /// Resident set size, KiB.
    pub rss_kb: u64,
    /// Share of one CPU over the last sampling interval, percent (may exceed 100 for
    /// multi-threaded processes).
    pub cpu_percent: f64,
    /// Effective user id, as `ps -o user` shows it (v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// User name of `uid` when the monitored host resolves it, else the uid in decimal
    /// (v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Threads in the process (v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<u32>,
    /// Nice value, −20..=19 (v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nice: Option<i32>,
}

/// A deserializer that reads a struct only from a JSON object: the derived visitors also
/// accept a sequence (fields by position), which would let `["id","host",…]` pass for a
/// snapshot. Every snapshot type deserializes through it ([`map_only!`]).
struct MapOnly<D>(D);

impl<'de, D: serde::Deserializer<'de>> serde::Deserializer<'de> for MapOnly<D> {
    type Error = D::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

/// `Serialize` and `Deserialize` for types whose derives are `#[serde(remote = "Self")]`
/// (inherent functions): serialization as derived, deserialization from objects only.
macro_rules! map_only {
    ($($t:ty),* $(,)?) => {$(
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                <$t>::serialize(self, s)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                <$t>::deserialize(MapOnly(d))
            }
        }
    )*};
}

map_only!(
    Snapshot,
    Cpu,
    CpuModes,
    CoreUsage,
    Pressure,
    PressureStall,
    PressureLine,
    Ram,
    Procs,
    TopProcess,
);
