//! `GET /ws`: the WebSocket of docs/design.md §4.
//!
//! warp answers the HTTP upgrade (this module checks the headers, the `Origin` and the
//! client limit and writes the `101`); the upgraded connection is then framed by
//! tokio-tungstenite (`WebSocketStream::from_raw_socket`) with small buffers, so that an
//! idle client costs a few KiB:
//! - read buffer [`READ_BUFFER_BYTES`], incoming messages at most [`MAX_INCOMING_BYTES`]
//!   (clients only send pongs and close frames);
//! - frames larger than [`FRAGMENT_BYTES`] (a big `history`) are sent as continuation
//!   fragments, each flushed before the next, so the write buffer never holds more than
//!   one fragment plus a small frame (a `samples` frame and the `routes` change of the
//!   same poll leave in one write).
//!
//! Per client: `hello`, `history`, `routes`, then `samples` frames as the poller publishes
//! them and `routes` whenever the split changes. A client that falls more than
//! [`crate::hub::QUEUE_FRAMES`] frames behind skips to the newest state. Pings go out every
//! `ping_interval`; a client silent for `idle_timeout` (or whose socket does not take a
//! frame within it) is dropped. On shutdown every client gets a Going Away close frame.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Sink, SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use procpulse_service::{ApiError, Shutdown};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast, mpsc};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use warp::http::{HeaderMap, HeaderValue, StatusCode, header};
use warp::hyper::upgrade::OnUpgrade;
use warp::reply::Response;
use warp::{Filter, Rejection};

use crate::hub::{Hub, Joined};
use crate::metrics::Metrics;
use crate::origin::Origins;

/// Read buffer per client: clients send only control frames (pong, close) of ≤ 125 bytes.
pub const READ_BUFFER_BYTES: usize = 1024;
/// Largest message a client may send; anything bigger closes the connection.
pub const MAX_INCOMING_BYTES: usize = 4096;
/// Largest frame written in one piece; bigger messages are fragmented. Bounds the write
/// buffer per client.
pub const FRAGMENT_BYTES: usize = 8 * 1024;
/// The fragment size of the frames a client joins with (`hello`, `history`, `routes`).
/// The write buffer keeps the capacity of the largest piece it ever held, so sending the
/// one big `history` in 8 KiB pieces left every client holding 8 KiB for good (14 KiB a
/// client in all, measured); in 2 KiB pieces a client stays at ~7 KiB unless its
/// `samples` frames are bigger (BENCHMARKS.md "broadcaster").
pub const JOIN_FRAGMENT_BYTES: usize = 2 * 1024;
/// How long the Going Away close may take on shutdown.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// The tungstenite configuration of every connection.
pub fn websocket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(FRAGMENT_BYTES)
        .max_write_buffer_size(2 * FRAGMENT_BYTES + 4096)
        .max_message_size(Some(MAX_INCOMING_BYTES))
        .max_frame_size(Some(MAX_INCOMING_BYTES))
}

/// Liveness and admission settings.
#[derive(Debug, Clone)]
pub struct WsSettings {
    /// Interval between pings.
    pub ping_interval: Duration,
    /// Silence after which a client is dropped.
    pub idle_timeout: Duration,
    /// Most clients at once; more are answered 503.
    pub max_clients: usize,
    /// Origins allowed to open the socket (empty: any).
    pub origins: Origins,
}

/// What the `/ws` route needs.
#[derive(Debug, Clone)]
pub struct WsState {
    /// The fan-out.
    pub hub: Arc<Hub>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Settings.
    pub settings: Arc<WsSettings>,
    /// Fires on shutdown.
    pub shutdown: Shutdown,
    /// One clone per live connection: the server waits for all of them to drop.
    pub alive: mpsc::Sender<()>,
    /// One permit per client ([`WsSettings::max_clients`] in all); a connection holds
    /// its permit until it ends, so admission is one atomic step (the clients gauge only
    /// reports).
    pub slots: Arc<Semaphore>,
}

impl WsState {
    /// The client slots for `settings` (see [`WsState::slots`]).
    pub fn slots_for(settings: &WsSettings) -> Arc<Semaphore> {
        Arc::new(Semaphore::new(
            settings.max_clients.min(Semaphore::MAX_PERMITS),
        ))
    }
}

