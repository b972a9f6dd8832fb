//! Things done every so often while goose runs a phase: the progress line on stderr
//! (`--progress-interval`, default 5 s) and the Locust CSV files (every second). Each is
//! a task on the runtime, stopped (and awaited) when the phase ends.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

/// Default `--progress-interval`.
pub const DEFAULT_INTERVAL: &str = "5s";

/// A task calling a closure every period until [`Every::stop`].
#[derive(Debug)]
pub struct Every {
    stop: Arc<Notify>,
    handle: JoinHandle<()>,
}

/// Calls `tick` every `period` (first after one period), on the current runtime.
pub fn every(period: Duration, mut tick: impl FnMut() + Send + 'static) -> Every {
    let stop = Arc::new(Notify::new());
    let stopped = stop.clone();
    let handle = tokio::spawn(async move {
        let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = interval.tick() => tick(),
                () = stopped.notified() => break,
            }
        }
    });
    Every { stop, handle }
}

impl Every {
    /// Stops the task and waits for it (a tick in progress completes).
    pub async fn stop(self) {
        self.stop.notify_one();
        let _ = self.handle.await;
    }
}

/// Stops each task that was started.
pub async fn stop_all(tasks: impl IntoIterator<Item = Option<Every>>) {
    for t in tasks.into_iter().flatten() {
        t.stop().await;
    }
}

/// Seconds left at `rate` per second for `left` more, if the rate says anything.
pub fn eta(left: u64, rate: f64) -> Option<Duration> {
    (rate > 0.0).then(|| Duration::from_secs_f64(left as f64 / rate))
}

/// `12 s`, `3m05s`, `1h02m`, or `?`.
pub fn human(d: Option<Duration>) -> String {
    let Some(d) = d else { return "?".into() };
    let s = d.as_secs();
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// Events per second over `elapsed` (0 before any time passed).
pub fn rate(n: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { n as f64 / secs } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn eta_and_human() {
        assert_eq!(eta(100, 0.0), None);
        assert_eq!(human(eta(100, 10.0)), "10 s");
        assert_eq!(human(eta(1850, 10.0)), "3m05s");
        assert_eq!(human(Some(Duration::from_secs(3720))), "1h02m");
        assert_eq!(human(None), "?");
        assert_eq!(rate(10, Duration::ZERO), 0.0);
        assert_eq!(rate(10, Duration::from_secs(4)), 2.5);
    }

    #[tokio::test(start_paused = true)]
    async fn ticks_every_period_until_stopped() {
        let n = Arc::new(AtomicU32::new(0));
        let m = n.clone();
        let t = every(Duration::from_secs(5), move || {
            m.fetch_add(1, Ordering::SeqCst);
        });
        tokio::time::sleep(Duration::from_millis(12_500)).await;
        t.stop().await;
        assert_eq!(n.load(Ordering::SeqCst), 2);
        tokio::time::sleep(Duration::from_secs(20)).await;
        assert_eq!(n.load(Ordering::SeqCst), 2);
    }
}
