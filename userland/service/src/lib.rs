//! Shared plumbing for procpulse's HTTP services (agent, ingest, broadcaster): the JSON
//! error shape of docs/design.md §4 and one `recover()` for every rejection, request metrics in
//! Prometheus text format, graceful shutdown on SIGTERM/SIGINT, tracing set-up and a
//! `serve` helper that runs a warp filter tree on a bound listener until shutdown.
//!
//! It is not a framework: each service still owns its routes, state and handlers.

#[cfg(feature = "cli-check")]
pub mod cli_check;
pub mod error;
pub mod exposition;
pub mod limits;
pub mod metrics;
pub mod serve;
pub mod shutdown;
pub mod telemetry;

pub use error::{ApiError, recover};
pub use limits::{ConnectionGate, HttpLimits};
pub use metrics::{HttpMetrics, MetricsRegistry};
pub use serve::{serve, serve_gated, serve_tls};
pub use shutdown::Shutdown;
