//! Hidden helper subcommands the checks spawn as separate processes (the checker cannot
//! `fork` without `unsafe`, so it re-executes itself): a process whose real and
//! effective uids differ, a process whose threads churn, readers inside a new pid
//! namespace or as an unprivileged user, and a memory hog that pushes pages to swap.
//! Each prints one line on stdout when it is set up, then sleeps or exits.

use crate::CheckError;
use nix::unistd::{Gid, Uid};
use std::io::Write;
use std::time::{Duration, Instant};

fn sys(what: &str, e: nix::Error) -> CheckError {
    CheckError::Mismatch(format!("{what}: {e}"))
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The checker binary itself, for spawning helpers.
pub fn self_exe() -> String {
    std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "/bin/procpulse-kmod-check".into())
}

/// `setuid-child`: as root, sets the real/effective/saved uids, marks itself dumpable
/// again (a credential change clears it, which would hide it under hidepid), prints
/// `ready <pid>` and sleeps `seconds`.
pub fn setuid_child(ruid: u32, euid: u32, suid: u32, seconds: u64) -> Result<String, CheckError> {
    if ruid == euid && euid == suid {
        nix::unistd::setgroups(&[]).map_err(|e| sys("setgroups", e))?;
        nix::unistd::setgid(Gid::from_raw(ruid)).map_err(|e| sys("setgid", e))?;
    }
    nix::unistd::setresuid(
        Uid::from_raw(ruid),
        Uid::from_raw(euid),
        Uid::from_raw(suid),
    )
    .map_err(|e| sys("setresuid", e))?;
    nix::sys::prctl::set_dumpable(true).map_err(|e| sys("PR_SET_DUMPABLE", e))?;
    say(&format!("ready {}", std::process::id()));
    std::thread::sleep(Duration::from_secs(seconds));
    Ok(format!("slept {seconds} s"))
}

/// `thread-churn`: for `seconds`, keeps about `alive` short-lived threads that each burn
/// ~5 ms of CPU and exit. Prints `ready <pid>` first.
pub fn thread_churn(alive: usize, seconds: u64) -> Result<String, CheckError> {
    say(&format!("ready {}", std::process::id()));
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut live: std::collections::VecDeque<std::thread::JoinHandle<u64>> =
        std::collections::VecDeque::new();
    let mut spawned = 0u64;
    while Instant::now() < end {
        if live.len() >= alive.max(1)
            && let Some(h) = live.pop_front()
        {
            let _ = h.join();
        }
        live.push_back(std::thread::spawn(|| {
            let t = Instant::now();
            let mut x = 0u64;
            while t.elapsed() < Duration::from_millis(5) {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
            x
        }));
        spawned += 1;
    }
    for h in live {
        let _ = h.join();
    }
    Ok(format!("{spawned} threads"))
}

/// What `tasks-list-self` and `tasks-read-as` print: their pid and what they saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// getpid() of the helper (in its own pid namespace).
    pub me: u64,
    /// (pid, uid, ppid) of every line of the tasks file it read.
    pub rows: Vec<(u64, u64, u64)>,
    /// Numeric entries of the /proc directory the file was read through.
    pub proc_pids: Vec<u64>,
}

impl Seen {
    /// One JSON line.
    pub fn to_line(&self) -> String {
        serde_json::json!({"me": self.me, "rows": self.rows, "proc_pids": self.proc_pids})
            .to_string()
    }

    /// Parses [`Seen::to_line`]'s output.
    pub fn parse(line: &str) -> Result<Seen, CheckError> {
        let bad = |m: String| CheckError::Format {
            file: "helper stdout".into(),
            msg: format!("{m}: {line:?}"),
        };
        let v: serde_json::Value =
            serde_json::from_str(line.trim()).map_err(|e| bad(e.to_string()))?;
        let me = v["me"].as_u64().ok_or_else(|| bad("no me".into()))?;
        let rows = v["rows"]
            .as_array()
            .ok_or_else(|| bad("no rows".into()))?
            .iter()
            .map(|r| Some((r[0].as_u64()?, r[1].as_u64()?, r[2].as_u64()?)))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("bad row".into()))?;
        let proc_pids = v["proc_pids"]
            .as_array()
            .ok_or_else(|| bad("no proc_pids".into()))?
            .iter()
            .map(serde_json::Value::as_u64)
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("bad proc pid".into()))?;
        Ok(Seen {
            me,
            rows,
            proc_pids,
        })
    }
}

