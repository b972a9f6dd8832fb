//! The background sampler: every interval it reads `/proc/stat` (CPU usage over the
//! window) and the process table — `/proc/procpulse_tasks` when the procs module offers
//! it, else a walk of `/proc/[pid]/stat` — and publishes one immutable [`Sample`].
//! Snapshot requests in the /proc fallback take CPU usage and process counts from the
//! latest sample (SPEC §3 allows reusing the walk for up to one interval); the process
//! table route always does.

use crate::files::{ProcFile, ProcFiles, ReadError};
use procpulse_model::parse::{self, CpuTimes};
use procpulse_model::snapshot::MAX_TOP;
use procpulse_model::{Procs, TopProcess};
use std::collections::HashMap;
use std::io::Read;
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
}

impl Task {
    /// As a row of the snapshot's `top`.
    pub fn to_top(&self) -> TopProcess {
        TopProcess {
            pid: self.pid,
            ppid: self.ppid,
            comm: self.comm.clone(),
            state: self.state.to_string(),
            rss_kb: self.rss_kb,
            cpu_percent: self.cpu_percent,
            uid: None,
            user: None,
            threads: None,
            nice: None,
        }
    }
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
    /// The first [`MAX_TOP`] of `tasks` as snapshot rows, built once per sample so that
    /// snapshot requests only borrow them.
    pub top: Vec<TopProcess>,
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
    state: Mutex<State>,
    latest: RwLock<Option<Arc<Sample>>>,
}

#[derive(Debug, Default)]
struct State {
    prev_cpu: Option<CpuTimes>,
    prev_at: Option<Instant>,
    /// pid → (start time ticks, or 0 for module rows; cumulative CPU time in ns).
    prev_cpu_ns: HashMap<u32, (u64, u64)>,
    buf: Vec<u8>,
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
    /// A sampler over `files`; nothing is published until [`Sampler::tick`].
    pub fn new(files: Arc<ProcFiles>) -> Self {
        let clk_tck = sysconf(nix::unistd::SysconfVar::CLK_TCK, 100) as f64;
        let page_kb = (sysconf(nix::unistd::SysconfVar::PAGE_SIZE, 4096) / 1024).max(1) as u64;
        Sampler {
            files,
            clk_tck,
            page_kb,
            state: Mutex::new(State::default()),
            latest: RwLock::new(None),
        }
    }

    /// The latest sample, if any.
    pub fn latest(&self) -> Option<Arc<Sample>> {
        self.latest.read().ok().and_then(|g| g.clone())
    }

    /// Takes one sample (blocking file I/O: run it off the async workers) and publishes
    /// it. `use_module_tasks`: read `procpulse_tasks` when it exists.
    pub fn tick(&self, use_module_tasks: bool) -> Result<Arc<Sample>, ReadError> {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let stat = self.files.read_with(ProcFile::Stat, parse::parse_stat)?;
        // The kernel recomputes the load averages every 5 s: one read per sample is as
        // fresh as a read per request.
        let load = self
            .files
            .read_with(ProcFile::Loadavg, parse::parse_loadavg)?;
        let usage = stat
            .total
            .usage_percent_since(&st.prev_cpu.unwrap_or_default());
        let elapsed = st.prev_at.map(|t| now.duration_since(t).as_secs_f64());

        // A table without CPU times (a nohz_full host, see the model) cannot rank by CPU:
        // the walk serves it instead.
        let module_tasks = if use_module_tasks && self.files.exists(ProcFile::KmodTasks) {
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
                });
            }
            // The task table has no thread counts; /proc/loadavg's entity count is the
            // number of threads that exist.
            procs.threads = load.entities;
            TasksFrom::Module
        } else {
            let mut buf = std::mem::take(&mut st.buf);
            self.walk(&mut buf, |s| {
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
        st.prev_cpu = Some(stat.total);
        st.prev_at = Some(now);
        st.prev_cpu_ns = next_cpu_ns;
        let top = tasks.iter().take(MAX_TOP).map(Task::to_top).collect();
        let sample = Arc::new(Sample {
            top,
            top_json: std::sync::OnceLock::new(),
            at: now,
            load,
            cpu_usage_percent: usage,
            cores: stat.cores,
            procs,
            tasks,
            tasks_from,
        });
        if let Ok(mut g) = self.latest.write() {
            *g = Some(sample.clone());
        }
        Ok(sample)
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

    /// Calls `each` for every readable `/proc/[pid]/stat`; processes that vanish during
    /// the walk are skipped.
    fn walk(&self, buf: &mut Vec<u8>, mut each: impl FnMut(parse::PidStat)) {
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
                each(s);
            }
        }
    }
}
