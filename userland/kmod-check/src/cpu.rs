//! /proc/procpulse_cpu: a real sampling window, idle vs burned CPUs, independence from
//! readers, and the cumulative counters against /proc/stat.

use crate::fields::{CpuFile, Fields, parse_cpu};
use crate::procfs::{parse_loadavg_x100, parse_stat_cpu};
use crate::{CPU_FILE, CheckError, read};
use std::time::{Duration, Instant};

/// The module's window is 1000 ms; a TCG guest's timers may fire late.
const WINDOW_RANGE_MS: std::ops::RangeInclusive<u64> = 900..=2500;
/// USER_HZ ticks of /proc/stat are 10 ms.
const NS_PER_TICK: u64 = 10_000_000;
/// Ticks the two back-to-back readings may differ by.
const TICK_SLACK: u64 = 5;

/// The flat fields of /proc/procpulse_cpu (the whole file is validated).
pub fn read_cpu() -> Result<Fields, CheckError> {
    read_cpu_file().map(|c| c.flat)
}

/// /proc/procpulse_cpu with its `per_cpu` entries.
pub fn read_cpu_file() -> Result<CpuFile, CheckError> {
    parse_cpu(&read(CPU_FILE)?)
}

/// Waits until the module has closed at least `windows` windows after now.
fn after_windows(windows: u32) -> Result<Fields, CheckError> {
    std::thread::sleep(Duration::from_millis(1100 * u64::from(windows) + 200));
    let c = read_cpu()?;
    if !WINDOW_RANGE_MS.contains(&c["window_ms"]) {
        return Err(CheckError::Mismatch(format!(
            "window_ms {} outside {WINDOW_RANGE_MS:?}",
            c["window_ms"]
        )));
    }
    Ok(c)
}

/// Compares the module's cumulative counters with /proc/stat's `cpu` line.
pub fn compare_stat(c: &Fields, stat: [u64; 8]) -> Result<(), String> {
    // /proc/stat's first eight columns, in its order (guest/guest_nice follow them).
    let names = &crate::fields::CPU_COUNTERS[..8];
    let mut diffs = Vec::new();
    for (name, ticks) in names.iter().zip(stat) {
        let ours = c[*name] / NS_PER_TICK;
        if ours.abs_diff(ticks) > TICK_SLACK {
            diffs.push(format!("{name}: kmod {ours} ticks, /proc/stat {ticks}"));
        }
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs.join(", "))
    }
}

/// Idle guest: usage < 10 %; counters agree with /proc/stat.
pub fn check_idle() -> Result<String, CheckError> {
    let c = after_windows(2)?;
    let usage = c["usage_percent_x100"];
    if usage >= 1000 {
        return Err(CheckError::Mismatch(format!(
            "idle guest shows usage_percent_x100={usage} (>= 10 %)"
        )));
    }
    let mut last = String::new();
    for _ in 0..10 {
        let c = read_cpu()?;
        let stat = parse_stat_cpu(&read("/proc/stat")?).ok_or_else(|| CheckError::Format {
            file: "/proc/stat".into(),
            msg: "no cpu line".into(),
        })?;
        match compare_stat(&c, stat) {
            Ok(()) => {
                return Ok(format!(
                    "idle usage_percent_x100={usage} window_ms={} cores={}",
                    c["window_ms"], c["cores"]
                ));
            }
            Err(e) => last = e,
        }
    }
    Err(CheckError::Mismatch(format!(
        "counters disagree with /proc/stat: {last}"
    )))
}

/// Compares the module's load fields with /proc/loadavg's first three values.
pub fn compare_load(c: &Fields, loadavg: [u64; 3]) -> Result<(), String> {
    let ours = [c["load1_x100"], c["load5_x100"], c["load15_x100"]];
    if ours == loadavg {
        Ok(())
    } else {
        Err(format!(
            "kmod load x100 {ours:?}, /proc/loadavg {loadavg:?}"
        ))
    }
}

/// Load fields equal /proc/loadavg read right after (retried: the kernel updates the
/// averages every 5 s, and a reading may straddle an update).
fn check_load() -> Result<Fields, CheckError> {
    let mut last = String::new();
    for _ in 0..10 {
        let c = read_cpu()?;
        let text = read("/proc/loadavg")?;
        let avg = parse_loadavg_x100(&text).ok_or_else(|| CheckError::Format {
            file: "/proc/loadavg".into(),
            msg: format!("unexpected {text:?}"),
        })?;
        match compare_load(&c, avg) {
            Ok(()) => return Ok(c),
            Err(e) => last = e,
        }
    }
    Err(CheckError::Mismatch(format!(
        "load disagrees with /proc/loadavg: {last}"
    )))
}

