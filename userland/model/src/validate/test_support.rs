//! Fixtures and helpers shared by the decode and rules tests.

use super::{ValidationError, decode_batch};
use time::OffsetDateTime;
use time::macros::datetime;

pub(super) const VALID: &str = include_str!("../../tests/fixtures/snapshot_valid.json");

pub(super) const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:01 UTC);

pub(super) const V2: &str = include_str!("../../tests/fixtures/snapshot_v2.json");

pub(super) fn with(f: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_str(VALID).unwrap();
    f(&mut v);
    serde_json::to_vec(&v).unwrap()
}

pub(super) fn with_v2(f: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_str(V2).unwrap();
    f(&mut v);
    serde_json::to_vec(&v).unwrap()
}

pub(super) fn field_of(body: &[u8]) -> (String, String) {
    match decode_batch(body, NOW) {
        Err(ValidationError::Invalid { code, field, .. }) => (code.to_owned(), field),
        other => panic!("expected an Invalid error, got {other:?}"),
    }
}
