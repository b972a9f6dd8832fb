//! `/proc/procpulse_tasks` (SPEC §2): one JSON object per process per line with the keys
//! `pid, ppid, uid, comm, state, rss_kb, utime_ns, stime_ns`.

use super::ParseError;
use serde::Deserialize;

const FILE: &str = "/proc/procpulse_tasks";

/// One process as the procs module reports it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct KmodTask {
    /// Process id (thread-group id).
    pub pid: u32,
    /// Parent's process id.
    pub ppid: u32,
    /// Real user id.
    pub uid: u32,
    /// Command name (≤ 15 bytes in the kernel).
    pub comm: String,
    /// procps state letter.
    pub state: char,
    /// Resident set size, KiB.
    pub rss_kb: u64,
    /// Cumulative user time of the whole thread group, ns.
    pub utime_ns: u64,
    /// Cumulative system time of the whole thread group, ns.
    pub stime_ns: u64,
}

/// Parses every line; empty lines are skipped. A malformed or truncated line is an error
/// naming its (1-based) line number: a half-written table is not shown as if complete.
pub fn parse_procpulse_tasks(text: &str) -> Result<Vec<KmodTask>, ParseError> {
    let mut out = Vec::with_capacity(text.len() / 120 + 1);
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let task: KmodTask = serde_json::from_str(line).map_err(|e| ParseError::Malformed {
            file: FILE,
            message: format!("line {}: {e}", i + 1),
        })?;
        out.push(task);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = concat!(
        "{\"pid\":1,\"ppid\":0,\"uid\":0,\"comm\":\"init\",\"state\":\"S\",\"rss_kb\":1200,\"utime_ns\":10,\"stime_ns\":20}\n",
        "{\"pid\":42,\"ppid\":1,\"uid\":1000,\"comm\":\"a b) c\",\"state\":\"Z\",\"rss_kb\":0,\"utime_ns\":0,\"stime_ns\":0}\n",
        "{\"pid\":43,\"ppid\":1,\"uid\":0,\"comm\":\"(sd-pam)\",\"state\":\"t\",\"rss_kb\":5,\"utime_ns\":1,\"stime_ns\":2}\n",
    );

    #[test]
    fn parses_every_line_including_odd_comms() {
        let t = parse_procpulse_tasks(SAMPLE).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t[1].comm, "a b) c");
        assert_eq!(t[1].state, 'Z');
        assert_eq!(t[2].comm, "(sd-pam)");
        assert_eq!(t[2].uid, 0);
    }

    #[test]
    fn empty_file_is_an_empty_table() {
        assert!(parse_procpulse_tasks("").unwrap().is_empty());
        assert!(parse_procpulse_tasks("\n\n").unwrap().is_empty());
    }

    #[test]
    fn truncated_last_line_is_an_error_with_its_number() {
        let cut = &SAMPLE[..SAMPLE.len() - 20];
        let err = parse_procpulse_tasks(cut).unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
    }

    #[test]
    fn missing_key_and_multi_letter_state_are_errors() {
        let no_uid = SAMPLE.replace("\"uid\":1000,", "");
        assert!(
            parse_procpulse_tasks(&no_uid)
                .unwrap_err()
                .to_string()
                .contains("uid")
        );
        assert!(parse_procpulse_tasks(&SAMPLE.replace("\"Z\"", "\"ZZ\"")).is_err());
    }
}
