//! Delivery: one [`Outbox`] and one [`deliver`] task per target (an Alertmanager, a
//! webhook), so that a slow or dead receiver never holds up evaluation, ingest, the
//! broadcaster or another receiver.
//!
//! The outbox keeps the **newest notification per alert** (rule, host): pushing is a
//! map insert under a mutex, never a wait, and a resolved notice that arrives while the
//! firing one is still undelivered replaces it. Its size is bounded by the alerts that
//! exist (hosts × rules), not by how long a receiver is down. The task sends what is
//! queued in batches of [`MAX_BATCH`]; a batch that fails (connection error, timeout,
//! 5xx, 408, 429) goes back into the outbox unless a newer notice of the same alert
//! arrived meanwhile, and the task waits with exponential backoff (with jitter) before
//! the next try. A 4xx other than 408/429 means the receiver refuses the body for good:
//! the batch is dropped and logged. Every request has [`REQUEST_TIMEOUT`].
//!
//! An outbox can be **paused** (the broadcaster pauses its outboxes while another replica
//! sends): nothing is posted until it is resumed, and [`Outbox::clear`] drops what it
//! holds. At shutdown the task makes one last attempt at what is queued, within
//! [`FINAL_FLUSH`].

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use tokio::sync::Notify;

use crate::wire::{Notice, alertmanager_body, webhook_body};

/// Most alerts in one request (Prometheus sends up to 256 too).
pub const MAX_BATCH: usize = 256;
/// Deadline of one delivery request, connection included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Deadline of connecting to a receiver.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long the last attempt at shutdown may take.
pub const FINAL_FLUSH: Duration = Duration::from_secs(2);

/// An alert's identity within procpulse: its rule's index and its host.
pub type Key = (usize, String);

/// Where notifications go, and in which shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An Alertmanager: `POST {base}/api/v2/alerts`, a JSON array of alerts.
    Alertmanager(String),
    /// A plain webhook: `POST {url}`, [`crate::wire::webhook_body`].
    Webhook(String),
}

impl Target {
    /// The URL posted to.
    pub fn post_url(&self) -> String {
        match self {
            Target::Alertmanager(base) => format!("{}/api/v2/alerts", base.trim_end_matches('/')),
            Target::Webhook(url) => url.clone(),
        }
    }

    /// `alertmanager` or `webhook` (the metrics' label).
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Alertmanager(_) => "alertmanager",
            Target::Webhook(_) => "webhook",
        }
    }

    fn body(&self, notices: &[Notice]) -> Vec<u8> {
        match self {
            Target::Alertmanager(_) => alertmanager_body(notices),
            Target::Webhook(_) => webhook_body(notices),
        }
    }
}

/// The wait after the n-th failure in a row: `first × 2ⁿ⁻¹`, at most `max`, each
/// between 50 % and 100 % of that (jitter, so that replicas do not retry in step).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// After the first failure.
    pub first: Duration,
    /// The longest wait.
    pub max: Duration,
}

/// The default: 500 ms, doubling up to 30 s.
pub const DEFAULT_BACKOFF: Backoff = Backoff {
    first: Duration::from_millis(500),
    max: Duration::from_secs(30),
};

impl Backoff {
    /// The wait after `failures` (≥ 1) failures in a row, before jitter.
    pub fn ceiling(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(30);
        self.first.saturating_mul(1 << doublings).min(self.max)
    }

    /// The wait after `failures` failures in a row, with jitter from `seed`.
    pub fn wait(&self, failures: u32, seed: u32) -> Duration {
        let c = self.ceiling(failures);
        c / 2 + c.mul_f64(f64::from(seed % 1000) / 2000.0)
    }
}

/// Notifications waiting for one target, newest per alert.
#[derive(Debug)]
pub struct Outbox {
    queue: Mutex<BTreeMap<Key, Notice>>,
    wake: Notify,
    paused: AtomicBool,
    /// Alerts delivered (acknowledged by a 2xx).
    pub sent: Counter,
    /// Requests that failed (each retried batch counts once per try).
    pub failures: Counter,
    /// Alerts dropped because the receiver refused them for good (4xx).
    pub refused: Counter,
}

impl Default for Outbox {
    fn default() -> Self {
        Outbox {
            queue: Mutex::default(),
            wake: Notify::new(),
            paused: AtomicBool::new(false),
            sent: Counter::default(),
            failures: Counter::default(),
            refused: Counter::default(),
        }
    }
}

