//! One CPU burned out of N: the aggregate usage is 1/N and one `per_cpu` entry is busy.

use crate::CheckError;
use crate::cpu::read_cpu_file;
use crate::fields::CpuFile;
use std::time::{Duration, Instant};

/// Allowed distance of the aggregate usage from 10000/N, × 100.
pub const SLACK_X100: u64 = 500;
/// A burned CPU's `per_cpu` usage is at least this, × 100.
pub const BUSY_X100: u64 = 9000;
/// Windows inspected (after the first two) before giving up.
const WINDOWS: u64 = 6;

/// `None` when `c` shows one of `cores` CPUs burned; else why not.
pub fn judge(c: &CpuFile, cores: u64) -> Option<String> {
    let want = 10_000 / cores.max(1);
    let got = c.flat["usage_percent_x100"];
    if got.abs_diff(want) > SLACK_X100 {
        return Some(format!(
            "aggregate usage_percent_x100 {got}, want {want} ± {SLACK_X100}"
        ));
    }
    if !c.per_cpu.iter().any(|p| p.usage.unwrap_or(0) >= BUSY_X100) {
        let all: Vec<String> = c
            .per_cpu
            .iter()
            .map(|p| format!("cpu{}={:?}", p.cpu, p.usage))
            .collect();
        return Some(format!(
            "no per_cpu entry >= {BUSY_X100}: {}",
            all.join(" ")
        ));
    }
    None
}

/// Waits until `window_seq` reaches `seq` (at most 10 s per window).
fn wait_seq(seq: u64) -> Result<CpuFile, CheckError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let c = read_cpu_file()?;
        if c.flat["window_seq"] >= seq {
            return Ok(c);
        }
        if Instant::now() > deadline {
            return Err(CheckError::Mismatch(format!(
                "window_seq stuck at {} (waiting for {seq})",
                c.flat["window_seq"]
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The `cpu-partial` check.
pub fn check(stress: &str) -> Result<String, CheckError> {
    let cores = read_cpu_file()?.flat["cores"];
    let (child, _) = crate::procs::start_stress(stress, &["--cpus", "1", "--seconds", "60"])?;
    let r = (|| {
        let seq0 = read_cpu_file()?.flat["window_seq"];
        let mut last = String::new();
        for k in 2..2 + WINDOWS {
            let c = wait_seq(seq0 + k)?;
            match judge(&c, cores) {
                None => {
                    let top = c.per_cpu.iter().filter_map(|p| p.usage).max().unwrap_or(0);
                    return Ok(format!(
                        "cores={cores} usage_percent_x100={} (want {}), busiest per_cpu={top}, window_seq={}",
                        c.flat["usage_percent_x100"],
                        10_000 / cores.max(1),
                        c.flat["window_seq"]
                    ));
                }
                Some(why) => last = why,
            }
        }
        Err(CheckError::Mismatch(format!(
            "1 of {cores} CPUs burned, {WINDOWS} windows: {last}"
        )))
    })();
    crate::procs::stop_stress(child);
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::parse_cpu;

    fn file(agg: u64, u0: u64, u1: u64) -> CpuFile {
        let e = |cpu: u64, u: u64| {
            format!(
                "{{\"cpu\":{cpu},\"usage_percent_x100\":{u},\"user_ns\":0,\"nice_ns\":0,\"system_ns\":0,\"idle_ns\":0,\"iowait_ns\":0,\"irq_ns\":0,\"softirq_ns\":0,\"steal_ns\":0,\"guest_ns\":0,\"guest_nice_ns\":0}}"
            )
        };
        parse_cpu(&format!("{{\"cores\":2,\"usage_percent_x100\":{agg},\"window_ms\":1000,\"window_seq\":3,\"user_ns\":0,\"nice_ns\":0,\"system_ns\":0,\"idle_ns\":0,\"iowait_ns\":0,\"irq_ns\":0,\"softirq_ns\":0,\"steal_ns\":0,\"guest_ns\":0,\"guest_nice_ns\":0,\"load1_x100\":0,\"load5_x100\":0,\"load15_x100\":0,\"per_cpu\":[{},{}]}}\n", e(0, u0), e(1, u1))).unwrap()
    }

    #[test]
    fn one_of_two_burned() {
        assert_eq!(judge(&file(5010, 30, 9990), 2), None);
        assert!(
            judge(&file(5600, 30, 9990), 2)
                .unwrap()
                .contains("aggregate")
        );
        assert!(
            judge(&file(5000, 5000, 5000), 2)
                .unwrap()
                .contains("no per_cpu")
        );
    }
}
