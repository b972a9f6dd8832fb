use crate::support::*;
use procpulse_agent::{PushConfig, SourceMode};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use warp::Filter;
use warp::http::StatusCode;

/// What the stand-in ingest saw.
#[derive(Default)]
struct Seen {
    requests: Vec<(Instant, u16)>,
    ids: Vec<String>,
}

/// A real warp server on 127.0.0.1:0 that answers `answer(request number)`.
async fn ingest(
    answer: impl Fn(usize) -> (u16, Option<&'static str>) + Send + Sync + 'static,
) -> (String, Arc<Mutex<Seen>>, procpulse_service::Shutdown) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let answer = Arc::new(answer);
    let s2 = seen.clone();
    let route = warp::path!("api" / "v1" / "metrics")
        .and(warp::post())
        .and(warp::body::json::<serde_json::Value>())
        .map(move |body: serde_json::Value| {
            let mut seen = s2.lock().unwrap();
            let n = seen.requests.len();
            let (status, retry_after) = answer(n);
            seen.requests.push((Instant::now(), status));
            if status == 200 {
                for s in body.as_array().unwrap() {
                    seen.ids.push(s["sample_id"].as_str().unwrap().to_owned());
                }
            }
            let mut res = warp::reply::Response::new("{}".into());
            *res.status_mut() = StatusCode::from_u16(status).unwrap();
            if let Some(r) = retry_after {
                res.headers_mut().insert("retry-after", r.parse().unwrap());
            }
            res
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/v1/metrics", listener.local_addr().unwrap());
    let shutdown = procpulse_service::Shutdown::new();
    let sd = shutdown.clone();
    tokio::spawn(async move {
        warp::serve(route)
            .incoming(listener)
            .graceful(async move { sd.wait().await })
            .run()
            .await
    });
    (url, seen, shutdown)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_then_recovery_loses_nothing_and_honours_retry_after() {
    // 5 failures (the 3rd is a 429 asking for 1 s), then healthy.
    let (url, seen, ingest_sd) = ingest(|n| match n {
        0 | 1 | 3 | 4 => (503, None),
        2 => (429, Some("1")),
        _ => (200, None),
    })
    .await;
    let mut c = config(&fixture("kmod"), SourceMode::Kmod);
    let mut p = PushConfig::new(url, Duration::from_millis(50));
    p.max_backoff = Duration::from_millis(400);
    c.push = Some(p);
    let a = start(c).await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let agent = a.agent.clone();
    a.stop().await;
    ingest_sd.trigger();

    let seen = seen.lock().unwrap();
    let statuses: Vec<u16> = seen.requests.iter().map(|r| r.1).collect();
    assert_eq!(
        &statuses[..6],
        &[503, 503, 429, 503, 503, 200],
        "{statuses:?}"
    );
    let after_429 = seen.requests[3].0 - seen.requests[2].0;
    assert!(
        after_429 >= Duration::from_millis(950),
        "retried after {after_429:?}"
    );
    // Every snapshot made it, each exactly once, in order: sequences 1..=n.
    let seqs: Vec<u64> = seen.ids.iter().map(|id| id_seq(id, "test-host")).collect();
    let n = seqs.len() as u64;
    assert!(n >= 30, "only {n} snapshots pushed");
    assert_eq!(seqs, (1..=n).collect::<Vec<_>>());
    // The first successful POST carried the backlog as one batch.
    assert!(seen.requests.len() < seqs.len(), "no batching");
    assert_eq!(agent.push_metrics().dropped.get(), 0);
    assert_eq!(agent.push_metrics().sent.get(), n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_drops_the_oldest() {
    // Down for the first 0.8 s, then healthy.
    let t0 = Instant::now();
    let (url, seen, ingest_sd) = ingest(move |_| {
        if t0.elapsed() < Duration::from_millis(800) {
            (503, None)
        } else {
            (200, None)
        }
    })
    .await;
    let mut c = config(&fixture("kmod"), SourceMode::Kmod);
    let mut p = PushConfig::new(url, Duration::from_millis(20));
    p.queue_capacity = 5;
    p.max_backoff = Duration::from_millis(100);
    c.push = Some(p);
    let a = start(c).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let agent = a.agent.clone();
    a.stop().await;
    ingest_sd.trigger();

    let dropped = agent.push_metrics().dropped.get();
    assert!(dropped > 0, "nothing dropped");
    let seen = seen.lock().unwrap();
    let seqs: Vec<u64> = seen.ids.iter().map(|id| id_seq(id, "test-host")).collect();
    // What arrived is the newest tail: strictly increasing, and everything after the
    // first delivered sequence arrived.
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
    assert!(seqs[0] > 1, "the oldest should have been dropped: {seqs:?}");
    assert_eq!(seqs[0] - 1, dropped, "{seqs:?}");
}
