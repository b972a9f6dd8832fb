//! `/proc/[pid]/stat`: `pid (comm) state ppid … utime stime … num_threads … starttime
//! vsize rss …`. The comm may contain spaces and parentheses (`a b) c`), so it is taken
//! between the first `(` and the **last** `)`; it may also hold bytes that are not UTF-8.

use super::{ParseError, num};

const FILE: &str = "/proc/[pid]/stat";

/// The fields of one /proc/[pid]/stat the agent uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PidStat {
    /// Process id.
    pub pid: u32,
    /// Command name (lossily decoded as UTF-8).
    pub comm: String,
    /// procps state letter (R S D T t Z X I …).
    pub state: char,
    /// Parent's process id.
    pub ppid: u32,
    /// User time, clock ticks.
    pub utime_ticks: u64,
    /// System time, clock ticks.
    pub stime_ticks: u64,
    /// Nice value (field 19; −20..=19 on Linux).
    pub nice: i64,
    /// Threads in the thread group.
    pub num_threads: u64,
    /// Start time after boot, clock ticks.
    pub starttime_ticks: u64,
    /// Resident set size, pages.
    pub rss_pages: u64,
}

/// Parses the bytes of one /proc/[pid]/stat.
pub fn parse_pid_stat(bytes: &[u8]) -> Result<PidStat, ParseError> {
    let open = bytes
        .iter()
        .position(|&b| b == b'(')
        .ok_or(ParseError::Malformed {
            file: FILE,
            message: "no '(' before comm".into(),
        })?;
    let close = bytes
        .iter()
        .rposition(|&b| b == b')')
        .filter(|&c| c > open)
        .ok_or(ParseError::Malformed {
            file: FILE,
            message: "no ')' after comm".into(),
        })?;
    let head = std::str::from_utf8(&bytes[..open]).map_err(|_| ParseError::Malformed {
        file: FILE,
        message: "pid is not ASCII".into(),
    })?;
    let pid = num(FILE, "pid", Some(head.trim()))?;
    let comm = String::from_utf8_lossy(&bytes[open + 1..close]).into_owned();
    let tail = std::str::from_utf8(&bytes[close + 1..]).map_err(|_| ParseError::Malformed {
        file: FILE,
        message: "fields after comm are not ASCII".into(),
    })?;
    let mut f = tail.split_ascii_whitespace();
    let state_text = f.next().ok_or(ParseError::Missing {
        file: FILE,
        field: "state",
    })?;
    let mut chars = state_text.chars();
    let state = match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii_alphabetic() => c,
        _ => {
            return Err(ParseError::Invalid {
                file: FILE,
                field: "state",
                value: super::truncate(state_text),
            });
        }
    };
    // Field numbers as in proc(5); the iterator is now at field 4 (ppid).
    let ppid = num(FILE, "ppid", f.next())?;
    let utime_ticks = num(FILE, "utime", f.nth(9))?; // field 14
    let stime_ticks = num(FILE, "stime", f.next())?; // 15
    let nice = num(FILE, "nice", f.nth(3))?; // 19
    let num_threads = num(FILE, "num_threads", f.next())?; // 20
    let starttime_ticks = num(FILE, "starttime", f.nth(1))?; // 22
    let rss_pages: i64 = num(FILE, "rss", f.nth(1))?; // 24
    Ok(PidStat {
        pid,
        comm,
        state,
        ppid,
        utime_ticks,
        stime_ticks,
        nice,
        num_threads,
        starttime_ticks,
        rss_pages: rss_pages.max(0) as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAT: &str = "15577 (cat) R 15569 15569 5868 0 -1 4194304 96 0 0 0 7 3 0 0 20 0 1 0 56096 3133440 359 18446744073709551615 94551506722816 94551506742697 140734888234560 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 94551506758704 94551506760320 94551964807168 140734888237588 140734888237608 140734888237608 140734888239083 0\n";

    fn with_comm(comm: &str, state: &str) -> String {
        CAT.replace("(cat) R", &format!("({comm}) {state}"))
    }

    #[test]
    fn parses_captured_text() {
        let s = parse_pid_stat(CAT.as_bytes()).unwrap();
        assert_eq!(s.pid, 15577);
        assert_eq!(s.comm, "cat");
        assert_eq!(s.state, 'R');
        assert_eq!(s.ppid, 15569);
        assert_eq!((s.utime_ticks, s.stime_ticks), (7, 3));
        assert_eq!(s.num_threads, 1);
        assert_eq!(s.starttime_ticks, 56096);
        assert_eq!(s.rss_pages, 359);
    }

    #[test]
    fn nasty_comms() {
        for comm in ["(sd-pam)", "a b) c", "123456789012345", ") (", "x)", ""] {
            let s = parse_pid_stat(with_comm(comm, "S").as_bytes()).unwrap();
            assert_eq!(s.comm, comm);
            assert_eq!(s.ppid, 15569);
            assert_eq!(s.rss_pages, 359);
        }
    }

    #[test]
    fn non_utf8_comm_is_decoded_lossily() {
        let mut b = b"7 (a\xffb) S 1 ".to_vec();
        b.extend_from_slice(CAT.split_once(" R 15569 ").unwrap().1.as_bytes());
        let s = parse_pid_stat(&b).unwrap();
        assert_eq!(s.comm, "a\u{fffd}b");
    }

    #[test]
    fn every_state_letter() {
        for st in ["R", "S", "D", "T", "t", "Z", "X", "I", "P"] {
            let s = parse_pid_stat(with_comm("x", st).as_bytes()).unwrap();
            assert_eq!(s.state.to_string(), st);
        }
        assert!(parse_pid_stat(with_comm("x", "RS").as_bytes()).is_err());
        assert!(parse_pid_stat(with_comm("x", "1").as_bytes()).is_err());
    }

    #[test]
    fn truncated_at_every_point_is_an_error_not_a_panic() {
        let b = CAT.as_bytes();
        // Everything up to the rss field is required (a cut inside rss itself still
        // leaves a number, which cannot be told from a whole one).
        let rss_start = CAT.find(" 359 ").unwrap() + 1;
        let rss_end = rss_start + 3;
        for cut in 0..rss_start {
            assert!(parse_pid_stat(&b[..cut]).is_err(), "cut at {cut}");
        }
        assert!(parse_pid_stat(&b[..rss_end]).is_ok());
    }

    #[test]
    fn malformed() {
        assert!(parse_pid_stat(b"12 cat R 1").is_err());
        assert!(parse_pid_stat(b"x (cat) R 1").is_err());
        assert!(parse_pid_stat(b") 12 (").is_err());
    }
}
