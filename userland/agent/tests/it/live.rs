use crate::support::*;
use procpulse_agent::SourceMode;
use procpulse_model::parse::parse_meminfo;
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
