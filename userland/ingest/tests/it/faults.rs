//! Faults under load: kill -9 of the ingest process, and MariaDB stopped and restarted.
//! In both, every sample_id a client saw acknowledged must be in the table exactly once,
//! and — the history maintainer running all along at test speed — the rollup tables
//! must equal a from-scratch recompute of the surviving raw rows (no minute counted
//! twice, none missing). Also: two ingest processes on one database maintain it once.

use crate::common::{self, Kind, Proc, assert_all_stored_once, load};
use procpulse_storage::Database;
use procpulse_storage::history::Tier;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The maintainer at test speed: a pass every 50 ms, folding rows received `settle`
/// ago, with a lease that a killed process leaves behind for `lease`.
fn fast_maintenance(settle: &'static str, lease: &'static str) -> Vec<&'static str> {
    vec![
        "--maintenance-interval",
        "50ms",
        "--maintenance-settle",
        settle,
        "--maintenance-lease-ttl",
        lease,
    ]
}

/// The newest stored received_at.
async fn newest_received(db: &Database) -> Option<time::PrimitiveDateTime> {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use procpulse_storage::schema::samples::dsl as s;
    procpulse_storage::with_conn!(db.read_pool(), c => {
        Ok::<_, procpulse_storage::StorageError>(s::samples
            .select(diesel::dsl::max(s::received_at))
            .first::<Option<time::PrimitiveDateTime>>(c)
            .await?)
    })
    .unwrap()
}