/// `GET /ws`
pub fn route(state: WsState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    warp::path!("ws")
        .and(warp::get())
        .and(warp::header::headers_cloned())
        .and(warp::ext::optional::<OnUpgrade>())
        .and(warp::any().map(move || state.clone()))
        .and_then(upgrade)
}

fn header_has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.to_str()
            .map(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
            .unwrap_or(false)
    })
}

/// Checks the upgrade request; returns the `Sec-WebSocket-Key`.
fn check_upgrade(headers: &HeaderMap) -> Result<&HeaderValue, ApiError> {
    if !header_has_token(headers, header::CONNECTION, "upgrade")
        || !header_has_token(headers, header::UPGRADE, "websocket")
    {
        return Err(ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            "upgrade_required",
            "/ws only speaks WebSocket (Connection: Upgrade, Upgrade: websocket)",
        ));
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .map(|v| v.as_bytes())
        != Some(b"13")
    {
        return Err(ApiError::bad_request("Sec-WebSocket-Version must be 13"));
    }
    headers
        .get(header::SEC_WEBSOCKET_KEY)
        .ok_or_else(|| ApiError::bad_request("missing Sec-WebSocket-Key"))
}

async fn upgrade(
    headers: HeaderMap,
    on_upgrade: Option<OnUpgrade>,
    state: WsState,
) -> Result<Response, Rejection> {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if !state.settings.origins.allows_upgrade(origin) {
        state.metrics.rejected.inc();
        return Err(warp::reject::custom(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden_origin",
            format!("origin {:?} is not allowed", origin.unwrap_or("")),
        )));
    }
    let key = check_upgrade(&headers).map_err(warp::reject::custom)?;
    let Some(on_upgrade) = on_upgrade else {
        return Err(warp::reject::custom(ApiError::bad_request(
            "this connection cannot be upgraded (HTTP/1.1 required)",
        )));
    };
    if !state.hub.is_loaded() {
        state.metrics.rejected.inc();
        return Err(warp::reject::custom(ApiError::unavailable(
            "starting up: history not loaded yet",
            Duration::from_secs(1),
        )));
    }
    let Ok(permit) = Arc::clone(&state.slots).try_acquire_owned() else {
        state.metrics.rejected.inc();
        return Err(warp::reject::custom(ApiError::unavailable(
            "too many WebSocket clients",
            Duration::from_secs(5),
        )));
    };
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    // Join now: frames published between the 101 and the first poll of the task are queued.
    let joined = state.hub.join();
    let guard = ClientGuard::new(&state, permit);
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(u) => u,
            Err(error) => {
                tracing::debug!(%error, "WebSocket upgrade failed");
                return;
            }
        };
        let ws = WebSocketStream::from_raw_socket(
            TokioIo::new(upgraded),
            Role::Server,
            Some(websocket_config()),
        )
        .await;
        serve_client(ws, joined, &state).await;
        drop(guard);
    });
    let mut res = Response::new(warp::hyper::body::Bytes::new().into());
    *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = res.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    if let Ok(v) = HeaderValue::from_str(&accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    Ok(res)
}

/// Holds a client's slot and counts it while it lives, and keeps the server's drain
/// waiting for it.
struct ClientGuard {
    metrics: Arc<Metrics>,
    _alive: mpsc::Sender<()>,
    _slot: OwnedSemaphorePermit,
}

impl ClientGuard {
    fn new(state: &WsState, slot: OwnedSemaphorePermit) -> Self {
        state.metrics.clients.inc();
        ClientGuard {
            metrics: Arc::clone(&state.metrics),
            _alive: state.alive.clone(),
            _slot: slot,
        }
    }
}

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.metrics.clients.dec();
    }
}

