//! Many sleeping processes, cheaply: a busybox `sh` forks `sleep` N times (no exec,
//! ~9 ms and ~130 KiB of kernel memory per process in a TCG guest, against ~46 ms and
//! ~160 KiB for re-executed `procpulse-stress` children). This process becomes their
//! subreaper, so tearing them down leaves no zombie behind for the checks that follow.

use crate::CheckError;
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use std::io::BufRead;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The largest pid the guest allows, raised so that 100,000 processes fit.
const PID_MAX: &str = "4194304";

/// N sleeping processes in their own process group; killed and reaped on drop.
#[derive(Debug)]
pub struct Sleepers {
    pgid: Pid,
    /// How many were asked for.
    pub count: usize,
    /// How long creating them took.
    pub took: Duration,
}

/// The shell script that forks `n` sleepers, says so, and then sleeps itself.
pub fn script(n: usize) -> String {
    format!(
        "i=0; while [ $i -lt {n} ]; do sleep 1000000 & i=$((i+1)); done; echo ready; exec sleep 1000000"
    )
}

impl Sleepers {
    /// Forks `n` sleepers through `sh` and waits until all exist (bounded by `limit`).
    pub fn spawn(n: usize, limit: Duration) -> Result<Self, CheckError> {
        // Best effort: raising the limits only matters for large n, and a failure shows
        // up below as a shell that cannot fork.
        let _ = std::fs::write("/proc/sys/kernel/pid_max", PID_MAX);
        let _ = std::fs::write("/proc/sys/kernel/threads-max", PID_MAX);
        nix::sys::prctl::set_child_subreaper(true)
            .map_err(|e| CheckError::Mismatch(format!("PR_SET_CHILD_SUBREAPER: {e}")))?;
        let start = Instant::now();
        let mut child = Command::new("/bin/sh")
            .args(["-c", &script(n)])
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|source| CheckError::Io {
                path: "/bin/sh".into(),
                source,
            })?;
        // From here on every way out kills and reaps what was forked so far.
        let mut s = Sleepers {
            pgid: Pid::from_raw(child.id() as i32),
            count: n,
            took: Duration::ZERO,
        };
        let out = child.stdout.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let r = std::io::BufReader::new(out).read_line(&mut line);
            let _ = tx.send(r.map(|_| line));
        });
        match rx.recv_timeout(limit) {
            Ok(Ok(line)) if line.trim() == "ready" => {
                s.took = start.elapsed();
                Ok(s)
            }
            Ok(Ok(line)) => Err(CheckError::Mismatch(format!(
                "sh forking {n} sleepers said {line:?} instead of ready"
            ))),
            Ok(Err(source)) => Err(CheckError::Io {
                path: "sh stdout".into(),
                source,
            }),
            Err(_) => Err(CheckError::Mismatch(format!(
                "{n} sleepers not created within {limit:?}"
            ))),
        }
    }
}

/// Pids of the processes whose parent is `parent`, from a /proc walk.
fn children_of(parent: Pid) -> Vec<Pid> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let stat = std::fs::read(format!("/proc/{name}/stat")).ok()?;
            let s = crate::pidstat::parse_pid_stat(&stat)?;
            (s.ppid == parent.as_raw() as u64).then(|| Pid::from_raw(s.pid as i32))
        })
        .collect()
}

/// Sleepers killed per batch, and the pause between batches: tens of thousands of exits
/// at once keep every vCPU of a TCG guest busy in the exit path (mutex spinning on
/// owners whose vCPU the host has descheduled) long enough for RCU stall warnings.
const KILL_BATCH: usize = 100;
const KILL_PAUSE: Duration = Duration::from_millis(20);

impl Drop for Sleepers {
    fn drop(&mut self) {
        for batch in children_of(self.pgid).chunks(KILL_BATCH) {
            for pid in batch {
                let _ = nix::sys::signal::kill(*pid, Signal::SIGKILL);
            }
            std::thread::sleep(KILL_PAUSE);
        }
        let _ = killpg(self.pgid, Signal::SIGKILL);
        // Reap the shell and every sleeper (orphans come to us as their subreaper).
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut reaped = 0;
        while reaped <= self.count && Instant::now() < deadline {
            match waitpid(
                Pid::from_raw(-1),
                Some(WaitPidFlag::__WALL | WaitPidFlag::WNOHANG),
            ) {
                Ok(WaitStatus::StillAlive) => std::thread::sleep(Duration::from_millis(10)),
                Ok(_) => reaped += 1,
                Err(_) => break, // ECHILD: none left
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_forks_n_then_reports() {
        let s = script(3);
        assert!(s.contains("-lt 3"), "{s}");
        assert!(s.contains("echo ready"), "{s}");
    }
}
