//! /proc/[pid]/stat and /proc/[pid]/status fields the tasks checks compare with
//! /proc/procpulse_tasks (pure, tested on captured text); the stat format itself is
//! parsed by procpulse-model.

/// The /proc/[pid]/stat fields a tasks line reproduces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PidStat {
    /// Field 1.
    pub pid: u64,
    /// Field 2, between the first `(` and the last `)` (lossily decoded).
    pub comm: String,
    /// Field 3.
    pub state: char,
    /// Field 4.
    pub ppid: u64,
    /// Field 14, clock ticks.
    pub utime: u64,
    /// Field 15, clock ticks.
    pub stime: u64,
    /// Field 20.
    pub num_threads: u64,
    /// Field 24, pages.
    pub rss_pages: u64,
}

/// Parses one /proc/[pid]/stat with the agent's parser (procpulse-model, one definition
/// of the format); `None` when it is truncated or malformed.
pub fn parse_pid_stat(bytes: &[u8]) -> Option<PidStat> {
    let s = procpulse_model::parse::parse_pid_stat(bytes).ok()?;
    Some(PidStat {
        pid: u64::from(s.pid),
        comm: s.comm,
        state: s.state,
        ppid: u64::from(s.ppid),
        utime: s.utime_ticks,
        stime: s.stime_ticks,
        num_threads: s.num_threads,
        rss_pages: s.rss_pages,
    })
}

/// The effective uid of /proc/[pid]/status (`Uid:` real, effective, saved, fs).
pub fn status_euid(text: &str) -> Option<u64> {
    uid_line(text).map(|u| u[1])
}

/// The four ids of /proc/[pid]/status's `Uid:` line.
pub fn uid_line(text: &str) -> Option<[u64; 4]> {
    let line = text.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    let mut it = line.split_ascii_whitespace().map(|v| v.parse::<u64>());
    let mut out = [0; 4];
    for v in &mut out {
        *v = it.next()?.ok()?;
    }
    Some(out)
}

/// Numeric entries of a /proc directory, ascending.
pub fn list_pids(root: &str) -> std::io::Result<Vec<u64>> {
    let mut out: Vec<u64> = std::fs::read_dir(root)?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    out.sort_unstable();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &[u8] = b"812 (a b) (c)) S 811 812 812 0 -1 4194560 120 0 0 0 17 4 0 0 20 0 3 0 1234 9000000 300 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0\n";

    #[test]
    fn stat_fields_after_an_odd_comm() {
        let s = parse_pid_stat(STAT).unwrap();
        assert_eq!(s.pid, 812);
        assert_eq!(s.comm, "a b) (c)");
        assert_eq!(s.state, 'S');
        assert_eq!(s.ppid, 811);
        assert_eq!((s.utime, s.stime), (17, 4));
        assert_eq!(s.num_threads, 3);
        assert_eq!(s.rss_pages, 300);
    }

    #[test]
    fn truncated_stat_is_none() {
        for cut in [0, 5, 20, 60, 80] {
            assert_eq!(parse_pid_stat(&STAT[..cut]), None, "cut {cut}");
        }
    }

    #[test]
    fn effective_uid_is_the_second_column() {
        let status = "Name:\tprocpulse-kmod-\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t0\t1000\t0\t1000\nGid:\t0\t0\t0\t0\n";
        assert_eq!(status_euid(status), Some(1000));
        assert_eq!(uid_line(status), Some([0, 1000, 0, 1000]));
        assert_eq!(status_euid("Uid:\t0\n"), None);
        assert_eq!(status_euid(""), None);
    }
}
