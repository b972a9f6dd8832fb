use crate::support::*;
use procpulse_agent::SourceMode;
use procpulse_model::parse::parse_meminfo;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// `procpulse-stress` from the same target dir (`cargo build -p procpulse-stress`;
/// ci/test-agent.sh builds it), or `PROCPULSE_STRESS_BIN`.
fn stress_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("PROCPULSE_STRESS_BIN") {
        return p.into();
    }
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/it-… → target/<profile>/procpulse-stress
    let p = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("procpulse-stress");
    assert!(
        p.exists(),
        "{} missing: run `cargo build -p procpulse-stress` first (ci/test-agent.sh does)",
        p.display()
    );
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn procfs_numbers_equal_this_machines_proc() {
    let mut c = config(Path::new("/proc"), SourceMode::Procfs);
    c.sample_interval = Duration::from_millis(200);
    let a = start(c).await;
    let stat = std::fs::read_to_string("/proc/stat").unwrap();
    let cores = stat
        .lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .count() as u64;
    for attempt in 0..500 {
        let m1 = parse_meminfo(&std::fs::read_to_string("/proc/meminfo").unwrap()).unwrap();
        let l1 = std::fs::read_to_string("/proc/loadavg").unwrap();
        let (s, v) = get_json(&a.url("/api/v1/snapshot")).await;
        let m2 = parse_meminfo(&std::fs::read_to_string("/proc/meminfo").unwrap()).unwrap();
        let l2 = std::fs::read_to_string("/proc/loadavg").unwrap();
        assert_eq!(s, 200);
        let r = &v["ram"];
        // Static fields: exactly, every time.
        assert_eq!(r["total_kb"], m1.total_kb);
        assert_eq!(r["swap_total_kb"], m1.swap_total_kb);
        assert_eq!(v["cpu"]["cores"], cores);
        let f: Vec<f64> = l1
            .split_whitespace()
            .take(3)
            .map(|x| x.parse().unwrap())
            .collect();
        let loads: Vec<f64> = ["load1", "load5", "load15"]
            .iter()
            .map(|k| v["cpu"][*k].as_f64().unwrap())
            .collect();
        // The loads come from the background sample (≤ 200 ms old here); the kernel
        // recomputes them every 5 s, so a sample from just before that is read again.
        if m1 != m2 || l1 != l2 || loads != f {
            continue; // moved during the request: read again
        }
        assert_eq!(r["free_kb"], m1.free_kb, "attempt {attempt}");
        assert_eq!(r["available_kb"], m1.available_kb);
        assert_eq!(r["cached_kb"], m1.cached_kb);
        assert_eq!(r["swap_free_kb"], m1.swap_free_kb);
        assert_eq!(r["used_kb"], m1.total_kb - m1.available_kb);
        assert_eq!(r["buffers_kb"], m1.buffers_kb);
        assert_eq!(r["shared_kb"], m1.shared_kb);
        assert_eq!(r["swap_used_kb"], m1.swap_total_kb - m1.swap_free_kb);
        a.stop().await;
        return;
    }
    panic!("/proc/meminfo and /proc/loadavg never matched the agent's answer held still");
}

