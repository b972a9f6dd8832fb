//! /proc/procpulse_cpu while CPUs go offline and online: counters never decrease, and
//! each window's usage equals the usage /proc/stat's `cpuN` lines give over it.

use crate::cpu::read_cpu_file;
use crate::fields::{CPU_COUNTERS, CpuFile, Fields};
use crate::usage::{Ticks, cpu_usage_x100, parse_stat_cpus, usage_x100};
use crate::{CheckError, read};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Aggregate usage may differ from /proc/stat's by this much, × 100.
pub const AGG_SLACK_X100: u64 = 200;
/// Per-CPU usage may differ by this much plus two ticks' worth of the CPU's window
/// (/proc/stat floors every field to 10 ms ticks, ~1 % of a 1 s window each).
pub const CPU_SLACK_X100: u64 = 200;
/// A window is skipped when a toggle happened within this of its possible boundaries.
const MARGIN: Duration = Duration::from_millis(50);
/// Poll period of the main loop.
const POLL: Duration = Duration::from_millis(10);

fn online_path(cpu: u64) -> String {
    format!("/sys/devices/system/cpu/cpu{cpu}/online")
}

fn set_online(cpu: u64, on: bool) -> std::io::Result<()> {
    std::fs::write(online_path(cpu), if on { "1" } else { "0" })
}

/// Counters of `now` that are below those of `prev` (aggregate), or below the last
/// values seen for the same CPU id in `last` (per CPU, remembered across offline
/// periods); updates `last`.
pub fn decreases(prev: &Fields, now: &CpuFile, last: &mut BTreeMap<u64, Fields>) -> Vec<String> {
    let mut out = Vec::new();
    for k in CPU_COUNTERS {
        let (a, b) = (prev.get(*k), now.flat.get(*k));
        if let (Some(a), Some(b)) = (a, b)
            && b < a
        {
            out.push(format!("aggregate {k} {a} -> {b}"));
        }
    }
    for p in &now.per_cpu {
        if let Some(old) = last.get(&p.cpu) {
            for k in CPU_COUNTERS {
                if p.counters[*k] < old[*k] {
                    out.push(format!(
                        "cpu{} {k} {} -> {}",
                        p.cpu, old[*k], p.counters[*k]
                    ));
                }
            }
        }
        last.insert(p.cpu, p.counters.clone());
    }
    out
}

/// Whether any toggle `(start, end)` overlaps `[from − MARGIN, to + MARGIN]`.
pub fn tainted(from: Instant, to: Instant, toggles: &[(Instant, Instant)]) -> bool {
    let (lo, hi) = (from.checked_sub(MARGIN).unwrap_or(from), to + MARGIN);
    toggles.iter().any(|(s, e)| *s <= hi && *e >= lo)
}

/// Differences between one closed window of the module and /proc/stat over it: the
/// aggregate within [`AGG_SLACK_X100`], each CPU of `b` present in `a` within
/// [`CPU_SLACK_X100`] + 2 ticks (and with a usage at all). Returns the largest
/// aggregate deviation and the problems found.
pub fn compare_window(
    c: &CpuFile,
    a: &BTreeMap<u64, Ticks>,
    b: &BTreeMap<u64, Ticks>,
) -> (u64, Vec<String>) {
    let mut bad = Vec::new();
    let (stat, _) = usage_x100(a, b);
    let kmod = c.flat["usage_percent_x100"];
    let dev = stat.abs_diff(kmod);
    if dev > AGG_SLACK_X100 {
        bad.push(format!("aggregate kmod {kmod} /proc/stat {stat}"));
    }
    for (id, tb) in b {
        let Some(ta) = a.get(id) else { continue };
        let (u, ticks) = cpu_usage_x100(ta, tb);
        let slack = CPU_SLACK_X100 + 20_000 / ticks.max(1);
        match c
            .per_cpu
            .iter()
            .find(|p| p.cpu == *id)
            .and_then(|p| p.usage)
        {
            None => bad.push(format!("cpu{id} online throughout but has no usage")),
            Some(k) if k.abs_diff(u) > slack => {
                bad.push(format!("cpu{id} kmod {k} /proc/stat {u} (slack {slack})"));
            }
            Some(_) => {}
        }
    }
    (dev, bad)
}

/// Brings every toggled CPU back online when dropped (also on failure).
struct AllOnline(u64);

