//! The background sampler: every interval it reads `/proc/stat` (CPU usage, per-mode and
//! per-CPU shares over the window), on the kmod source `/proc/procpulse_cpu` (per-mode
//! shares over the same window), `/proc/pressure/*`, and the process table —
//! `/proc/procpulse_tasks` when the procs module offers it, else a walk of
//! `/proc/[pid]/stat` — and publishes one immutable [`Sample`]. Snapshot requests take
//! per-mode shares and pressure from the latest sample on both sources, and in the /proc
//! fallback CPU usage and process counts too (docs/design.md §3 allows reusing the walk for
//! up to one interval); the process table route always does.
//!
//! Only the rows a snapshot serves (the first `top` of the table by CPU share) get the
//! fields the table does not carry for free: the owner on the walk (one `stat` of
//! `/proc/<pid>`), the nice value (and thread count from older modules) on the module
//! table (one read of `/proc/<pid>/stat`).

use crate::files::{ProcFile, ProcFiles, ReadError};
use crate::users::{UserNames, UsersCache};
use procpulse_model::parse::{self, CpuTimes, Stat};
use procpulse_model::snapshot::{CoreUsage, CpuModes, MAX_TOP, Pressure, PressureStall};
use procpulse_model::{Procs, TopProcess};
use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

/// The name of a module row without `comm` whose /proc/<pid>/stat could not be read
/// either (it exited between the two reads).
pub const UNKNOWN_COMM: &str = "?";

/// One process in the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// Pid.
    pub pid: u32,
    /// Parent pid.
    pub ppid: u32,
    /// Command name.
    pub comm: String,
    /// procps state letter.
    pub state: char,
    /// Resident set size, KiB.
    pub rss_kb: u64,
    /// Share of one CPU since the previous sample, percent (0 on the first sample).
    pub cpu_percent: f64,
    /// Effective uid (what `ps -o user` shows): from the module table for every row; on
    /// the walk only for the served top rows (owner of `/proc/<pid>`).
    pub uid: Option<u32>,
    /// Threads (`num_threads`), ≥ 1.
    pub threads: Option<u32>,
    /// Nice value, −20..=19: from the walk for every row; on the module table only for the
    /// served top rows (`/proc/<pid>/stat`, the module does not report it).
    pub nice: Option<i32>,
}

impl Task {
    /// As a row of the snapshot's `top`, `user` named from `users`.
    pub fn to_top(&self, users: &UserNames) -> TopProcess {
        TopProcess {
            pid: self.pid,
            ppid: self.ppid,
            comm: self.comm.clone(),
            state: self.state.to_string(),
            rss_kb: self.rss_kb,
            cpu_percent: self.cpu_percent,
            uid: self.uid,
            user: self.uid.map(|u| users.name(u)),
            threads: self.threads,
            nice: self.nice,
        }
    }
}

/// A parsed `/proc/<pid>/stat`'s nice value as served: `None` outside −20..=19.
pub fn stat_nice(s: &parse::PidStat) -> Option<i32> {
    i32::try_from(s.nice)
        .ok()
        .filter(|n| (-20..=19).contains(n))
}

/// A thread count as served (`None` for 0, which the model rejects, or a value beyond
/// u32).
fn threads(n: u64) -> Option<u32> {
    u32::try_from(n).ok().filter(|&n| n >= 1)
}

/// The PSI files, in the order of [`Pressure`]'s fields.
pub const PRESSURE_FILES: [ProcFile; 3] = [
    ProcFile::PressureCpu,
    ProcFile::PressureMemory,
    ProcFile::PressureIo,
];

/// `pressure` from the readings of [`PRESSURE_FILES`]: `None` when PSI is off — any file
/// answering `EOPNOTSUPP` (booted with `psi=0`) or none readable (no `/proc/pressure`) —
/// never zeros; otherwise each resource whose file read and parsed.
pub fn pressure_from(readings: [Result<PressureStall, ReadError>; 3]) -> Option<Pressure> {
    let off = nix::errno::Errno::EOPNOTSUPP as i32;
    if readings
        .iter()
        .any(|r| matches!(r, Err(e) if e.raw_os_error() == Some(off)))
    {
        return None;
    }
    let [cpu, memory, io] = readings.map(Result::ok);
    if cpu.is_none() && memory.is_none() && io.is_none() {
        return None;
    }
    Some(Pressure { cpu, memory, io })
}