fn see(file: &str) -> Result<Seen, CheckError> {
    let tasks = crate::fields::parse_tasks(&crate::read(file)?)?;
    let dir = std::path::Path::new(file)
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "/proc".into());
    let proc_pids = crate::pidstat::list_pids(&dir).map_err(|source| CheckError::Io {
        path: dir.clone(),
        source,
    })?;
    Ok(Seen {
        me: u64::from(std::process::id()),
        rows: tasks.iter().map(|t| (t.pid, t.uid, t.ppid)).collect(),
        proc_pids,
    })
}

/// `tasks-list-self`: prints a [`Seen`] line for `file` (run inside a new pid namespace).
pub fn tasks_list_self(file: &str) -> Result<String, CheckError> {
    let seen = see(file)?;
    say(&seen.to_line());
    Ok(format!("{} rows", seen.rows.len()))
}

/// `tasks-read-as`: drops to `uid` (groups, gid and uid; dumpable again), then prints a
/// [`Seen`] line for `file`.
pub fn tasks_read_as(uid: u32, file: &str) -> Result<String, CheckError> {
    nix::unistd::setgroups(&[]).map_err(|e| sys("setgroups", e))?;
    nix::unistd::setgid(Gid::from_raw(uid)).map_err(|e| sys("setgid", e))?;
    nix::unistd::setuid(Uid::from_raw(uid)).map_err(|e| sys("setuid", e))?;
    nix::sys::prctl::set_dumpable(true).map_err(|e| sys("PR_SET_DUMPABLE", e))?;
    let seen = see(file)?;
    say(&seen.to_line());
    Ok(format!("{} rows", seen.rows.len()))
}

/// Swap in use per /proc/meminfo, KiB: (SwapTotal, SwapTotal − SwapFree).
pub fn swap_used_kb() -> Result<(u64, u64), CheckError> {
    let m = crate::procfs::parse_meminfo(&crate::read("/proc/meminfo")?);
    let total = m.get("SwapTotal").copied().unwrap_or(0);
    let free = m.get("SwapFree").copied().unwrap_or(0);
    Ok((total, total.saturating_sub(free)))
}

/// Fills one page so that zram cannot store it as a same-filled page (a header of
/// distinct words) while it stays compressible (the rest is zero), so swapping it out
/// frees almost a whole page of RAM.
pub fn fill_page(page: &mut [u8], index: u64) {
    for (w, chunk) in page.chunks_mut(8).take(4).enumerate() {
        let v = (index << 8 | w as u64 | 0x5a00_0000_0000_0000).to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
}

/// `swap-hog`: allocates anonymous memory in 1 MiB chunks (each page filled by
/// [`fill_page`]) until /proc/meminfo shows at least `target_kb` of swap in use, or
/// `max_mib` is reached, then prints `ready <allocated MiB> <swap used kB>` (or `stuck …`)
/// and keeps the memory until killed.
pub fn swap_hog(target_kb: u64, max_mib: u64) -> Result<String, CheckError> {
    const PAGE: usize = 4096;
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    let mut index = 0u64;
    let mut used = swap_used_kb()?.1;
    while used < target_kb && (chunks.len() as u64) < max_mib {
        let mut c = vec![0u8; 1 << 20];
        for page in c.chunks_mut(PAGE) {
            fill_page(page, index);
            index += 1;
        }
        chunks.push(c);
        if chunks.len() % 8 == 0 {
            used = swap_used_kb()?.1;
        }
    }
    used = swap_used_kb()?.1;
    let word = if used >= target_kb { "ready" } else { "stuck" };
    say(&format!("{word} {} {used}", chunks.len()));
    loop {
        std::thread::sleep(Duration::from_secs(3600));
        // Touch nothing: the pages stay swapped out.
        std::hint::black_box(&chunks);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filled_pages_are_not_same_filled_and_differ() {
        let mut a = vec![0u8; 4096];
        let mut b = vec![0u8; 4096];
        fill_page(&mut a, 1);
        fill_page(&mut b, 2);
        assert_ne!(a, b);
        let words: Vec<&[u8]> = a.chunks(8).collect();
        assert!(words.iter().any(|w| *w != words[0]));
        assert!(a[..8].iter().any(|&x| x != 0));
    }

    #[test]
    fn seen_round_trips() {
        let s = Seen {
            me: 1,
            rows: vec![(1, 0, 0), (5, 1000, 1)],
            proc_pids: vec![1, 5],
        };
        assert_eq!(Seen::parse(&s.to_line()).unwrap(), s);
        assert!(Seen::parse("{\"me\":1}").is_err());
    }
}
