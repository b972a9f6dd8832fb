//! ns per process-state count: /proc/procpulse_procs vs a /proc/[pid]/stat walk vs
//! busybox `ps`, with many sleeping processes (forked by busybox sh); and ns per top-10-by-CPU
//! table: /proc/procpulse_tasks vs a /proc/[pid]/stat walk.

use crate::procfs::walk_counts;
use crate::procs::kmod_counts;
use crate::sleepers::Sleepers;
use crate::{CheckError, PROCS_FILE};
use std::process::{Command, Stdio};
use std::time::Instant;

fn time_ns(n: usize, mut f: impl FnMut() -> Result<(), CheckError>) -> Result<f64, CheckError> {
    f()?; // warm up
    let t = Instant::now();
    for _ in 0..n {
        f()?;
    }
    Ok(t.elapsed().as_nanos() as f64 / n as f64)
}

/// One row of a top-processes table: (pid, comm, utime+stime, rss).
pub type TopRow = (u64, String, u64, u64);

/// The 10 rows with the most CPU time (ties by pid), descending.
pub fn top10(mut rows: Vec<TopRow>) -> Vec<TopRow> {
    let key = |r: &TopRow| (std::cmp::Reverse(r.2), r.0);
    if rows.len() > 10 {
        rows.select_nth_unstable_by_key(9, key);
        rows.truncate(10);
    }
    rows.sort_unstable_by_key(key);
    rows
}

/// Top 10 from /proc/procpulse_tasks (CPU time in ns) with the agent's own parser
/// (procpulse-model); returns it and the bytes read.
pub fn kmod_top() -> Result<(Vec<TopRow>, usize), CheckError> {
    let text = crate::read(crate::TASKS_FILE)?;
    let rows = procpulse_model::parse::parse_procpulse_tasks(&text)
        .map_err(|e| CheckError::Mismatch(e.to_string()))?
        .into_iter()
        .map(|t| {
            let cpu = t.cpu_ns().unwrap_or(0);
            (u64::from(t.pid), t.comm.unwrap_or_default(), cpu, t.rss_kb)
        })
        .collect();
    Ok((top10(rows), text.len()))
}

/// Top 10 from every /proc/[pid]/stat (CPU time in ticks), read and parsed the way the
/// agent's walk does (one reused buffer, procpulse-model's parser); returns it and the
/// bytes read.
pub fn walk_top() -> Result<(Vec<TopRow>, usize), CheckError> {
    use std::io::Read;
    let page_kb = crate::tasks::page_kb();
    let mut rows = Vec::new();
    let mut bytes = 0;
    let mut buf = Vec::with_capacity(512);
    let dir = std::fs::read_dir("/proc").map_err(|source| CheckError::Io {
        path: "/proc".into(),
        source,
    })?;
    let mut path = std::path::PathBuf::from("/proc");
    for e in dir.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        path.push(name);
        path.push("stat");
        buf.clear();
        let ok = std::fs::File::open(&path)
            .and_then(|mut f| f.read_to_end(&mut buf))
            .is_ok();
        path.pop();
        path.pop();
        if !ok {
            continue;
        }
        bytes += buf.len();
        if let Ok(s) = procpulse_model::parse::parse_pid_stat(&buf) {
            let cpu = s.utime_ticks + s.stime_ticks;
            rows.push((u64::from(s.pid), s.comm, cpu, s.rss_pages * page_kb));
        }
    }
    Ok((top10(rows), bytes))
}

/// VmRSS of this process, kB.
fn vm_rss_kb() -> u64 {
    crate::read("/proc/self/status")
        .ok()
        .and_then(|t| crate::procfs::parse_meminfo(&t).get("VmRSS").copied())
        .unwrap_or(0)
}

/// Runs `f` once and returns its result and the growth of VmRSS, kB.
fn rss_growth<T>(f: impl FnOnce() -> Result<T, CheckError>) -> Result<(T, u64), CheckError> {
    let before = vm_rss_kb();
    let r = f()?;
    Ok((r, vm_rss_kb().saturating_sub(before)))
}

