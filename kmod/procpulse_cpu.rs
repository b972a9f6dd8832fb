// SPDX-License-Identifier: GPL-2.0

//! procpulse CPU sensor: `cat /proc/procpulse_cpu` prints the busy share of all online
//! CPUs over the module's last sampling window, the cumulative /proc/stat counters and
//! the load averages.
//!
//! A kernel timer samples the per-CPU counters every second, independently of readers;
//! a read only formats the latest result, so any number of readers see the same window.

use core::cell::UnsafeCell;
use core::ffi::{c_char, c_int, c_uint, c_ulong, c_void};
use core::fmt::Write;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::bindings;
use kernel::c_str;
use kernel::prelude::*;

#[path = "common.rs"]
#[allow(dead_code)]
mod common;

use common::{show_result, ProcEntry, SeqWriter};

module! {
    type: ProcpulseCpu,
    name: "procpulse_cpu",
    author: "procpulse",
    description: "procpulse: CPU usage as JSON in /proc/procpulse_cpu",
    license: "GPL",
}

/// Length of a sampling window.
const WINDOW_MS: c_uint = 1000;
/// The first window after loading is short, so that a value exists soon after insmod.
const FIRST_WINDOW_MS: c_uint = 100;
/// `CPUTIME_*` indices of `enum cpu_usage_stat` (include/linux/kernel_stat.h, 6.12).
const CPUTIME_USER: usize = 0;
const CPUTIME_NICE: usize = 1;
const CPUTIME_SYSTEM: usize = 2;
const CPUTIME_SOFTIRQ: usize = 3;
const CPUTIME_IRQ: usize = 4;
const CPUTIME_IDLE: usize = 5;
const CPUTIME_IOWAIT: usize = 6;
const CPUTIME_STEAL: usize = 7;
/// `FSHIFT` / `FIXED_1` of include/linux/sched/loadavg.h.
const FSHIFT: u32 = 11;
const FIXED_1: c_ulong = 1 << FSHIFT;

#[allow(improper_ctypes)]
extern "C" {
    // kernel/sched/core.c, EXPORT_PER_CPU_SYMBOL: per-CPU cputime counters (ns).
    static kernel_cpustat: bindings::kernel_cpustat;
    // arch/x86/kernel/setup_percpu.c, EXPORT_SYMBOL: per-CPU area offsets.
    static __per_cpu_offset: [c_ulong; bindings::NR_CPUS as usize];
    // kernel/smp.c, EXPORT_SYMBOL: number of possible CPU ids.
    static nr_cpu_ids: c_uint;
    // kernel/cpu.c, EXPORT_SYMBOL: the online CPU mask and its weight.
    static __cpu_online_mask: bindings::cpumask;
    static __num_online_cpus: bindings::atomic_t;
    // kernel/sched/loadavg.c, EXPORT_SYMBOL: 1/5/15-minute load, fixed point FSHIFT.
    static avenrun: [c_ulong; 3];
    // kernel/time/timer.c, EXPORT_SYMBOL.
    static jiffies_64: u64;
    fn init_timer_key(
        timer: *mut bindings::timer_list,
        func: unsafe extern "C" fn(*mut bindings::timer_list),
        flags: c_uint,
        name: *const c_char,
        key: *mut bindings::lock_class_key,
    );
    fn mod_timer(timer: *mut bindings::timer_list, expires: c_ulong) -> c_int;
    fn timer_shutdown_sync(timer: *mut bindings::timer_list) -> c_int;
    // kernel/time/time.c, EXPORT_SYMBOL.
    fn __msecs_to_jiffies(m: c_uint) -> c_ulong;
    // kernel/time/timekeeping.c, EXPORT_SYMBOL_GPL: monotonic ns.
    fn ktime_get() -> i64;
}

#[cfg(CONFIG_NO_HZ_COMMON)]
extern "C" {
    // kernel/time/tick-sched.c, EXPORT_SYMBOL_GPL: NO_HZ idle/iowait accounting (us),
    // which /proc/stat prefers over cpustat[] for online CPUs.
    fn get_cpu_idle_time_us(cpu: c_int, last_update_time: *mut u64) -> u64;
    fn get_cpu_iowait_time_us(cpu: c_int, last_update_time: *mut u64) -> u64;
}

/// A static that the module hands to the kernel by address.
struct KernelCell<T>(UnsafeCell<MaybeUninit<T>>);

// SAFETY: access is serialised by construction: the timer and its key are written by
// `init` before the timer is armed and afterwards only used by the timer core; `PREV` is
// written by `init` before arming and afterwards only by the (non-reentrant) timer callback.
unsafe impl<T> Sync for KernelCell<T> {}

impl<T> KernelCell<T> {
    const fn zeroed() -> Self {
        Self(UnsafeCell::new(MaybeUninit::zeroed()))
    }
    fn get(&self) -> *mut T {
        self.0.get().cast()
    }
}