impl Drop for AllOnline {
    fn drop(&mut self) {
        for cpu in 1..self.0 {
            for _ in 0..20 {
                if set_online(cpu, true).is_ok() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

#[derive(Debug, Default)]
struct Tally {
    compared: u64,
    skipped: u64,
    missed: u64,
    max_dev: u64,
    reads: u64,
}

/// The `hotplug` check: `seconds` of toggling while polling every 10 ms.
pub fn check(stress: &str, seconds: u64) -> Result<String, CheckError> {
    let cores = read_cpu_file()?.flat["cores"];
    if cores < 4 {
        return Err(CheckError::Mismatch(format!(
            "needs >= 4 CPUs, guest has {cores}"
        )));
    }
    let _restore = AllOnline(cores);
    let (child, _) = crate::procs::start_stress(
        stress,
        &["--cpus", "1", "--seconds", &(seconds + 30).to_string()],
    )?;
    let stop = AtomicBool::new(false);
    let seq_now = Arc::new(AtomicU64::new(0));
    let toggles: Mutex<Vec<(Instant, Instant)>> = Mutex::new(Vec::new());
    let errors = AtomicU64::new(0);
    let r = std::thread::scope(|s| {
        s.spawn(|| {
            // Toggles in every third window, 250 ms and 600 ms after its start: one CPU
            // (rotating over 1..N) goes offline, then online again. The other windows
            // stay clean so that they can be compared.
            let mut cpu = 0;
            let mut seen = seq_now.load(Ordering::Relaxed);
            while !stop.load(Ordering::Relaxed) {
                let seq = seq_now.load(Ordering::Relaxed);
                if seq == seen || seq % 3 != 0 {
                    seen = seq;
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
                seen = seq;
                cpu = cpu % (cores - 1) + 1;
                let t = Instant::now();
                for (at, on) in [(250, false), (600, true)] {
                    let wait = Duration::from_millis(at).saturating_sub(t.elapsed());
                    std::thread::sleep(wait);
                    let start = Instant::now();
                    if set_online(cpu, on).is_err() {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                    toggles
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((start, Instant::now()));
                }
            }
        });
        let r = poll(seconds, &seq_now, &toggles);
        stop.store(true, Ordering::Relaxed);
        r
    });
    drop(_restore);
    crate::procs::stop_stress(child);
    let t = r?;
    let done = toggles.lock().unwrap_or_else(|e| e.into_inner()).len();
    let failed = errors.load(Ordering::Relaxed);
    if t.compared < 5 || t.skipped > (t.compared + t.skipped) / 2 {
        return Err(CheckError::Mismatch(format!(
            "too few windows compared: {t:?}, {done} toggles"
        )));
    }
    if done == 0 || failed == done as u64 {
        return Err(CheckError::Mismatch(format!(
            "no CPU toggle succeeded ({failed} failed writes)"
        )));
    }
    Ok(format!(
        "{} windows compared, {} skipped (toggle inside), {} missed, max aggregate deviation {} (x100), {done} toggles ({failed} failed writes), {} reads, counters monotonic",
        t.compared, t.skipped, t.missed, t.max_dev, t.reads
    ))
}

fn read_stat() -> Result<BTreeMap<u64, Ticks>, CheckError> {
    Ok(parse_stat_cpus(&read("/proc/stat")?))
}

fn poll(
    seconds: u64,
    seq_now: &AtomicU64,
    toggles: &Mutex<Vec<(Instant, Instant)>>,
) -> Result<Tally, CheckError> {
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut t = Tally::default();
    let mut last: BTreeMap<u64, Fields> = BTreeMap::new();
    let first = read_cpu_file()?;
    let mut prev = first.flat.clone();
    decreases(&prev, &first, &mut last);
    let mut seq = prev["window_seq"];
    seq_now.store(seq, Ordering::Relaxed);
    let mut prev_read = Instant::now();
    // The stat snapshot at the first sighting of `seq`, and the read before it (None
    // for the window in progress when polling started).
    let mut start: Option<(Instant, BTreeMap<u64, Ticks>)> = None;
    while Instant::now() < end {
        std::thread::sleep(POLL);
        let c = read_cpu_file()?;
        let stat = read_stat()?;
        let now = Instant::now();
        t.reads += 1;
        let d = decreases(&prev, &c, &mut last);
        if !d.is_empty() {
            return Err(CheckError::Mismatch(format!(
                "counters decreased: {}",
                d.join(", ")
            )));
        }
        let s = c.flat["window_seq"];
        if s < seq {
            return Err(CheckError::Mismatch(format!(
                "window_seq went {seq} -> {s}"
            )));
        }
        if s > seq {
            seq_now.store(s, Ordering::Relaxed);
            if s == seq + 1
                && let Some((from, a)) = &start
            {
                let tg = toggles.lock().unwrap_or_else(|e| e.into_inner()).clone();
                if tainted(*from, now, &tg) {
                    t.skipped += 1;
                } else {
                    let (dev, bad) = compare_window(&c, a, &stat);
                    if !bad.is_empty() {
                        return Err(CheckError::Mismatch(format!(
                            "window {s}: {}",
                            bad.join(", ")
                        )));
                    }
                    t.compared += 1;
                    t.max_dev = t.max_dev.max(dev);
                }
            } else if start.is_some() {
                t.missed += 1;
            }
            start = Some((prev_read, stat));
            seq = s;
        }
        prev = c.flat;
        prev_read = now;
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::parse_cpu;

    fn file(agg: u64, entries: &[(u64, Option<u64>, u64)]) -> CpuFile {
        let e: Vec<String> = entries
            .iter()
            .map(|(cpu, u, user)| {
                let u = u.map(|u| format!("\"usage_percent_x100\":{u},")).unwrap_or_default();
                format!("{{\"cpu\":{cpu},{u}\"user_ns\":{user},\"nice_ns\":0,\"system_ns\":0,\"idle_ns\":0,\"iowait_ns\":0,\"irq_ns\":0,\"softirq_ns\":0,\"steal_ns\":0,\"guest_ns\":0,\"guest_nice_ns\":0}}")
            })
            .collect();
        let user: u64 = entries.iter().map(|e| e.2).sum();
        parse_cpu(&format!("{{\"cores\":{},\"usage_percent_x100\":{agg},\"window_ms\":1000,\"window_seq\":3,\"user_ns\":{user},\"nice_ns\":0,\"system_ns\":0,\"idle_ns\":0,\"iowait_ns\":0,\"irq_ns\":0,\"softirq_ns\":0,\"steal_ns\":0,\"guest_ns\":0,\"guest_nice_ns\":0,\"load1_x100\":0,\"load5_x100\":0,\"load15_x100\":0,\"per_cpu\":[{}]}}\n", entries.len(), e.join(","))).unwrap()
    }

    #[test]
    fn per_cpu_decrease_is_caught_across_an_offline_gap() {
        let mut last = BTreeMap::new();
        let a = file(0, &[(0, Some(0), 10), (1, Some(0), 50)]);
        assert!(decreases(&a.flat, &a, &mut last).is_empty());
        // cpu1 offline: not listed; the aggregate keeps its contribution.
        let mut b = file(0, &[(0, Some(0), 20)]);
        b.flat.insert("user_ns".into(), 70);
        assert!(decreases(&a.flat, &b, &mut last).is_empty());
        // cpu1 back with a reset counter.
        let c = file(0, &[(0, Some(0), 30), (1, None, 5)]);
        let d = decreases(&b.flat, &c, &mut last);
        assert!(d.iter().any(|m| m == "cpu1 user_ns 50 -> 5"), "{d:?}");
        assert!(d.iter().any(|m| m == "aggregate user_ns 70 -> 35"), "{d:?}");
    }

    #[test]
    fn toggles_taint_overlapping_windows() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let tg = [(t0 + ms(1300), t0 + ms(1400))];
        assert!(tainted(t0 + ms(1000), t0 + ms(2000), &tg));
        assert!(tainted(t0 + ms(1420), t0 + ms(2400), &tg));
        assert!(!tainted(t0 + ms(1500), t0 + ms(2500), &tg));
        assert!(!tainted(t0, t0 + ms(1200), &tg));
    }

    #[test]
    fn window_against_stat_lines() {
        let a = parse_stat_cpus("cpu0 0 0 0 0 0 0 0 0\ncpu1 0 0 0 0 0 0 0 0\n");
        let b = parse_stat_cpus("cpu0 100 0 0 0 0 0 0 0\ncpu1 0 0 0 100 0 0 0 0\n");
        let ok = file(5000, &[(0, Some(9950), 0), (1, Some(30), 0)]);
        let (dev, bad) = compare_window(&ok, &a, &b);
        assert_eq!((dev, bad.len()), (0, 0), "{bad:?}");
        let off = file(5300, &[(0, Some(9950), 0), (1, Some(30), 0)]);
        assert!(compare_window(&off, &a, &b).1[0].starts_with("aggregate"));
        let cpu_off = file(5000, &[(0, Some(9000), 0), (1, None, 0)]);
        let bad = compare_window(&cpu_off, &a, &b).1;
        assert!(
            bad.iter().any(|m| m.starts_with("cpu0 kmod 9000")),
            "{bad:?}"
        );
        assert!(
            bad.iter().any(|m| m.contains("cpu1 online throughout")),
            "{bad:?}"
        );
    }
}
