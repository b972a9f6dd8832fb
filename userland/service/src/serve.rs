//! Runs a warp filter tree on an already-bound listener until [`Shutdown`] fires, then
//! stops accepting and waits for in-flight requests to finish.
//!
//! Every connection is held to the deadlines of [`HttpLimits`]:
//! - head: the request line and headers must arrive within `header_timeout` of the
//!   connection's accept (first request) or of the head's first byte (later requests);
//! - body: the body must arrive within `body_timeout` of the head;
//! - idle: a keep-alive connection with no request in flight is closed after
//!   `idle_timeout` of silence, and a response that cannot be written for `idle_timeout`
//!   (a client that does not read) closes the connection;
//! - the handler itself has no deadline here (each service bounds its own work), and a
//!   connection upgraded to a WebSocket leaves these rules (the broadcaster pings and
//!   drops silent clients itself).
//!
//! At most `max_connections` connections are open at once; one more is answered 503 in
//! the JSON error shape and closed at once, without queuing. A handler that panics is
//! answered 500 in the JSON error shape (the panic is logged) and the connection and the
//! server keep serving.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;

use futures_util::FutureExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};
use warp::http::{self, StatusCode};
use warp::{Filter, Reply};

use crate::limits::{ConnectionGate, HttpLimits};
use crate::{ApiError, Shutdown};

/// Serves `routes` on `listener` until `shutdown` fires and every connection has
/// drained, under `limits` (see the module documentation). `routes` must end with
/// `.recover(procpulse_service::recover)` so that every rejection is answered in the
/// JSON error shape (hence `Error = Infallible`).
pub async fn serve<F, R>(listener: TcpListener, routes: F, shutdown: Shutdown, limits: &HttpLimits)
where
    F: Filter<Extract = (R,), Error = Infallible> + Clone + Send + Sync + 'static,
    R: Reply,
{
    serve_gated(listener, routes, shutdown, limits, limits.gate()).await;
}

/// [`serve`] with a connection cap shared with other servers of the same service.
pub async fn serve_gated<F, R>(
    listener: TcpListener,
    routes: F,
    shutdown: Shutdown,
    limits: &HttpLimits,
    gate: ConnectionGate,
) where
    F: Filter<Extract = (R,), Error = Infallible> + Clone + Send + Sync + 'static,
    R: Reply,
{
    serve_tls(listener, routes, shutdown, limits, gate, None).await;
}

/// [`serve_gated`], with TLS on every connection when `tls` is given: the handshake runs
/// in the connection's task over the deadlined socket, within `header_timeout`, and a
/// failed or slow handshake closes just that connection.
pub async fn serve_tls<F, R>(
    listener: TcpListener,
    routes: F,
    shutdown: Shutdown,
    limits: &HttpLimits,
    gate: ConnectionGate,
    tls: Option<tokio_rustls::TlsAcceptor>,
) where
    F: Filter<Extract = (R,), Error = Infallible> + Clone + Send + Sync + 'static,
    R: Reply,
{
    let addr = listener.local_addr().ok();
    let fd_limit = crate::limits::raise_fd_limit();
    if fd_limit.is_some_and(|n| n < limits.max_connections as u64 + 64) {
        tracing::warn!(
            ?fd_limit,
            max_connections = limits.max_connections,
            "The open-file limit is below --http-max-connections plus headroom: raise LimitNOFILE"
        );
    }
    tracing::info!(
        ?addr,
        ?fd_limit,
        header_timeout_ms = limits.header_timeout_ms,
        body_timeout_ms = limits.body_timeout_ms,
        idle_timeout_ms = limits.idle_timeout_ms,
        max_connections = limits.max_connections,
        "Listening"
    );
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let timeouts = Timeouts {
        header: limits.header_timeout(),
        body: limits.body_timeout(),
        idle: limits.idle_timeout(),
    };
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = shutdown.wait() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
        };
        let Ok(permit) = gate.0.clone().try_acquire_owned() else {
            refuse(&stream);
            tracing::debug!(%peer, "Connection refused: --http-max-connections reached");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let clock = Arc::new(Mutex::new(Clock::new(timeouts)));
        let io = Deadlined::new(stream, Arc::clone(&clock));
        let svc = Guarded {
            inner: warp::service(routes.clone()),
            clock,
        };
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder.http1().header_read_timeout(None);
        let builder = builder.http1_only();
        let watcher = graceful.watcher();
        let tls = tls.clone();
        tokio::spawn(async move {
            let served = match tls {
                None => {
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), svc);
                    watcher.watch(conn.into_owned()).await
                }
                Some(acceptor) => {
                    match tokio::time::timeout(timeouts.header, acceptor.accept(io)).await {
                        Ok(Ok(io)) => {
                            let conn =
                                builder.serve_connection_with_upgrades(TokioIo::new(io), svc);
                            watcher.watch(conn.into_owned()).await
                        }
                        Ok(Err(e)) => Err(e.into()),
                        Err(_) => Err("TLS handshake timed out".into()),
                    }
                }
            };
            if let Err(err) = served {
                tracing::debug!(%peer, error = %err, "Connection closed");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    tracing::info!(?addr, "Server drained");
}

/// Answers a connection over the cap without blocking: one non-blocking write of a 503
/// in the JSON error shape, then close.
fn refuse(stream: &TcpStream) {
    let body = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "too many connections",
    )
    .body();
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let mut msg = head.into_bytes();
    msg.extend_from_slice(&body);
    let _ = stream.try_write(&msg);
}

