//! /proc/procpulse_tasks line by line against /proc/[pid]/stat and /proc/[pid]/status,
//! with a setuid-style child (real uid ≠ effective uid) and a process whose threads
//! churn in the population.

use crate::fields::{Task, parse_tasks};
use crate::helpers::self_exe;
use crate::pidstat::{PidStat, parse_pid_stat, status_euid};
use crate::{CheckError, TASKS_FILE, read};
use std::collections::BTreeMap;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// USER_HZ ticks of /proc/[pid]/stat are 10 ms.
pub const NS_PER_TICK: u64 = 10_000_000;
/// Full passes over the file before a process that never matched fails the check.
const PASSES: usize = 5;
/// The effective uid the setuid-style child runs with.
pub const CHILD_EUID: u32 = 1000;

/// Ticks a process may have gained between the module read and the stat read: none
/// unless it was running, else the elapsed time on at most `min(threads, cpus)` CPUs.
pub fn growth_ticks(k: &Task, s: &PidStat, elapsed: Duration, cpus: u64) -> u64 {
    if k.state != 'R' && s.state != 'R' {
        return 0;
    }
    let on = k.threads.max(s.num_threads).clamp(1, cpus.max(1));
    (elapsed.as_nanos() as u64 * on).div_ceil(NS_PER_TICK)
}

/// Differences between one tasks line and the same pid's stat/status read after it:
/// equal ppid, state, effective uid, threads and rss; comm equal when present and absent
/// only for kernel threads; utime/stime ticks `t` with `kmod − 1 ≤ t ≤ kmod + 1 + growth`.
pub fn compare_task(k: &Task, s: &PidStat, euid: u64, page_kb: u64, growth: u64) -> Vec<String> {
    let mut d = Vec::new();
    if k.ppid != s.ppid {
        d.push(format!("ppid kmod {} stat {}", k.ppid, s.ppid));
    }
    if k.state != s.state {
        d.push(format!("state kmod {} stat {}", k.state, s.state));
    }
    if k.uid != euid {
        d.push(format!("uid kmod {} status euid {euid}", k.uid));
    }
    if k.threads != s.num_threads {
        d.push(format!("threads kmod {} stat {}", k.threads, s.num_threads));
    }
    if k.rss_kb != s.rss_pages * page_kb {
        d.push(format!(
            "rss_kb kmod {} stat {} pages x {page_kb}",
            k.rss_kb, s.rss_pages
        ));
    }
    match &k.comm {
        Some(c) if *c != s.comm => d.push(format!("comm kmod {c:?} stat {:?}", s.comm)),
        Some(_) => {}
        None if s.pid == 2 || s.ppid == 2 => {}
        None => d.push(format!("comm omitted for non-kernel-thread {:?}", s.comm)),
    }
    for (name, ns, ticks) in [
        ("utime", k.utime_ns, s.utime),
        ("stime", k.stime_ns, s.stime),
    ] {
        let ours = ns / NS_PER_TICK;
        if ticks + 1 < ours || ticks > ours + 1 + growth {
            d.push(format!(
                "{name} kmod {ours} ticks ({ns} ns) stat {ticks} (growth allowance {growth})"
            ));
        }
    }
    d
}

/// How each pid fared over the passes.
#[derive(Debug, Default)]
struct Outcome {
    matched: bool,
    exited: bool,
    last: Vec<String>,
}

fn read_proc(pid: u64) -> Option<(PidStat, u64)> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some((parse_pid_stat(&stat)?, status_euid(&status)?))
}

/// Page size in KiB.
pub fn page_kb() -> u64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE) {
        Ok(Some(v)) if v > 0 => v as u64 / 1024,
        _ => 4,
    }
}

fn online_cpus() -> u64 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u64)
}

