//! The fan-out: one bounded `tokio::sync::broadcast` queue of pre-serialized frames that
//! every connection reads, the live route split in a `watch` (coalesced: a slow client
//! sees only the newest value), and the in-memory history a new client starts from.
//!
//! The poller publishes under the same lock that [`Hub::join`] takes, so a new client's
//! history ends exactly where its first `samples` frame begins.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{broadcast, watch};
use tokio_tungstenite::tungstenite::Utf8Bytes;

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
    history_frame: Option<Utf8Bytes>,
    latest_frame: Option<Utf8Bytes>,
    routes: (u64, u64),
    loaded: bool,
}

/// Shared by the poller (writer) and every connection (readers).
#[derive(Debug)]
pub struct Hub {
    tx: broadcast::Sender<Utf8Bytes>,
    routes: watch::Sender<Utf8Bytes>,
    state: Mutex<State>,
    metrics: Arc<Metrics>,
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
    /// An empty hub (not loaded: see [`Hub::load`]).
    pub fn new(metrics: Arc<Metrics>) -> Arc<Hub> {
        let (tx, _) = broadcast::channel(QUEUE_FRAMES);
        let (routes, _) = watch::channel(frames::routes(0, 0));
        metrics.queue_capacity.set(QUEUE_FRAMES as i64);
        Arc::new(Hub {
            tx,
            routes,
            state: Mutex::new(State::default()),
            metrics,
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets the starting history and route counts (the poller, once, at start-up).
    pub fn load(&self, history: History, routes: (u64, u64)) {
        let mut st = self.state();
        st.history = history;
        st.history_frame = None;
        st.latest_frame = None;
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
            match row.route.as_str() {
                "a" => st.routes.0 += 1,
                "b" => st.routes.1 += 1,
                _ => {}
            }
        }
        st.history_frame = None;
        st.latest_frame = None;
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
    use crate::row::tests::row;
    use prometheus_client::registry::Registry;

    fn hub() -> Arc<Hub> {
        let h = Hub::new(Metrics::register(&mut Registry::default()));
        h.load(History::default(), (0, 0));
        h
    }

    fn ids(frame: &str) -> Vec<i64> {
        let v: serde_json::Value = serde_json::from_str(frame).unwrap();
        v["samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect()
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
