//! `/proc/procpulse_procs` (docs/design.md §2): process-state counts, already in the snapshot's
//! shape.

use super::{ParseError, json_object};
use crate::snapshot::Procs;

const FILE: &str = "/proc/procpulse_procs";

/// The module's `parked` count: parked kernel threads (`P`), which it includes in its
/// `total` but the snapshot has no category for (absent in older modules: 0).
#[derive(serde::Deserialize)]
struct Parked {
    #[serde(default)]
    parked: u64,
}

/// Parses the file's text, checking that `total` is the sum of the categories and
/// `parked`. The snapshot's `total` leaves parked threads out, as the /proc walk's does
/// ([`Procs::count_state`] counts no `P`), so the two sources agree on a host with parked
/// threads (e.g. an offline CPU's), where a module total would otherwise be refused.
pub fn parse_procpulse_procs(text: &str) -> Result<Procs, ParseError> {
    let mut procs: Procs = json_object(FILE, text)?;
    let Parked { parked } = json_object(FILE, text)?;
    let sum = procs
        .checked_category_sum()
        .and_then(|s| s.checked_add(parked));
    if sum != Some(procs.total) {
        return Err(ParseError::Invalid {
            file: FILE,
            field: "total",
            value: format!(
                "{} (categories and parked sum to {})",
                procs.total,
                sum.map_or("more than u64".to_owned(), |s| s.to_string())
            ),
        });
    }
    procs.total -= parked;
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
    fn parked_threads_are_in_the_module_total_but_not_the_snapshot_s() {
        // What the module writes with two parked kernel threads (an offline CPU's).
        let text = SAMPLE
            .replace("\"total\":10", "\"total\":12")
            .replace("\"threads\":30", "\"parked\":2,\"threads\":30");
        let p = parse_procpulse_procs(&text).unwrap();
        assert_eq!(p.total, 10, "as the /proc walk counts: no P");
        assert_eq!(p.total, p.category_sum());
        let wrong = text.replace("\"parked\":2", "\"parked\":3");
        assert!(parse_procpulse_procs(&wrong).is_err());
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
