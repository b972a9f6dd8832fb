//! `collected_at` on the wire: RFC 3339 with `T` (or `t`) between date and time.
//!
//! The `time` crate's RFC 3339 parser accepts any byte as the separator
//! (`2026-11-23X10:00:00Z`); RFC 3339 §5.6 names `T` and allows `t`, and only *notes* that
//! applications may use a space. procpulse accepts `T` and `t` only — a space-separated
//! time is refused like any other byte — so one value has one spelling. Serialization is
//! the `time` crate's (always `T`).

use serde::de::{Error, Visitor};
use serde::{Deserializer, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Parses an RFC 3339 date-time whose date/time separator is `T` or `t`.
pub fn parse(text: &str) -> Result<OffsetDateTime, String> {
    match text.as_bytes().get(10) {
        Some(b'T' | b't') => {}
        _ => {
            return Err(format!(
                "invalid RFC 3339 date-time {text:?}: date and time must be separated by 'T'"
            ));
        }
    }
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|e| format!("invalid RFC 3339 date-time {text:?}: {e}"))
}

/// Serializes as RFC 3339 (the `time` crate's format).
pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    time::serde::rfc3339::serialize(t, s)
}

/// Deserializes with [`parse`].
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = OffsetDateTime;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an RFC 3339 date-time")
        }
        fn visit_str<E: Error>(self, v: &str) -> Result<OffsetDateTime, E> {
            parse(v).map_err(E::custom)
        }
    }
    d.deserialize_str(V)
}
