//! Load inside the stress process itself: busy threads, touched RAM, idle threads.

use crate::StressError;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;

/// Page size assumed for touching memory (writing one byte per 4 KiB commits every page
/// on every Linux architecture procpulse targets, whose pages are ≥ 4 KiB).
const TOUCH_STRIDE: usize = 4096;

/// The running in-process load.
#[derive(Debug)]
pub struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    ram: Vec<u8>,
    /// Thread ids of the busy threads.
    pub cpu_tids: Vec<u32>,
    /// Thread ids of the idle threads.
    pub idle_tids: Vec<u32>,
    /// Dropping these senders wakes the idle threads.
    idle_wakers: Vec<mpsc::Sender<()>>,
}

impl Load {
    /// Starts `cpus` busy threads and `idle` blocked threads, and allocates and touches
    /// `ram_mib` MiB. Returns once every thread has reported its tid.
    pub fn start(cpus: usize, ram_mib: usize, idle: usize) -> Result<Self, StressError> {
        let mut load = Load {
            stop: Arc::new(AtomicBool::new(false)),
            threads: Vec::new(),
            ram: Vec::new(),
            cpu_tids: Vec::new(),
            idle_tids: Vec::new(),
            idle_wakers: Vec::new(),
        };
        let (tid_tx, tid_rx) = mpsc::channel::<u32>();
        for i in 0..cpus {
            let stop = load.stop.clone();
            let tx = tid_tx.clone();
            let h = std::thread::Builder::new()
                .name(format!("stress-cpu-{i}"))
                .spawn(move || {
                    let _ = tx.send(nix::unistd::gettid().as_raw() as u32);
                    drop(tx);
                    let mut x = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..100_000 {
                            x = std::hint::black_box(
                                x.wrapping_mul(6364136223846793005).wrapping_add(1),
                            );
                        }
                    }
                })
                .map_err(StressError::Thread)?;
            load.threads.push(h);
            load.cpu_tids.push(tid_rx.recv().unwrap_or(0));
        }
        for i in 0..idle {
            let (wake_tx, wake_rx) = mpsc::channel::<()>();
            let tx = tid_tx.clone();
            let h = std::thread::Builder::new()
                .name(format!("stress-idle-{i}"))
                .spawn(move || {
                    let _ = tx.send(nix::unistd::gettid().as_raw() as u32);
                    drop(tx);
                    // Blocks (state S) until the sender is dropped.
                    let _ = wake_rx.recv();
                })
                .map_err(StressError::Thread)?;
            load.threads.push(h);
            load.idle_wakers.push(wake_tx);
            load.idle_tids.push(tid_rx.recv().unwrap_or(0));
        }
        let bytes = ram_mib.saturating_mul(1024 * 1024);
        let mut ram = vec![0u8; bytes];
        for i in (0..bytes).step_by(TOUCH_STRIDE) {
            ram[i] = (i / TOUCH_STRIDE) as u8 | 1;
        }
        load.ram = std::hint::black_box(ram);
        Ok(load)
    }

    /// MiB held.
    pub fn ram_mib(&self) -> usize {
        self.ram.len() / (1024 * 1024)
    }

    /// Stops and joins every thread and frees the RAM.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.idle_wakers.clear();
        for h in self.threads.drain(..) {
            let _ = h.join();
        }
        self.ram = Vec::new();
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.shutdown();
    }
}
