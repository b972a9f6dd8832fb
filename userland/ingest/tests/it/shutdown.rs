//! SIGTERM drains in-flight requests and exits 0.

use crate::common::{self, Proc, assert_all_stored_once, load};
use procpulse_ingest::WriteMode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_in_flight_requests_and_exits_zero() {
    for (kind, mode) in common::matrix() {
        let ctx = format!("{kind:?}/{mode:?}");
        let tdb = common::fresh_db(kind).await;
        // Batched with a 1 s gathering window: a request is surely in flight at SIGTERM.
        let mut proc = Proc::spawn(&tdb.url, mode, &["--batch-max-wait-ms", "1000"]).await;
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
        let answer = in_flight
            .await
            .unwrap()
            .expect("in-flight request answered");
        assert_eq!(answer.status, 200, "{ctx}");
        if mode == WriteMode::Batched {
            assert!(
                sent.elapsed() > Duration::from_millis(300),
                "{ctx}: exited before draining"
            );
        }
        stop.store(true, Ordering::Relaxed);
        let log = run.await.unwrap();
        let mut acked = log.acked;
        acked.push("in-flight".into());
        assert_all_stored_once(&tdb.db, &acked, &ctx).await;
    }
}