/// Reads `/proc/pressure/{cpu,memory,io}` (see [`pressure_from`]).
pub fn read_pressure(files: &ProcFiles) -> Option<Pressure> {
    pressure_from(PRESSURE_FILES.map(|f| files.read_with(f, parse::parse_pressure)))
}

/// Where the process table came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TasksFrom {
    /// `/proc/procpulse_tasks`.
    Module,
    /// A walk of `/proc/[pid]/stat`.
    Walk,
}

/// One published sample.
#[derive(Debug, Clone)]
pub struct Sample {
    /// When it was taken.
    pub at: Instant,
    /// Busy share of all CPUs over the window ending at `at` (since boot for the first).
    pub cpu_usage_percent: f64,
    /// Share of the window per mode from `/proc/stat` (`None` on the first sample or when
    /// no tick elapsed).
    pub cpu_modes: Option<CpuModes>,
    /// Busy share of each CPU online at both ends of the window (empty on the first
    /// sample).
    pub per_cpu: Vec<CoreUsage>,
    /// Share of the same window per mode from the CPU module's cumulative ns counters
    /// (`None` unless the module was read at this sample and the previous one).
    pub kmod_modes: Option<CpuModes>,
    /// Pressure stall information read at `at` (`None` without PSI).
    pub pressure: Option<Pressure>,
    /// Online CPUs.
    pub cores: u32,
    /// /proc/loadavg at `at`.
    pub load: parse::Loadavg,
    /// Process-state counts from the walk (or the task table).
    pub procs: Procs,
    /// Every process, sorted by CPU share (descending, then pid).
    pub tasks: Vec<Task>,
    /// Where `tasks` came from.
    pub tasks_from: TasksFrom,
    /// The first `top_n` (≤ [`MAX_TOP`]) of `tasks` as snapshot rows with every v2 field
    /// the host offers, built once per sample so that snapshot requests only borrow them.
    pub top: Vec<TopProcess>,
    /// The user names `top` was built with (for the process table route).
    pub users: Arc<UserNames>,
    /// `top[..n]` as JSON with its `n`, serialized by the first snapshot request that
    /// needs it and copied by the others (the rows change only once per interval).
    pub top_json: std::sync::OnceLock<(usize, Vec<u8>)>,
}

/// Keeps the previous readings and publishes samples.
#[derive(Debug)]
pub struct Sampler {
    files: Arc<ProcFiles>,
    clk_tck: f64,
    page_kb: u64,
    top_n: usize,
    state: Mutex<State>,
    latest: RwLock<Option<Arc<Sample>>>,
}

#[derive(Debug)]
struct State {
    /// The previous `/proc/stat` reading.
    prev_stat: Option<Stat>,
    /// The previous `/proc/procpulse_cpu` aggregate counters (ns), when the previous
    /// sample read the module.
    prev_kmod: Option<CpuTimes>,
    prev_at: Option<Instant>,
    /// pid → (start time ticks, or 0 for module rows; cumulative CPU time in ns).
    prev_cpu_ns: HashMap<u32, (u64, u64)>,
    buf: Vec<u8>,
    users: UsersCache,
}

// `c_long` is i64 only on 64-bit targets.
#[allow(clippy::useless_conversion)]
fn sysconf(var: nix::unistd::SysconfVar, fallback: i64) -> i64 {
    match nix::unistd::sysconf(var) {
        Ok(Some(v)) if v > 0 => i64::from(v),
        _ => fallback,
    }
}

impl Sampler {
    /// A sampler over `files` whose samples carry `top_n` (at most [`MAX_TOP`]) snapshot
    /// rows named from the passwd file `passwd`; nothing is published until
    /// [`Sampler::tick`].
    pub fn new(files: Arc<ProcFiles>, top_n: usize, passwd: impl Into<PathBuf>) -> Self {
        let clk_tck = sysconf(nix::unistd::SysconfVar::CLK_TCK, 100) as f64;
        let page_kb = (sysconf(nix::unistd::SysconfVar::PAGE_SIZE, 4096) / 1024).max(1) as u64;
        Sampler {
            files,
            clk_tck,
            page_kb,
            top_n: top_n.min(MAX_TOP),
            state: Mutex::new(State {
                prev_stat: None,
                prev_kmod: None,
                prev_at: None,
                prev_cpu_ns: HashMap::new(),
                buf: Vec::new(),
                users: UsersCache::new(passwd),
            }),
            latest: RwLock::new(None),
        }
    }

