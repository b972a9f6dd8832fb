//! The record file: one snapshot per line (NDJSON), each a valid snapshot (docs/design.md §3) with
//! a `sample_id` that no other line has.
//!
//! [`write_atomic`] writes the whole file to a temporary name beside the target, fsyncs
//! it, renames it over the target and fsyncs the directory, so a reader (or a crash, or
//! Ctrl-C) sees either the old file, no file, or the complete new one — never half of it.
//! [`read_records`] refuses a file that is not complete: a last line without its newline,
//! an invalid snapshot or a repeated `sample_id` is an error naming the line.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use procpulse_model::validate;

/// One record: the snapshot's JSON on one line, and its idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The snapshot's `sample_id`.
    pub sample_id: String,
    /// The snapshot as compact JSON, without the trailing newline.
    pub json: String,
}

/// Why a response body is not a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Not a valid snapshot; carries the model's error (naming the field path).
    #[error(transparent)]
    Invalid(#[from] validate::ValidationError),
}

impl Record {
    /// Turns one HTTP body (or file line) into a record: decodes it as a snapshot,
    /// validates it (docs/design.md §3) and keeps its JSON text as one line. Bodies that already
    /// fit on one line are kept byte for byte; others are re-serialised compactly
    /// (floats round-trip exactly, unknown fields are kept).
    pub fn from_body(body: &[u8]) -> Result<Record, RecordError> {
        let snapshot = validate::from_slice(body)?;
        validate::validate(&snapshot)?;
        let trimmed = body.trim_ascii();
        let json = if !trimmed.contains(&b'\n') && !trimmed.contains(&b'\r') {
            // from_slice succeeded, so this is valid UTF-8 JSON.
            String::from_utf8_lossy(trimmed).into_owned()
        } else {
            let value: serde_json::Value =
                serde_json::from_slice(body).map_err(|e| validate::ValidationError::Malformed {
                    message: e.to_string(),
                })?;
            value.to_string()
        };
        Ok(Record {
            sample_id: snapshot.sample_id,
            json,
        })
    }

    /// The JSON to send on `pass` of a `--loop` replay: pass 0 is the record itself;
    /// later passes carry a fresh `sample_id` (`<id>~<pass>`, shortened to fit 128
    /// characters) so that ingest stores them as new samples.
    pub fn json_for_pass(&self, pass: u64) -> String {
        if pass == 0 {
            return self.json.clone();
        }
        let suffix = format!("~{pass}");
        let keep = MAX_SAMPLE_ID_LEN.saturating_sub(suffix.len());
        let mut base: String = self.sample_id.chars().take(keep).collect();
        base.push_str(&suffix);
        match serde_json::from_str::<serde_json::Value>(&self.json) {
            Ok(mut value) => {
                value["sample_id"] = serde_json::Value::String(base);
                value.to_string()
            }
            // Unreachable for records built by from_body; keep the original then.
            Err(_) => self.json.clone(),
        }
    }
}

/// Longest `sample_id` ingest accepts (docs/design.md §3).
const MAX_SAMPLE_ID_LEN: usize = 128;

