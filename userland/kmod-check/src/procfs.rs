//! The userland side of every comparison: parsers for /proc/meminfo, /proc/stat and
//! /proc/[pid]/stat (pure, tested on captured text) and the /proc/[pid] walk.

use std::collections::BTreeMap;

/// /proc/meminfo as `name → kB` (lines without a kB unit are kept as plain numbers).
pub fn parse_meminfo(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, rest) = l.split_once(':')?;
            let n = rest.split_whitespace().next()?.parse().ok()?;
            Some((k.to_owned(), n))
        })
        .collect()
}

/// The fields of /proc/[pid]/stat after `comm`, which is enclosed in the *last* `)` of
/// the line because a comm may itself contain spaces and parentheses.
fn after_comm(stat: &[u8]) -> Option<&[u8]> {
    let close = stat.iter().rposition(|&b| b == b')')?;
    stat.get(close + 2..)
}

/// The state letter of /proc/[pid]/stat.
pub fn stat_state(stat: &[u8]) -> Option<char> {
    after_comm(stat)?.first().map(|&b| b as char)
}

/// `num_threads` (field 20) of /proc/[pid]/stat.
pub fn stat_num_threads(stat: &[u8]) -> Option<u64> {
    let rest = std::str::from_utf8(after_comm(stat)?).ok()?;
    rest.split_ascii_whitespace().nth(17)?.parse().ok()
}

/// The docs/design.md §2 field that counts processes with state `letter`.
pub fn category(letter: char) -> Option<&'static str> {
    Some(match letter {
        'R' => "running",
        'S' => "sleeping",
        'D' => "disk_sleep",
        'T' => "stopped",
        't' => "traced",
        'Z' => "zombie",
        'X' => "dead",
        'I' => "idle",
        'P' => "parked",
        _ => return None,
    })
}

/// Process counts per docs/design.md §2 category plus `total` and `threads`, from a /proc walk.
pub type Counts = BTreeMap<&'static str, u64>;

/// Adds one process's /proc/[pid]/stat to `counts`; false when the text is unusable.
pub fn count_stat(counts: &mut Counts, stat: &[u8]) -> bool {
    let Some(cat) = stat_state(stat).and_then(category) else {
        return false;
    };
    *counts.entry(cat).or_default() += 1;
    *counts.entry("total").or_default() += 1;
    *counts.entry("threads").or_default() += stat_num_threads(stat).unwrap_or(1);
    true
}

/// Counts process states by reading every /proc/[pid]/stat under `root` — what the
/// agent's procfs fallback does. A process that exits mid-walk is skipped.
pub fn walk_counts(root: &str) -> std::io::Result<Counts> {
    let mut counts = Counts::new();
    let mut path = String::with_capacity(32);
    for e in std::fs::read_dir(root)? {
        let e = e?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        path.clear();
        path.push_str(root);
        path.push('/');
        path.push_str(name);
        path.push_str("/stat");
        if let Ok(stat) = std::fs::read(&path) {
            count_stat(&mut counts, &stat);
        }
    }
    Ok(counts)
}

/// The aggregate `cpu ` line of /proc/stat: user nice system idle iowait irq softirq
/// steal, in USER_HZ ticks.
pub fn parse_stat_cpu(text: &str) -> Option<[u64; 8]> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let mut out = [0u64; 8];
    let mut it = line.split_whitespace().skip(1);
    for v in &mut out {
        *v = it.next()?.parse().ok()?;
    }
    Some(out)
}

/// The three load averages of /proc/loadavg ("0.31 0.08 0.03 3/45 123") times 100, as
/// the kernel prints them (LOAD_INT.LOAD_FRAC, two decimals).
pub fn parse_loadavg_x100(text: &str) -> Option<[u64; 3]> {
    let mut out = [0u64; 3];
    let mut it = text.split_whitespace();
    for v in &mut out {
        let (int, frac) = it.next()?.split_once('.')?;
        if frac.len() != 2 {
            return None;
        }
        *v = int.parse::<u64>().ok()? * 100 + frac.parse::<u64>().ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loadavg_in_hundredths() {
        assert_eq!(
            parse_loadavg_x100("0.31 0.08 12.03 3/45 123\n"),
            Some([31, 8, 1203])
        );
        assert_eq!(parse_loadavg_x100("0.31 0.08"), None);
        assert_eq!(parse_loadavg_x100("0.3 0.08 0.03 1/1 1"), None);
        assert_eq!(parse_loadavg_x100(""), None);
    }

    const MEMINFO: &str = "MemTotal:         496532 kB\nMemFree:          461020 kB\nMemAvailable:     452688 kB\nBuffers:               0 kB\nCached:             9480 kB\nHugePages_Total:       0\n";

    #[test]
    fn meminfo_values_and_unitless_lines() {
        let m = parse_meminfo(MEMINFO);
        assert_eq!(m["MemTotal"], 496532);
        assert_eq!(m["Cached"], 9480);
        assert_eq!(m["HugePages_Total"], 0);
    }

    #[test]
    fn comm_with_spaces_and_parens() {
        let stat = b"42 (a) b (c)) t 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 3 0 99 1000 10 18446744073709551615\n";
        assert_eq!(stat_state(stat), Some('t'));
        assert_eq!(stat_num_threads(stat), Some(3));
    }

    #[test]
    fn fifteen_byte_comm_and_kernel_thread() {
        let stat = b"2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0 18446744073709551615\n";
        assert_eq!(stat_state(stat), Some('S'));
        let stat =
            b"77 (procpulse-kmod-) R 1 77 1 0 -1 4194304 90 0 0 0 0 0 0 0 20 0 65 0 500 0 0\n";
        assert_eq!(stat_state(stat), Some('R'));
        assert_eq!(stat_num_threads(stat), Some(65));
    }

    #[test]
    fn truncated_stat_is_not_counted() {
        let mut c = Counts::new();
        assert!(!count_stat(&mut c, b"42 (x"));
        assert!(!count_stat(&mut c, b"42 (x) Q 1"));
        assert!(count_stat(&mut c, b"42 (x) Z 1 42"));
        assert_eq!(c["zombie"], 1);
        assert_eq!(c["threads"], 1);
    }

    #[test]
    fn stat_cpu_line() {
        let text = "cpu  10 1 20 300 4 0 5 0 0 0\ncpu0 5 0 10 150 2 0 3 0 0 0\nintr 1\n";
        assert_eq!(parse_stat_cpu(text), Some([10, 1, 20, 300, 4, 0, 5, 0]));
        assert_eq!(parse_stat_cpu("cpu  1 2\n"), None);
    }
}