async fn accept_error(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    // EMFILE/ENFILE and the like: back off instead of spinning.
    tracing::error!(error = %e, "accept failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

#[derive(Debug, Clone, Copy)]
struct Timeouts {
    header: Duration,
    body: Duration,
    idle: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for a request's head (first request: since accept).
    Head,
    /// Between requests: no byte of the next head yet.
    Idle,
    /// Reading a request's body.
    Body,
    /// The handler runs (or the response is being produced): no read deadline.
    Handling,
    /// Upgraded (WebSocket): no deadlines.
    Upgraded,
}

/// A connection's read deadline, moved by the connection (bytes read) and its service
/// (head parsed, body done, response ready).
#[derive(Debug)]
struct Clock {
    timeouts: Timeouts,
    phase: Phase,
    deadline: Option<Instant>,
    /// The task of a read left pending: woken when a deadline appears, so that its timer
    /// is armed even if no byte arrives.
    reader: Option<Waker>,
}

impl Clock {
    fn new(timeouts: Timeouts) -> Self {
        Clock {
            timeouts,
            phase: Phase::Head,
            deadline: Some(Instant::now() + timeouts.header),
            reader: None,
        }
    }

    fn enter(&mut self, phase: Phase) {
        self.phase = phase;
        let after = match phase {
            Phase::Head => Some(self.timeouts.header),
            Phase::Idle => Some(self.timeouts.idle),
            Phase::Body => Some(self.timeouts.body),
            Phase::Handling | Phase::Upgraded => None,
        };
        self.deadline = after.map(|d| Instant::now() + d);
        if self.deadline.is_some() {
            if let Some(w) = self.reader.take() {
                w.wake();
            }
        }
    }
}

fn lock(clock: &Mutex<Clock>) -> std::sync::MutexGuard<'_, Clock> {
    clock.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The socket, failing a read that waits past the connection's deadline and a write
/// that stalls for the idle timeout.
struct Deadlined {
    stream: TcpStream,
    clock: Arc<Mutex<Clock>>,
    read_sleep: Pin<Box<Sleep>>,
    read_armed: Option<Instant>,
    write_sleep: Pin<Box<Sleep>>,
    write_armed: bool,
}

impl Deadlined {
    fn new(stream: TcpStream, clock: Arc<Mutex<Clock>>) -> Self {
        Deadlined {
            stream,
            clock,
            read_sleep: Box::pin(tokio::time::sleep(Duration::ZERO)),
            read_armed: None,
            write_sleep: Box::pin(tokio::time::sleep(Duration::ZERO)),
            write_armed: false,
        }
    }

    fn timed_out(what: &str) -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, format!("{what} deadline passed"))
    }

    fn poll_write_stall(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let (phase, idle) = {
            let c = lock(&self.clock);
            (c.phase, c.timeouts.idle)
        };
        if phase == Phase::Upgraded {
            return Poll::Pending;
        }
        if !self.write_armed {
            self.write_armed = true;
            self.write_sleep.as_mut().reset(Instant::now() + idle);
        }
        match self.write_sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Self::timed_out("write")),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for Deadlined {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    let mut c = lock(&this.clock);
                    if c.phase == Phase::Idle {
                        c.enter(Phase::Head);
                    }
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let (deadline, phase) = {
                    let mut c = lock(&this.clock);
                    if !c.reader.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                        c.reader = Some(cx.waker().clone());
                    }
                    (c.deadline, c.phase)
                };
                let Some(deadline) = deadline else {
                    return Poll::Pending;
                };
                if this.read_armed != Some(deadline) {
                    this.read_armed = Some(deadline);
                    this.read_sleep.as_mut().reset(deadline);
                }
                match this.read_sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        tracing::debug!(?phase, "Closing a connection past its deadline");
                        Poll::Ready(Err(Self::timed_out(match phase {
                            Phase::Head => "header",
                            Phase::Body => "body",
                            _ => "idle",
                        })))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl AsyncWrite for Deadlined {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.stream).poll_write(cx, buf) {
            Poll::Ready(r) => {
                this.write_armed = false;
                Poll::Ready(r)
            }
            Poll::Pending => this.poll_write_stall(cx).map(Err),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.stream).poll_write_vectored(cx, bufs) {
            Poll::Ready(r) => {
                this.write_armed = false;
                Poll::Ready(r)
            }
            Poll::Pending => this.poll_write_stall(cx).map(Err),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// A request body that moves the connection's clock to [`Phase::Handling`] once it has
/// been read to the end.
struct TrackedBody {
    inner: Incoming,
    clock: Arc<Mutex<Clock>>,
    done: bool,
}

impl TrackedBody {
    fn finish(&mut self) {
        if !self.done {
            self.done = true;
            let mut c = lock(&self.clock);
            if c.phase == Phase::Body {
                c.enter(Phase::Handling);
            }
        }
    }
}

impl http_body::Body for TrackedBody {
    type Data = bytes::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        if !matches!(frame, Some(Ok(_))) || this.inner.is_end_stream() {
            this.finish();
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The warp service, with the connection clock moved at request boundaries and a
/// panicking handler answered 500.
#[derive(Clone)]
struct Guarded<S> {
    inner: S,
    clock: Arc<Mutex<Clock>>,
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<warp::reply::Response, Infallible>> + Send>>;

impl<S> hyper::service::Service<http::Request<Incoming>> for Guarded<S>
where
    S: tower_service::Service<
            http::Request<TrackedBody>,
            Response = warp::reply::Response,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = warp::reply::Response;
    type Error = Infallible;
    type Future = BoxFuture;

    fn call(&self, req: http::Request<Incoming>) -> Self::Future {
        let clock = Arc::clone(&self.clock);
        {
            let mut c = lock(&clock);
            let phase = if http_body::Body::is_end_stream(req.body()) {
                Phase::Handling
            } else {
                Phase::Body
            };
            c.enter(phase);
        }
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let req = req.map(|inner| TrackedBody {
            inner,
            clock: Arc::clone(&clock),
            done: false,
        });
        let mut inner = self.inner.clone();
        // The filter starts running inside `call`: a panic there is caught too.
        let fut = std::panic::catch_unwind(AssertUnwindSafe(move || inner.call(req)));
        Box::pin(async move {
            let res = match fut {
                Ok(fut) => AssertUnwindSafe(fut).catch_unwind().await,
                Err(panic) => Err(panic),
            };
            let res = match res {
                Ok(Ok(res)) => res,
                Err(panic) => {
                    tracing::error!(
                        %method,
                        path = %path,
                        panic = panic_message(&panic),
                        "Handler panicked; answered 500"
                    );
                    ApiError::internal("internal error").into_response()
                }
            };
            let mut c = lock(&clock);
            if res.status() == StatusCode::SWITCHING_PROTOCOLS {
                c.enter(Phase::Upgraded);
            } else {
                c.enter(Phase::Idle);
            }
            Ok(res)
        })
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> &str {
    if let Some(s) = panic.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s
    } else {
        "(non-string panic)"
    }
}
