//! /proc/procpulse_tasks with very many processes: concurrent full reads are complete
//! and ordered, and an open descriptor costs a bounded amount of kernel memory.

use crate::fields::parse_tasks;
use crate::procfs::parse_meminfo;
use crate::sleepers::Sleepers;
use crate::{CheckError, TASKS_FILE, read};
use std::io::Read;
use std::time::{Duration, Instant};

/// Descriptors opened for the memory measurement.
pub const FDS: usize = 512;
/// Kernel memory one open, positioned descriptor may cost.
pub const MAX_BYTES_PER_FD: u64 = 256 * 1024;
/// Full reads per reader thread.
const READS_PER_READER: usize = 3;

/// A full read: at least `min` lines, pids strictly increasing (so none repeated).
pub fn check_read(text: &str, min: usize) -> Result<usize, String> {
    let tasks = parse_tasks(text).map_err(|e| e.to_string())?;
    if tasks.len() < min {
        return Err(format!("{} lines, want >= {min}", tasks.len()));
    }
    if let Some(w) = tasks.windows(2).find(|w| w[1].pid <= w[0].pid) {
        return Err(format!("pid {} after pid {}", w[1].pid, w[0].pid));
    }
    Ok(tasks.len())
}

/// Bytes per descriptor from the unreclaimable slab (SUnreclaim, kB) before and after
/// opening and reading `fds` descriptors: `struct file`, the `seq_file`, its buffer and
/// the iterator state all come from there.
pub fn per_fd_bytes(before_kb: u64, after_kb: u64, fds: usize) -> u64 {
    after_kb.saturating_sub(before_kb) * 1024 / fds.max(1) as u64
}

fn write_sysctl(path: &str, value: u64) -> Result<(), CheckError> {
    let cur: u64 = read(path)?.trim().parse().unwrap_or(0);
    if cur >= value {
        return Ok(());
    }
    std::fs::write(path, value.to_string()).map_err(|source| CheckError::Io {
        path: path.into(),
        source,
    })
}

fn slab_unreclaimable_kb() -> Result<u64, CheckError> {
    parse_meminfo(&read("/proc/meminfo")?)
        .get("SUnreclaim")
        .copied()
        .ok_or_else(|| CheckError::Mismatch("/proc/meminfo has no SUnreclaim".into()))
}

/// How long forking the processes may take (~10 ms each under TCG, more with lockdep).
const SPAWN_LIMIT: Duration = Duration::from_secs(1800);

/// The `tasks-scale` check.
pub fn check(procs: usize, readers: usize) -> Result<String, CheckError> {
    write_sysctl("/proc/sys/kernel/pid_max", 4_194_304)?;
    write_sysctl("/proc/sys/kernel/threads-max", (procs as u64) * 2 + 10_000)?;
    let sleepers = Sleepers::spawn(procs, SPAWN_LIMIT)?;
    let spawn_s = sleepers.took.as_secs_f64();
    let r = (|| {
        let t = Instant::now();
        let text = read(TASKS_FILE)?;
        let read_ms = t.elapsed().as_secs_f64() * 1000.0;
        let existing = check_read(&text, procs).map_err(CheckError::Mismatch)?;
        let bytes = text.len();
        drop(text);
        let results: Vec<Result<(), CheckError>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..readers)
                .map(|i| {
                    s.spawn(move || {
                        for j in 0..READS_PER_READER {
                            let text = read(TASKS_FILE)?;
                            check_read(&text, procs).map_err(|e| {
                                CheckError::Mismatch(format!("reader {i} read {j}: {e}"))
                            })?;
                        }
                        Ok(())
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().expect("reader")).collect()
        });
        results.into_iter().collect::<Result<Vec<()>, _>>()?;

        std::thread::sleep(Duration::from_millis(200));
        let before = slab_unreclaimable_kb()?;
        let mut fds = Vec::with_capacity(FDS);
        let mut buf = vec![0u8; 4096];
        for _ in 0..FDS {
            let mut f = std::fs::File::open(TASKS_FILE).map_err(|source| CheckError::Io {
                path: TASKS_FILE.into(),
                source,
            })?;
            f.read_exact(&mut buf).map_err(|source| CheckError::Io {
                path: TASKS_FILE.into(),
                source,
            })?;
            fds.push(f);
        }
        let after = slab_unreclaimable_kb()?;
        drop(fds);
        let per_fd = per_fd_bytes(before, after, FDS);
        if per_fd == 0 {
            return Err(CheckError::Mismatch(format!(
                "{FDS} open descriptors did not show in SUnreclaim ({before} -> {after} kB): not measured"
            )));
        }
        if per_fd > MAX_BYTES_PER_FD {
            return Err(CheckError::Mismatch(format!(
                "{FDS} open descriptors cost {per_fd} bytes each (SUnreclaim {before} -> {after} kB), limit {MAX_BYTES_PER_FD}"
            )));
        }
        println!("RESULT kmod_tasks_full_read_ms {read_ms:.1} ms");
        println!("RESULT kmod_tasks_bytes_per_fd {per_fd} bytes");
        Ok(format!(
            "{existing} processes ({bytes} bytes, {procs} forked in {spawn_s:.0} s): {readers} readers x {READS_PER_READER} full reads complete and ordered; one read {read_ms:.1} ms; {per_fd} bytes per open fd ({FDS} fds)"
        ))
    })();
    drop(sleepers);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(pid: u64) -> String {
        format!(
            "{{\"pid\":{pid},\"ppid\":1,\"uid\":0,\"comm\":\"s\",\"state\":\"S\",\"rss_kb\":4,\"threads\":1,\"utime_ns\":0,\"stime_ns\":0}}\n"
        )
    }

    #[test]
    fn ordered_complete_reads() {
        let ok: String = [1, 2, 5, 9].map(line).concat();
        assert_eq!(check_read(&ok, 4), Ok(4));
        assert!(check_read(&ok, 5).unwrap_err().contains("4 lines"));
        let dup: String = [1, 5, 5].map(line).concat();
        assert!(
            check_read(&dup, 1)
                .unwrap_err()
                .contains("pid 5 after pid 5")
        );
        let cut = &ok[..ok.len() - 10];
        assert!(check_read(cut, 1).is_err());
    }

    #[test]
    fn bytes_per_fd() {
        assert_eq!(per_fd_bytes(99_744, 100_000, 256), 1024);
        assert_eq!(per_fd_bytes(100_100, 100_000, 256), 0);
    }
}
