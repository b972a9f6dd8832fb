//! `/proc/[pid]/status`: the few `Key:\tvalue` lines the agent may use.

use super::{ParseError, num};

const FILE: &str = "/proc/[pid]/status";

/// Fields of one /proc/[pid]/status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PidStatus {
    /// `Name` (the comm, with `\n` and `\\` escaped by the kernel).
    pub name: String,
    /// First letter of `State` (`S (sleeping)` → `S`).
    pub state: char,
    /// `PPid`.
    pub ppid: u32,
    /// Real uid (first of the four `Uid` values).
    pub uid: u32,
    /// `Threads`.
    pub threads: u64,
    /// `VmRSS` in KiB; absent for kernel threads and zombies (then 0).
    pub rss_kb: u64,
}

/// Parses /proc/[pid]/status. `Name`, `State`, `PPid`, `Uid` and `Threads` are required.
pub fn parse_pid_status(text: &str) -> Result<PidStatus, ParseError> {
    let (mut name, mut state, mut ppid, mut uid, mut threads) = (None, None, None, None, None);
    let mut rss_kb = 0;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim_start_matches([' ', '\t']);
        match key {
            "Name" => name = Some(value.to_owned()),
            "State" => {
                state = Some(
                    value
                        .chars()
                        .next()
                        .filter(char::is_ascii_alphabetic)
                        .ok_or_else(|| ParseError::Invalid {
                            file: FILE,
                            field: "State",
                            value: super::truncate(value),
                        })?,
                )
            }
            "PPid" => ppid = Some(num(FILE, "PPid", Some(value.trim()))?),
            "Uid" => uid = Some(num(FILE, "Uid", value.split_ascii_whitespace().next())?),
            "Threads" => threads = Some(num(FILE, "Threads", Some(value.trim()))?),
            "VmRSS" => {
                let mut p = value.split_ascii_whitespace();
                rss_kb = num(FILE, "VmRSS", p.next())?;
            }
            _ => {}
        }
    }
    let missing = |field| ParseError::Missing { file: FILE, field };
    Ok(PidStatus {
        name: name.ok_or(missing("Name"))?,
        state: state.ok_or(missing("State"))?,
        ppid: ppid.ok_or(missing("PPid"))?,
        uid: uid.ok_or(missing("Uid"))?,
        threads: threads.ok_or(missing("Threads"))?,
        rss_kb,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPTURED: &str = "Name:\tsd-pam\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t812\nNgid:\t0\nPid:\t812\nPPid:\t811\nTracerPid:\t0\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\nVmRSS:\t    5120 kB\nThreads:\t3\n";

    #[test]
    fn parses_captured_text() {
        let s = parse_pid_status(CAPTURED).unwrap();
        assert_eq!(s.name, "sd-pam");
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 811);
        assert_eq!(s.uid, 1000);
        assert_eq!(s.threads, 3);
        assert_eq!(s.rss_kb, 5120);
    }

    #[test]
    fn kernel_thread_has_no_rss() {
        let t = CAPTURED
            .replace("VmRSS:\t    5120 kB\n", "")
            .replace("S (sleeping)", "I (idle)");
        let s = parse_pid_status(&t).unwrap();
        assert_eq!((s.state, s.rss_kb), ('I', 0));
    }

    #[test]
    fn truncated_and_malformed() {
        let cut = &CAPTURED[..CAPTURED.find("Uid").unwrap()];
        assert!(matches!(
            parse_pid_status(cut),
            Err(ParseError::Missing { field: "Uid", .. })
        ));
        assert!(parse_pid_status(&CAPTURED.replace("PPid:\t811", "PPid:\tx")).is_err());
        assert!(parse_pid_status(&CAPTURED.replace("S (sleeping)", "")).is_err());
        assert!(parse_pid_status("").is_err());
    }
}