/// Every line (except the `volatile` pids, whose thread count changes every few ms)
/// compared in up to [`PASSES`] passes; returns (compared, exited).
fn compare_all(volatile: &[u64]) -> Result<(usize, usize), CheckError> {
    let (page_kb, cpus) = (page_kb(), online_cpus());
    let mut seen: BTreeMap<u64, Outcome> = BTreeMap::new();
    for _ in 0..PASSES {
        let t0 = Instant::now();
        let tasks = parse_tasks(&read(TASKS_FILE)?)?;
        let mut pids: Vec<u64> = tasks.iter().map(|t| t.pid).collect();
        pids.dedup();
        if pids.len() != tasks.len() {
            return Err(CheckError::Mismatch("duplicate pid in one read".into()));
        }
        for k in tasks.iter().filter(|t| !volatile.contains(&t.pid)) {
            let o = seen.entry(k.pid).or_default();
            if o.matched {
                continue;
            }
            let Some((s, euid)) = read_proc(k.pid) else {
                o.exited = true;
                continue;
            };
            o.exited = false;
            let d = compare_task(
                k,
                &s,
                euid,
                page_kb,
                growth_ticks(k, &s, t0.elapsed(), cpus),
            );
            o.matched = d.is_empty();
            o.last = d;
        }
        // A pid no longer listed has exited (or was never ours to compare again).
        let listed: std::collections::BTreeSet<u64> = pids.into_iter().collect();
        for (pid, o) in seen.iter_mut() {
            if !o.matched && !listed.contains(pid) {
                o.exited = true;
            }
        }
        if seen.values().all(|o| o.matched || o.exited) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let bad: Vec<String> = seen
        .iter()
        .filter(|(_, o)| !o.matched && !o.exited)
        .map(|(pid, o)| format!("pid {pid}: {}", o.last.join(", ")))
        .collect();
    if !bad.is_empty() {
        return Err(CheckError::Mismatch(format!(
            "{} processes never matched in {PASSES} passes: {}",
            bad.len(),
            bad.join("; ")
        )));
    }
    let exited = seen.values().filter(|o| o.exited && !o.matched).count();
    Ok((seen.len() - exited, exited))
}

/// A helper child started with `args`, killed on drop.
#[derive(Debug)]
pub struct Helper(pub Child, pub String);

impl Helper {
    /// Starts `procpulse-kmod-check <args>` and waits for its first stdout line.
    pub fn start(args: &[&str]) -> Result<Helper, CheckError> {
        let bin = self_exe();
        let mut child = Command::new(&bin)
            .args(args)
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .map_err(|source| CheckError::Io {
                path: bin.clone(),
                source,
            })?;
        let mut line = String::new();
        let out = child.stdout.take().expect("piped");
        let _ = std::io::BufReader::new(out).read_line(&mut line);
        let h = Helper(child, line.trim().to_owned());
        if h.1.is_empty() {
            return Err(CheckError::Mismatch(format!(
                "helper {bin} {} printed nothing",
                args.join(" ")
            )));
        }
        Ok(h)
    }

    /// Its pid.
    pub fn pid(&self) -> u64 {
        u64::from(self.0.id())
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A tasks line's (utime_ns, stime_ns) samples never decrease, and their sum grows.
pub fn check_monotonic(samples: &[(u64, u64)]) -> Result<(), String> {
    for (i, w) in samples.windows(2).enumerate() {
        if w[1].0 < w[0].0 || w[1].1 < w[0].1 {
            return Err(format!(
                "sample {}: (utime_ns, stime_ns) went from {:?} to {:?}",
                i + 1,
                w[0],
                w[1]
            ));
        }
    }
    match (samples.first(), samples.last()) {
        (Some(a), Some(b)) if b.0 + b.1 > a.0 + a.1 => Ok(()),
        _ => Err(format!(
            "CPU time did not grow over {} samples",
            samples.len()
        )),
    }
}

/// Samples `pid`'s line `n` times, `every` apart.
fn sample_times(pid: u64, n: usize, every: Duration) -> Result<Vec<(u64, u64)>, CheckError> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let tasks = parse_tasks(&read(TASKS_FILE)?)?;
        let t = tasks
            .iter()
            .find(|t| t.pid == pid)
            .ok_or_else(|| CheckError::Mismatch(format!("pid {pid} missing from the file")))?;
        out.push((t.utime_ns, t.stime_ns));
        std::thread::sleep(every);
    }
    Ok(out)
}

/// The `tasks` check.
pub fn check() -> Result<String, CheckError> {
    let euid = CHILD_EUID.to_string();
    let setuid = Helper::start(&[
        "setuid-child",
        "--ruid",
        "0",
        "--euid",
        &euid,
        "--suid",
        "0",
    ])?;
    let churn = Helper::start(&["thread-churn", "--alive", "4", "--seconds", "60"])?;
    let (compared, exited) = compare_all(&[churn.pid()])?;
    let tasks = parse_tasks(&read(TASKS_FILE)?)?;
    let line = tasks
        .iter()
        .find(|t| t.pid == setuid.pid())
        .ok_or_else(|| CheckError::Mismatch("setuid child missing from the file".into()))?;
    let status = read(&format!("/proc/{}/status", setuid.pid()))?;
    let ids = crate::pidstat::uid_line(&status);
    if ids.map(|u| (u[0], u[1])) != Some((0, u64::from(CHILD_EUID))) {
        return Err(CheckError::Mismatch(format!(
            "setuid child has Uid: {ids:?}, want real 0 effective {CHILD_EUID}"
        )));
    }
    if line.uid != u64::from(CHILD_EUID) {
        return Err(CheckError::Mismatch(format!(
            "setuid child (ruid 0, euid {CHILD_EUID}) shown with uid {}",
            line.uid
        )));
    }
    let samples = sample_times(churn.pid(), 200, Duration::from_millis(20))?;
    check_monotonic(&samples).map_err(|e| CheckError::Mismatch(format!("thread-churn: {e}")))?;
    let (a, b) = (samples[0], samples[samples.len() - 1]);
    Ok(format!(
        "{compared} processes matched stat/status, {exited} exited mid-check; setuid child uid={}; thread-churn cpu {} -> {} ns over 200 samples",
        line.uid,
        a.0 + a.1,
        b.0 + b.1
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(line: &str) -> Task {
        parse_tasks(line).unwrap().remove(0)
    }

    const STAT: &[u8] = b"812 (sd-pam) S 811 812 812 0 -1 4194560 120 0 0 0 17 4 0 0 20 0 1 0 1234 9000000 300 18446744073709551615\n";
    const LINE: &str = "{\"pid\":812,\"ppid\":811,\"uid\":1000,\"comm\":\"sd-pam\",\"state\":\"S\",\"rss_kb\":1200,\"threads\":1,\"utime_ns\":170000000,\"stime_ns\":45000000}\n";

    #[test]
    fn matching_line() {
        let s = parse_pid_stat(STAT).unwrap();
        assert!(compare_task(&task(LINE), &s, 1000, 4, 0).is_empty());
    }

    #[test]
    fn each_wrong_field_is_named() {
        let s = parse_pid_stat(STAT).unwrap();
        let cases = [
            ("\"ppid\":811", "\"ppid\":1", "ppid"),
            ("\"state\":\"S\"", "\"state\":\"R\"", "state"),
            ("\"threads\":1", "\"threads\":2", "threads"),
            ("\"rss_kb\":1200", "\"rss_kb\":300", "rss_kb"),
            ("\"comm\":\"sd-pam\"", "\"comm\":\"sd-pa\"", "comm"),
            ("\"comm\":\"sd-pam\",", "", "comm omitted"),
            ("\"utime_ns\":170000000", "\"utime_ns\":190000000", "utime"),
            ("\"stime_ns\":45000000", "\"stime_ns\":20000000", "stime"),
        ];
        for (from, to, want) in cases {
            let d = compare_task(&task(&LINE.replace(from, to)), &s, 1000, 4, 0);
            assert!(d.iter().any(|m| m.starts_with(want)), "{want}: {d:?}");
        }
        // Real uid 0, effective 1000: the module must show 1000.
        assert!(compare_task(&task(LINE), &s, 0, 4, 0)[0].starts_with("uid"));
    }

    #[test]
    fn tick_tolerance_and_growth() {
        let s = parse_pid_stat(STAT).unwrap();
        // kmod 16 ticks, stat 17: within one tick.
        let l = LINE.replace("\"utime_ns\":170000000", "\"utime_ns\":169999999");
        assert!(compare_task(&task(&l), &s, 1000, 4, 0).is_empty());
        // kmod 15, stat 17: only with growth.
        let l = LINE.replace("\"utime_ns\":170000000", "\"utime_ns\":150000000");
        assert!(!compare_task(&task(&l), &s, 1000, 4, 0).is_empty());
        assert!(compare_task(&task(&l), &s, 1000, 4, 1).is_empty());
    }

    #[test]
    fn kernel_threads_may_omit_comm() {
        let s = parse_pid_stat(
            b"9 (kworker/0:1-events) I 2 0 0 0 -1 69238880 0 0 0 0 0 3 0 0 20 0 1 0 24 0 0 18446744073709551615\n",
        )
        .unwrap();
        let k = task(
            "{\"pid\":9,\"ppid\":2,\"uid\":0,\"state\":\"I\",\"rss_kb\":0,\"threads\":1,\"utime_ns\":0,\"stime_ns\":30000000}\n",
        );
        assert!(compare_task(&k, &s, 0, 4, 0).is_empty());
    }

    #[test]
    fn growth_only_for_running() {
        let s = parse_pid_stat(STAT).unwrap();
        let d = Duration::from_millis(25);
        assert_eq!(growth_ticks(&task(LINE), &s, d, 4), 0);
        let r = task(&LINE.replace("\"state\":\"S\"", "\"state\":\"R\""));
        assert_eq!(growth_ticks(&r, &s, d, 4), 3);
    }

    #[test]
    fn monotonic_samples() {
        assert!(check_monotonic(&[(1, 1), (2, 1), (2, 3)]).is_ok());
        assert!(check_monotonic(&[(1, 1), (1, 1)]).is_err());
        let e = check_monotonic(&[(5, 1), (4, 9)]).unwrap_err();
        assert!(e.contains("went from (5, 1) to (4, 9)"), "{e}");
    }
}
