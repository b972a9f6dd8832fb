//! /proc/procpulse_procs against a /proc/[pid]/stat walk, and against the processes
//! procpulse-stress (and a ptrace-stopped child of ours) create.

use crate::fields::{Fields, PROCS_FIELDS, parse_object};
use crate::procfs::{Counts, walk_counts};
use crate::{CheckError, PROCS_FILE, read};
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Categories a /proc walk taken right after must reproduce exactly.
const EXACT: &[&str] = &[
    "total",
    "zombie",
    "stopped",
    "traced",
    "dead",
    "disk_sleep",
    "threads",
];
/// Categories that may differ by the reading processes themselves (the checker is
/// running while it reads, and a kworker may wake between the two readings).
const LOOSE: &[&str] = &["running", "sleeping", "idle"];
/// How far a loose category may differ.
const LOOSE_SLACK: u64 = 1;

/// Reads the module's counts.
pub fn kmod_counts() -> Result<Fields, CheckError> {
    parse_object(PROCS_FILE, &read(PROCS_FILE)?, PROCS_FIELDS)
}

fn get(f: &Fields, k: &str) -> u64 {
    f.get(k).copied().unwrap_or(0)
}

/// Compares one module reading with one /proc walk; `Err` names every difference.
pub fn compare(kmod: &Fields, walk: &Counts) -> Result<(), String> {
    let mut diffs = Vec::new();
    for k in EXACT.iter().chain(["parked"].iter()) {
        let (a, b) = (get(kmod, k), walk.get(k).copied().unwrap_or(0));
        if a != b {
            diffs.push(format!("{k}: kmod {a} /proc {b}"));
        }
    }
    for k in LOOSE {
        let (a, b) = (get(kmod, k), walk.get(k).copied().unwrap_or(0));
        if a.abs_diff(b) > LOOSE_SLACK {
            diffs.push(format!("{k}: kmod {a} /proc {b} (slack {LOOSE_SLACK})"));
        }
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs.join(", "))
    }
}

