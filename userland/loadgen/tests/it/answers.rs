//! replay's handling of each kind of answer, against a scripted ingest (real ingest
//! cannot be made to answer 503 or split unevenly on demand): a 503 with Retry-After is
//! retried no sooner than asked and acknowledged once; a 4xx is a rejection (exit 3); a
//! lopsided split fails --split-tolerance (exit 3); Ctrl-C-free runs end by themselves.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use warp::Filter;
use warp::http::StatusCode;

use crate::support::run_loadgen;

/// How the scripted ingest answers.
#[derive(Debug, Clone, Copy)]
enum Script {
    /// First attempt of every record: 503 + `Retry-After: 1`; then 200, routes a/b alternating.
    BusyOnce,
    /// 422 for sample_ids ending in "7", 200 route a/b alternating otherwise.
    RejectSevens,
    /// Always 200 from route a.
    OnlyA,
}

#[derive(Debug, Default)]
struct Seen {
    attempts: HashMap<String, Vec<Instant>>,
    acked: u64,
}

/// Serves the script on a loopback port in a background runtime.
fn start(script: Script) -> (u16, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let state = seen.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap().port()).unwrap();
            let route = warp::post()
                .and(warp::path!("api" / "v1" / "metrics"))
                .and(warp::header::exact("content-type", "application/json"))
                .and(warp::body::bytes())
                .map(move |body: bytes::Bytes| {
                    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    let id = v["sample_id"].as_str().unwrap().to_owned();
                    let mut seen = state.lock().unwrap();
                    let attempts = seen.attempts.entry(id.clone()).or_default();
                    attempts.push(Instant::now());
                    let first = attempts.len() == 1;
                    let (status, retry, body) = match script {
                        Script::BusyOnce if first => (
                            StatusCode::SERVICE_UNAVAILABLE,
                            Some("1"),
                            r#"{"error":{"code":"unavailable","message":"database busy","field":null}}"#.to_owned(),
                        ),
                        Script::RejectSevens if id.ends_with('7') => (
                            StatusCode::UNPROCESSABLE_ENTITY,
                            None,
                            r#"{"error":{"code":"invalid_field","message":"cpu.usage_percent must be within 0..=100","field":"cpu.usage_percent"}}"#.to_owned(),
                        ),
                        _ => {
                            seen.acked += 1;
                            let route = match script {
                                Script::OnlyA => "a",
                                _ if seen.acked % 2 == 0 => "b",
                                _ => "a",
                            };
                            (
                                StatusCode::OK,
                                None,
                                format!(r#"{{"accepted":1,"duplicates":0,"route":"{route}"}}"#),
                            )
                        }
                    };
                    let mut resp = warp::http::Response::builder()
                        .status(status)
                        .header("content-type", "application/json");
                    if let Some(r) = retry {
                        resp = resp.header("retry-after", r);
                    }
                    resp.body(body).unwrap()
                });
            warp::serve(route).incoming(listener).run().await;
        });
    });
    (rx.recv().unwrap(), seen)
}

/// Writes `n` valid records `rec-0`..`rec-{n-1}`.
fn write_records(dir: &Path, n: usize) {
    let at = "2025-11-23T10:00:00.000Z";
    let text: String = (0..n)
        .map(|i| {
            format!(
                r#"{{"sample_id":"rec-{i}","host":"h","collected_at":"{at}","source":"procfs","cpu":{{"usage_percent":1.0,"cores":1,"load1":0.0,"load5":0.0,"load15":0.0}},"ram":{{"total_kb":10,"free_kb":5,"available_kb":5,"used_kb":5,"cached_kb":0,"swap_total_kb":0,"swap_free_kb":0,"used_percent":50.0}},"procs":{{"total":1,"running":1,"sleeping":0,"disk_sleep":0,"stopped":0,"traced":0,"zombie":0,"dead":0,"idle":0,"threads":1}}}}"#
            ) + "\n"
        })
        .collect();
    std::fs::write(dir.join("records.ndjson"), text).unwrap();
}

