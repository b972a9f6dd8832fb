//! Creates every category, checks the states in /proc, then SIGTERM leaves nothing behind.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn state_of(pid: u64) -> Option<char> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &s[s.rfind(')')? + 2..];
    after.chars().next()
}

fn pids(v: &serde_json::Value, key: &str) -> Vec<u64> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap())
        .collect()
}

fn start(args: &[&str]) -> (std::process::Child, serde_json::Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_procpulse-stress"))
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&line).expect("one JSON line");
    (child, v)
}

fn wait_gone(pid: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && state_of(pid).is_some() {
        std::thread::sleep(Duration::from_millis(20));
    }
    state_of(pid).is_none()
}

#[test]
fn creates_exact_counts_and_sigterm_cleans_up() {
    let (mut child, v) = start(&[
        "--cpus",
        "1",
        "--ram-mib",
        "16",
        "--zombies",
        "5",
        "--stopped",
        "3",
        "--sleeping",
        "2",
        "--threads",
        "4",
    ]);
    let pid = v["pid"].as_u64().unwrap();
    assert_eq!(pid, u64::from(child.id()));
    let (z, t, s) = (
        pids(&v, "zombies"),
        pids(&v, "stopped"),
        pids(&v, "sleeping"),
    );
    assert_eq!((z.len(), t.len(), s.len()), (5, 3, 2));
    for p in &z {
        assert_eq!(state_of(*p), Some('Z'), "zombie {p}");
    }
    for p in &t {
        assert_eq!(state_of(*p), Some('T'), "stopped {p}");
    }
    for p in &s {
        assert_eq!(state_of(*p), Some('S'), "sleeping {p}");
    }
    assert_eq!(v["ram_mib"], 16);
    assert_eq!(pids(&v, "thread_tids").len(), 4);
    assert_eq!(pids(&v, "cpu_tids").len(), 1);
    // main + 1 burner + 4 idle threads, each visible under /proc/<pid>/task.
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .count();
    assert_eq!(tasks, 6);
    for tid in pids(&v, "thread_tids") {
        assert_eq!(state_of(tid), Some('S'), "idle thread {tid}");
    }
    // RSS includes the touched 16 MiB.
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(rss_kb >= 16 * 1024, "rss {rss_kb} kB");

    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    for p in z.iter().chain(&t).chain(&s) {
        assert!(wait_gone(*p), "child {p} left behind");
    }
}

#[test]
fn seconds_flag_ends_the_run_by_itself() {
    let t0 = Instant::now();
    let (mut child, v) = start(&["--sleeping", "1", "--zombies", "1", "--seconds", "1"]);
    let status = child.wait().unwrap();
    assert!(status.success());
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(10),
        "{took:?}"
    );
    for p in pids(&v, "sleeping").iter().chain(&pids(&v, "zombies")) {
        assert!(wait_gone(*p), "child {p} left behind");
    }
}

#[test]
fn sigkill_of_the_parent_leaves_no_live_children() {
    let (mut child, v) = start(&["--stopped", "2", "--sleeping", "2"]);
    child.kill().unwrap();
    child.wait().unwrap();
    for p in pids(&v, "stopped").iter().chain(&pids(&v, "sleeping")) {
        // The parent-death SIGKILL ends them; init reaps them.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && !matches!(state_of(*p), None | Some('Z')) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            matches!(state_of(*p), None | Some('Z')),
            "child {p} still alive"
        );
    }
}
