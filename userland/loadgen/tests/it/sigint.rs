//! Ctrl-C during collect (against the real agent) leaves either no record file or a
//! complete one — never half of one — and no temporary file behind.

use std::time::{Duration, Instant};

use procpulse_loadgen::records::read_records;

use crate::support::{Service, finish, free_port, signal, spawn_loadgen, workspace_bin};

/// Starts a collect that would run for a minute, sends SIGINT `signals` times after
/// `after`, and checks what is left on disk.
fn interrupt_collect(after: Duration, signals: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let port = free_port();
    let mut agent = Service::start(
        "agent",
        &workspace_bin("procpulse-agent"),
        &[
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--source",
            "procfs",
        ],
        dir,
    );
    agent.wait_ready(port, "/healthz");
    let host = format!("http://127.0.0.1:{port}");
    let mut child = spawn_loadgen(
        dir,
        &[
            "collect",
            "--host",
            &host,
            "--users",
            "10",
            "--increase-rate",
            "10",
            "--run-time",
            "60s",
            "--wait",
            "0s..5ms",
            "--target-records",
            "1000000",
            "--out",
            "records.ndjson",
            "--no-print-metrics",
        ],
    );
    std::thread::sleep(after);
    for _ in 0..signals {
        signal(child.id(), "INT");
        std::thread::sleep(Duration::from_millis(30));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("collect did not stop after SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let run = finish(dir, status);
    assert_ne!(
        run.status.code(),
        Some(0),
        "an interrupted collect is not a success: {run:?}"
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    let path = dir.join("records.ndjson");
    if path.exists() {
        let records = read_records(&path).expect("a complete record file");
        if signals == 1 {
            // One Ctrl-C: a clean stop that reports what it wrote.
            assert_eq!(run.status.code(), Some(130), "{run:?}");
            assert!(
                run.stdout
                    .contains(&format!("collect: {} of 1000000 records", records.len())),
                "{}",
                run.stdout
            );
        }
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    // A second Ctrl-C makes goose exit at once; it may catch the writer mid-file, which
    // then leaves its temporary file but never a partial records.ndjson.
    if signals == 1 {
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}

#[test]
fn ctrl_c_mid_collect_writes_a_complete_file() {
    interrupt_collect(Duration::from_secs(3), 1);
}

#[test]
fn ctrl_c_at_start_leaves_no_partial_file() {
    interrupt_collect(Duration::from_millis(300), 1);
}

#[test]
fn double_ctrl_c_never_leaves_a_partial_file() {
    interrupt_collect(Duration::from_secs(2), 2);
}
