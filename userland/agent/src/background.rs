//! The agent's background work and the priority it runs at: the sampler loop (a
//! CPU/process sample every interval), the module re-check loop of `--source auto`, and
//! [`SAMPLER_NICE`], the nice value of the threads that sample, so that the /proc walk
//! never holds a core a request is waiting for. What a tick does is the caller's (the
//! agent passes its own sampling and re-check).

use crate::files::ReadError;
use procpulse_service::Shutdown;
use std::future::Future;
use std::time::Duration;

/// Nice value of the threads that run the background sampler.
pub const SAMPLER_NICE: i32 = 10;

/// Lowers the calling (blocking-pool) thread to [`SAMPLER_NICE`], once per thread, so
/// that the once-per-interval /proc walk never holds a core a request is waiting for
/// (measured: the walk running at the servers' priority was most of the snapshot p99).
fn yield_to_requests() {
    thread_local! {
        static LOWERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    if LOWERED.with(|l| l.replace(true)) {
        return;
    }
    let tid = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(tid), SAMPLER_NICE) {
        // Once per process: a seccomp filter or missing CAP_SYS_NICE must not go unseen
        // (the walk then competes with requests), nor flood the log.
        static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        if !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
            tracing::warn!(error = %e, nice = SAMPLER_NICE, "Could not lower the sampler thread's priority (setpriority); the /proc walk runs at the servers' priority");
        } else {
            tracing::debug!(error = %e, "Could not lower the sampler thread's priority");
        }
    }
}

/// Runs `tick` on tokio's blocking pool, on a thread lowered to [`SAMPLER_NICE`]; a task
/// that panicked or was cancelled is a [`ReadError::Io`] on the path `sampler`.
pub(crate) async fn run_lowered<T: Send + 'static>(
    tick: impl FnOnce() -> Result<T, ReadError> + Send + 'static,
) -> Result<T, ReadError> {
    tokio::task::spawn_blocking(move || {
        yield_to_requests();
        tick()
    })
    .await
    .unwrap_or_else(|e| {
        Err(ReadError::Io {
            path: "sampler".into(),
            source: std::io::Error::other(e.to_string()),
        })
    })
}

/// Every `interval` until `shutdown`: `sample()`, logging when sampling starts failing and
/// when it recovers (once each, not at every failed tick).
pub(crate) async fn sampler_loop<T, F, Fut>(interval: Duration, shutdown: Shutdown, mut sample: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ReadError>>,
{
    let mut failing = false;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.wait() => return,
        }
        match sample().await {
            Ok(_) if failing => {
                failing = false;
                tracing::info!("CPU/process sampling recovered");
            }
            Ok(_) => {}
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "CPU/process sampling failed");
            }
            Err(_) => {}
        }
    }
}

/// Every `interval` until `shutdown`: `recheck()` (whether the module files are usable).
pub(crate) async fn recheck_loop(
    interval: Duration,
    shutdown: Shutdown,
    mut recheck: impl FnMut(),
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.wait() => return,
        }
        recheck();
    }
}