    /// USER_HZ (`sysconf(_SC_CLK_TCK)`), the unit of /proc/stat's CPU times.
    pub fn clk_tck(&self) -> f64 {
        self.clk_tck
    }

    /// The latest sample, if any.
    pub fn latest(&self) -> Option<Arc<Sample>> {
        self.latest.read().ok().and_then(|g| g.clone())
    }

    /// Takes one sample (blocking file I/O: run it off the async workers) and publishes
    /// it. `use_module`: the kmod source is current — read `procpulse_cpu` for the
    /// per-mode window and `procpulse_tasks` (when it exists) for the process table.
    pub fn tick(&self, use_module: bool) -> Result<Arc<Sample>, ReadError> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let stat = self.files.read_with(ProcFile::Stat, parse::parse_stat)?;
        // The kernel recomputes the load averages every 5 s: one read per sample is as
        // fresh as a read per request.
        let load = self
            .files
            .read_with(ProcFile::Loadavg, parse::parse_loadavg)?;
        let prev_total = st.prev_stat.as_ref().map(|p| p.total);
        let usage = stat
            .total
            .usage_percent_since(&prev_total.unwrap_or_default());
        let (cpu_modes, per_cpu) = match &st.prev_stat {
            Some(p) => (
                stat.total.modes_since(&p.total),
                parse::per_cpu_usage_since(&stat.per_cpu, &p.per_cpu),
            ),
            None => (None, Vec::new()),
        };
        // The module's cumulative counters, read at the same cadence as /proc/stat so that
        // both sources' modes cover the same window.
        let kmod_now = if use_module {
            self.files
                .read_with(ProcFile::KmodCpu, parse::parse_procpulse_cpu)
                .ok()
                .map(|c| c.times())
        } else {
            None
        };
        let kmod_modes = match (kmod_now, st.prev_kmod) {
            (Some(now), Some(then)) => now.modes_since(&then),
            _ => None,
        };
        // PSI's averages are recomputed every 2 s: one read per sample, shared by both
        // sources, keeps the request path at its reads.
        let pressure = read_pressure(&self.files);
        let elapsed = st.prev_at.map(|t| now.duration_since(t).as_secs_f64());

