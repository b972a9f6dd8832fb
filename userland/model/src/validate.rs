//! Decoding and validation of snapshots as ingest receives them (docs/design.md §3).
//!
//! Two kinds of failure, both naming the field path (`cpu.usage_percent`,
//! `[3].ram.used_kb` inside an array):
//! - [`ValidationError::Malformed`]: the body is not JSON at all (HTTP 400);
//! - [`ValidationError::Invalid`]: JSON, but a field is missing, has the wrong type or a
//!   value outside its range (HTTP 422).
//!
//! One concern per file, all re-exported here: `validate/error.rs` the error type,
//! `validate/rules.rs` the value rules of a decoded snapshot (and the limits they check),
//! `validate/decode.rs` the decoding of a request body (JSON text to snapshots, which then
//! go through the rules). The rules know nothing of JSON; decoding calls the rules.

mod decode;
mod error;
mod rules;

pub use decode::{MAX_BATCH, decode_batch, decode_batch_checked, from_slice, from_value};
pub use error::ValidationError;
pub use rules::{
    MAX_CORES, MAX_FUTURE_SKEW, MAX_STORED_INT, MIN_COLLECTED_AT, valid_host, validate, validate_at,
};

#[cfg(test)]
mod test_support;