/// Every CPU burned by procpulse-stress: usage > 90 %; after ≥ 2 load updates (5 s each)
/// the load fields equal /proc/loadavg and the 1-minute load has risen above 0.
pub fn check_busy(stress: &str) -> Result<String, CheckError> {
    let cores = read_cpu()?["cores"];
    let n = cores.to_string();
    let (child, _) = crate::procs::start_stress(stress, &["--cpus", &n, "--seconds", "60"])?;
    let r = after_windows(2);
    let load = r.is_ok().then(|| {
        std::thread::sleep(Duration::from_millis(9_000));
        check_load()
    });
    crate::procs::stop_stress(child);
    let c = r?;
    let usage = c["usage_percent_x100"];
    if usage <= 9000 {
        return Err(CheckError::Mismatch(format!(
            "{cores} CPUs burned, usage_percent_x100={usage} (<= 90 %)"
        )));
    }
    let Some(l) = load else {
        return Err(CheckError::Mismatch("load was not measured".into()));
    };
    let l = l?;
    if l["load1_x100"] == 0 {
        return Err(CheckError::Mismatch(format!(
            "{cores} CPUs burned for 11 s but load1_x100 is 0"
        )));
    }
    Ok(format!(
        "busy usage_percent_x100={usage} window_ms={} cores={cores} load_x100={}/{}/{} (= /proc/loadavg)",
        c["window_ms"], l["load1_x100"], l["load5_x100"], l["load15_x100"]
    ))
}

/// Many concurrent readers do not change what is reported: within one window every
/// reader sees the same (usage, window) pair, so distinct pairs ≤ the windows that can
/// close in the elapsed time (at most one per 900 ms) + the one current at the start.
pub fn check_readers(readers: usize, millis: u64) -> Result<String, CheckError> {
    let start = Instant::now();
    let stop = start + Duration::from_millis(millis);
    let seen: Vec<Result<Vec<(u64, u64)>, CheckError>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..readers)
            .map(|_| {
                s.spawn(move || {
                    let mut v = Vec::new();
                    while Instant::now() < stop {
                        let c = read_cpu()?;
                        v.push((c["usage_percent_x100"], c["window_ms"]));
                    }
                    Ok(v)
                })
            })
            .collect();
        hs.into_iter()
            .map(|h| h.join().expect("reader thread"))
            .collect()
    });
    let mut all = Vec::new();
    for r in seen {
        all.extend(r?);
    }
    let reads = all.len();
    all.sort_unstable();
    all.dedup();
    let windows = (start.elapsed().as_millis() as usize).div_ceil(900) + 1;
    if all.len() > windows {
        return Err(CheckError::Mismatch(format!(
            "{reads} reads by {readers} readers saw {} distinct (usage, window) pairs in {windows} windows",
            all.len()
        )));
    }
    Ok(format!(
        "{reads} reads by {readers} readers, {} distinct windows",
        all.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::{CPU_FIELDS, parse_object};

    #[test]
    fn load_must_equal_loadavg() {
        let text = "{\"cores\":2,\"usage_percent_x100\":0,\"window_ms\":1000,\"user_ns\":0,\"nice_ns\":0,\"system_ns\":0,\"idle_ns\":0,\"iowait_ns\":0,\"irq_ns\":0,\"softirq_ns\":0,\"steal_ns\":0,\"load1_x100\":31,\"load5_x100\":8,\"load15_x100\":3,\"window_seq\":1,\"guest_ns\":0,\"guest_nice_ns\":0}\n";
        let c = parse_object("cpu", text, CPU_FIELDS).unwrap();
        assert!(compare_load(&c, [31, 8, 3]).is_ok());
        assert!(compare_load(&c, [31, 8, 4]).is_err());
    }

    #[test]
    fn counters_in_ticks() {
        let text = "{\"cores\":2,\"usage_percent_x100\":0,\"window_ms\":1000,\"user_ns\":150000000,\"nice_ns\":0,\"system_ns\":2000000000,\"idle_ns\":90000000000,\"iowait_ns\":0,\"irq_ns\":0,\"softirq_ns\":10000000,\"steal_ns\":0,\"load1_x100\":0,\"load5_x100\":0,\"load15_x100\":0,\"window_seq\":1,\"guest_ns\":0,\"guest_nice_ns\":0}\n";
        let c = parse_object("cpu", text, CPU_FIELDS).unwrap();
        assert_eq!(compare_stat(&c, [15, 0, 200, 9000, 0, 0, 1, 0]), Ok(()));
        let e = compare_stat(&c, [15, 0, 200, 9100, 0, 0, 1, 0]).unwrap_err();
        assert!(e.starts_with("idle_ns"), "{e}");
    }
}