        // A table without CPU times (a nohz_full host, see the model) cannot rank by CPU:
        // the walk serves it instead.
        let module_tasks = if use_module && self.files.exists(ProcFile::KmodTasks) {
            self.files
                .read_with(ProcFile::KmodTasks, parse::parse_procpulse_tasks)
                .ok()
                .filter(|rows| rows.iter().all(|r| r.cpu_ns().is_some()))
        } else {
            None
        };
        let mut next_cpu_ns = HashMap::with_capacity(st.prev_cpu_ns.len().max(64));
        let mut procs = Procs::default();
        let mut tasks = Vec::with_capacity(st.prev_cpu_ns.len().max(64));
        let percent = |key: (u64, u64), prev: Option<&(u64, u64)>| match (prev, elapsed) {
            (Some(p), Some(secs)) if p.0 == key.0 && secs > 0.0 => {
                let d = key.1.saturating_sub(p.1) as f64 / 1e9;
                ((d / secs) * 10_000.0).round() / 100.0
            }
            _ => 0.0,
        };
        let tasks_from = if let Some(rows) = module_tasks {
            for r in rows {
                procs.count_state(r.state);
                let key = (0, r.cpu_ns().unwrap_or(0));
                let cpu_percent = percent(key, st.prev_cpu_ns.get(&r.pid));
                next_cpu_ns.insert(r.pid, key);
                let comm = match r.comm {
                    Some(c) => c,
                    None => self.stat_comm(r.pid, &mut st.buf),
                };
                tasks.push(Task {
                    pid: r.pid,
                    ppid: r.ppid,
                    comm,
                    state: r.state,
                    rss_kb: r.rss_kb,
                    cpu_percent,
                    uid: Some(r.uid),
                    threads: r.threads.filter(|&n| n >= 1),
                    nice: None,
                });
            }
            // The task table has no thread counts; /proc/loadavg's entity count is the
            // number of threads that exist.
            procs.threads = load.entities;
            TasksFrom::Module
        } else {
            let mut buf = std::mem::take(&mut st.buf);
            self.walk(&mut buf, |s, nice| {
                procs.count_state(s.state);
                procs.threads += s.num_threads;
                let ns = ((s.utime_ticks + s.stime_ticks) as f64 * 1e9 / self.clk_tck) as u64;
                let key = (s.starttime_ticks, ns);
                let cpu_percent = percent(key, st.prev_cpu_ns.get(&s.pid));
                next_cpu_ns.insert(s.pid, key);
                tasks.push(Task {
                    pid: s.pid,
                    ppid: s.ppid,
                    comm: s.comm,
                    state: s.state,
                    rss_kb: s.rss_pages * self.page_kb,
                    cpu_percent,
                    uid: None,
                    threads: threads(s.num_threads),
                    nice,
                });
            });
            st.buf = buf;
            TasksFrom::Walk
        };
        tasks.sort_by(|a, b| {
            b.cpu_percent
                .total_cmp(&a.cpu_percent)
                .then(a.pid.cmp(&b.pid))
        });
        let n = self.top_n.min(tasks.len());
        let mut buf = std::mem::take(&mut st.buf);
        for t in &mut tasks[..n] {
            self.complete(t, tasks_from, &mut buf);
        }
        st.buf = buf;
        let users = st.users.refresh();
        let top = tasks[..n].iter().map(|t| t.to_top(&users)).collect();
        let cores = stat.cores;
        st.prev_stat = Some(stat);
        st.prev_kmod = kmod_now;
        st.prev_at = Some(now);
        st.prev_cpu_ns = next_cpu_ns;
        let sample = Arc::new(Sample {
            top,
            users,
            top_json: std::sync::OnceLock::new(),
            at: now,
            load,
            cpu_usage_percent: usage,
            cpu_modes,
            per_cpu,
            kmod_modes,
            pressure,
            cores,
            procs,
            tasks,
            tasks_from,
        });
        if let Ok(mut g) = self.latest.write() {
            *g = Some(sample.clone());
        }
        Ok(sample)
    }

    /// Fills what the table lacks for a served row: the owner of `/proc/<pid>` (the
    /// effective uid, as `ps` reads it) on the walk; the nice value, and the thread count
    /// from older modules, from `/proc/<pid>/stat` on the module table. A process that
    /// exited meanwhile keeps `None`.
    fn complete(&self, t: &mut Task, from: TasksFrom, buf: &mut Vec<u8>) {
        use std::os::unix::fs::MetadataExt;
        let dir = self.files.root().join(t.pid.to_string());
        match from {
            TasksFrom::Walk => {
                t.uid = std::fs::metadata(&dir).ok().map(|m| m.uid());
            }
            TasksFrom::Module => {
                buf.clear();
                let ok = std::fs::File::open(dir.join("stat"))
                    .and_then(|mut f| f.read_to_end(buf))
                    .is_ok();
                if !ok {
                    return;
                }
                let stat = parse::parse_pid_stat(buf).ok();
                t.nice = stat.as_ref().and_then(stat_nice);
                if t.threads.is_none() {
                    t.threads = stat.and_then(|s| threads(s.num_threads));
                }
            }
        }
    }

    /// The comm of `/proc/<pid>/stat`, for module rows without one (kernel threads the
    /// module cannot name); [`UNKNOWN_COMM`] when that read fails (the process exited).
    fn stat_comm(&self, pid: u32, buf: &mut Vec<u8>) -> String {
        let path = self.files.root().join(pid.to_string()).join("stat");
        buf.clear();
        let ok = std::fs::File::open(&path)
            .and_then(|mut f| f.read_to_end(buf))
            .is_ok();
        if !ok {
            return UNKNOWN_COMM.to_owned();
        }
        parse::parse_pid_stat(buf)
            .map(|s| s.comm)
            .unwrap_or_else(|_| UNKNOWN_COMM.to_owned())
    }

    /// Calls `each` for every readable `/proc/[pid]/stat` with its nice value; processes
    /// that vanish during the walk are skipped.
    fn walk(&self, buf: &mut Vec<u8>, mut each: impl FnMut(parse::PidStat, Option<i32>)) {
        let Ok(dir) = std::fs::read_dir(self.files.root()) else {
            return;
        };
        let mut path = self.files.root().to_path_buf();
        for entry in dir.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            path.push(name);
            path.push("stat");
            buf.clear();
            let ok = std::fs::File::open(&path)
                .and_then(|mut f| f.read_to_end(buf))
                .is_ok();
            path.pop();
            path.pop();
            if !ok {
                continue;
            }
            if let Ok(s) = parse::parse_pid_stat(buf) {
                let nice = stat_nice(&s);
                each(s, nice);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured on this project's 6.18 CI guest: `nice -n 5 python3` with 4 threads.
    const NICE5: &[u8] = b"15718 (python3) S 15717 15715 470 0 -1 4194304 2979 6512 0 0 4 0 4 1 25 5 4 0 1237211 243519488 3352 18446744073709551615 94582891040768 94582891041109 140722930494960 0 0 0 0 16781318 0 0 0 0 17 1 0 0 0 0 0 94582891052464 94582891053080 94583964377088 140722930501775 140722930501931 140722930501931 140722930503631 0\n";
    /// The agent fixture's comm with spaces and a parenthesis, at nice −20.
    const ODD: &[u8] = b"900 (a b) c) S 1 0 0 0 -1 4194560 84348 3395502 0 787 144 597 6433 3478 0 -20 13 0 24 50647040 4609 18446744073709551615 1 1 0 0 0 0 0 4096 1256 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

    #[test]
    fn nice_is_field_19_counted_after_the_comm() {
        let nice = |b: &[u8]| parse::parse_pid_stat(b).ok().and_then(|s| stat_nice(&s));
        assert_eq!(nice(NICE5), Some(5));
        assert_eq!(nice(ODD), Some(-20));
        let s = parse::parse_pid_stat(NICE5).unwrap();
        assert_eq!(threads(s.num_threads), Some(4));
    }

    #[test]
    fn nice_out_of_range_or_truncated_is_none() {
        let nice = |b: &[u8]| parse::parse_pid_stat(b).ok().and_then(|s| stat_nice(&s));
        assert_eq!(
            nice(b"1 (x) S 0 0 0 0 -1 0 0 0 0 0 0 0 0 0 20 25 1 0 5 6 7"),
            None
        );
        assert_eq!(nice(b"1 (x) S 0 0 0 0 -1 0 0 0 0 0 0 0 0 0 20"), None);
        assert_eq!(nice(b"1 (x"), None);
        assert_eq!(nice(b""), None);
        assert_eq!(threads(0), None);
    }

    /// Captured from this project's 6.18 CI guest.
    const PSI_CPU: &str = "some avg10=2.58 avg60=4.71 avg300=13.86 total=6551562037\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";

    fn io_err(errno: nix::errno::Errno) -> ReadError {
        ReadError::Io {
            path: "/proc/pressure/x".into(),
            source: std::io::Error::from_raw_os_error(errno as i32),
        }
    }

    #[test]
    fn pressure_is_absent_without_psi_never_zeros() {
        use nix::errno::Errno;
        let ok = || parse::parse_pressure(PSI_CPU).map_err(ReadError::from);
        // No /proc/pressure.
        assert_eq!(
            pressure_from([
                Err(io_err(Errno::ENOENT)),
                Err(io_err(Errno::ENOENT)),
                Err(io_err(Errno::ENOENT))
            ]),
            None
        );
        // psi=0: the files exist but reading them fails with EOPNOTSUPP.
        assert_eq!(
            pressure_from([
                Err(io_err(Errno::EOPNOTSUPP)),
                Err(io_err(Errno::EOPNOTSUPP)),
                Err(io_err(Errno::EOPNOTSUPP))
            ]),
            None
        );
        assert_eq!(
            pressure_from([ok(), Err(io_err(Errno::EOPNOTSUPP)), ok()]),
            None
        );
        // One unreadable file: that resource only is absent.
        let p = pressure_from([ok(), Err(io_err(Errno::EACCES)), ok()]).unwrap();
        assert_eq!(p.cpu.unwrap().some.avg10, 2.58);
        assert_eq!(p.cpu.unwrap().full.unwrap().total_us, 0);
        assert!(p.memory.is_none());
        assert_eq!(p.io.unwrap().some.total_us, 6_551_562_037);
        // A file that does not parse is unreadable too.
        let bad = parse::parse_pressure("garbage\n").map_err(ReadError::from);
        assert!(pressure_from([bad, ok(), ok()]).unwrap().cpu.is_none());
    }
}
