//! The host's series on `/metrics`, built afresh on every scrape from a fresh snapshot and
//! the per-CPU time counters (see the agent README's metrics table), and the count of
//! snapshots taken by source.
//!
//! CPU time and pressure stall time are counters with node_exporter's semantics (seconds
//! since boot, per CPU and mode), so `rate()` works on them; everything else is a gauge
//! of the instant. Host series live in a per-scrape [`Registry`] (constant values, no
//! shared state between concurrent scrapes) rendered together with the agent's own.

use crate::files::{ProcFile, ProcFiles};
use procpulse_model::parse::{self, CpuTimes};
use procpulse_model::{PressureStall, Snapshot, Source};
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabel {
    source: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, EncodeLabelSet)]
struct CpuModeLabels {
    cpu: String,
    mode: &'static str,
}

/// A family of constant values, one per label set, encoded as `M`'s type.
#[derive(Debug)]
struct ConstFamily<L, M> {
    rows: Vec<(L, M)>,
}

impl<L, M> EncodeMetric for ConstFamily<L, M>
where
    L: EncodeLabelSet,
    M: EncodeMetric + TypedMetric,
{
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        for (labels, metric) in &self.rows {
            metric.encode(encoder.encode_family(labels)?)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        M::TYPE
    }

    fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// Registers a family unless it has no rows.
fn register_family<L, M>(reg: &mut Registry, name: &str, help: &str, rows: Vec<(L, M)>)
where
    L: EncodeLabelSet + std::fmt::Debug + Send + Sync + 'static,
    M: EncodeMetric + TypedMetric + std::fmt::Debug + Send + Sync + 'static,
{
    if !rows.is_empty() {
        reg.register(name, help, ConstFamily { rows });
    }
}

fn gauge_i64(reg: &mut Registry, name: &str, help: &str, v: i64) {
    reg.register(name, help, ConstGauge::new(v));
}

fn gauge_f64(reg: &mut Registry, name: &str, help: &str, v: f64) {
    reg.register(name, help, ConstGauge::new(v));
}

fn sat_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Reads one mode's counter.
type ModeCounter = fn(&CpuTimes) -> u64;

/// The CPU modes of `node_cpu_seconds_total`, in its order, and their counters.
const MODES: [(&str, ModeCounter); 8] = [
    ("user", |t| t.user),
    ("nice", |t| t.nice),
    ("system", |t| t.system),
    ("idle", |t| t.idle),
    ("iowait", |t| t.iowait),
    ("irq", |t| t.irq),
    ("softirq", |t| t.softirq),
    ("steal", |t| t.steal),
];

/// Cumulative time counters of each online CPU, with their unit.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuSeconds {
    /// Each CPU's counters, ascending by CPU number.
    pub per_cpu: Vec<(u32, CpuTimes)>,
    /// Counter units per second: USER_HZ for /proc/stat, 1e9 for the module's ns.
    pub units_per_second: f64,
}

impl CpuSeconds {
    /// Reads the counters at scrape time: on the `kmod` source from the module's
    /// `per_cpu` (ns), else, or when the module predates `per_cpu`, from /proc/stat's
    /// `cpuN` lines (ticks of `clk_tck`). `None` when neither can be read.
    pub fn read(files: &ProcFiles, source: Source, clk_tck: f64) -> Option<CpuSeconds> {
        if source == Source::Kmod {
            match files.read_with(ProcFile::KmodCpu, parse::parse_procpulse_cpu) {
                Ok(c) if !c.per_cpu.is_empty() => {
                    return Some(CpuSeconds {
                        per_cpu: c.per_cpu.iter().map(|p| (p.cpu, p.times())).collect(),
                        units_per_second: 1e9,
                    });
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "No module CPU counters for /metrics"),
            }
        }
        match files.read_with(ProcFile::Stat, parse::parse_stat) {
            Ok(s) => Some(CpuSeconds {
                per_cpu: s.per_cpu,
                units_per_second: clk_tck,
            }),
            Err(e) => {
                tracing::debug!(error = %e, "No /proc/stat CPU counters for /metrics");
                None
            }
        }
    }
}

/// The agent's own sample counter, and what a scrape needs to build the host series.
#[derive(Debug)]
pub struct HostMetrics {
    samples: Family<SourceLabel, Counter>,
}

impl HostMetrics {
    /// Registers `procpulse_agent_samples_total` in the agent's long-lived `reg`.
    pub fn register(reg: &mut Registry) -> Self {
        let m = HostMetrics {
            samples: Family::default(),
        };
        reg.register(
            "agent_samples",
            "Snapshots taken, by source",
            m.samples.clone(),
        );
        m
    }