static TIMER: KernelCell<bindings::timer_list> = KernelCell::zeroed();
static TIMER_KEY: KernelCell<bindings::lock_class_key> = KernelCell::zeroed();
static PREV: KernelCell<Counters> = KernelCell::zeroed();
/// The last window's result: `usage_percent_x100 << 32 | window_ms` (one atomic, so a
/// reader never pairs a usage with another window's length).
static LATEST: AtomicU64 = AtomicU64::new(0);

/// Cumulative counters summed over online CPUs, ns, as /proc/stat shows them per CPU.
#[derive(Clone, Copy, Default)]
struct Counters {
    user: u64,
    nice: u64,
    system: u64,
    idle: u64,
    iowait: u64,
    irq: u64,
    softirq: u64,
    steal: u64,
    /// `ktime_get()` when read.
    at_ns: u64,
}

impl Counters {
    fn busy(&self) -> u64 {
        self.user + self.nice + self.system + self.irq + self.softirq + self.steal
    }
    fn total(&self) -> u64 {
        self.busy() + self.idle + self.iowait
    }
}

/// `cpu_online(cpu)`: a bit of `__cpu_online_mask`.
fn cpu_online(cpu: usize) -> bool {
    let bits = c_ulong::BITS as usize;
    // SAFETY: `cpu < nr_cpu_ids <= NR_CPUS`, so the word is inside the static mask; the
    // load is `test_bit()`'s plain (volatile) word read.
    let word = unsafe {
        core::ptr::read_volatile(core::ptr::addr_of!(__cpu_online_mask.bits[cpu / bits]))
    };
    word & (1 << (cpu % bits)) != 0
}

/// `kcpustat_cpu(cpu)`: this CPU's instance of the per-CPU `kernel_cpustat`.
fn kcpustat_cpu(cpu: usize) -> *const bindings::kernel_cpustat {
    // SAFETY: `cpu < nr_cpu_ids <= NR_CPUS` indexes the static offset table.
    let off = unsafe { core::ptr::read(core::ptr::addr_of!(__per_cpu_offset[cpu])) };
    // `per_cpu_ptr()`: the per-CPU symbol's address plus that CPU's area offset.
    (core::ptr::addr_of!(kernel_cpustat) as usize).wrapping_add(off as usize) as *const _
}

/// `get_idle_time()` / `get_iowait_time()` of fs/proc/stat.c (not exported).
fn idle_iowait(kcs: &[u64], cpu: usize) -> (u64, u64) {
    #[cfg(CONFIG_NO_HZ_COMMON)]
    {
        // SAFETY: `cpu` is an online CPU id; a null `last_update_time` is allowed.
        let idle_us = unsafe { get_cpu_idle_time_us(cpu as c_int, core::ptr::null_mut()) };
        // SAFETY: as above.
        let iowait_us = unsafe { get_cpu_iowait_time_us(cpu as c_int, core::ptr::null_mut()) };
        let idle = if idle_us == u64::MAX { kcs[CPUTIME_IDLE] } else { idle_us * 1000 };
        let iowait = if iowait_us == u64::MAX { kcs[CPUTIME_IOWAIT] } else { iowait_us * 1000 };
        (idle, iowait)
    }
    #[cfg(not(CONFIG_NO_HZ_COMMON))]
    {
        let _ = cpu;
        (kcs[CPUTIME_IDLE], kcs[CPUTIME_IOWAIT])
    }
}

fn read_counters() -> Counters {
    let mut c = Counters::default();
    // SAFETY: `nr_cpu_ids` is set at boot and never changes afterwards.
    let n = (unsafe { core::ptr::read(core::ptr::addr_of!(nr_cpu_ids)) } as usize)
        .min(bindings::NR_CPUS as usize);
    for cpu in 0..n {
        if !cpu_online(cpu) {
            continue;
        }
        let mut kcs = [0u64; CPUTIME_STEAL + 1];
        for (i, v) in kcs.iter_mut().enumerate() {
            // SAFETY: the per-CPU instance exists for every possible CPU; each counter is
            // an aligned u64 updated by its CPU, read whole (as /proc/stat reads it).
            *v = unsafe {
                core::ptr::read_volatile(core::ptr::addr_of!((*kcpustat_cpu(cpu)).cpustat[i]))
            };
        }
        let (idle, iowait) = idle_iowait(&kcs, cpu);
        c.user += kcs[CPUTIME_USER];
        c.nice += kcs[CPUTIME_NICE];
        c.system += kcs[CPUTIME_SYSTEM];
        c.irq += kcs[CPUTIME_IRQ];
        c.softirq += kcs[CPUTIME_SOFTIRQ];
        c.steal += kcs[CPUTIME_STEAL];
        c.idle += idle;
        c.iowait += iowait;
    }
    // SAFETY: ktime_get() may be called from any context once timekeeping is up.
    c.at_ns = unsafe { ktime_get() } as u64;
    c
}

