//! The fan-out: one bounded `tokio::sync::broadcast` queue of pre-serialized frames that
//! every connection reads, the live route split in a `watch` (coalesced: a slow client
//! sees only the newest value), and the in-memory history a new client starts from.
//!
//! The poller publishes under the same lock that [`Hub::join`] takes, so a new client's
//! history ends exactly where its first `samples` frame begins.
//!
//! The hub also holds the [`Fleet`] (every host's newest state, `/api/v1/fleet`), whose
//! JSON is built at most once per poll interval and shared by every request, and
//! forgets hosts not seen for `--host-ttl` ([`Hub::evict`]): they leave the history, the
//! `hello` host list, `/api/v1/latest` and the fleet together.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use procpulse_storage::row::{from_db_time, to_db_time};
use time::OffsetDateTime;

use tokio::sync::{broadcast, watch};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::fleet::{FLEET_MAX_AGE, Fleet};
use crate::frames;
use crate::history::History;
use crate::metrics::Metrics;
use crate::row::Row;

/// Frames a client may fall behind before it is skipped to the newest state. Small: the
/// queue is shared, but a client that is 8 polls (4 s at the default interval) behind
/// is better served by the newest state than by a backlog. The queue holds references to
/// frames serialized once, so its memory does not grow with the number of clients.
pub const QUEUE_FRAMES: usize = 8;

#[derive(Debug, Default)]
struct State {
    history: History,
    fleet: Fleet,
    history_frame: Option<Utf8Bytes>,
    latest_frame: Option<Utf8Bytes>,
    /// The fleet answer and when it was built.
    fleet_json: Option<(Instant, Arc<str>)>,
    routes: (u64, u64),
    loaded: bool,
}

impl State {
    /// Drops every cached answer after a change.
    fn changed(&mut self) {
        self.history_frame = None;
        self.latest_frame = None;
        self.fleet_json = None;
    }
}

/// How the hub judges and forgets hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostSettings {
    /// A host is stale after this many of its intervals without a row.
    pub stale_after_intervals: u32,
    /// Hosts without a row (by `received_at`) for this long are forgotten; `None`: never.
    pub host_ttl: Option<Duration>,
}

impl HostSettings {
    /// At `now`, hosts last seen before this instant are forgotten: `host_ttl` before
    /// `now`. `None`: none is (no ttl, or one reaching before the earliest date `time`
    /// represents — a `--host-ttl` of a million years keeps every host).
    pub fn forget_before(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        let ttl = time::Duration::try_from(self.host_ttl?).ok()?;
        now.checked_sub(ttl)
    }
}

impl Default for HostSettings {
    fn default() -> Self {
        HostSettings {
            stale_after_intervals: crate::fleet::DEFAULT_STALE_AFTER_INTERVALS,
            host_ttl: Some(crate::DEFAULT_HOST_TTL),
        }
    }
}

/// Shared by the poller (writer) and every connection (readers).
#[derive(Debug)]
pub struct Hub {
    tx: broadcast::Sender<Utf8Bytes>,
    routes: watch::Sender<Utf8Bytes>,
    state: Mutex<State>,
    metrics: Arc<Metrics>,
    settings: HostSettings,
}

/// What a new client starts with.
#[derive(Debug)]
pub struct Joined {
    /// The `hello` frame.
    pub hello: Utf8Bytes,
    /// The `history` frame (rows up to the point where `frames` begins).
    pub history: Utf8Bytes,
    /// The `routes` frame; changes are signalled on it.
    pub routes: watch::Receiver<Utf8Bytes>,
    /// The `samples` frames published after `history`.
    pub frames: broadcast::Receiver<Utf8Bytes>,
}

impl Hub {
    /// An empty hub (not loaded: see [`Hub::load`]) with the default [`HostSettings`].
    pub fn new(metrics: Arc<Metrics>) -> Arc<Hub> {
        Self::with_settings(metrics, HostSettings::default())
    }

