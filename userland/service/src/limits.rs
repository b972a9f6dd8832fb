//! Per-service HTTP deadlines and connection cap ([`HttpLimits`]), one set of flags shared
//! by the agent, ingest and the broadcaster, enforced by [`serve`](crate::serve).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

/// Default `--http-header-timeout-ms`: a request's head (request line + headers) must
/// arrive within 10 s of the first byte of it (or of the connection being accepted).
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `--http-body-timeout-ms`: a request's body must arrive within 30 s of its head.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Default `--http-idle-timeout-ms`: a keep-alive connection with no request in flight is
/// closed after 60 s of silence.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default `--http-max-connections`: open connections (WebSocket included) a service
/// holds at once; further ones are answered 503 and closed at once. Each costs a file
/// descriptor: [`raise_fd_limit`] lifts the soft limit to the hard one at start, and a
/// warning names the gap when the limit is still below this plus headroom.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// HTTP server deadlines and the connection cap, as flags (flattened into each service's
/// command line) and environment variables.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct HttpLimits {
    /// Milliseconds a request's head (request line and headers) may take to arrive,
    /// counted from the connection's accept or the head's first byte.
    #[arg(long = "http-header-timeout-ms", env = "PROCPULSE_HTTP_HEADER_TIMEOUT_MS",
          default_value_t = DEFAULT_HEADER_TIMEOUT.as_millis() as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout_ms: u64,
    /// Milliseconds a request's body may take to arrive, counted from the end of its head.
    #[arg(long = "http-body-timeout-ms", env = "PROCPULSE_HTTP_BODY_TIMEOUT_MS",
          default_value_t = DEFAULT_BODY_TIMEOUT.as_millis() as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub body_timeout_ms: u64,
    /// Milliseconds a keep-alive connection may stay silent between requests (also the
    /// longest a response may stall on a client that does not read it).
    #[arg(long = "http-idle-timeout-ms", env = "PROCPULSE_HTTP_IDLE_TIMEOUT_MS",
          default_value_t = DEFAULT_IDLE_TIMEOUT.as_millis() as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_ms: u64,
    /// Most open connections at once (WebSocket included); more are answered 503 and
    /// closed.
    #[arg(long = "http-max-connections", env = "PROCPULSE_HTTP_MAX_CONNECTIONS",
          default_value_t = DEFAULT_MAX_CONNECTIONS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    pub max_connections: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_timeout_ms: DEFAULT_HEADER_TIMEOUT.as_millis() as u64,
            body_timeout_ms: DEFAULT_BODY_TIMEOUT.as_millis() as u64,
            idle_timeout_ms: DEFAULT_IDLE_TIMEOUT.as_millis() as u64,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl HttpLimits {
    /// Head deadline.
    pub fn header_timeout(&self) -> Duration {
        Duration::from_millis(self.header_timeout_ms.max(1))
    }

    /// Body deadline.
    pub fn body_timeout(&self) -> Duration {
        Duration::from_millis(self.body_timeout_ms.max(1))
    }

    /// Keep-alive idle (and response stall) deadline.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms.max(1))
    }

    /// A connection cap of `max_connections` slots, to share between servers of one
    /// service (the agent's per-thread servers).
    pub fn gate(&self) -> ConnectionGate {
        ConnectionGate(Arc::new(Semaphore::new(self.max_connections.max(1))))
    }
}

/// The connection cap of one service: each open connection holds one slot.
#[derive(Debug, Clone)]
pub struct ConnectionGate(pub(crate) Arc<Semaphore>);

impl ConnectionGate {
    /// Free slots.
    pub fn available(&self) -> usize {
        self.0.available_permits()
    }
}

/// Raises this process's soft open-file limit to its hard limit, once, and returns the
/// soft limit in force. Each connection costs a descriptor, and the soft limit is often
/// 1,024 (systemd's default `LimitNOFILE=1024:524288`, a login shell's `ulimit -n`)
/// while the hard limit is far higher (524,288 under systemd, 1,048,576 under
/// containerd/Docker); like Go's runtime, a server should use what it is allowed.
pub fn raise_fd_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    static ONCE: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    *ONCE.get_or_init(|| {
        let mut lim = getrlimit(Resource::Nofile);
        if lim.current < lim.maximum {
            let before = lim.current;
            lim.current = lim.maximum;
            match setrlimit(Resource::Nofile, lim) {
                Ok(()) => tracing::debug!(?before, after = ?lim.current, "Raised RLIMIT_NOFILE"),
                Err(e) => {
                    tracing::warn!(error = %e, "Could not raise RLIMIT_NOFILE");
                    lim = getrlimit(Resource::Nofile);
                }
            }
        }
        lim.current
    })
}
