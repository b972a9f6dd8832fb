//! The server → client frames of docs/design.md §4, serialized once and shared by every client
//! (`Utf8Bytes` is reference-counted: cloning it for 10,000 clients copies no bytes).
//!
//! Rows arrive here already encoded (see [`crate::row::Row::to_json`]), so a frame is
//! built by concatenation.

use time::OffsetDateTime;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// `{"type":"hello","server_time":"…","hosts":[…]}`
pub fn hello(now: OffsetDateTime, hosts: &[String]) -> Utf8Bytes {
    #[derive(serde::Serialize)]
    struct Hello<'a> {
        r#type: &'static str,
        #[serde(with = "time::serde::rfc3339")]
        server_time: OffsetDateTime,
        hosts: &'a [String],
    }
    let frame = Hello {
        r#type: "hello",
        server_time: now,
        hosts,
    };
    serde_json::to_string(&frame)
        .unwrap_or_else(|_| r#"{"type":"hello","hosts":[]}"#.to_owned())
        .into()
}

/// `{"type":"<kind>","samples":[rows…]}` where `rows` are encoded wire rows.
pub fn samples<'a>(kind: &str, rows: impl IntoIterator<Item = &'a str>) -> Utf8Bytes {
    let mut out = String::with_capacity(256);
    out.push_str(r#"{"type":""#);
    out.push_str(kind);
    out.push_str(r#"","samples":["#);
    for (i, row) in rows.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(row);
    }
    out.push_str("]}");
    out.into()
}

/// `{"type":"routes","a":n,"b":m}`
pub fn routes(a: u64, b: u64) -> Utf8Bytes {
    format!(r#"{{"type":"routes","a":{a},"b":{b}}}"#).into()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The `id`s of a `samples` or `history` frame's rows, in order (the unit tests' one
    /// copy).
    pub(crate) fn ids(frame: &str) -> Vec<i64> {
        let v: serde_json::Value = serde_json::from_str(frame).unwrap();
        v["samples"]
            .as_array()
            .unwrap_or_else(|| panic!("no samples in {frame}"))
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect()
    }

    #[test]
    fn frames_are_valid_json_of_the_contract() {
        let v: serde_json::Value = serde_json::from_str(&samples(
            "samples",
            [r#"{"id":1}"#, r#"{"id":2}"#].iter().copied(),
        ))
        .unwrap();
        assert_eq!(v["type"], "samples");
        assert_eq!(v["samples"][1]["id"], 2);
        let v: serde_json::Value = serde_json::from_str(&samples("history", [])).unwrap();
        assert_eq!(v["samples"].as_array().unwrap().len(), 0);
        let v: serde_json::Value = serde_json::from_str(&routes(3, 4)).unwrap();
        assert_eq!(
            (v["type"].as_str(), v["a"].as_u64(), v["b"].as_u64()),
            (Some("routes"), Some(3), Some(4))
        );
        let now = time::macros::datetime!(2026-11-23 10:00:00.5 UTC);
        let v: serde_json::Value = serde_json::from_str(&hello(now, &["vm-1".to_owned()])).unwrap();
        assert_eq!(v["type"], "hello");
        assert_eq!(v["server_time"], "2026-11-23T10:00:00.5Z");
        assert_eq!(v["hosts"][0], "vm-1");
    }
}