    /// An empty hub judging and forgetting hosts by `settings`.
    pub fn with_settings(metrics: Arc<Metrics>, settings: HostSettings) -> Arc<Hub> {
        let (tx, _) = broadcast::channel(QUEUE_FRAMES);
        let (routes, _) = watch::channel(frames::routes(0, 0));
        metrics.queue_capacity.set(QUEUE_FRAMES as i64);
        Arc::new(Hub {
            tx,
            routes,
            state: Mutex::new(State::default()),
            metrics,
            settings,
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How hosts are judged and forgotten.
    pub fn settings(&self) -> HostSettings {
        self.settings
    }

    /// Sets the starting history, fleet and route counts (the poller, once, at start-up).
    pub fn load(&self, history: History, fleet: Fleet, routes: (u64, u64)) {
        let mut st = self.state();
        st.history = history;
        st.fleet = fleet;
        st.changed();
        self.metrics.hosts.set(st.fleet.len() as i64);
        st.routes = routes;
        st.loaded = true;
        self.routes.send_replace(frames::routes(routes.0, routes.1));
    }

    /// Whether the starting history is loaded (clients are accepted from then on).
    pub fn is_loaded(&self) -> bool {
        self.state().loaded
    }

    /// Fans out new rows (ascending ids) as one `samples` frame, serialized once.
    pub fn publish(&self, rows: &[Row]) {
        if rows.is_empty() {
            return;
        }
        let encoded: Vec<Arc<str>> = rows.iter().map(|r| Arc::from(r.to_json())).collect();
        let frame = frames::samples("samples", encoded.iter().map(|s| &**s));
        let mut st = self.state();
        for (row, json) in rows.iter().zip(encoded) {
            st.history.push(row, json);
            st.fleet.push(row);
            match row.route.as_str() {
                "a" => st.routes.0 += 1,
                "b" => st.routes.1 += 1,
                _ => {}
            }
        }
        st.changed();
        self.metrics.hosts.set(st.fleet.len() as i64);
        // Err only means that no client is connected.
        let _ = self.tx.send(frame);
        let routes = st.routes;
        self.routes.send_if_modified(|current| {
            let next = frames::routes(routes.0, routes.1);
            let changed = *current != next;
            if changed {
                *current = next;
            }
            changed
        });
        drop(st);
        self.metrics.rows.inc_by(rows.len() as u64);
        let now = time::OffsetDateTime::now_utc();
        for row in rows {
            let age = (now - row.received_at).as_seconds_f64().max(0.0);
            self.metrics.delivery_seconds.observe(age);
        }
    }

    /// Subscribes a new client.
    pub fn join(&self) -> Joined {
        let mut guard = self.state();
        let st = &mut *guard;
        let frames_rx = self.tx.subscribe();
        let mut routes = self.routes.subscribe();
        routes.mark_changed();
        let history = st
            .history_frame
            .get_or_insert_with(|| st.history.frame())
            .clone();
        let hello = frames::hello(time::OffsetDateTime::now_utc(), &st.history.hosts());
        Joined {
            hello,
            history,
            routes,
            frames: frames_rx,
        }
    }

    /// After `Lagged`: drops every queued frame of `rx` and returns how many were dropped
    /// and a `samples` frame with each host's newest row (the newest state), taken under
    /// the publish lock so that nothing is missed or repeated after it.
    pub fn catch_up(&self, rx: &mut broadcast::Receiver<Utf8Bytes>) -> (u64, Utf8Bytes) {
        let mut guard = self.state();
        let st = &mut *guard;
        let mut dropped = 0;
        loop {
            match rx.try_recv() {
                Ok(_) => dropped += 1,
                Err(broadcast::error::TryRecvError::Lagged(n)) => dropped += n,
                Err(_) => break,
            }
        }
        let latest = st.latest_frame.get_or_insert_with(|| {
            let latest = st.history.latest();
            frames::samples("samples", latest.iter().map(|(_, s)| &**s))
        });
        (dropped, latest.clone())
    }

    /// Forgets the hosts whose newest `received_at` is more than `--host-ttl` before
    /// `now` (the poller calls it once per poll); returns their names.
    pub fn evict(&self, now: OffsetDateTime) -> Vec<String> {
        let Some(horizon) = self.settings.forget_before(now) else {
            return Vec::new();
        };
        let mut st = self.state();
        let gone = st.fleet.unseen_since(horizon);
        if gone.is_empty() {
            return gone;
        }
        for host in &gone {
            st.history.remove(host);
            st.fleet.remove(host);
        }
        st.changed();
        self.metrics.hosts.set(st.fleet.len() as i64);
        drop(st);
        self.metrics.evicted.inc_by(gone.len() as u64);
        gone
    }

    /// Every host with whether the fleet answer calls it stale at `now`.
    pub fn staleness(&self, now: OffsetDateTime) -> Vec<(String, bool)> {
        self.state()
            .fleet
            .staleness(now, self.settings.stale_after_intervals)
    }

    /// The `/api/v1/fleet` answer at `now`: built at most once per
    /// [`FLEET_MAX_AGE`] and after each change, shared by every request.
    pub fn fleet_json(&self, now: OffsetDateTime, now_mono: Instant) -> Arc<str> {
        let mut st = self.state();
        if let Some((built, json)) = &st.fleet_json {
            if now_mono.saturating_duration_since(*built) < FLEET_MAX_AGE {
                return Arc::clone(json);
            }
        }
        let json: Arc<str> = st
            .fleet
            .json(now, self.settings.stale_after_intervals)
            .into();
        st.fleet_json = Some((now_mono, Arc::clone(&json)));
        json
    }

    /// `host`'s raw rows collected in `[from, to)` from the in-memory history, as of the
    /// last poll, when it holds all of them (see [`History::range`]); `None` sends the
    /// caller to the database. Counted either way.
    pub fn raw_range(
        &self,
        host: &str,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Option<Vec<Arc<str>>> {
        // As the database compares them: at the stored millisecond precision.
        let (from, to) = (from_db_time(to_db_time(from)), from_db_time(to_db_time(to)));
        let st = self.state();
        let got = st
            .loaded
            .then(|| st.history.range(host, from, to))
            .flatten();
        drop(st);
        match got {
            Some(_) => self.metrics.history_from_memory.inc(),
            None => self.metrics.history_from_database.inc(),
        };
        got
    }

    /// See [`History::mark_complete`].
    pub fn mark_complete(&self, host: &str, from: OffsetDateTime) {
        self.state().history.mark_complete(host, from);
    }

    /// See [`History::lost_rows`].
    pub fn lost_rows(&self, barrier: OffsetDateTime) {
        self.state().history.lost_rows(barrier);
    }

    /// `{"samples":[each host's newest row]}` (the REST fallback).
    pub fn latest_json(&self) -> String {
        let latest = self.state().history.latest();
        let mut out = String::from(r#"{"samples":["#);
        for (i, (_, row)) in latest.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(row);
        }
        out.push_str("]}");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frames::tests::ids;
    use crate::row::tests::row;
    use prometheus_client::registry::Registry;

    fn hub() -> Arc<Hub> {
        let h = Hub::new(Metrics::register(&mut Registry::default()));
        h.load(History::default(), Fleet::default(), (0, 0));
        h
    }

    #[test]
    fn join_meets_the_stream_exactly_at_the_cursor() {
        let h = hub();
        h.publish(&[row(1, "vm-1", 0), row(2, "vm-1", 1)]);
        let mut j = h.join();
        h.publish(&[row(3, "vm-1", 2)]);
        assert_eq!(ids(&j.history), vec![1, 2]);
        assert_eq!(ids(&j.frames.try_recv().unwrap()), vec![3]);
        assert!(j.frames.try_recv().is_err());
        let routes: serde_json::Value =
            serde_json::from_str(&j.routes.borrow_and_update()).unwrap();
        assert_eq!(
            (routes["a"].as_u64(), routes["b"].as_u64()),
            (Some(1), Some(2))
        );
    }

    #[test]
    fn a_lagging_receiver_skips_to_the_newest_state() {
        let h = hub();
        let mut j = h.join();
        for i in 0..(QUEUE_FRAMES as i64 * 3) {
            h.publish(&[row(i + 1, if i % 2 == 0 { "vm-1" } else { "vm-2" }, i)]);
        }
        assert!(matches!(
            j.frames.try_recv(),
            Err(broadcast::error::TryRecvError::Lagged(_))
        ));
        let (dropped, latest) = h.catch_up(&mut j.frames);
        assert!(dropped > 0);
        assert_eq!(ids(&latest), vec![23, 24]);
        assert!(j.frames.try_recv().is_err(), "nothing older is left queued");
        h.publish(&[row(25, "vm-1", 30)]);
        assert_eq!(ids(&j.frames.try_recv().unwrap()), vec![25]);
    }

    fn hub_with(ttl: Option<Duration>) -> (Arc<Hub>, Arc<Metrics>) {
        let metrics = Metrics::register(&mut Registry::default());
        let h = Hub::with_settings(
            Arc::clone(&metrics),
            HostSettings {
                host_ttl: ttl,
                ..HostSettings::default()
            },
        );
        h.load(History::default(), Fleet::default(), (0, 0));
        (h, metrics)
    }

    fn fleet_hosts(json: &str) -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        v["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["host"].as_str().unwrap().to_owned())
            .collect()
    }

    fn hello_hosts(hello: &str) -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(hello).unwrap();
        serde_json::from_value(v["hosts"].clone()).unwrap()
    }

    #[test]
    fn hosts_unseen_for_the_ttl_leave_history_hello_latest_and_fleet() {
        let (h, metrics) = hub_with(Some(Duration::from_secs(3_600)));
        let t0 = row(1, "vm-1", 0).received_at;
        // vm-1 last seen at t0, vm-2 two hours later.
        h.publish(&[row(1, "vm-1", 0), row(2, "vm-2", 7_200)]);
        let at = |secs: i64| t0 + time::Duration::seconds(secs);
        assert!(h.evict(at(3_600)).is_empty(), "exactly the ttl is kept");
        assert_eq!(h.evict(at(3_601)), vec!["vm-1".to_owned()]);
        assert_eq!(metrics.evicted.get(), 1);
        assert_eq!(metrics.hosts.get(), 1);
        let j = h.join();
        assert_eq!(hello_hosts(&j.hello), vec!["vm-2".to_owned()]);
        assert_eq!(ids(&j.history), vec![2]);
        assert_eq!(ids(&h.latest_json()), vec![2]);
        let fleet = h.fleet_json(at(3_601), Instant::now());
        assert_eq!(fleet_hosts(&fleet), vec!["vm-2".to_owned()]);
        // A new row brings the host back.
        h.publish(&[row(3, "vm-1", 7_300)]);
        assert_eq!(
            fleet_hosts(&h.fleet_json(at(7_300), Instant::now())),
            ["vm-1", "vm-2"]
        );
        assert_eq!(metrics.hosts.get(), 2);
        // Without a ttl nothing is ever evicted.
        let (h, _) = hub_with(None);
        h.publish(&[row(1, "vm-1", 0)]);
        assert!(h.evict(at(1_000_000_000)).is_empty());
        assert_eq!(hello_hosts(&h.join().hello), vec!["vm-1".to_owned()]);
    }

    #[test]
    fn a_ttl_beyond_the_representable_dates_forgets_nothing() {
        // 5,000,000 days reach before year -9999; std's Duration::MAX does not even fit
        // time's Duration. Neither may panic the poller: they keep every host.
        for ttl in [Duration::from_secs(5_000_000 * 86_400), Duration::MAX] {
            let (h, _) = hub_with(Some(ttl));
            h.publish(&[row(1, "vm-1", 0)]);
            let t0 = row(1, "vm-1", 0).received_at;
            assert_eq!(h.settings().forget_before(t0), None);
            assert!(h.evict(t0 + time::Duration::days(3_000)).is_empty());
            assert_eq!(hello_hosts(&h.join().hello), vec!["vm-1".to_owned()]);
        }
        let day = HostSettings {
            host_ttl: Some(Duration::from_secs(86_400)),
            ..HostSettings::default()
        };
        let t = time::macros::datetime!(2026-11-23 10:00:00 UTC);
        assert_eq!(
            day.forget_before(t),
            Some(time::macros::datetime!(2026-11-22 10:00:00 UTC))
        );
    }

    #[test]
    fn the_fleet_answer_is_built_once_per_max_age_or_change() {
        let (h, _) = hub_with(None);
        h.publish(&[row(1, "vm-1", 0)]);
        let t0 = row(1, "vm-1", 0).received_at;
        let mono = Instant::now();
        let a = h.fleet_json(t0, mono);
        let age = FLEET_MAX_AGE;
        let b = h.fleet_json(
            t0 + time::Duration::seconds(1),
            mono + age - Duration::from_millis(1),
        );
        assert!(Arc::ptr_eq(&a, &b), "shared within the max age");
        let c = h.fleet_json(t0 + time::Duration::seconds(60), mono + age);
        assert!(!Arc::ptr_eq(&a, &c), "rebuilt after it");
        let v: serde_json::Value = serde_json::from_str(&c).unwrap();
        assert_eq!(v["server_time"], "2026-11-23T10:01:00Z");
        assert_eq!(v["hosts"][0]["stale"], true);
        h.publish(&[row(2, "vm-2", 1)]);
        let d = h.fleet_json(t0, mono + age + Duration::from_millis(1));
        assert_eq!(fleet_hosts(&d), ["vm-1", "vm-2"], "rebuilt after a change");
    }

    #[test]
    fn routes_are_coalesced() {
        let h = hub();
        let mut j = h.join();
        j.routes.borrow_and_update();
        for i in 1..=10 {
            h.publish(&[row(i, "vm-1", i)]);
        }
        assert!(j.routes.has_changed().unwrap());
        let v: serde_json::Value = serde_json::from_str(&j.routes.borrow_and_update()).unwrap();
        assert_eq!((v["a"].as_u64(), v["b"].as_u64()), (Some(5), Some(5)));
        assert!(
            !j.routes.has_changed().unwrap(),
            "one update for ten changes"
        );
    }
}
