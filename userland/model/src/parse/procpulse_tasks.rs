//! `/proc/procpulse_tasks` (docs/design.md §2): one JSON object per process per line with the keys
//! `pid, ppid, uid, comm, state, rss_kb, threads, utime_ns, stime_ns`. `comm` is omitted
//! for kernel threads whose /proc name the module cannot reproduce (workqueue workers,
//! 15-byte names); `threads` is absent from lines of older modules.

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
    /// Effective user id (what ps shows; /proc/[pid]/status `Uid:` second column).
    pub uid: u32,
    /// Command name as /proc/[pid]/stat shows it; `None` for kernel threads the module
    /// cannot name (read /proc/[pid]/stat for those).
    #[serde(default)]
    pub comm: Option<String>,
    /// procps state letter.
    pub state: char,
    /// Resident set size, KiB.
    pub rss_kb: u64,
    /// Threads in the thread group (/proc/[pid]/stat `num_threads`); `None` from older
    /// modules.
    #[serde(default)]
    pub threads: Option<u32>,
    /// Cumulative user time of the whole thread group, ns (/proc/[pid]/stat's utime in
    /// ns). `None` where the module cannot read it exactly (a VIRT_CPU_ACCOUNTING_GEN kernel
    /// booted with `nohz_full=`; see kmod/README.md).
    #[serde(default)]
    pub utime_ns: Option<u64>,
    /// Cumulative system time of the whole thread group, ns; `None` as `utime_ns`.
    #[serde(default)]
    pub stime_ns: Option<u64>,
}

impl KmodTask {
    /// utime + stime, ns, when the module reported both.
    pub fn cpu_ns(&self) -> Option<u64> {
        Some(self.utime_ns?.saturating_add(self.stime_ns?))
    }
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
    fn times_may_be_omitted_and_then_have_no_sum() {
        let line = "{\"pid\":7,\"ppid\":1,\"uid\":0,\"comm\":\"x\",\"state\":\"R\",\"rss_kb\":4,\"threads\":2}\n";
        let t = parse_procpulse_tasks(line).unwrap();
        assert_eq!(
            (t[0].utime_ns, t[0].stime_ns, t[0].cpu_ns()),
            (None, None, None)
        );
        let t = parse_procpulse_tasks(SAMPLE).unwrap();
        assert_eq!(t[0].cpu_ns(), Some(30));
    }

    #[test]
    fn parses_every_line_including_odd_comms() {
        let t = parse_procpulse_tasks(SAMPLE).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t[1].comm.as_deref(), Some("a b) c"));
        assert_eq!(t[1].state, 'Z');
        assert_eq!(t[2].comm.as_deref(), Some("(sd-pam)"));
        assert_eq!(t[2].uid, 0);
        assert_eq!(t[0].threads, None);
    }

    /// Captured from the 6.12 module: `threads`, and no `comm` for a workqueue worker.
    const SAMPLE_612: &str = concat!(
        "{\"pid\":1,\"ppid\":0,\"uid\":0,\"comm\":\"init\",\"state\":\"S\",\"rss_kb\":1200,\"threads\":1,\"utime_ns\":10000000,\"stime_ns\":20000000}\n",
        "{\"pid\":2,\"ppid\":0,\"uid\":0,\"comm\":\"kthreadd\",\"state\":\"S\",\"rss_kb\":0,\"threads\":1,\"utime_ns\":0,\"stime_ns\":0}\n",
        "{\"pid\":9,\"ppid\":2,\"uid\":0,\"state\":\"I\",\"rss_kb\":0,\"threads\":1,\"utime_ns\":0,\"stime_ns\":3000000}\n",
        "{\"pid\":77,\"ppid\":1,\"uid\":1000,\"comm\":\"procpulse-agent\",\"state\":\"R\",\"rss_kb\":9000,\"threads\":12,\"utime_ns\":5,\"stime_ns\":6}\n",
    );

    #[test]
    fn new_shape_with_threads_and_without_comm_parses() {
        let t = parse_procpulse_tasks(SAMPLE_612).unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(t[2].comm, None);
        assert_eq!(t[2].threads, Some(1));
        assert_eq!(t[3].comm.as_deref(), Some("procpulse-agent"));
        assert_eq!(t[3].threads, Some(12));
        assert_eq!(t[3].uid, 1000);
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