    /// Counts one snapshot taken from `source`.
    pub fn count_sample(&self, source: Source) {
        self.samples
            .get_or_create(&SourceLabel {
                source: source.as_str(),
            })
            .inc();
    }

    /// The host series of one scrape (prefix `procpulse_`): CPU counters from `cpu`, the
    /// rest from `snap`; families without a value (no snapshot, no PSI, a field the
    /// source lacks) are left out rather than reported as 0.
    pub fn scrape(&self, snap: Option<&Snapshot>, cpu: Option<&CpuSeconds>) -> Registry {
        let mut reg = Registry::with_prefix("procpulse");
        if let Some(cpu) = cpu {
            register_cpu(&mut reg, cpu);
        }
        if let Some(s) = snap {
            register_snapshot(&mut reg, s);
        }
        reg
    }
}

fn register_cpu(reg: &mut Registry, cpu: &CpuSeconds) {
    let secs = |v: u64| v as f64 / cpu.units_per_second;
    let mut modes = Vec::with_capacity(cpu.per_cpu.len() * MODES.len());
    let mut guest = Vec::with_capacity(cpu.per_cpu.len() * 2);
    for (n, t) in &cpu.per_cpu {
        for (mode, get) in MODES {
            modes.push((
                CpuModeLabels {
                    cpu: n.to_string(),
                    mode,
                },
                ConstCounter::new(secs(get(t))),
            ));
        }
        for (mode, v) in [("user", t.guest), ("nice", t.guest_nice)] {
            guest.push((
                CpuModeLabels {
                    cpu: n.to_string(),
                    mode,
                },
                ConstCounter::new(secs(v)),
            ));
        }
    }
    register_family(
        reg,
        "cpu_seconds",
        "Seconds each CPU spent in each mode since boot (node_cpu_seconds_total; user and nice include guest time)",
        modes,
    );
    register_family(
        reg,
        "cpu_guest_seconds",
        "Seconds each CPU spent running guests since boot, already counted in mode user/nice of procpulse_cpu_seconds_total (node_cpu_guest_seconds_total)",
        guest,
    );
}

fn register_snapshot(reg: &mut Registry, s: &Snapshot) {
    gauge_f64(
        reg,
        "host_cpu_usage_ratio",
        "Busy share of all online CPUs over the sampling window (0-1)",
        s.cpu.usage_percent / 100.0,
    );
    gauge_i64(reg, "host_cpu_cores", "Online CPUs", i64::from(s.cpu.cores));
    gauge_f64(reg, "host_load1", "1-minute load average", s.cpu.load1);
    gauge_f64(reg, "host_load5", "5-minute load average", s.cpu.load5);
    gauge_f64(reg, "host_load15", "15-minute load average", s.cpu.load15);

    let r = &s.ram;
    let bytes = |kb: u64| sat_i64(kb.saturating_mul(1024));
    for (name, help, kb) in [
        (
            "memory_total_bytes",
            "MemTotal: usable RAM",
            Some(r.total_kb),
        ),
        ("memory_free_bytes", "MemFree: unused RAM", Some(r.free_kb)),
        (
            "memory_available_bytes",
            "MemAvailable: RAM available to new work without swapping",
            Some(r.available_kb),
        ),
        (
            "memory_buffers_bytes",
            "Buffers: block device buffers",
            r.buffers_kb,
        ),
        (
            "memory_cached_bytes",
            "Cached: page cache (without swap cache)",
            Some(r.cached_kb),
        ),
        (
            "memory_shared_bytes",
            "Shmem: tmpfs and shared memory",
            r.shared_kb,
        ),
        (
            "memory_swap_total_bytes",
            "SwapTotal",
            Some(r.swap_total_kb),
        ),
        ("memory_swap_free_bytes", "SwapFree", Some(r.swap_free_kb)),
        (
            "memory_swap_used_bytes",
            "SwapTotal - SwapFree",
            r.swap_used_kb
                .or(Some(r.swap_total_kb.saturating_sub(r.swap_free_kb))),
        ),
    ] {
        if let Some(kb) = kb {
            gauge_i64(reg, name, help, bytes(kb));
        }
    }

    if let Some(p) = &s.pressure {
        for (resource, stall) in [("cpu", &p.cpu), ("memory", &p.memory), ("io", &p.io)] {
            if let Some(stall) = stall {
                register_pressure(reg, resource, stall);
            }
        }
    }

    let p = &s.procs;
    let states = [
        ("running", p.running),
        ("sleeping", p.sleeping),
        ("disk_sleep", p.disk_sleep),
        ("stopped", p.stopped),
        ("traced", p.traced),
        ("zombie", p.zombie),
        ("dead", p.dead),
        ("idle", p.idle),
    ]
    .into_iter()
    .map(|(state, v)| (StateLabel { state }, ConstGauge::new(sat_i64(v))))
    .collect();
    register_family(reg, "host_processes", "Processes by procps state", states);
    gauge_i64(
        reg,
        "host_threads",
        "Threads of all processes",
        sat_i64(p.threads),
    );
}