/// Runs the benchmark and prints `RESULT` lines; returns a summary.
pub fn run(tasks: usize, reads: usize, walks: usize) -> Result<String, CheckError> {
    let sleepers = Sleepers::spawn(tasks, std::time::Duration::from_secs(3600))?;
    let r = (|| {
        let c = kmod_counts()?;
        if (c["total"] as usize) < tasks {
            return Err(CheckError::Mismatch(format!(
                "only {} processes with {tasks} held",
                c["total"]
            )));
        }
        let kmod = time_ns(reads, || {
            let text = crate::read(PROCS_FILE)?;
            crate::fields::parse_object(PROCS_FILE, &text, crate::fields::PROCS_FIELDS).map(drop)
        })?;
        let walk = time_ns(walks, || {
            walk_counts("/proc")
                .map(drop)
                .map_err(|source| CheckError::Io {
                    path: "/proc".into(),
                    source,
                })
        })?;
        let ps = time_ns(walks, || {
            let st = Command::new("ps")
                .stdout(Stdio::null())
                .status()
                .map_err(|source| CheckError::Io {
                    path: "ps".into(),
                    source,
                })?;
            if st.success() {
                Ok(())
            } else {
                Err(CheckError::Mismatch(format!("ps: {st}")))
            }
        })?;
        println!("RESULT kmod_procs_read_ns {kmod:.0} ns");
        println!("RESULT procfs_walk_ns {walk:.0} ns");
        println!("RESULT busybox_ps_ns {ps:.0} ns");
        println!("RESULT kmod_vs_procfs_walk_ratio {:.1} x", walk / kmod);
        println!("RESULT kmod_vs_busybox_ps_ratio {:.1} x", ps / kmod);
        let ((ktop, kbytes), krss) = rss_growth(kmod_top)?;
        let ((wtop, wbytes), wrss) = rss_growth(walk_top)?;
        if ktop.len() != 10 || wtop.len() != 10 {
            return Err(CheckError::Mismatch(format!(
                "top tables have {} (kmod) and {} (walk) rows, want 10",
                ktop.len(),
                wtop.len()
            )));
        }
        let ktop_ns = time_ns(walks, || kmod_top().map(drop))?;
        let wtop_ns = time_ns(walks, || walk_top().map(drop))?;
        println!("RESULT kmod_tasks_top_read_ns {ktop_ns:.0} ns");
        println!("RESULT procfs_walk_top_ns {wtop_ns:.0} ns");
        println!("RESULT kmod_vs_walk_top_ratio {:.1} x", wtop_ns / ktop_ns);
        println!("RESULT kmod_tasks_top_bytes_read {kbytes} bytes");
        println!("RESULT procfs_walk_top_bytes_read {wbytes} bytes");
        println!("RESULT kmod_tasks_top_rss_growth_kb {krss} kB");
        println!("RESULT procfs_walk_top_rss_growth_kb {wrss} kB");
        Ok(format!(
            "{} processes: kmod {kmod:.0} ns, walk {walk:.0} ns ({:.1}x), ps {ps:.0} ns ({:.1}x); top10 kmod {ktop_ns:.0} ns, walk {wtop_ns:.0} ns ({:.1}x)",
            c["total"],
            walk / kmod,
            ps / kmod,
            wtop_ns / ktop_ns
        ))
    })();
    drop(sleepers);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top10_by_cpu_then_pid() {
        let rows: Vec<TopRow> = (1..=30).map(|p| (p, format!("p{p}"), p % 7, p)).collect();
        let t = top10(rows);
        assert_eq!(t.len(), 10);
        assert_eq!(t[0], (6, "p6".into(), 6, 6));
        assert_eq!(
            t.iter().map(|r| r.0).collect::<Vec<_>>(),
            vec![6, 13, 20, 27, 5, 12, 19, 26, 4, 11]
        );
        assert_eq!(top10(vec![(1, String::new(), 0, 0)]).len(), 1);
    }
}