fn ps_counts() -> (u64, u64) {
    let out = Command::new("ps")
        .args(["-e", "-o", "stat="])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut z = 0;
    let mut t = 0;
    for l in text.lines() {
        match l.trim().chars().next() {
            Some('Z') => z += 1,
            Some('T') => t += 1,
            _ => {}
        }
    }
    (z, t)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_include_the_stress_zombies_and_stopped() {
    let mut stress = Command::new(stress_bin())
        .args([
            "--zombies",
            "5",
            "--stopped",
            "3",
            "--sleeping",
            "2",
            "--seconds",
            "60",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(stress.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let created: serde_json::Value = serde_json::from_str(&line).unwrap();

    let mut c = config(Path::new("/proc"), SourceMode::Procfs);
    c.sample_interval = Duration::from_millis(100);
    let a = start(c).await;
    let mut result = None;
    for _ in 0..30 {
        let before = ps_counts();
        // Longer than one sampling interval, so the agent's walk is newer than `before`.
        tokio::time::sleep(Duration::from_millis(150)).await;
        let (_, v) = get_json(&a.url("/api/v1/snapshot")).await;
        let after = ps_counts();
        let agent = (
            v["procs"]["zombie"].as_u64().unwrap(),
            v["procs"]["stopped"].as_u64().unwrap(),
        );
        if before == after {
            result = Some((before, agent));
            if before == agent {
                break;
            }
        }
    }
    let (ps, agent) = result.expect("ps counts never held still");
    assert_eq!(agent, ps, "agent (zombie, stopped) vs ps");
    assert!(agent.0 >= 5 && agent.1 >= 3, "{agent:?}");

    // And each stress child is in the process table with its state.
    let (_, t) = get_json(&a.url("/api/v1/processes?top=100000")).await;
    let rows = t["processes"].as_array().unwrap();
    for (key, state) in [("zombies", "Z"), ("stopped", "T"), ("sleeping", "S")] {
        for pid in created[key].as_array().unwrap() {
            let row = rows
                .iter()
                .find(|r| r["pid"] == *pid)
                .unwrap_or_else(|| panic!("{key} pid {pid} not in the table"));
            assert_eq!(row["state"], state, "{row}");
        }
    }
    a.stop().await;
    Command::new("kill")
        .args(["-TERM", &stress.id().to_string()])
        .status()
        .unwrap();
    assert!(stress.wait().unwrap().success());
}

/// `/proc/stat`'s `cpuN` numbers (the online CPUs).
fn online_cpus() -> Vec<u64> {
    std::fs::read_to_string("/proc/stat")
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("cpu"))
        .filter_map(|r| r.split(' ').next()?.parse().ok())
        .collect()
}

/// `ps -o pid=,user:64=,nlwp=,ni=` for `pids` (the widened `user` column so that a long
/// name is not cut): pid → (user, threads, nice; `None` for `-`, a real-time task).
fn ps_rows(pids: &[u64]) -> HashMap<u64, (String, u64, Option<i64>)> {
    let list: Vec<String> = pids.iter().map(u64::to_string).collect();
    let out = Command::new("ps")
        .args(["-o", "pid=,user:64=,nlwp=,ni=", "-p", &list.join(",")])
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some((
                f.first()?.parse().ok()?,
                (f[1].to_owned(), f[2].parse().ok()?, f[3].parse().ok()),
            ))
        })
        .collect()
}

/// Snapshot v2 on this machine: modes after the first interval summing to 100, one
/// per-CPU entry per online CPU, pressure iff /proc/pressure is readable, and top rows'
/// user/threads/nice equal to `ps` for the same pids (a busy `nice -n 5` stress process
/// run as `nobody` when the test runs as root, so a non-root owner and a non-zero nice
/// are in the table).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_fields_agree_with_this_machine() {
    let root = rustix::process::geteuid().is_root();
    let mut cmd = Command::new("nice");
    cmd.arg("-n")
        .arg("5")
        .arg(stress_bin())
        .args(["--cpus", "1", "--threads", "3", "--seconds", "30"])
        .stdout(Stdio::piped());
    if root {
        use std::os::unix::process::CommandExt;
        cmd.uid(65534).gid(65534);
    }
    let mut stress = cmd.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(stress.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let stress_pid = u64::from(stress.id());

    let mut c = config(Path::new("/proc"), SourceMode::Procfs);
    c.sample_interval = Duration::from_millis(200);
    c.snapshot_top = 50;
    c.passwd_path = "/etc/passwd".into();
    let a = start(c).await;

    // The first sample has no window: modes appear after the first interval.
    let mut v = serde_json::Value::Null;
    for _ in 0..50 {
        let (_, s) = get_json(&a.url("/api/v1/snapshot")).await;
        v = s;
        let stress_busy = v["top"]
            .as_array()
            .is_some_and(|t| t.iter().any(|r| r["pid"] == stress_pid));
        if v["cpu"].get("modes").is_some() && stress_busy {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let snap: procpulse_model::Snapshot = serde_json::from_value(v.clone()).unwrap();
    procpulse_model::validate(&snap).unwrap_or_else(|e| panic!("{e:?}: {v}"));
    let modes = snap
        .cpu
        .modes
        .unwrap_or_else(|| panic!("no cpu.modes: {v}"));
    let sum: f64 = modes.exclusive().iter().map(|(_, x)| x).sum();
    assert!((sum - 100.0).abs() <= 0.5, "modes sum to {sum}: {modes:?}");
    // The busy stress thread alone keeps a CPU out of idle.
    assert!(modes.idle < 100.0, "{modes:?}");

    let cpus: Vec<u64> = snap.cpu.per_cpu.iter().map(|c| u64::from(c.cpu)).collect();
    assert_eq!(cpus, online_cpus(), "per_cpu vs /proc/stat cpuN lines");

    let readable = |f: &str| std::fs::read_to_string(format!("/proc/pressure/{f}")).is_ok();
    match &snap.pressure {
        Some(p) => {
            assert_eq!(p.cpu.is_some(), readable("cpu"));
            assert_eq!(p.memory.is_some(), readable("memory"));
            assert_eq!(p.io.is_some(), readable("io"));
        }
        None => assert!(!readable("cpu"), "/proc/pressure/cpu is readable: {v}"),
    }
    assert!(
        snap.top.len() == 50 || snap.top.len() as u64 == snap.procs.total,
        "{} top rows of {}",
        snap.top.len(),
        snap.procs.total
    );

    // Top rows vs ps. Thread counts move (this very test's runtime spawns threads), so
    // compare again with fresh samples until every row still alive agrees.
    let mut last = Vec::new();
    for _ in 0..30 {
        let (_, v) = get_json(&a.url("/api/v1/snapshot")).await;
        let snap: procpulse_model::Snapshot = serde_json::from_value(v).unwrap();
        let pids: Vec<u64> = snap.top.iter().map(|r| u64::from(r.pid)).collect();
        let ps = ps_rows(&pids);
        last.clear();
        let mut compared = 0;
        for r in &snap.top {
            // Exited since the sample: nothing to compare.
            let Some((user, nlwp, ni)) = ps.get(&u64::from(r.pid)) else {
                continue;
            };
            compared += 1;
            let ours = (
                r.user.clone(),
                r.threads.map(u64::from),
                r.nice.map(i64::from),
            );
            let theirs = (Some(user.clone()), Some(*nlwp), ni.or(ours.2));
            if ours != theirs {
                last.push(format!("pid {}: agent {ours:?}, ps {theirs:?}", r.pid));
            }
        }
        let stress_row = snap.top.iter().find(|r| u64::from(r.pid) == stress_pid);
        if let Some(s) = stress_row.filter(|_| last.is_empty() && compared > 0) {
            assert_eq!(s.nice, Some(5), "{s:?}");
            if root {
                assert_eq!((s.uid, s.user.as_deref()), (Some(65534), Some("nobody")));
            }
            a.stop().await;
            let _ = Command::new("kill")
                .args(["-TERM", &stress_pid.to_string()])
                .status();
            let _ = stress.wait();
            return;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &stress_pid.to_string()])
        .status();
    let _ = stress.wait();
    panic!("top rows never all agreed with ps: {last:#?}");
}