impl Outbox {
    fn queue(&self) -> MutexGuard<'_, BTreeMap<Key, Notice>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `notices`, each replacing an undelivered one of the same alert; never waits.
    pub fn push(&self, notices: impl IntoIterator<Item = (Key, Notice)>) {
        let mut q = self.queue();
        let before = q.len();
        let mut any = false;
        for (k, n) in notices {
            q.insert(k, n);
            any = true;
        }
        drop(q);
        if any || before > 0 {
            self.wake.notify_one();
        }
    }

    /// Stops posting until [`Outbox::resume`]; what is queued stays (and pushes still
    /// queue).
    pub fn pause(&self) {
        self.paused.store(true, Ordering::Release);
    }

    /// Posts again.
    pub fn resume(&self) {
        self.paused.store(false, Ordering::Release);
        self.wake.notify_one();
    }

    /// Whether posting is paused.
    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Acquire)
    }

    /// Drops every queued notification.
    pub fn clear(&self) {
        self.queue().clear();
    }

    /// A copy of what waits, in key order.
    pub fn queued(&self) -> Vec<(Key, Notice)> {
        self.queue()
            .iter()
            .map(|(k, n)| (k.clone(), n.clone()))
            .collect()
    }

    /// Notifications waiting.
    pub fn len(&self) -> usize {
        self.queue().len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn take(&self, n: usize) -> Vec<(Key, Notice)> {
        let mut q = self.queue();
        let mut out = Vec::with_capacity(n.min(q.len()));
        while out.len() < n {
            match q.pop_first() {
                Some(kv) => out.push(kv),
                None => break,
            }
        }
        out
    }

    /// Puts a failed batch back, except alerts with a newer notice queued since.
    fn put_back(&self, batch: Vec<(Key, Notice)>) {
        let mut q = self.queue();
        for (k, n) in batch {
            q.entry(k).or_insert(n);
        }
    }
}

/// An HTTP client with the delivery deadlines.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("procpulse-alerts/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// How one request ended.
enum Outcome {
    Delivered,
    Retry(String),
    Refused(String),
}

async fn post(client: &reqwest::Client, target: &Target, notices: &[Notice]) -> Outcome {
    let res = client
        .post(target.post_url())
        .header("content-type", "application/json")
        .body(target.body(notices))
        .send()
        .await;
    match res {
        Err(e) => Outcome::Retry(e.to_string()),
        Ok(r) if r.status().is_success() => Outcome::Delivered,
        Ok(r) => {
            let status = r.status();
            let text: String = r
                .text()
                .await
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect();
            let why = format!("{status}: {text}");
            if status.is_client_error() && status.as_u16() != 408 && status.as_u16() != 429 {
                Outcome::Refused(why)
            } else {
                Outcome::Retry(why)
            }
        }
    }
}

/// Posts one batch and accounts for it; a failed one goes back into the outbox.
async fn send_batch(
    outbox: &Outbox,
    target: &Target,
    client: &reqwest::Client,
    batch: Vec<(Key, Notice)>,
) -> Result<(), String> {
    let notices: Vec<Notice> = batch.iter().map(|(_, n)| n.clone()).collect();
    match post(client, target, &notices).await {
        Outcome::Delivered => {
            outbox.sent.inc_by(batch.len() as u64);
            Ok(())
        }
        Outcome::Refused(why) => {
            outbox.refused.inc_by(batch.len() as u64);
            tracing::error!(target = target.kind(), url = %target.post_url(), alerts = batch.len(), %why, "The receiver refused the alerts; dropped");
            Ok(())
        }
        Outcome::Retry(why) => {
            outbox.failures.inc();
            outbox.put_back(batch);
            Err(why)
        }
    }
}

/// At shutdown: one attempt at what is queued (unless paused), within [`FINAL_FLUSH`].
async fn final_flush(outbox: &Outbox, target: &Target, client: &reqwest::Client) {
    if outbox.is_paused() || outbox.is_empty() {
        return;
    }
    let flush = async {
        loop {
            let batch = outbox.take(MAX_BATCH);
            if batch.is_empty() || send_batch(outbox, target, client, batch).await.is_err() {
                return;
            }
        }
    };
    if tokio::time::timeout(FINAL_FLUSH, flush).await.is_err() || !outbox.is_empty() {
        tracing::warn!(target = target.kind(), url = %target.post_url(), left = outbox.len(), "Alerts not delivered before shutdown");
    }
}

