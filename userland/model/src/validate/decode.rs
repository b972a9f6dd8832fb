//! Decoding a request body — one snapshot or a JSON array of them — into [`Snapshot`]s,
//! with errors that name the field path (missing fields, wrong types, malformed JSON,
//! batch size), then checking every element against the value rules
//! ([`validate_at`]).

use super::error::ValidationError;
use super::rules::validate_at;
use crate::snapshot::Snapshot;
use time::OffsetDateTime;

/// Most snapshots one POST may carry.
pub const MAX_BATCH: usize = 1000;

/// Decodes one snapshot or a JSON array of them (≤ [`MAX_BATCH`]) and validates every
/// element against `now`. Nothing is returned unless every element is valid.
///
/// A well-formed body — what a healthy agent or load generator sends — is deserialized
/// in one pass straight into [`Snapshot`]s. Only when that fails (or the array is empty
/// or too long) does [`decode_checked`] run, which makes the precise error; both accept
/// exactly the same bodies (a property test compares them), so the fast pass changes
/// the cost of good requests, never an answer.
pub fn decode_batch(body: &[u8], now: OffsetDateTime) -> Result<Vec<Snapshot>, ValidationError> {
    let (snapshots, array) = match decode_plain(body) {
        Some(decoded) => decoded,
        None => decode_checked(body)?,
    };
    validate_all(&snapshots, array, now)?;
    Ok(snapshots)
}

/// One plain deserialization pass: `Some((snapshots, is_array))` when the body is a
/// snapshot or a non-empty array of at most [`MAX_BATCH`] snapshots, `None` otherwise
/// (without saying why).
fn decode_plain(body: &[u8]) -> Option<(Vec<Snapshot>, bool)> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first == b'[' {
        let snapshots: Vec<Snapshot> = serde_json::from_slice(body).ok()?;
        (1..=MAX_BATCH)
            .contains(&snapshots.len())
            .then_some((snapshots, true))
    } else {
        let snapshot: Snapshot = serde_json::from_slice(body).ok()?;
        Some((vec![snapshot], false))
    }
}

/// Applies [`validate_at`] to each element, naming `[i]` in an array's errors.
fn validate_all(
    snapshots: &[Snapshot],
    array: bool,
    now: OffsetDateTime,
) -> Result<(), ValidationError> {
    for (i, snap) in snapshots.iter().enumerate() {
        validate_at(snap, now).map_err(|e| {
            if array {
                e.within(&format!("[{i}]"))
            } else {
                e
            }
        })?;
    }
    Ok(())
}

/// Decodes a body without validating values, with errors that say exactly what is wrong:
/// `(snapshots, is_array)`.
///
/// Two passes over the text, neither building a JSON tree: the first checks the syntax
/// of the whole body (so malformed JSON is a 400 whatever comes before the error) and
/// counts an array's elements; the second deserializes straight into [`Snapshot`]s,
/// tracking the field path for errors.
fn decode_checked(body: &[u8]) -> Result<(Vec<Snapshot>, bool), ValidationError> {
    let shape: Shape = serde_json::from_slice(body).map_err(|e| ValidationError::Malformed {
        message: e.to_string(),
    })?;
    match shape {
        Shape::Array(0) => Err(ValidationError::Invalid {
            code: "empty_batch",
            field: String::new(),
            message: "the array holds no snapshot".into(),
        }),
        Shape::Array(n) if n > MAX_BATCH => Err(ValidationError::Invalid {
            code: "batch_too_large",
            field: String::new(),
            message: format!("the array holds {n} snapshots; at most {MAX_BATCH} are accepted"),
        }),
        Shape::Array(_) => {
            let mut de = serde_json::Deserializer::from_slice(body);
            let snapshots: Vec<Snapshot> = serde_path_to_error::deserialize(&mut de)
                .map_err(|e| type_error(e.path().to_string(), &e.inner().to_string()))?;
            Ok((snapshots, true))
        }
        Shape::Other => Ok((vec![from_slice(body)?], false)),
    }
}

/// [`decode_batch`] without its fast pass: [`decode_checked`], then validation. The
/// reference the fast pass is tested against.
pub fn decode_batch_checked(
    body: &[u8],
    now: OffsetDateTime,
) -> Result<Vec<Snapshot>, ValidationError> {
    let (snapshots, array) = decode_checked(body)?;
    validate_all(&snapshots, array, now)?;
    Ok(snapshots)
}

/// What the top level of a body is: an array and its length, or anything else. Its
/// deserialization checks the syntax of the whole document without allocating.
enum Shape {
    Array(usize),
    Other,
}

impl<'de> serde::Deserialize<'de> for Shape {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ShapeVisitor;
        impl<'de> serde::de::Visitor<'de> for ShapeVisitor {
            type Value = Shape;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Shape, A::Error> {
                let mut n = 0;
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    n += 1;
                }
                Ok(Shape::Array(n))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Shape, A::Error> {
                while map
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Shape::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Shape, E> {
                Ok(Shape::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Shape, E> {
                Ok(Shape::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Shape, E> {
                Ok(Shape::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Shape, E> {
                Ok(Shape::Other)
            }
            fn visit_str<E>(self, _: &str) -> Result<Shape, E> {
                Ok(Shape::Other)
            }
            fn visit_unit<E>(self) -> Result<Shape, E> {
                Ok(Shape::Other)
            }
        }
        d.deserialize_any(ShapeVisitor)
    }
}

/// Decodes one snapshot from a JSON value, naming the field path on failure.
pub fn from_value(value: serde_json::Value) -> Result<Snapshot, ValidationError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        type_error(path, &inner)
    })
}

/// Decodes one snapshot from JSON text, naming the field path on failure.
pub fn from_slice(body: &[u8]) -> Result<Snapshot, ValidationError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let snap: Snapshot = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner();
        if inner.is_syntax() || inner.is_eof() {
            ValidationError::Malformed {
                message: inner.to_string(),
            }
        } else {
            type_error(path, &inner.to_string())
        }
    })?;
    de.end().map_err(|e| ValidationError::Malformed {
        message: e.to_string(),
    })?;
    Ok(snap)
}

fn type_error(path: String, inner: &str) -> ValidationError {
    // serde reports a missing field at the parent path, with the name in the message.
    if let Some(name) = inner
        .strip_prefix("missing field `")
        .and_then(|r| r.split('`').next())
    {
        let field = if path == "." || path.is_empty() {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        };
        return ValidationError::Invalid {
            code: "missing_field",
            message: format!("{field} is required"),
            field,
        };
    }
    let field = if path == "." { String::new() } else { path };
    // Drop serde_json's " at line X column Y" suffix: values carry no position.
    let detail = inner.split(" at line ").next().unwrap_or(inner);
    ValidationError::Invalid {
        code: "invalid_type",
        message: if field.is_empty() {
            format!("snapshot: {detail}")
        } else {
            format!("{field}: {detail}")
        },
        field,
    }
}

#[cfg(test)]
mod tests;