/// Why the record file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// One line is not a valid record.
    #[error("{path}:{line}: {message}")]
    Line {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// The file holds no record.
    #[error("{path}: the file holds no record")]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// Reads and checks a record file (see the module docs for what is refused).
pub fn read_records(path: &Path) -> Result<Vec<Record>, ReadError> {
    let text = fs::read_to_string(path).map_err(|source| ReadError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse_records(&text)
        .map_err(|(line, message)| ReadError::Line {
            path: path.to_owned(),
            line,
            message,
        })
        .and_then(|records| {
            if records.is_empty() {
                Err(ReadError::Empty {
                    path: path.to_owned(),
                })
            } else {
                Ok(records)
            }
        })
}

/// Parses record-file text; on failure returns the 1-based line number and the reason.
pub fn parse_records(text: &str) -> Result<Vec<Record>, (usize, String)> {
    let mut records = Vec::new();
    let mut seen = HashSet::new();
    let line_count = text.lines().count();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        if n == line_count && !text.ends_with('\n') {
            return Err((
                n,
                "the last line has no newline: the file is truncated".into(),
            ));
        }
        let record = Record::from_body(line.as_bytes()).map_err(|e| (n, e.to_string()))?;
        if !seen.insert(record.sample_id.clone()) {
            return Err((
                n,
                format!(
                    "sample_id {:?} appears on an earlier line",
                    record.sample_id
                ),
            ));
        }
        records.push(record);
    }
    Ok(records)
}

/// Writes `records` as NDJSON to `path` atomically (temp file + fsync + rename + fsync
/// of the directory). On error the temporary file is removed and `path` is untouched.
pub fn write_atomic(path: &Path, records: &[Record]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let file = File::create(&tmp)?;
        let mut w = BufWriter::new(file);
        for r in records {
            w.write_all(r.json.as_bytes())?;
            w.write_all(b"\n")?;
        }
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        // Make the rename itself durable.
        File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn snapshot(id: &str) -> String {
        format!(
            r#"{{"sample_id":"{id}","host":"vm-1","collected_at":"2025-11-23T10:00:00.123Z","source":"procfs","cpu":{{"usage_percent":23.45,"cores":2,"load1":0.5,"load5":0.4,"load15":0.3}},"ram":{{"total_kb":1000,"free_kb":100,"available_kb":500,"used_kb":500,"cached_kb":10,"swap_total_kb":0,"swap_free_kb":0,"used_percent":50.0}},"procs":{{"total":3,"running":1,"sleeping":2,"disk_sleep":0,"stopped":0,"traced":0,"zombie":0,"dead":0,"idle":0,"threads":5}},"extra":{{"kept":true}}}}"#
        )
    }

    #[test]
    fn one_line_bodies_are_kept_byte_for_byte() {
        let body = snapshot("s-1");
        let r = Record::from_body(format!("{body}\n").as_bytes()).unwrap();
        assert_eq!(r.sample_id, "s-1");
        assert_eq!(r.json, body);
    }

    #[test]
    fn pretty_bodies_become_one_line_with_unknown_fields() {
        let value: serde_json::Value = serde_json::from_str(&snapshot("s-2")).unwrap();
        let pretty = serde_json::to_string_pretty(&value).unwrap();
        let r = Record::from_body(pretty.as_bytes()).unwrap();
        assert!(!r.json.contains('\n'));
        let back: serde_json::Value = serde_json::from_str(&r.json).unwrap();
        assert_eq!(back, value);
        assert_eq!(back["cpu"]["usage_percent"], 23.45);
    }

    #[test]
    fn invalid_snapshot_names_the_field() {
        let bad = snapshot("s-3").replace("23.45", "123.4");
        let e = Record::from_body(bad.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("cpu.usage_percent"), "{e}");
        let e = Record::from_body(b"{\"sample_id\":")
            .unwrap_err()
            .to_string();
        assert!(e.contains("malformed"), "{e}");
    }

    #[test]
    fn write_then_read_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.ndjson");
        let records: Vec<Record> = (0..5)
            .map(|i| Record::from_body(snapshot(&format!("id-{i}")).as_bytes()).unwrap())
            .collect();
        write_atomic(&path, &records).unwrap();
        assert_eq!(read_records(&path).unwrap(), records);
        // No temporary file is left behind.
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn write_replaces_an_old_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.ndjson");
        fs::write(&path, "old\n").unwrap();
        let records = vec![Record::from_body(snapshot("new").as_bytes()).unwrap()];
        write_atomic(&path, &records).unwrap();
        assert_eq!(read_records(&path).unwrap(), records);
    }

    #[test]
    fn write_into_missing_dir_fails_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope/r.ndjson");
        let records = vec![Record::from_body(snapshot("x").as_bytes()).unwrap()];
        assert!(write_atomic(&path, &records).is_err());
        assert!(!path.exists());
    }

    #[test]
    fn truncated_file_is_refused() {
        let text = format!("{}\n{}", snapshot("a"), &snapshot("b")[..40]);
        let (line, msg) = parse_records(&text).unwrap_err();
        assert_eq!(line, 2);
        assert!(
            msg.contains("truncated") || msg.contains("malformed"),
            "{msg}"
        );
        // A complete last line without its newline is refused too.
        let text = format!("{}\n{}", snapshot("a"), snapshot("b"));
        let (line, msg) = parse_records(&text).unwrap_err();
        assert_eq!(line, 2);
        assert!(msg.contains("truncated"), "{msg}");
    }

    #[test]
    fn duplicate_sample_id_is_refused() {
        let text = format!("{}\n\n{}\n", snapshot("a"), snapshot("a"));
        let (line, msg) = parse_records(&text).unwrap_err();
        assert_eq!(line, 3);
        assert!(msg.contains("earlier line"), "{msg}");
    }

    #[test]
    fn empty_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.ndjson");
        fs::write(&path, "").unwrap();
        assert!(matches!(read_records(&path), Err(ReadError::Empty { .. })));
        assert!(matches!(
            read_records(&dir.path().join("missing")),
            Err(ReadError::Io { .. })
        ));
    }

    #[test]
    fn loop_passes_get_fresh_valid_ids() {
        let r = Record::from_body(snapshot("vm-1-abc-1").as_bytes()).unwrap();
        assert_eq!(r.json_for_pass(0), r.json);
        let again = Record::from_body(r.json_for_pass(3).as_bytes()).unwrap();
        assert_eq!(again.sample_id, "vm-1-abc-1~3");
        let long = Record::from_body(snapshot(&"x".repeat(128)).as_bytes()).unwrap();
        let again = Record::from_body(long.json_for_pass(12).as_bytes()).unwrap();
        assert_eq!(again.sample_id.len(), 128);
        assert!(again.sample_id.ends_with("~12"));
    }
}