/// Delivers what `outbox` holds to `target` until `shutdown` completes.
pub async fn deliver(
    outbox: Arc<Outbox>,
    target: Target,
    client: reqwest::Client,
    backoff: Backoff,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut failures: u32 = 0;
    loop {
        tokio::select! {
            _ = &mut shutdown => return final_flush(&outbox, &target, &client).await,
            _ = outbox.wake.notified() => {}
        }
        while !outbox.is_paused() {
            let batch = outbox.take(MAX_BATCH);
            if batch.is_empty() {
                break;
            }
            match send_batch(&outbox, &target, &client, batch).await {
                Ok(()) => failures = 0,
                Err(why) => {
                    failures = failures.saturating_add(1);
                    let seed = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.subsec_nanos());
                    let wait = backoff.wait(failures, seed);
                    tracing::warn!(target = target.kind(), url = %target.post_url(), failures, retry_in_ms = wait.as_millis() as u64, %why, "Cannot deliver alerts; retrying");
                    tokio::select! {
                        _ = &mut shutdown => return final_flush(&outbox, &target, &client).await,
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use warp::Filter;

    fn notice(host: &str, firing: bool) -> (Key, Notice) {
        let mut labels = BTreeMap::new();
        labels.insert("host".to_owned(), host.to_owned());
        (
            (0, host.to_owned()),
            Notice {
                labels,
                annotations: BTreeMap::new(),
                starts_at: "2026-12-01T10:00:00Z".to_owned(),
                ends_at: "2026-12-01T10:04:00Z".to_owned(),
                generator_url: None,
                firing,
            },
        )
    }

    #[test]
    fn backoff_doubles_to_its_ceiling_with_jitter_below_it() {
        let b = DEFAULT_BACKOFF;
        let ms = |n| b.ceiling(n).as_millis();
        assert_eq!(
            (ms(1), ms(2), ms(3), ms(7), ms(8), ms(1000)),
            (500, 1000, 2000, 30_000, 30_000, 30_000)
        );
        for seed in [0, 499, 999, 1_000_000_007] {
            let w = b.wait(3, seed);
            assert!(
                w >= Duration::from_millis(1000) && w <= Duration::from_millis(2000),
                "{w:?}"
            );
        }
    }

    #[test]
    fn the_outbox_keeps_the_newest_notice_per_alert() {
        let o = Outbox::default();
        o.push([notice("a", true), notice("b", true)]);
        o.push([notice("a", false)]);
        assert_eq!(o.len(), 2);
        let batch = o.take(1);
        assert_eq!(batch[0].0.1, "a");
        assert!(!batch[0].1.firing, "resolved replaced firing");
        // A failed batch goes back as it was.
        o.push([notice("c", true)]);
        o.put_back(batch);
        assert_eq!(o.len(), 3);
        let again = o.take(10);
        assert!(!again[0].1.firing);
        // A failed batch does not overwrite a newer notice queued meanwhile.
        o.push([notice("a", true)]);
        o.put_back(vec![notice("a", false)]);
        assert!(o.take(10)[0].1.firing);
    }

    /// A receiver that answers the first `fail` requests with `status`, then 200; returns
    /// its URL, the bodies it took and the request count.
    async fn receiver(
        fail: usize,
        status: u16,
    ) -> (String, Arc<Mutex<Vec<serde_json::Value>>>, Arc<AtomicUsize>) {
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let count = Arc::new(AtomicUsize::new(0));
        let (b, c) = (Arc::clone(&bodies), Arc::clone(&count));
        let route = warp::post()
            .and(warp::body::json())
            .map(move |v: serde_json::Value| {
                let n = c.fetch_add(1, Ordering::SeqCst);
                if n < fail {
                    return warp::http::StatusCode::from_u16(status).unwrap();
                }
                b.lock().unwrap().push(v);
                warp::http::StatusCode::OK
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(warp::serve(route).incoming(listener).run());
        (format!("http://{addr}"), bodies, count)
    }

    async fn until(mut ok: impl FnMut() -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !ok() {
            assert!(std::time::Instant::now() < deadline, "timed out");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn failed_deliveries_are_retried_with_backoff_until_acknowledged() {
        let (url, bodies, count) = receiver(3, 503).await;
        let outbox = Arc::new(Outbox::default());
        let backoff = Backoff {
            first: Duration::from_millis(40),
            max: Duration::from_millis(80),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(deliver(
            Arc::clone(&outbox),
            Target::Alertmanager(url.clone() + "/"),
            client(),
            backoff,
            async move {
                let _ = stopped.await;
            },
        ));
        let started = std::time::Instant::now();
        outbox.push([notice("vm-1", true), notice("vm-2", true)]);
        until(|| !bodies.lock().unwrap().is_empty()).await;
        let took = started.elapsed();
        assert_eq!(
            count.load(Ordering::SeqCst),
            4,
            "three 503s, then delivered"
        );
        // Waits of at least 20 + 40 + 40 ms (half of each ceiling).
        assert!(took >= Duration::from_millis(100), "{took:?}");
        // The receiver keeps the body before it answers; the sender counts the notices
        // sent only once it has read the answer.
        until(|| outbox.sent.get() == 2).await;
        assert_eq!((outbox.failures.get(), outbox.sent.get()), (3, 2));
        let body = bodies.lock().unwrap()[0].clone();
        assert_eq!(body.as_array().map(Vec::len), Some(2), "{body}");
        assert!(outbox.is_empty());
        let _ = stop.send(());
        task.await.unwrap();
    }

    #[tokio::test]
    async fn a_receiver_that_refuses_the_body_is_not_retried_and_a_dead_one_never_blocks_push() {
        let (url, bodies, count) = receiver(1, 400).await;
        let outbox = Arc::new(Outbox::default());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(deliver(
            Arc::clone(&outbox),
            Target::Webhook(url + "/hook"),
            client(),
            DEFAULT_BACKOFF,
            async move {
                let _ = stopped.await;
            },
        ));
        outbox.push([notice("vm-1", false)]);
        until(|| outbox.refused.get() == 1).await;
        outbox.push([notice("vm-2", true)]);
        until(|| !bodies.lock().unwrap().is_empty()).await;
        assert_eq!(count.load(Ordering::SeqCst), 2);
        let body = bodies.lock().unwrap()[0].clone();
        assert_eq!(body["status"], "firing");
        assert_eq!(body["alerts"][0]["labels"]["host"], "vm-2");
        let _ = stop.send(());
        task.await.unwrap();

        // Nothing listens: pushing stays a map insert, and the outbox holds one notice per
        // alert however often it is pushed.
        let dead = Arc::new(Outbox::default());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(deliver(
            Arc::clone(&dead),
            Target::Alertmanager("http://127.0.0.1:9".to_owned()),
            client(),
            Backoff {
                first: Duration::from_millis(5),
                max: Duration::from_millis(10),
            },
            async move {
                let _ = stopped.await;
            },
        ));
        let t = std::time::Instant::now();
        for _ in 0..1000 {
            dead.push([notice("vm-1", true), notice("vm-2", true)]);
        }
        assert!(t.elapsed() < Duration::from_secs(1));
        until(|| dead.failures.get() >= 3).await;
        assert_eq!(dead.len(), 2, "one notice per alert, none lost");
        let _ = stop.send(());
        task.await.unwrap();
    }

    #[tokio::test]
    async fn a_paused_outbox_posts_nothing_until_resumed_and_shutdown_flushes() {
        let (url, bodies, count) = receiver(0, 200).await;
        let outbox = Arc::new(Outbox::default());
        outbox.pause();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(deliver(
            Arc::clone(&outbox),
            Target::Webhook(url.clone()),
            client(),
            DEFAULT_BACKOFF,
            async move {
                let _ = stopped.await;
            },
        ));
        outbox.push([notice("vm-1", true)]);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(count.load(Ordering::SeqCst), 0, "paused");
        outbox.resume();
        until(|| bodies.lock().unwrap().len() == 1).await;
        // Cleared notices are never sent.
        outbox.pause();
        outbox.push([notice("vm-2", true)]);
        outbox.clear();
        outbox.resume();
        // Queued at shutdown: one last attempt delivers it.
        outbox.pause();
        outbox.push([notice("vm-3", false)]);
        outbox.paused.store(false, Ordering::Release); // resumed without a wake-up
        let _ = stop.send(());
        task.await.unwrap();
        let hosts: Vec<String> = bodies
            .lock()
            .unwrap()
            .iter()
            .map(|b| {
                b["alerts"][0]["labels"]["host"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(hosts, vec!["vm-1", "vm-3"]);
    }
}
