//! procpulse-alerts: rules that watch every host, read from a TOML file ([`rules`]),
//! evaluated on every stored sample as it arrives ([`state`]: pending → firing →
//! resolved, with hysteresis), and delivered the way Prometheus delivers them — to
//! Alertmanager's `POST /api/v2/alerts`, re-sent while firing, `endsAt` on resolve — or
//! to a plain webhook ([`wire`], [`deliver`]: newest state per alert, retried with
//! backoff, never blocking the caller).
//!
//! The crate does no I/O besides delivery; the broadcaster hosts it (it sees every row of
//! every host, whichever ingest replica stored it) and decides who delivers: see
//! `userland/broadcaster/src/alerting.rs` and this crate's README.

pub mod deliver;
pub mod metric;
pub mod rules;
pub mod state;
pub mod wire;

pub use metric::{Metric, Op, Sample};
pub use rules::{Condition, Rule, RulesError};
pub use state::{Alert, Evaluator, State};
