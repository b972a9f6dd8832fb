//! ns per process-state count: /proc/procpulse_procs vs a /proc/[pid]/stat walk vs
//! busybox `ps`, with many tasks held by procpulse-stress.

use crate::procfs::walk_counts;
use crate::procs::{kmod_counts, start_stress, stop_stress};
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

/// Runs the benchmark and prints `RESULT` lines; returns a summary.
pub fn run(stress: &str, tasks: usize, reads: usize, walks: usize) -> Result<String, CheckError> {
    let n = tasks.to_string();
    let (child, _) = start_stress(stress, &["--sleeping", &n, "--seconds", "1800"])?;
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
        Ok(format!(
            "{} processes: kmod {kmod:.0} ns, walk {walk:.0} ns ({:.1}x), ps {ps:.0} ns ({:.1}x)",
            c["total"],
            walk / kmod,
            ps / kmod
        ))
    })();
    stop_stress(child);
    r
}
