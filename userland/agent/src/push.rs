//! Push mode: every interval a fresh snapshot goes into a bounded queue; a sender POSTs
//! the queue to ingest in batches (a JSON array), retrying with exponential backoff and
//! honouring `Retry-After`. A short ingest outage loses nothing: snapshots wait in the
//! queue and keep their `sample_id`, so a retry after a lost answer is deduplicated by
//! ingest. When the queue is full the oldest snapshot is dropped, with a warning line.
//! On shutdown the queue is flushed for at most `drain_timeout`.

use crate::collect::Agent;
use crate::config::PushConfig;
use procpulse_model::Snapshot;
use procpulse_service::Shutdown;
use prometheus_client::metrics::counter::Counter;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use warp::http::StatusCode;

/// First retry delay; doubled after each failure up to `max_backoff`.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Longest `Retry-After` obeyed (a larger one is treated as this).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);
/// Time limit of one POST.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A uniformly random u64 from a per-process randomly keyed hasher (std's `RandomState`
/// is seeded from the OS), so no RNG crate is needed for jitter.
fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    thread_local! {
        static STATE: std::collections::hash_map::RandomState =
            std::collections::hash_map::RandomState::new();
    }
    STATE.with(|s| {
        let mut h = s.build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.finish()
    })
}

/// Full jitter: a duration uniform in `[0, cap]` picked by `r` (a uniform u64).
pub fn full_jitter(cap: Duration, r: u64) -> Duration {
    let nanos = cap.as_nanos().min(u128::from(u64::MAX)) as u64;
    // Multiply-shift maps r onto [0, nanos] without modulo bias worth mentioning.
    let pick = ((u128::from(r) * (u128::from(nanos) + 1)) >> 64) as u64;
    Duration::from_nanos(pick)
}

/// How long to wait before the next attempt: a `Retry-After` (capped) plus a uniform
/// spread in `[0, backoff]`, or without one a uniform wait in `[0, backoff]`.
pub fn retry_wait(after: Option<Duration>, backoff: Duration, r: u64) -> Duration {
    let jitter = full_jitter(backoff, r);
    match after {
        Some(a) => a.min(MAX_RETRY_AFTER) + jitter,
        None => jitter,
    }
}

#[derive(Debug)]
struct Queue {
    items: VecDeque<(u64, Snapshot)>,
    next_seq: u64,
    /// Highest sequence of the batch being POSTed, if one is.
    inflight_upto: Option<u64>,
    /// Snapshots evicted by overflow while in flight: counted (sent or dropped) once the
    /// POST's outcome is known, so a delivered snapshot is never reported as dropped.
    evicted_inflight: u64,
}

fn warn_dropped(capacity: usize, count: u64, total: u64) {
    tracing::warn!(
        capacity,
        count,
        dropped_total = total,
        "Push queue full: dropped the oldest snapshot(s)"
    );
}

/// Outcome of one POST.
enum Outcome {
    Sent,
    /// Ingest refused the batch for good (4xx other than 408/429): drop it.
    Refused(StatusCode, String),
    /// Try again after at least this long.
    Retry(Option<Duration>, String),
}

