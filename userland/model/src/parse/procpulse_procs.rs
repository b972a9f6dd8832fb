//! `/proc/procpulse_procs` (docs/design.md §2): process-state counts, already in the snapshot's
//! shape.

use super::{ParseError, json_object};
use crate::snapshot::Procs;

const FILE: &str = "/proc/procpulse_procs";

/// Parses the file's text, checking that `total` is the sum of the categories.
pub fn parse_procpulse_procs(text: &str) -> Result<Procs, ParseError> {
    let procs: Procs = json_object(FILE, text)?;
    if procs.total != procs.category_sum() {
        return Err(ParseError::Invalid {
            file: FILE,
            field: "total",
            value: format!(
                "{} (categories sum to {})",
                procs.total,
                procs.category_sum()
            ),
        });
    }
    Ok(procs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "{\"total\":10,\"running\":1,\"sleeping\":3,\"disk_sleep\":1,\"stopped\":1,\"traced\":1,\"zombie\":1,\"dead\":0,\"idle\":2,\"threads\":30}\n";

    #[test]
    fn parses() {
        let p = parse_procpulse_procs(SAMPLE).unwrap();
        assert_eq!(p.total, 10);
        assert_eq!(p.idle, 2);
        assert_eq!(p.threads, 30);
    }

    #[test]
    fn rejects_bad_total_truncation_and_negative() {
        assert!(parse_procpulse_procs(&SAMPLE.replace("\"total\":10", "\"total\":11")).is_err());
        assert!(parse_procpulse_procs(&SAMPLE[..SAMPLE.len() - 5]).is_err());
        assert!(parse_procpulse_procs(&SAMPLE.replace("\"dead\":0", "\"dead\":-1")).is_err());
        let err = parse_procpulse_procs(&SAMPLE.replace("\"idle\":2,", "")).unwrap_err();
        assert!(err.to_string().contains("idle"), "{err}");
    }
}