fn replay(dir: &Path, port: u16, extra: &[&str]) -> crate::support::Run {
    let host = format!("http://127.0.0.1:{port}");
    let mut args = vec![
        "replay",
        "--host",
        &host,
        "--users",
        "8",
        "--increase-rate",
        "8",
        "--wait",
        "0s..10ms",
        "--in",
        "records.ndjson",
        "--no-print-metrics",
        "-q",
    ];
    args.extend_from_slice(extra);
    run_loadgen(dir, &args, Duration::from_secs(60))
}

#[test]
fn busy_answers_are_retried_after_retry_after_and_acked_once() {
    let dir = tempfile::tempdir().unwrap();
    write_records(dir.path(), 40);
    let (port, seen) = start(Script::BusyOnce);
    let run = replay(dir.path(), port, &["--split-tolerance", "10%"]);
    assert!(run.status.success(), "{run:?}");
    assert!(
        run.stdout.contains("retried after 503/429 40"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("40 of 40 records acknowledged"),
        "{}",
        run.stdout
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.acked, 40);
    for (id, at) in &seen.attempts {
        assert_eq!(at.len(), 2, "{id}: one 503 then one ack");
        let gap = at[1] - at[0];
        assert!(
            gap >= Duration::from_millis(990),
            "{id} retried after {gap:?}"
        );
    }
}

#[test]
fn rejected_records_are_not_retried_and_fail_the_run() {
    let dir = tempfile::tempdir().unwrap();
    write_records(dir.path(), 30);
    let (port, seen) = start(Script::RejectSevens);
    let run = replay(dir.path(), port, &[]);
    assert_eq!(run.status.code(), Some(3), "{run:?}");
    assert!(run.stdout.contains("rejected 3 |"), "{}", run.stdout);
    assert!(
        run.stdout.contains("cpu.usage_percent"),
        "the reason is shown: {}",
        run.stdout
    );
    let seen = seen.lock().unwrap();
    assert!(
        seen.attempts.values().all(|a| a.len() == 1),
        "nothing sent twice"
    );
    assert_eq!(seen.acked, 27);
}

#[test]
fn lopsided_split_fails_the_tolerance_check() {
    let dir = tempfile::tempdir().unwrap();
    write_records(dir.path(), 20);
    let (port, _) = start(Script::OnlyA);
    let run = replay(dir.path(), port, &["--split-tolerance", "2%"]);
    assert_eq!(run.status.code(), Some(3), "{run:?}");
    assert!(run.stdout.contains("route b took 0.0%"), "{}", run.stdout);
    // Without the check the same run succeeds.
    let run = replay(dir.path(), port, &[]);
    assert!(run.status.success(), "{run:?}");
}

#[test]
fn goose_thresholds_pass_through_and_fail_the_run() {
    let dir = tempfile::tempdir().unwrap();
    write_records(dir.path(), 20);
    let (port, _) = start(Script::BusyOnce);
    // Every record's first attempt is a 503: half the requests fail. (goose resets its
    // metrics once all users run, which here would forget most 503s; keep them.)
    let run = replay(
        dir.path(),
        port,
        &[
            "--threshold",
            "error-rate<10%",
            "--no-threshold-abort",
            "--no-reset-metrics",
        ],
    );
    assert_eq!(run.status.code(), Some(1), "{run:?}");
    assert!(
        run.stderr.contains("threshold failed: error-rate<10%"),
        "{}",
        run.stderr
    );
    // The phase itself still finished its work and says so.
    assert!(
        run.stdout.contains("20 of 20 records acknowledged"),
        "{}",
        run.stdout
    );
}

#[test]
fn loop_resends_with_fresh_sample_ids_until_the_run_time() {
    let dir = tempfile::tempdir().unwrap();
    write_records(dir.path(), 5);
    let (port, seen) = start(Script::OnlyA);
    let run = replay(dir.path(), port, &["--loop", "--run-time", "2s"]);
    assert!(run.status.success(), "{run:?}");
    assert!(
        run.stdout.contains("ended: run time over"),
        "{}",
        run.stdout
    );
    let seen = seen.lock().unwrap();
    // Every id was sent once: later passes carry `<id>~<pass>`.
    assert!(seen.attempts.values().all(|a| a.len() == 1));
    assert!(
        seen.attempts.len() > 10,
        "looped past the 5 records: {}",
        seen.attempts.len()
    );
    assert!(
        seen.attempts.contains_key("rec-0~1"),
        "{:?}",
        seen.attempts.keys()
    );
}