fn retry_after(res: &reqwest::Response) -> Option<Duration> {
    res.headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

async fn post(client: &reqwest::Client, cfg: &PushConfig, body: Vec<u8>) -> Outcome {
    let mut req = client
        .post(&cfg.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body);
    if let Some(t) = &cfg.token {
        req = req.bearer_auth(t);
    }
    match req.send().await {
        Ok(res) if res.status().is_success() => Outcome::Sent,
        Ok(res) => {
            let status = res.status();
            let after = retry_after(&res);
            let text = res.text().await.unwrap_or_default();
            let text: String = text.chars().take(300).collect();
            if status.is_client_error()
                && status != StatusCode::REQUEST_TIMEOUT
                && status != StatusCode::TOO_MANY_REQUESTS
                && status != StatusCode::UNAUTHORIZED
            {
                Outcome::Refused(status, text)
            } else {
                Outcome::Retry(after, format!("{status}: {text}"))
            }
        }
        // The URL may carry a password: reqwest puts it in the message unless removed.
        Err(e) => Outcome::Retry(None, e.without_url().to_string()),
    }
}

/// Runs push mode until `shutdown`, then flushes for at most `drain_timeout`.
pub async fn run(agent: Arc<Agent>, cfg: PushConfig, shutdown: Shutdown) {
    let queue = Arc::new(Mutex::new(Queue {
        items: VecDeque::with_capacity(cfg.queue_capacity.min(4096)),
        next_seq: 0,
        inflight_upto: None,
        evicted_inflight: 0,
    }));
    let wake = Arc::new(Notify::new());
    let metrics = agent.push_metrics().clone();
    let url = procpulse_model::redact::redact_password(&cfg.url);
    tracing::info!(%url, interval_ms = cfg.interval.as_millis() as u64, "Push mode on");

    let producer = {
        let (agent, queue, wake, cfg, shutdown, metrics) = (
            agent.clone(),
            queue.clone(),
            wake.clone(),
            cfg.clone(),
            shutdown.clone(),
            metrics.clone(),
        );
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(cfg.interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = shutdown.wait() => return,
                }
                let snap = match agent.snapshot() {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "No snapshot to push this time");
                        continue;
                    }
                };
                let mut q = queue.lock().unwrap_or_else(|e| e.into_inner());
                if q.items.len() >= cfg.queue_capacity.max(1) {
                    if let Some((seq, _)) = q.items.pop_front() {
                        if q.inflight_upto.is_some_and(|u| seq <= u) {
                            q.evicted_inflight += 1;
                        } else {
                            metrics.dropped.inc();
                            warn_dropped(cfg.queue_capacity, 1, metrics.dropped.get());
                        }
                    }
                }
                let seq = q.next_seq;
                q.next_seq += 1;
                q.items.push_back((seq, snap));
                metrics.queued.set(q.items.len() as i64);
                drop(q);
                wake.notify_one();
            }
        })
    };

    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .unwrap_or_default();
    let mut backoff = FIRST_BACKOFF;
    let mut failing = false;
    let mut deadline: Option<tokio::time::Instant> = None;
    loop {
        if deadline.is_none() && shutdown.is_triggered() {
            deadline = Some(tokio::time::Instant::now() + cfg.drain_timeout);
        }
        // Take a batch (clones; removed only once acknowledged).
        let batch: Vec<(u64, Snapshot)> = {
            let mut q = queue.lock().unwrap_or_else(|e| e.into_inner());
            let batch: Vec<_> = q.items.iter().take(cfg.batch_max.max(1)).cloned().collect();
            q.inflight_upto = batch.last().map(|b| b.0);
            batch
        };
        if batch.is_empty() {
            if deadline.is_some() {
                break;
            }
            tokio::select! {
                _ = wake.notified() => {}
                _ = shutdown.wait() => {}
            }
            continue;
        }
        if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
            tracing::warn!(unsent = batch.len(), "Push drain timed out");
            break;
        }
        let last_seq = batch.last().map(|b| b.0).unwrap_or(0);
        let snaps: Vec<&Snapshot> = batch.iter().map(|b| &b.1).collect();
        let body = serde_json::to_vec(&snaps).unwrap_or_default();
        let outcome = match deadline {
            Some(d) => tokio::time::timeout_at(d, post(&client, &cfg, body))
                .await
                .unwrap_or(Outcome::Retry(None, "drain timeout".into())),
            None => post(&client, &cfg, body).await,
        };
        // Settles the batch: what is still queued is removed and counted in `n` (None:
        // kept for a retry); what overflow evicted meanwhile is counted in `n`, or as
        // dropped when the batch is kept.
        let settle = |n: Option<&Counter>| {
            let mut q = queue.lock().unwrap_or_else(|e| e.into_inner());
            q.inflight_upto = None;
            let evicted = std::mem::take(&mut q.evicted_inflight);
            match n {
                Some(n) => {
                    while q.items.front().is_some_and(|(s, _)| *s <= last_seq) {
                        q.items.pop_front();
                        n.inc();
                    }
                    n.inc_by(evicted);
                }
                None if evicted > 0 => {
                    metrics.dropped.inc_by(evicted);
                    warn_dropped(cfg.queue_capacity, evicted, metrics.dropped.get());
                }
                None => {}
            }
            metrics.queued.set(q.items.len() as i64);
        };
        match outcome {
            Outcome::Sent => {
                settle(Some(&metrics.sent));
                if failing {
                    tracing::info!("Push recovered");
                    failing = false;
                }
                backoff = FIRST_BACKOFF;
            }
            Outcome::Refused(status, text) => {
                tracing::error!(%status, body = %text, count = batch.len(), "Ingest refused snapshots; dropping them");
                settle(Some(&metrics.dropped));
            }
            Outcome::Retry(after, why) => {
                settle(None);
                metrics.failures.inc();
                // Retry-After is honoured even beyond max_backoff (up to a sane cap).
                let wait = retry_wait(after, backoff, random_u64());
                if !failing {
                    tracing::warn!(error = %why, retry_in_ms = wait.as_millis() as u64, "Push failed; retrying");
                    failing = true;
                } else {
                    tracing::debug!(error = %why, retry_in_ms = wait.as_millis() as u64, "Push failed again");
                }
                backoff = (backoff * 2).min(cfg.max_backoff);
                let sleep = tokio::time::sleep(wait);
                match deadline {
                    Some(d) => {
                        let _ = tokio::time::timeout_at(d, sleep).await;
                    }
                    None => {
                        tokio::select! {
                            _ = sleep => {}
                            _ = shutdown.wait() => {}
                        }
                    }
                }
            }
        }
    }
    let _ = producer.await;
    tracing::info!("Push stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_jitter_stays_within_bounds() {
        let cap = Duration::from_millis(1000);
        assert_eq!(full_jitter(cap, 0), Duration::ZERO);
        assert!(full_jitter(cap, u64::MAX) <= cap);
        assert_eq!(full_jitter(Duration::ZERO, u64::MAX), Duration::ZERO);
        for _ in 0..10_000 {
            assert!(full_jitter(cap, random_u64()) <= cap);
        }
    }

    #[test]
    fn full_jitter_is_spread_uniformly() {
        // 10,000 draws into 10 buckets of [0, 1 s]: each bucket near 1,000 (a lock-step
        // fleet would put them all in one).
        let cap = Duration::from_millis(1000);
        let mut buckets = [0u32; 10];
        for _ in 0..10_000 {
            let ms = full_jitter(cap, random_u64()).as_millis() as usize;
            buckets[ms.min(999) / 100] += 1;
        }
        for (i, b) in buckets.iter().enumerate() {
            assert!(
                (800..=1200).contains(b),
                "bucket {i}: {b} of 10000 ({buckets:?})"
            );
        }
        // Two agents' consecutive waits differ.
        let a: Vec<_> = (0..8).map(|_| full_jitter(cap, random_u64())).collect();
        let b: Vec<_> = (0..8).map(|_| full_jitter(cap, random_u64())).collect();
        assert_ne!(a, b);
    }

    #[test]
    fn retry_after_is_waited_out_then_spread() {
        let backoff = Duration::from_secs(2);
        for _ in 0..1000 {
            let w = retry_wait(Some(Duration::from_secs(5)), backoff, random_u64());
            assert!(
                w >= Duration::from_secs(5) && w <= Duration::from_secs(7),
                "{w:?}"
            );
            let w = retry_wait(Some(Duration::from_secs(10_000)), backoff, random_u64());
            assert!(w >= MAX_RETRY_AFTER && w <= MAX_RETRY_AFTER + backoff);
            assert!(retry_wait(None, backoff, random_u64()) <= backoff);
        }
    }
}
