//! SIGTERM drains in-flight requests and exits 0.

use crate::common::{self, Proc, assert_all_stored_once, load};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_requests_and_exits_zero() {
    for (kind, mode) in common::matrix() {
        let ctx = format!("{kind:?}/{mode:?}");
        let tdb = common::fresh_db(kind).await;
        let mut proc = Proc::spawn(&tdb.url, mode, &[]).await;
        // The test holds the table's write lock for 1.2 s, so every write in between,
        // the "in-flight" one included, is surely still waiting for its commit at SIGTERM.
        let (locked_tx, locked) = tokio::sync::oneshot::channel();
        let lock = hold_write_lock(tdb.db.clone(), Duration::from_millis(1200), locked_tx);
        locked.await.unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let run = load(
            Arc::new(Mutex::new(proc.addr)),
            8,
            &format!("term{}", mode.as_str()),
            stop.clone(),
        );
        let in_flight = {
            let mut c = procpulse_ingest::client::Conn::connect(proc.addr)
                .await
                .unwrap();
            tokio::spawn(async move {
                c.post_json(
                    "/api/v1/metrics",
                    common::body(&common::snapshot("in-flight", "t")),
                )
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(400)).await;
        let sent = Instant::now();
        proc.signal(nix::sys::signal::Signal::SIGTERM);
        let status = proc.wait(Duration::from_secs(10)).await;
        assert_eq!(status.code(), Some(0), "{ctx}: {status:?}");
        assert!(
            sent.elapsed() > Duration::from_millis(500),
            "{ctx}: exited before draining ({:?} after SIGTERM)",
            sent.elapsed()
        );
        lock.await.unwrap();
        let answer = in_flight
            .await
            .unwrap()
            .expect("in-flight request answered");
        assert_eq!(answer.status, 200, "{ctx}");
        stop.store(true, Ordering::Relaxed);
        let log = run.await.unwrap();
        let mut acked = log.acked;
        acked.push("in-flight".into());
        assert_all_stored_once(&tdb.db, &acked, &ctx).await;
    }
}

/// Takes the write lock on `samples` (SQLite: `BEGIN IMMEDIATE`; MySQL: `LOCK TABLES`),
/// reports it through `locked`, holds it for `hold`, then releases it.
fn hold_write_lock(
    db: procpulse_storage::Database,
    hold: Duration,
    locked: tokio::sync::oneshot::Sender<()>,
) -> tokio::task::JoinHandle<()> {
    use diesel_async::SimpleAsyncConnection;
    use procpulse_storage::StorageError;
    tokio::spawn(async move {
        let (take, release) = match db.backend() {
            procpulse_storage::Backend::Sqlite => ("BEGIN IMMEDIATE", "ROLLBACK"),
            procpulse_storage::Backend::Mysql => ("LOCK TABLES samples WRITE", "UNLOCK TABLES"),
        };
        let held: Result<(), StorageError> = procpulse_storage::with_conn!(db.write_pool(), c => {
            c.batch_execute(take).await?;
            let _ = locked.send(());
            tokio::time::sleep(hold).await;
            c.batch_execute(release).await?;
            Ok(())
        });
        held.expect("holding the write lock");
    })
}