/// Sends one text frame, fragmented when larger than [`FRAGMENT_BYTES`]. The payload is
/// shared, not copied, until tungstenite frames it.
/// Without `flush` a small frame may stay in the write buffer until the next flush (so
/// that two frames due at once leave in one write).
async fn send_text<S>(
    sink: &mut S,
    text: &Utf8Bytes,
    flush: bool,
    fragment: usize,
) -> Result<(), WsError>
where
    S: Sink<Message, Error = WsError> + Unpin,
{
    if text.len() <= fragment {
        let msg = Message::Text(text.clone());
        return if flush {
            sink.send(msg).await
        } else {
            sink.feed(msg).await
        };
    }
    let bytes = Bytes::from(text.clone());
    let len = bytes.len();
    let mut start = 0;
    while start < len {
        let end = (start + fragment).min(len);
        let op = if start == 0 {
            Data::Text
        } else {
            Data::Continue
        };
        let frame = Frame::message(bytes.slice(start..end), OpCode::Data(op), end == len);
        sink.send(Message::Frame(frame)).await?;
        start = end;
    }
    Ok(())
}

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    ClientClosed,
    Silent,
    StuckWrite,
    Error,
    Shutdown,
}

async fn serve_client<S>(ws: WebSocketStream<S>, mut joined: Joined, state: &WsState)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let settings = &state.settings;
    let metrics = &state.metrics;
    let (mut sink, mut stream) = ws.split();
    let idle = settings.idle_timeout;
    // tokio's clock (not std's), so that tests with paused time drive the idle timeout.
    let mut last_heard = tokio::time::Instant::now();
    let mut ping = tokio::time::interval_at(
        tokio::time::Instant::now() + settings.ping_interval,
        settings.ping_interval,
    );
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    // A frame that cannot be written within the idle timeout ends the connection.
    macro_rules! send {
        ($conn:lifetime, $text:expr) => {
            send!($conn, $text, true, FRAGMENT_BYTES)
        };
        ($conn:lifetime, $text:expr, $flush:expr) => {
            send!($conn, $text, $flush, FRAGMENT_BYTES)
        };
        ($conn:lifetime, $text:expr, $flush:expr, $fragment:expr) => {
            match tokio::time::timeout(idle, send_text(&mut sink, $text, $flush, $fragment)).await {
                Ok(Ok(())) => {
                    metrics.frames_sent.inc();
                }
                Ok(Err(_)) => break $conn End::Error,
                Err(_) => break $conn End::StuckWrite,
            }
        };
    }

    let end = 'conn: {
        send!('conn, &joined.hello, true, JOIN_FRAGMENT_BYTES);
        send!('conn, &joined.history, true, JOIN_FRAGMENT_BYTES);
        let routes = joined.routes.borrow_and_update().clone();
        send!('conn, &routes, true, JOIN_FRAGMENT_BYTES);
        loop {
            tokio::select! {
                biased;
                _ = state.shutdown.wait() => break 'conn End::Shutdown,
                incoming = stream.next() => match incoming {
                    Some(Ok(Message::Close(_))) | None => break 'conn End::ClientClosed,
                    Some(Ok(_)) => last_heard = tokio::time::Instant::now(),
                    Some(Err(_)) => break 'conn End::Error,
                },
                frame = joined.frames.recv() => match frame {
                    Ok(frame) => {
                        // A poll that stores rows also changes the split: write both
                        // frames with one flush (one syscall instead of two).
                        let routes = joined
                            .routes
                            .has_changed()
                            .unwrap_or(false)
                            .then(|| joined.routes.borrow_and_update().clone());
                        send!('conn, &frame, routes.is_none());
                        if let Some(routes) = routes {
                            send!('conn, &routes);
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        let (more, latest) = state.hub.catch_up(&mut joined.frames);
                        metrics.lagged.inc();
                        metrics.skipped.inc_by(n + more);
                        send!('conn, &latest);
                    }
                    Err(broadcast::error::RecvError::Closed) => break 'conn End::Shutdown,
                },
                changed = joined.routes.changed() => {
                    if changed.is_err() {
                        break 'conn End::Shutdown;
                    }
                    let routes = joined.routes.borrow_and_update().clone();
                    send!('conn, &routes);
                }
                _ = ping.tick() => {
                    if last_heard.elapsed() > idle {
                        break 'conn End::Silent;
                    }
                    match tokio::time::timeout(idle, sink.send(Message::Ping(Bytes::new()))).await {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => break 'conn End::Error,
                        Err(_) => break 'conn End::StuckWrite,
                    }
                }
            }
        }
    };
    match end {
        End::Shutdown => {
            let close = Message::Close(Some(CloseFrame {
                code: CloseCode::Away,
                reason: "server shutting down".into(),
            }));
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, sink.send(close)).await;
        }
        End::ClientClosed => {
            // tungstenite has queued the close reply; flush it.
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, sink.close()).await;
        }
        End::Silent | End::StuckWrite => {
            metrics.dropped.inc();
            tracing::debug!(?end, "Dropping a WebSocket client");
        }
        End::Error => {}
    }
}

#[cfg(test)]
mod tests {
    //! The liveness rules on an in-memory connection with paused time: the test advances
    //! tokio's clock instead of waiting out intervals.

    use super::*;
    use prometheus_client::registry::Registry;
    use tokio::io::DuplexStream;

    const PING: Duration = Duration::from_secs(5);
    const IDLE: Duration = Duration::from_secs(20);

    /// A server connection being served and the client end; the metrics to read.
    async fn connect() -> (
        WebSocketStream<DuplexStream>,
        Arc<Metrics>,
        tokio::task::JoinHandle<()>,
    ) {
        let metrics = Metrics::register(&mut Registry::default());
        let settings = WsSettings {
            ping_interval: PING,
            idle_timeout: IDLE,
            max_clients: 1,
            origins: Origins::default(),
        };
        let (alive, _) = mpsc::channel(1);
        let state = WsState {
            hub: Hub::new(metrics.clone()),
            metrics: metrics.clone(),
            slots: WsState::slots_for(&settings),
            settings: Arc::new(settings),
            shutdown: Shutdown::new(),
            alive,
        };
        // Bigger than everything the server writes in these tests, so a client that does
        // not read still never blocks the server's writes (only its silence counts).
        let (server_end, client_end) = tokio::io::duplex(1 << 20);
        let server = tokio::spawn(async move {
            let ws = WebSocketStream::from_raw_socket(
                server_end,
                Role::Server,
                Some(websocket_config()),
            )
            .await;
            let joined = state.hub.join();
            serve_client(ws, joined, &state).await;
        });
        let client = WebSocketStream::from_raw_socket(client_end, Role::Client, None).await;
        (client, metrics, server)
    }

    /// Reads what the server sent so far (answering its pings, as a live client does);
    /// returns how many pings there were and whether the server closed.
    async fn drain(client: &mut WebSocketStream<DuplexStream>) -> (usize, bool) {
        let mut pings = 0;
        loop {
            match tokio::time::timeout(Duration::from_millis(1), client.next()).await {
                Ok(Some(Ok(Message::Ping(_)))) => pings += 1,
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_)) | None) => return (pings, true),
                Err(_) => return (pings, false),
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_answers_pings_stays_past_the_idle_timeout() {
        let (mut client, metrics, server) = connect().await;
        let mut pings = 0;
        // Four idle timeouts of virtual time, in ping-sized steps.
        for _ in 0..(4 * IDLE.as_secs() / PING.as_secs()) {
            tokio::time::sleep(PING).await;
            let (n, closed) = drain(&mut client).await;
            assert!(!closed, "a client answering every ping was dropped");
            pings += n;
        }
        assert!(pings >= 15, "one ping per interval, got {pings} in 80 s");
        assert_eq!(metrics.dropped.get(), 0);
        assert!(!server.is_finished());
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_client_is_dropped_at_the_first_ping_after_the_idle_timeout() {
        let (mut client, metrics, server) = connect().await;
        let start = tokio::time::Instant::now();
        // Never reads, so never answers a ping.
        tokio::time::timeout(IDLE * 2, server)
            .await
            .expect("the silent client was dropped")
            .unwrap();
        let waited = start.elapsed();
        // Silence is checked on each ping: dropped at the first tick past IDLE.
        assert!(
            waited > IDLE && waited <= IDLE + PING,
            "dropped after {waited:?}, want within ({IDLE:?}, {:?}]",
            IDLE + PING
        );
        assert_eq!(metrics.dropped.get(), 1);
        // It was pinged, and the connection is over (answering the first ping it reads
        // already fails).
        let (pings, closed) = drain(&mut client).await;
        assert!(pings >= 1 && closed, "{pings} pings, closed {closed}");
    }
}
