//! procpulse-stress: puts a known, countable load on a Linux host so that the kernel
//! modules and the agent can be checked against it.
//!
//! It burns N CPUs (busy threads), holds N MiB of touched RAM, and creates exactly N
//! zombie, N stopped and N sleeping child processes plus N idle threads. Once everything
//! is in place it prints one JSON line naming every pid/tid it created ([`Created`]), then
//! holds the load for `--seconds` or until SIGTERM/SIGINT, and finally kills and reaps
//! every child it made.
//!
//! Children are re-executions of this binary with a hidden first argument
//! ([`CHILD_ARG`]) so the crate needs no `fork()` and no `unsafe`; each child asks the
//! kernel to SIGKILL it when its parent dies, so even a `kill -9` of the stress process
//! leaves no sleeping or stopped orphans behind (zombies are reaped by init).
//! It is not a benchmark and not a fuzzer: it only creates what it is told to.

pub mod child;
pub mod children;
pub mod load;

use serde::Serialize;
use std::time::Duration;

/// First argument that turns the binary into a helper child (`sleep` or `exit`).
pub const CHILD_ARG: &str = "__procpulse-stress-child";

/// What to create.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// Busy-looping threads.
    pub cpus: usize,
    /// MiB of RAM to allocate and touch.
    pub ram_mib: usize,
    /// Zombie children (exited, never reaped until the end).
    pub zombies: usize,
    /// Stopped children (SIGSTOP, state T).
    pub stopped: usize,
    /// Sleeping children (state S).
    pub sleeping: usize,
    /// Idle threads of this process (blocked, state S).
    pub threads: usize,
    /// How long to hold the load; `None` = until a signal.
    pub duration: Option<Duration>,
}

/// What was created, printed as one JSON line once everything is in place.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Created {
    /// Pid of the stress process itself (the burners and idle threads live in it).
    pub pid: u32,
    /// Thread ids of the busy-looping threads.
    pub cpu_tids: Vec<u32>,
    /// MiB of RAM held (every page written).
    pub ram_mib: usize,
    /// Pids of the zombie children.
    pub zombies: Vec<u32>,
    /// Pids of the stopped children.
    pub stopped: Vec<u32>,
    /// Pids of the sleeping children.
    pub sleeping: Vec<u32>,
    /// Thread ids of the idle threads.
    pub thread_tids: Vec<u32>,
}

/// Why the load could not be put in place.
#[derive(Debug, thiserror::Error)]
pub enum StressError {
    /// Spawning a helper child failed.
    #[error("cannot spawn helper child: {0}")]
    Spawn(#[source] std::io::Error),
    /// A system call failed.
    #[error("{what}: {source}")]
    Sys {
        /// What was being done.
        what: &'static str,
        /// The errno.
        #[source]
        source: nix::Error,
    },
    /// A helper child did not reach the expected state.
    #[error("child {pid} did not {what}")]
    Child {
        /// Its pid.
        pid: u32,
        /// What it should have done.
        what: &'static str,
    },
    /// Spawning a thread failed.
    #[error("cannot spawn thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// Puts the load in place, calls `ready` with what was created, waits for the duration or
/// SIGTERM/SIGINT, then tears everything down. Returns the signal that ended the run, if
/// any.
///
/// SIGTERM and SIGINT are blocked in the calling thread before any thread is spawned, so
/// every thread inherits the mask and the signal is taken synchronously by `sigwait`.
pub fn run(
    config: &Config,
    ready: impl FnOnce(&Created),
) -> Result<Option<nix::sys::signal::Signal>, StressError> {
    use nix::sys::signal::{SigSet, Signal};

    let mut mask = SigSet::empty();
    mask.add(Signal::SIGTERM);
    mask.add(Signal::SIGINT);
    mask.thread_block().map_err(|source| StressError::Sys {
        what: "blocking SIGTERM/SIGINT",
        source,
    })?;

    let mut kids = children::Children::default();
    // Tear down what exists so far if anything below fails.
    let result = (|| {
        let load = load::Load::start(config.cpus, config.ram_mib, config.threads)?;
        kids.spawn_sleeping(config.sleeping)?;
        kids.spawn_stopped(config.stopped)?;
        kids.spawn_zombies(config.zombies)?;
        Ok::<_, StressError>(load)
    })();
    let load = match result {
        Ok(load) => load,
        Err(e) => {
            kids.cleanup();
            return Err(e);
        }
    };

    let created = Created {
        pid: std::process::id(),
        cpu_tids: load.cpu_tids.clone(),
        ram_mib: load.ram_mib(),
        zombies: kids.zombies(),
        stopped: kids.stopped(),
        sleeping: kids.sleeping(),
        thread_tids: load.idle_tids.clone(),
    };
    ready(&created);

    let timer_fired = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    if let Some(d) = config.duration {
        // The timer thread ends the wait by signalling this process; the signal stays
        // blocked everywhere, so it is only ever consumed by the sigwait below.
        let fired = timer_fired.clone();
        std::thread::Builder::new()
            .name("stress-timer".into())
            .spawn(move || {
                std::thread::sleep(d);
                fired.store(true, std::sync::atomic::Ordering::SeqCst);
                let _ = nix::sys::signal::kill(nix::unistd::getpid(), Signal::SIGTERM);
            })
            .map_err(StressError::Thread)?;
    }
    let got = mask.wait().map_err(|source| StressError::Sys {
        what: "waiting for a signal",
        source,
    })?;
    let by_timer = got == Signal::SIGTERM && timer_fired.load(std::sync::atomic::Ordering::SeqCst);

    kids.cleanup();
    load.stop();
    Ok(if by_timer { None } else { Some(got) })
}