fn register_pressure(reg: &mut Registry, resource: &str, stall: &PressureStall) {
    let secs = |us: u64| ConstCounter::new(us as f64 / 1e6);
    reg.register(
        format!("pressure_{resource}_waiting_seconds"),
        format!(
            "Seconds since boot in which at least one task waited for {resource} (/proc/pressure/{resource} some total)"
        ),
        secs(stall.some.total_us),
    );
    if let Some(full) = &stall.full {
        reg.register(
            format!("pressure_{resource}_stalled_seconds"),
            format!(
                "Seconds since boot in which all non-idle tasks stalled on {resource} (/proc/pressure/{resource} full total)"
            ),
            secs(full.total_us),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use procpulse_model::{Pressure, PressureLine};
    use procpulse_service::metrics::{Format, OpenMetricsVersion, render};

    fn snapshot() -> Snapshot {
        let v = include_str!("../../model/tests/fixtures/snapshot_valid.json");
        serde_json::from_str(v).unwrap()
    }

    fn cpu() -> CpuSeconds {
        let stat = parse::parse_stat(
            "cpu  350 20 110 1000 7 3 2 1 40 5\n\
cpu0 100 10 50 500 3 1 1 0 20 5\n\
cpu1 250 10 60 500 4 2 1 1 20 0\n",
        )
        .unwrap();
        CpuSeconds {
            per_cpu: stat.per_cpu,
            units_per_second: 100.0,
        }
    }

    fn line(total_us: u64) -> PressureLine {
        PressureLine {
            total_us,
            ..PressureLine::default()
        }
    }

    fn text(m: &HostMetrics, snap: Option<&Snapshot>, cpu: Option<&CpuSeconds>) -> String {
        render(Format::Text, &[&m.scrape(snap, cpu)])
    }

    #[test]
    fn cpu_counters_are_seconds_per_cpu_and_mode() {
        let m = HostMetrics::register(&mut Registry::default());
        let t = text(&m, None, Some(&cpu()));
        for needle in [
            "# TYPE procpulse_cpu_seconds_total counter\n",
            "procpulse_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 1.0\n",
            "procpulse_cpu_seconds_total{cpu=\"1\",mode=\"user\"} 2.5\n",
            "procpulse_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 5.0\n",
            "procpulse_cpu_seconds_total{cpu=\"1\",mode=\"steal\"} 0.01\n",
            "procpulse_cpu_seconds_total{cpu=\"0\",mode=\"iowait\"} 0.03\n",
            "# TYPE procpulse_cpu_guest_seconds_total counter\n",
            "procpulse_cpu_guest_seconds_total{cpu=\"0\",mode=\"nice\"} 0.05\n",
            "procpulse_cpu_guest_seconds_total{cpu=\"1\",mode=\"user\"} 0.2\n",
        ] {
            assert!(t.contains(needle), "{needle} missing from:\n{t}");
        }
        assert_eq!(t.matches("procpulse_cpu_seconds_total{").count(), 16);
        // Module counters are ns.
        let ns = CpuSeconds {
            per_cpu: vec![(
                3,
                CpuTimes {
                    user: 1_500_000_000,
                    ..CpuTimes::default()
                },
            )],
            units_per_second: 1e9,
        };
        let t = text(&m, None, Some(&ns));
        assert!(t.contains("procpulse_cpu_seconds_total{cpu=\"3\",mode=\"user\"} 1.5\n"));
    }

    /// A proc root in a fresh temp dir holding `files`.
    fn proc_root(files: &[(&str, &str)]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "procpulse-host-metrics-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        dir
    }

    #[test]
    fn counters_come_from_the_module_or_proc_stat() {
        let stat =
            "cpu  300 0 0 0 0 0 0 0 0 0\ncpu0 100 0 0 0 0 0 0 0 0 0\ncpu1 200 0 0 0 0 0 0 0 0 0\n";
        let core = |cpu: u32, user_ns: u64| {
            format!(
                "{{\"cpu\":{cpu},\"user_ns\":{user_ns},\"nice_ns\":0,\"system_ns\":0,\"idle_ns\":0,\"iowait_ns\":0,\"irq_ns\":0,\"softirq_ns\":0,\"steal_ns\":0,\"guest_ns\":7,\"guest_nice_ns\":0}}"
            )
        };
        let head = "\"cores\":2,\"usage_percent_x100\":0,\"window_ms\":1000,\"user_ns\":0,\"nice_ns\":0,\"system_ns\":0,\"idle_ns\":0,\"iowait_ns\":0,\"irq_ns\":0,\"softirq_ns\":0,\"steal_ns\":0,\"load1_x100\":0,\"load5_x100\":0,\"load15_x100\":0";
        let kmod = format!(
            "{{{head},\"per_cpu\":[{},{}]}}\n",
            core(0, 1_250_000_000),
            core(1, 3_000_000_000)
        );
        let dir = proc_root(&[("stat", stat), ("procpulse_cpu", &kmod)]);
        let files = ProcFiles::new(&dir);
        let k = CpuSeconds::read(&files, Source::Kmod, 100.0).unwrap();
        assert_eq!(k.units_per_second, 1e9);
        assert_eq!(k.per_cpu[1].0, 1);
        assert_eq!(k.per_cpu[1].1.user, 3_000_000_000);
        assert_eq!(k.per_cpu[0].1.guest, 7);
        // The procfs source reads /proc/stat even when the module is there.
        let p = CpuSeconds::read(&files, Source::Procfs, 100.0).unwrap();
        assert_eq!(p.units_per_second, 100.0);
        assert_eq!(p.per_cpu[1].1.user, 200);
        // A module without per_cpu: /proc/stat.
        std::fs::write(dir.join("procpulse_cpu"), format!("{{{head}}}\n")).unwrap();
        let files = ProcFiles::new(&dir);
        let old = CpuSeconds::read(&files, Source::Kmod, 100.0).unwrap();
        assert_eq!((old.units_per_second, old.per_cpu.len()), (100.0, 2));
        // Nothing readable: no CPU series at all.
        std::fs::remove_file(dir.join("stat")).unwrap();
        let files = ProcFiles::new(&dir);
        assert_eq!(CpuSeconds::read(&files, Source::Procfs, 100.0), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn memory_is_one_gauge_per_quantity_in_bytes() {
        let m = HostMetrics::register(&mut Registry::default());
        let mut s = snapshot();
        s.ram.total_kb = 2048;
        s.ram.free_kb = 1024;
        s.ram.buffers_kb = Some(3);
        s.ram.shared_kb = None;
        s.ram.swap_total_kb = 10;
        s.ram.swap_free_kb = 4;
        s.ram.swap_used_kb = None;
        let t = text(&m, Some(&s), None);
        for needle in [
            "# TYPE procpulse_memory_total_bytes gauge\nprocpulse_memory_total_bytes 2097152\n",
            "procpulse_memory_free_bytes 1048576\n",
            "procpulse_memory_buffers_bytes 3072\n",
            "procpulse_memory_swap_used_bytes 6144\n",
            "procpulse_host_processes{state=\"zombie\"} ",
            "procpulse_host_load1 ",
        ] {
            assert!(t.contains(needle), "{needle} missing from:\n{t}");
        }
        assert!(!t.contains("memory_shared"), "{t}");
        assert!(!t.contains("cpu_seconds"), "{t}");
    }

    #[test]
    fn pressure_counters_only_where_psi_has_them() {
        let m = HostMetrics::register(&mut Registry::default());
        let mut s = snapshot();
        s.pressure = None;
        assert!(!text(&m, Some(&s), None).contains("pressure"));
        s.pressure = Some(Pressure {
            cpu: Some(PressureStall {
                some: line(2_500_000),
                full: None,
            }),
            memory: Some(PressureStall {
                some: line(10),
                full: Some(line(1_000_000)),
            }),
            io: None,
        });
        let t = text(&m, Some(&s), None);
        for needle in [
            "# TYPE procpulse_pressure_cpu_waiting_seconds_total counter\nprocpulse_pressure_cpu_waiting_seconds_total 2.5\n",
            "procpulse_pressure_memory_waiting_seconds_total 0.00001\n",
            "procpulse_pressure_memory_stalled_seconds_total 1.0\n",
        ] {
            assert!(t.contains(needle), "{needle} missing from:\n{t}");
        }
        assert!(!t.contains("pressure_cpu_stalled"), "{t}");
        assert!(!t.contains("pressure_io"), "{t}");
    }

    #[test]
    fn openmetrics_names_counter_families_without_total() {
        let m = HostMetrics::register(&mut Registry::default());
        let om = render(
            Format::OpenMetrics(OpenMetricsVersion::V1_0_0),
            &[&m.scrape(Some(&snapshot()), Some(&cpu()))],
        );
        assert!(
            om.contains("# TYPE procpulse_cpu_seconds counter\n"),
            "{om}"
        );
        assert!(om.contains("procpulse_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 1.0\n"));
        assert!(om.ends_with("# EOF\n"));
    }
}