/// Waits until a running maintainer has folded every stored row, then checks the rollup
/// tables against a from-scratch recompute of the raw rows, and that the minutes count
/// every raw row exactly once.
async fn assert_rollups_exact(db: &Database, ctx: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let newest = newest_received(db).await;
        let watermark = procpulse_storage::maintain::fold::watermark(db)
            .await
            .unwrap();
        if newest.is_some() && watermark >= newest {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{ctx}: rows not folded within 30 s (watermark {watermark:?}, newest {newest:?})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let check = procpulse_storage::testing::check_rollups_from_scratch(db)
        .await
        .unwrap_or_else(|e| panic!("{ctx}: rollups differ from a recompute: {e}"));
    let minutes = procpulse_storage::testing::stored_rollups(db, Tier::Minute)
        .await
        .unwrap();
    let counted: i64 = minutes.iter().map(|m| m.samples).sum();
    assert_eq!(
        counted as usize, check.raw_rows,
        "{ctx}: raw rows counted by minutes"
    );
    eprintln!(
        "{ctx}: rollups exact: {} raw rows in {} minutes, {} hours",
        check.raw_rows, check.minutes, check.hours
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_no_acknowledged_row() {
    for (kind, mode) in common::matrix() {
        let ctx = format!("{kind:?}/{mode:?}");
        let tdb = common::fresh_db(kind).await;
        let maintenance = fast_maintenance("500ms", "1s");
        let proc = Proc::spawn(&tdb.url, mode, &maintenance).await;
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

        // The maintainer was writing rollups when the process died.
        let before = procpulse_storage::testing::stored_rollups(&tdb.db, Tier::Minute)
            .await
            .unwrap();
        assert!(
            !before.is_empty(),
            "{ctx}: nothing rolled up before the kill"
        );

        // Restart on the same database: every acknowledged row is there exactly once,
        // and replaying them all is answered as duplicates.
        let proc = Proc::spawn(&tdb.url, mode, &maintenance).await;
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
        // The restarted maintainer (once the dead one's lease expired) redoes whatever
        // the kill interrupted: the rollups equal a recompute, no minute counted twice.
        assert_rollups_exact(&tdb.db, &ctx).await;
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
        let mut args = vec!["--db-timeout-ms", "500"];
        // A settle delay well above a request's longest wait for the database.
        args.extend(fast_maintenance("2s", "1s"));
        let proc = Proc::spawn(&url, mode, &args).await;
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
        // The maintainer's passes failed during the outage and resumed after it.
        assert_rollups_exact(&db, &ctx).await;
        eprintln!(
            "{ctx}: {} acknowledged, {unavailable} answered 503, recovered {:?} after restart",
            log.acked.len(),
            recovery.unwrap()
        );
        drop(proc);
    }
}

/// One value of a process's `/metrics` (None when the line is missing).
async fn metric(addr: std::net::SocketAddr, name: &str) -> Option<f64> {
    let mut c = procpulse_ingest::client::Conn::connect(addr).await.ok()?;
    let text = String::from_utf8(c.get("/metrics").await.ok()?.body.to_vec()).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// Two ingest processes on one database (routes a and b on one SQLite file; two
/// replicas on MariaDB) under load, each running a maintainer: their `/metrics`, sampled
/// every 50 ms throughout, show the lease taken once, by one process, which holds it in
/// every sample after; the other never holds it (never both at once). The rollups equal
/// a from-scratch recompute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_ingest_processes_maintain_one_database_once() {
    for kind in common::kinds() {
        let ctx = format!("two-processes/{kind:?}");
        let tdb = common::fresh_db(kind).await;
        // A lease long enough that a slow pass under load does not let it lapse.
        let maintenance = fast_maintenance("500ms", "10s");
        let procs = [
            Proc::spawn(&tdb.url, procpulse_ingest::WriteMode::Direct, &maintenance).await,
            Proc::spawn(&tdb.url, procpulse_ingest::WriteMode::Batched, &maintenance).await,
        ];
        let stop = Arc::new(AtomicBool::new(false));
        let runs: Vec<_> = procs
            .iter()
            .enumerate()
            .map(|(i, p)| {
                load(
                    Arc::new(Mutex::new(p.addr)),
                    8,
                    &format!("two{i}"),
                    stop.clone(),
                )
            })
            .collect();
        // (held, acquired) of both processes, sampled until the load stops.
        let sampler = tokio::spawn({
            let (addrs, stop) = ([procs[0].addr, procs[1].addr], stop.clone());
            async move {
                let mut samples = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let mut s = [(0.0, 0.0); 2];
                    for (i, a) in addrs.iter().enumerate() {
                        s[i] = (
                            metric(*a, "procpulse_maintenance_lease_held")
                                .await
                                .unwrap_or(-1.0),
                            metric(*a, "procpulse_maintenance_lease_acquired_total")
                                .await
                                .unwrap_or(-1.0),
                        );
                    }
                    samples.push(s);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                samples
            }
        });
        tokio::time::sleep(Duration::from_millis(1500)).await;
        stop.store(true, Ordering::Relaxed);
        let mut acked = Vec::new();
        for r in runs {
            let log = r.await.unwrap();
            assert!(
                log.statuses.keys().all(|s| *s == 200),
                "{ctx}: {:?}",
                log.statuses
            );
            acked.extend(log.acked);
        }
        let samples = sampler.await.unwrap();
        assert_all_stored_once(&tdb.db, &acked, &ctx).await;
        assert_rollups_exact(&tdb.db, &ctx).await;
        assert!(samples.len() >= 5, "{ctx}: {samples:?}");
        let last = samples[samples.len() - 1];
        let holder = usize::from(last[1].1 > 0.0);
        let other = 1 - holder;
        assert_eq!(
            (last[holder].1, last[other].1),
            (1.0, 0.0),
            "{ctx}: the lease is taken exactly once, by one process: {samples:?}"
        );
        for s in &samples {
            assert!(
                s.iter().all(|p| p.0 >= 0.0),
                "{ctx}: a missing gauge: {s:?}"
            );
            assert_eq!(s[other], (0.0, 0.0), "{ctx}: {samples:?}");
            assert!(s[holder].0 + s[other].0 <= 1.0, "{ctx}: {s:?}");
        }
        // From its first pass on, the holder keeps it (renewed, never lost).
        let first = samples.iter().position(|s| s[holder].0 == 1.0);
        let first = first.unwrap_or_else(|| panic!("{ctx}: never held: {samples:?}"));
        assert!(
            samples[first..].iter().all(|s| s[holder] == (1.0, 1.0)),
            "{ctx}: {samples:?}"
        );
    }
}
