//! Faults under load: kill -9 of the ingest process, and MariaDB stopped and restarted.
//! In both, every sample_id a client saw acknowledged must be in the table exactly once.

use crate::common::{self, Kind, Proc, assert_all_stored_once, load};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_no_acknowledged_row() {
    for (kind, mode) in common::matrix() {
        let ctx = format!("{kind:?}/{mode:?}");
        let tdb = common::fresh_db(kind).await;
        let proc = Proc::spawn(&tdb.url, mode, &[]).await;
        let target = Arc::new(Mutex::new(proc.addr));
        let stop = Arc::new(AtomicBool::new(false));
        let run = load(
            target.clone(),
            24,
            &format!("k9{}", mode.as_str()),
            stop.clone(),
        );
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let mut proc = proc;
        proc.signal(nix::sys::signal::Signal::SIGKILL);
        proc.wait(Duration::from_secs(5)).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        stop.store(true, Ordering::Relaxed);
        let log = run.await.unwrap();
        assert!(log.acked.len() >= 100, "{ctx}: too little load: {log:?}");
        assert!(
            log.statuses.keys().all(|s| *s == 200),
            "{ctx}: {:?}",
            log.statuses
        );

        // Restart on the same database: every acknowledged row is there exactly once,
        // and replaying them all is answered as duplicates.
        let proc = Proc::spawn(&tdb.url, mode, &[]).await;
        assert_all_stored_once(&tdb.db, &log.acked, &ctx).await;
        let mut c = procpulse_ingest::client::Conn::connect(proc.addr)
            .await
            .unwrap();
        let mut dups = 0;
        for chunk in log.acked.chunks(500) {
            let arr: Vec<_> = chunk
                .iter()
                .map(|id| common::snapshot(id, "load"))
                .collect();
            let a = c
                .post_json(
                    "/api/v1/metrics",
                    common::body(&serde_json::Value::Array(arr)),
                )
                .await
                .unwrap();
            assert_eq!(a.status, 200, "{ctx}");
            assert_eq!(
                a.json()["accepted"],
                0,
                "{ctx}: an acknowledged row was not stored"
            );
            dups += a.json()["duplicates"].as_u64().unwrap();
        }
        assert_eq!(dups as usize, log.acked.len(), "{ctx}");
        eprintln!(
            "{ctx}: kill -9 after {} acknowledged rows: none lost",
            log.acked.len()
        );
    }
}

fn mariadb_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../ci/mariadb.sh")
}

fn mariadb(dir: &std::path::Path, cmd: &str) -> String {
    let out = std::process::Command::new("bash")
        .arg(mariadb_script())
        .arg(cmd)
        .env("PROCPULSE_MARIADB_DIR", dir)
        .output()
        .expect("run ci/mariadb.sh");
    assert!(
        out.status.success(),
        "ci/mariadb.sh {cmd} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Stops the private instance even when the test fails.
struct PrivateMariadb(tempfile::TempDir);

impl Drop for PrivateMariadb {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash")
            .arg(mariadb_script())
            .arg("stop")
            .env("PROCPULSE_MARIADB_DIR", self.0.path())
            .output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_restart_under_load_answers_503_and_recovers() {
    if !common::kinds().contains(&Kind::Mysql) {
        return;
    }
    // A private instance: stopping the shared one would break tests running in parallel.
    let private = PrivateMariadb(tempfile::tempdir().unwrap());
    let dir = private.0.path().to_owned();
    let base = mariadb(&dir, "start");
    for mode in [
        procpulse_ingest::WriteMode::Direct,
        procpulse_ingest::WriteMode::Batched,
    ] {
        let ctx = format!("mariadb-restart/{mode:?}");
        let url: procpulse_storage::DatabaseUrl =
            procpulse_storage::testing::fresh_mysql_database(&base)
                .await
                .unwrap()
                .parse()
                .unwrap();
        let db = procpulse_storage::Database::connect(&url, &Default::default())
            .await
            .unwrap();
        let proc = Proc::spawn(&url, mode, &["--db-timeout-ms", "500"]).await;
        let stop = Arc::new(AtomicBool::new(false));
        let run = load(
            Arc::new(Mutex::new(proc.addr)),
            16,
            &format!("rs{}", mode.as_str()),
            stop.clone(),
        );
        tokio::time::sleep(Duration::from_millis(1000)).await;

        let d = dir.clone();
        tokio::task::spawn_blocking(move || mariadb(&d, "stop"))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let d = dir.clone();
        tokio::task::spawn_blocking(move || mariadb(&d, "start"))
            .await
            .unwrap();
        let up = Instant::now();
        tokio::time::sleep(Duration::from_millis(6000)).await;
        stop.store(true, Ordering::Relaxed);
        let log = run.await.unwrap();

        let unavailable = log.statuses.get(&503).copied().unwrap_or(0);
        assert!(
            unavailable > 0,
            "{ctx}: no 503 during the outage: {:?}",
            log.statuses
        );
        assert_eq!(log.unavailable_without_retry_after, 0, "{ctx}");
        assert!(
            log.statuses.keys().all(|s| *s == 200 || *s == 503),
            "{ctx}: {:?}",
            log.statuses
        );
        let first_ok = log.ok_times.iter().find(|t| **t >= up).copied();
        let recovery = first_ok.map(|t| t - up);
        assert!(
            recovery.is_some_and(|r| r < Duration::from_secs(5)),
            "{ctx}: no recovery within 5 s of the restart: {recovery:?}"
        );
        assert_all_stored_once(&db, &log.acked, &ctx).await;
        eprintln!(
            "{ctx}: {} acknowledged, {unavailable} answered 503, recovered {:?} after restart",
            log.acked.len(),
            recovery.unwrap()
        );
        drop(proc);
    }
}
