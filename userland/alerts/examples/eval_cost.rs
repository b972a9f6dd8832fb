//! The evaluator's CPU per sample (ci/bench/alerts.sh): 1,000 hosts (`--hosts`) under the
//! 20 rules of `bench/rules-20.toml` (`--rules`), `--samples` samples in collected_at
//! order, one host after another each second (a fleet at 1 Hz), whose values random-walk
//! across the thresholds so that alerts go pending, fire and resolve as they would.
//!
//! The same loop runs twice: building each sample only (the walk; the host name is
//! borrowed, as the broadcaster borrows it from the row), then building and evaluating it; the
//! difference of process CPU time (`CLOCK_PROCESS_CPUTIME_ID`) over the samples is the
//! evaluation's cost. Prints one JSON line.
//!
//! `cargo run --release -p procpulse-alerts --example eval_cost -- [--hosts 1000]
//!     [--samples 5000000] [--rules userland/alerts/bench/rules-20.toml]`

use std::time::Duration;

use procpulse_alerts::{Evaluator, Sample};
use rustix::time::{ClockId, clock_gettime};
use time::macros::datetime;

fn cpu_now() -> Duration {
    let t = clock_gettime(ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// A step in [-s, s].
    fn step(&mut self, s: f64) -> f64 {
        (self.next() % 2001) as f64 / 1000.0 * s - s
    }
}

/// Each host's walking values.
#[derive(Clone)]
struct Walk {
    cpu: f64,
    ram: f64,
    swap: f64,
    load1: f64,
    zombies: f64,
    disk_sleep: f64,
}

fn main() {
    let mut hosts = 1_000usize;
    let mut samples = 5_000_000usize;
    let mut rules_path = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/rules-20.toml").to_owned();
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        let v = pair.get(1).expect("every flag takes a value");
        match pair[0].as_str() {
            "--hosts" => hosts = v.parse().expect("--hosts N"),
            "--samples" => samples = v.parse().expect("--samples N"),
            "--rules" => rules_path = v.clone(),
            other => panic!("unknown flag {other}"),
        }
    }
    let rules = procpulse_alerts::rules::load(std::path::Path::new(&rules_path))
        .unwrap_or_else(|e| panic!("{e}"));
    let n_rules = rules.len();
    let names: Vec<String> = (0..hosts).map(|i| format!("bench-host-{i:05}")).collect();
    let t0 = datetime!(2026-12-01 00:00 UTC);
    let start = Walk {
        cpu: 50.0,
        ram: 50.0,
        swap: 50.0,
        load1: 4.0,
        zombies: 5.0,
        disk_sleep: 5.0,
    };

    // Runs the loop; `evaluate` decides whether the evaluator sees the samples.
    let run = |evaluate: bool| -> (Duration, usize, (usize, usize), usize) {
        let mut ev = Evaluator::new(rules.clone());
        let mut walks = vec![start.clone(); hosts];
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut changes = Vec::new();
        let mut changed = 0usize;
        let mut sink = 0.0f64;
        let c0 = cpu_now();
        for i in 0..samples {
            let h = i % hosts;
            let w = &mut walks[h];
            w.cpu = (w.cpu + rng.step(5.0)).clamp(0.0, 100.0);
            w.ram = (w.ram + rng.step(3.0)).clamp(0.0, 100.0);
            w.swap = (w.swap + rng.step(3.0)).clamp(0.0, 100.0);
            w.load1 = (w.load1 + rng.step(0.5)).clamp(0.0, 80.0);
            w.zombies = (w.zombies + rng.step(2.0)).clamp(0.0, 600.0);
            w.disk_sleep = (w.disk_sleep + rng.step(2.0)).clamp(0.0, 60.0);
            let s = Sample {
                host: &names[h],
                collected_at: t0 + time::Duration::seconds((i / hosts) as i64),
                cpu: w.cpu,
                ram: w.ram,
                swap: Some(w.swap),
                load1: w.load1,
                cores: 4,
                zombies: w.zombies as u64,
                disk_sleep: w.disk_sleep as u64,
            };
            if evaluate {
                ev.observe(&s, &mut changes);
                changed += changes.len();
                changes.clear();
            } else {
                sink += s.cpu + s.host.len() as f64;
            }
            std::hint::black_box(&s);
        }
        let took = cpu_now() - c0;
        std::hint::black_box(sink);
        (took, changed, ev.counts(), ev.hosts())
    };
    let (build, _, _, _) = run(false);
    let (both, changes, (firing, pending), held) = run(true);
    let per = |d: Duration| d.as_nanos() as f64 / samples as f64;
    let eval_ns = (per(both) - per(build)).max(0.0);
    println!(
        "{{\"hosts\":{hosts},\"rules\":{n_rules},\"samples\":{samples},\"build_ns_per_sample\":{:.1},\"build_and_evaluate_ns_per_sample\":{:.1},\"evaluate_ns_per_sample\":{eval_ns:.1},\"evaluate_ns_per_rule\":{:.2},\"changes\":{changes},\"firing_at_end\":{firing},\"pending_at_end\":{pending},\"hosts_held\":{held}}}",
        per(build),
        per(both),
        eval_ns / n_rules as f64,
    );
}
