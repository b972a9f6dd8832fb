//! Host gauges for `/metrics` (Prometheus text, prometheus-client), refreshed from a
//! fresh snapshot on every scrape, and the count of samples taken by source.

use procpulse_model::{Snapshot, Source};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabel {
    source: &'static str,
}

type FGauge = Gauge<f64, AtomicU64>;

/// The host gauges.
#[derive(Debug)]
pub struct HostMetrics {
    cpu_usage: FGauge,
    cores: Gauge,
    load1: FGauge,
    load5: FGauge,
    load15: FGauge,
    memory: Family<StateLabel, Gauge>,
    processes: Family<StateLabel, Gauge>,
    threads: Gauge,
    samples: Family<SourceLabel, Counter>,
}

impl HostMetrics {
    /// Registers every host metric in `reg` (prefixed `procpulse_` by the registry).
    pub fn register(reg: &mut Registry) -> Self {
        let m = HostMetrics {
            cpu_usage: FGauge::default(),
            cores: Gauge::default(),
            load1: FGauge::default(),
            load5: FGauge::default(),
            load15: FGauge::default(),
            memory: Family::default(),
            processes: Family::default(),
            threads: Gauge::default(),
            samples: Family::default(),
        };
        reg.register(
            "host_cpu_usage_ratio",
            "Busy share of all online CPUs over the sampling window (0-1)",
            m.cpu_usage.clone(),
        );
        reg.register("host_cpu_cores", "Online CPUs", m.cores.clone());
        reg.register("host_load1", "1-minute load average", m.load1.clone());
        reg.register("host_load5", "5-minute load average", m.load5.clone());
        reg.register("host_load15", "15-minute load average", m.load15.clone());
        reg.register(
            "host_memory_bytes",
            "Memory by kind (total, free, available, used, cached, swap_total, swap_free)",
            m.memory.clone(),
        );
        reg.register(
            "host_processes",
            "Processes by procps state",
            m.processes.clone(),
        );
        reg.register(
            "host_threads",
            "Threads of all processes",
            m.threads.clone(),
        );
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

    /// Sets every gauge from `s`.
    pub fn update(&self, s: &Snapshot) {
        self.cpu_usage.set(s.cpu.usage_percent / 100.0);
        self.cores.set(i64::from(s.cpu.cores));
        self.load1.set(s.cpu.load1);
        self.load5.set(s.cpu.load5);
        self.load15.set(s.cpu.load15);
        let kb = |v: u64| (v.saturating_mul(1024)).min(i64::MAX as u64) as i64;
        for (state, v) in [
            ("total", s.ram.total_kb),
            ("free", s.ram.free_kb),
            ("available", s.ram.available_kb),
            ("used", s.ram.used_kb),
            ("cached", s.ram.cached_kb),
            ("swap_total", s.ram.swap_total_kb),
            ("swap_free", s.ram.swap_free_kb),
        ] {
            self.memory.get_or_create(&StateLabel { state }).set(kb(v));
        }
        let p = &s.procs;
        for (state, v) in [
            ("running", p.running),
            ("sleeping", p.sleeping),
            ("disk_sleep", p.disk_sleep),
            ("stopped", p.stopped),
            ("traced", p.traced),
            ("zombie", p.zombie),
            ("dead", p.dead),
            ("idle", p.idle),
        ] {
            self.processes
                .get_or_create(&StateLabel { state })
                .set(v.min(i64::MAX as u64) as i64);
        }
        self.threads.set(p.threads.min(i64::MAX as u64) as i64);
    }
}