/// Module counts and a /proc walk agree within `tries` attempts.
pub fn check_walk(tries: usize) -> Result<String, CheckError> {
    let mut last = String::new();
    for attempt in 1..=tries {
        let kmod = kmod_counts()?;
        let walk = walk_counts("/proc").map_err(|source| CheckError::Io {
            path: "/proc".into(),
            source,
        })?;
        match compare(&kmod, &walk) {
            Ok(()) => return Ok(format!("agree on attempt {attempt}: {}", summary(&kmod))),
            Err(d) => last = d,
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(CheckError::Mismatch(format!(
        "module and /proc walk disagree after {tries} attempts: {last}"
    )))
}

fn summary(f: &Fields) -> String {
    [
        "total", "running", "sleeping", "zombie", "stopped", "traced", "idle", "threads",
    ]
    .iter()
    .map(|k| format!("{k}={}", get(f, k)))
    .collect::<Vec<_>>()
    .join(" ")
}

/// What a procpulse-stress run reports it created (its first stdout line).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Created {
    /// Zombie processes (state Z).
    pub zombies: u64,
    /// Stopped processes (state T).
    pub stopped: u64,
    /// Sleeping processes (state S).
    pub sleeping: u64,
}

/// Parses the JSON line procpulse-stress prints.
pub fn parse_created(line: &str) -> Result<Created, CheckError> {
    let v: serde_json::Value = serde_json::from_str(line).map_err(|e| CheckError::Format {
        file: "procpulse-stress stdout".into(),
        msg: e.to_string(),
    })?;
    let n = |k: &str| {
        v.get(k)
            .and_then(|a| a.as_array())
            .map_or(0, |a| a.len() as u64)
    };
    Ok(Created {
        zombies: n("zombies"),
        stopped: n("stopped"),
        sleeping: n("sleeping"),
    })
}

/// Starts procpulse-stress and waits for the line saying what it created.
pub fn start_stress(bin: &str, args: &[&str]) -> Result<(Child, String), CheckError> {
    let mut child = Command::new(bin)
        .args(args)
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .map_err(|source| CheckError::Io {
            path: bin.into(),
            source,
        })?;
    let mut line = String::new();
    let out = child.stdout.take().expect("piped");
    std::io::BufReader::new(out)
        .read_line(&mut line)
        .map_err(|source| CheckError::Io {
            path: bin.into(),
            source,
        })?;
    if line.trim().is_empty() {
        let _ = child.kill();
        let _ = child.wait();
        return Err(CheckError::Mismatch(format!("{bin} printed nothing")));
    }
    Ok((child, line))
}

/// Stops a stress run the way an operator would (SIGTERM: it reaps its children).
pub fn stop_stress(mut child: Child) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A child of ours held in ptrace-stop ('t').
struct Traced(Child);

impl Traced {
    fn start() -> Result<Self, CheckError> {
        let child = Command::new("/bin/sleep")
            .arg("600")
            .spawn()
            .map_err(|source| CheckError::Io {
                path: "/bin/sleep".into(),
                source,
            })?;
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let t = Traced(child);
        nix::sys::ptrace::attach(pid)
            .map_err(|e| CheckError::Mismatch(format!("PTRACE_ATTACH: {e}")))?;
        nix::sys::wait::waitpid(pid, Some(nix::sys::wait::WaitPidFlag::__WALL))
            .map_err(|e| CheckError::Mismatch(format!("waitpid after attach: {e}")))?;
        Ok(t)
    }
}

impl Drop for Traced {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Expected move of each category from `base` to `now`.
pub fn check_delta(base: &Fields, now: &Fields, want: &[(&str, i64)]) -> Result<(), String> {
    let mut diffs = Vec::new();
    for (k, d) in want {
        let got = get(now, k) as i64 - get(base, k) as i64;
        if got != *d {
            diffs.push(format!("{k} moved by {got}, want {d}"));
        }
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(diffs.join(", "))
    }
}

fn settle(
    tries: usize,
    want: impl Fn(&Fields) -> Result<(), String>,
) -> Result<Fields, CheckError> {
    let mut last = String::new();
    for _ in 0..tries {
        let now = kmod_counts()?;
        match want(&now) {
            Ok(()) => return Ok(now),
            Err(e) => last = e,
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(CheckError::Mismatch(last))
}

/// The counts move by exactly what procpulse-stress and a traced child create, agree
/// with /proc meanwhile, and return to the baseline when they are gone.
pub fn check_stress(
    stress: &str,
    zombies: u64,
    stopped: u64,
    sleeping: u64,
) -> Result<String, CheckError> {
    // A quiet baseline: nothing of ours is running yet.
    let base = settle(30, |_| Ok(()))?;
    check_walk(20)?;
    let (z, s, l) = (
        zombies.to_string(),
        stopped.to_string(),
        sleeping.to_string(),
    );
    let (child, line) = start_stress(
        stress,
        &[
            "--zombies",
            &z,
            "--stopped",
            &s,
            "--sleeping",
            &l,
            "--seconds",
            "300",
        ],
    )?;
    let traced = Traced::start();
    let result = (|| {
        let traced = traced?;
        let created = parse_created(&line)?;
        if created
            != (Created {
                zombies,
                stopped,
                sleeping,
            })
        {
            return Err(CheckError::Mismatch(format!(
                "stress created {created:?}, asked for {zombies}/{stopped}/{sleeping}"
            )));
        }
        // + the stress process itself (sleeping while it holds) and the traced child.
        let want = [
            ("zombie", zombies as i64),
            ("stopped", stopped as i64),
            ("traced", 1),
            ("sleeping", sleeping as i64 + 1),
            ("total", (zombies + stopped + sleeping) as i64 + 2),
        ];
        let now = settle(50, |now| check_delta(&base, now, &want))?;
        let walk = check_walk(20)?;
        drop(traced);
        Ok(format!(
            "moved by zombie+{zombies} stopped+{stopped} traced+1 sleeping+{}; {walk}; now {}",
            sleeping + 1,
            summary(&now)
        ))
    })();
    stop_stress(child);
    let msg = result?;
    let back = [("zombie", 0), ("stopped", 0), ("traced", 0), ("total", 0)];
    settle(100, |now| check_delta(&base, now, &back))
        .map_err(|e| CheckError::Mismatch(format!("counts did not return to the baseline: {e}")))?;
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procfs::count_stat;

    fn kmod(text: &str) -> Fields {
        parse_object("procs", text, PROCS_FIELDS).unwrap()
    }

    #[test]
    fn walk_and_module_agree_within_slack() {
        let k = kmod(
            "{\"total\":4,\"running\":2,\"sleeping\":1,\"disk_sleep\":0,\"stopped\":0,\"traced\":0,\"zombie\":1,\"dead\":0,\"idle\":0,\"threads\":4}\n",
        );
        let mut w = Counts::new();
        for s in [
            "1 (init) S 0",
            "2 (sh) R 1",
            "3 (x) Z 1",
            "4 (kmod check) S 1",
        ] {
            assert!(count_stat(
                &mut w,
                format!("{s} 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0").as_bytes()
            ));
        }
        assert_eq!(compare(&k, &w), Ok(()));
        let mut w2 = w.clone();
        *w2.get_mut("zombie").unwrap() -= 1;
        *w2.entry("stopped").or_default() += 1;
        let e = compare(&k, &w2).unwrap_err();
        assert!(
            e.contains("zombie: kmod 1 /proc 0") && e.contains("stopped: kmod 0 /proc 1"),
            "{e}"
        );
    }

    #[test]
    fn stress_line_is_counted() {
        let line = r#"{"pid":10,"cpu_tids":[],"ram_mib":0,"zombies":[11,12],"stopped":[13],"sleeping":[14,15,16],"thread_tids":[]}"#;
        assert_eq!(
            parse_created(line).unwrap(),
            Created {
                zombies: 2,
                stopped: 1,
                sleeping: 3
            }
        );
        assert!(parse_created("not json").is_err());
    }

    #[test]
    fn delta_names_the_wrong_category() {
        let base = kmod(
            "{\"total\":4,\"running\":2,\"sleeping\":1,\"disk_sleep\":0,\"stopped\":0,\"traced\":0,\"zombie\":1,\"dead\":0,\"idle\":0,\"threads\":4}\n",
        );
        let now = kmod(
            "{\"total\":6,\"running\":2,\"sleeping\":1,\"disk_sleep\":0,\"stopped\":0,\"traced\":0,\"zombie\":3,\"dead\":0,\"idle\":0,\"threads\":6}\n",
        );
        assert_eq!(
            check_delta(&base, &now, &[("zombie", 2), ("total", 2)]),
            Ok(())
        );
        let e = check_delta(&base, &now, &[("zombie", 1)]).unwrap_err();
        assert_eq!(e, "zombie moved by 2, want 1");
    }
}