/// Busy share of `cur - prev` in 1/100 %; counters that went backwards (a CPU went
/// offline) count as zero progress.
fn usage_x100(prev: &Counters, cur: &Counters) -> u64 {
    let total = cur.total().saturating_sub(prev.total());
    let busy = cur.busy().saturating_sub(prev.busy()).min(total);
    if total == 0 {
        0
    } else {
        busy * 10000 / total
    }
}

fn arm(ms: c_uint) {
    // SAFETY: `jiffies_64` is the kernel's tick counter (a naturally aligned u64);
    // `__msecs_to_jiffies` is a pure conversion; TIMER was initialised in `init` and is
    // only shut down in `Drop`, after which `mod_timer` is a no-op.
    unsafe {
        let now = core::ptr::read_volatile(core::ptr::addr_of!(jiffies_64));
        mod_timer(TIMER.get(), (now as c_ulong).wrapping_add(__msecs_to_jiffies(ms)));
    }
}

/// Timer callback (softirq context): closes the window, publishes it, re-arms.
unsafe extern "C" fn sample_tick(_t: *mut bindings::timer_list) {
    let cur = read_counters();
    // SAFETY: PREV is only touched here after `init` armed the timer, and a timer's
    // callback never runs concurrently with itself.
    let prev = unsafe { &mut *PREV.get() };
    let window_ms = cur.at_ns.saturating_sub(prev.at_ns) / 1_000_000;
    let usage = usage_x100(prev, &cur);
    LATEST.store((usage << 32) | window_ms.min(u32::MAX as u64), Ordering::Release);
    *prev = cur;
    arm(WINDOW_MS);
}

/// Load average as /proc/loadavg prints it, times 100 (`get_avenrun(.., FIXED_1/200, 0)`).
fn load_x100(i: usize) -> u64 {
    // SAFETY: `avenrun` is a static array of 3 words updated by the scheduler tick.
    let a = unsafe { core::ptr::read_volatile(core::ptr::addr_of!(avenrun[i])) } + FIXED_1 / 200;
    let int = (a >> FSHIFT) as u64;
    let frac = (((a & (FIXED_1 - 1)) * 100) >> FSHIFT) as u64;
    int * 100 + frac
}

fn write_cpu(w: &mut SeqWriter) -> core::fmt::Result {
    let latest = LATEST.load(Ordering::Acquire);
    let c = read_counters();
    // SAFETY: `__num_online_cpus` is a static atomic_t; this is raw_atomic_read().
    let cores = unsafe { core::ptr::read_volatile(core::ptr::addr_of!(__num_online_cpus.counter)) };
    writeln!(
        w,
        "{{\"cores\":{},\"usage_percent_x100\":{},\"window_ms\":{},\"user_ns\":{},\
         \"nice_ns\":{},\"system_ns\":{},\"idle_ns\":{},\"iowait_ns\":{},\"irq_ns\":{},\
         \"softirq_ns\":{},\"steal_ns\":{},\"load1_x100\":{},\"load5_x100\":{},\
         \"load15_x100\":{}}}",
        cores,
        latest >> 32,
        latest & 0xffff_ffff,
        c.user,
        c.nice,
        c.system,
        c.idle,
        c.iowait,
        c.irq,
        c.softirq,
        c.steal,
        load_x100(0),
        load_x100(1),
        load_x100(2)
    )
}

/// Show callback of /proc/procpulse_cpu.
unsafe extern "C" fn cpu_show(m: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
    // SAFETY: `m` is the seq_file of this show call and the writer dies with it.
    let mut w = unsafe { SeqWriter::new(m) };
    show_result(write_cpu(&mut w))
}

struct ProcpulseCpu {
    _entry: ProcEntry,
}

impl kernel::Module for ProcpulseCpu {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // SAFETY: the timer is not armed yet, so nothing else touches PREV, TIMER or
        // TIMER_KEY; the key and the name are static, as lockdep requires;
        // `init_timer_key` is what `timer_setup()` expands to.
        unsafe {
            *PREV.get() = read_counters();
            init_timer_key(
                TIMER.get(),
                sample_tick,
                0,
                c_str!("procpulse_cpu_sampler").as_char_ptr().cast(),
                TIMER_KEY.get(),
            );
        }
        LATEST.store(0, Ordering::Relaxed);
        arm(FIRST_WINDOW_MS);
        let entry = match ProcEntry::new(c_str!("procpulse_cpu"), cpu_show) {
            Ok(e) => e,
            Err(e) => {
                // SAFETY: the timer was initialised above; this waits for a running
                // callback and keeps it from re-arming.
                unsafe { timer_shutdown_sync(TIMER.get()) };
                return Err(e);
            }
        };
        pr_info!("/proc/procpulse_cpu ready\n");
        Ok(Self { _entry: entry })
    }
}

impl Drop for ProcpulseCpu {
    fn drop(&mut self) {
        // SAFETY: the timer was initialised in `init`; after this returns the callback
        // is neither running nor armed, so the module text and statics may go. (The
        // /proc entry is removed right after, when `_entry` drops; readers only format
        // LATEST and live counters, not the timer.)
        unsafe { timer_shutdown_sync(TIMER.get()) };
    }
}
