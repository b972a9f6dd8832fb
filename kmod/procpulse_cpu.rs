// SPDX-License-Identifier: GPL-2.0

//! procpulse CPU sensor: `cat /proc/procpulse_cpu` prints the busy share of the CPUs over
//! the module's last sampling window (overall and per CPU), the cumulative /proc/stat
//! counters (overall and per online CPU, never decreasing) and the load averages.
//!
//! A kernel timer samples the per-CPU counters every second, independently of readers,
//! keeping each CPU's previous reading: a window's usage covers the CPUs online at both
//! of its ends, so CPU hotplug neither drops counters nor lands a CPU's lifetime in one
//! window. A read formats the latest window's results (a seqcount read, so one window
//! only) and the live counters, so any number of readers see the same window.

use core::cell::UnsafeCell;
use core::ffi::{c_char, c_int, c_uint, c_ulong, c_void};
use core::fmt::Write;
use core::mem::MaybeUninit;
use core::sync::atomic::{fence, AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
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
const CPUTIME_GUEST: usize = 8;
const CPUTIME_GUEST_NICE: usize = 9;
const _: () = assert!(CPUTIME_USER == bindings::cpu_usage_stat_CPUTIME_USER as usize);
const _: () = assert!(CPUTIME_SOFTIRQ == bindings::cpu_usage_stat_CPUTIME_SOFTIRQ as usize);
const _: () = assert!(CPUTIME_IDLE == bindings::cpu_usage_stat_CPUTIME_IDLE as usize);
const _: () = assert!(CPUTIME_STEAL == bindings::cpu_usage_stat_CPUTIME_STEAL as usize);
const _: () = assert!(CPUTIME_GUEST_NICE == bindings::cpu_usage_stat_CPUTIME_GUEST_NICE as usize);
/// `FSHIFT` / `FIXED_1` of include/linux/sched/loadavg.h.
const FSHIFT: u32 = 11;
const FIXED_1: c_ulong = 1 << FSHIFT;

#[allow(improper_ctypes)]
extern "C" {
    // kernel/sched/core.c, EXPORT_PER_CPU_SYMBOL: per-CPU cputime counters (ns), read
    // directly unless VIRT_CPU_ACCOUNTING_GEN (then through kcpustat_cpu_fetch()).
    #[cfg(not(CONFIG_VIRT_CPU_ACCOUNTING_GEN))]
    static kernel_cpustat: bindings::kernel_cpustat;
    // arch/x86/kernel/setup_percpu.c, EXPORT_SYMBOL: per-CPU area offsets.
    #[cfg(not(CONFIG_VIRT_CPU_ACCOUNTING_GEN))]
    static __per_cpu_offset: [c_ulong; bindings::NR_CPUS as usize];
    // kernel/smp.c, EXPORT_SYMBOL: number of possible CPU ids.
    static nr_cpu_ids: c_uint;
    // kernel/cpu.c, EXPORT_SYMBOL: the possible and online CPU masks, the online weight.
    static __cpu_possible_mask: bindings::cpumask;
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
// `init` before the timer is armed and afterwards only used by the timer core.
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

/// `CPUTIME_*` counters per CPU (`NR_STATS` of `enum cpu_usage_stat` up to GUEST_NICE).
const NMODES: usize = CPUTIME_GUEST_NICE + 1;
/// JSON names of the counters, in `CPUTIME_*` order.
const MODE_NAMES: [&str; NMODES] = [
    "user_ns",
    "nice_ns",
    "system_ns",
    "softirq_ns",
    "irq_ns",
    "idle_ns",
    "iowait_ns",
    "steal_ns",
    "guest_ns",
    "guest_nice_ns",
];
/// The order /proc/stat prints them in (and so the JSON does).
const PRINT_ORDER: [usize; NMODES] = [
    CPUTIME_USER,
    CPUTIME_NICE,
    CPUTIME_SYSTEM,
    CPUTIME_IDLE,
    CPUTIME_IOWAIT,
    CPUTIME_IRQ,
    CPUTIME_SOFTIRQ,
    CPUTIME_STEAL,
    CPUTIME_GUEST,
    CPUTIME_GUEST_NICE,
];
/// `Slot::usage` of a CPU that was not online at both ends of the last window.
const NO_USAGE: u64 = u64::MAX;

/// What the module keeps per possible CPU.
struct Slot {
    /// The highest value of each counter read so far: counters are reported through it,
    /// so they never go backwards (a CPU going offline switches /proc/stat's idle source
    /// from the NO_HZ idle clock to `cpustat[CPUTIME_IDLE]`).
    max: [AtomicU64; NMODES],
    /// The sampler's reading at the start of the window (busy, total ns) and whether the
    /// CPU was online then. Only the timer callback touches these.
    prev_busy: AtomicU64,
    prev_total: AtomicU64,
    prev_online: AtomicBool,
    /// Busy share of the last window ×100, or `NO_USAGE`.
    usage: AtomicU64,
}

impl Slot {
    fn new() -> Self {
        Self {
            max: [const { AtomicU64::new(0) }; NMODES],
            prev_busy: AtomicU64::new(0),
            prev_total: AtomicU64::new(0),
            prev_online: AtomicBool::new(false),
            usage: AtomicU64::new(NO_USAGE),
        }
    }

    /// `raw` folded into the running maxima; returns the monotonic counters.
    fn clamp(&self, raw: &[u64; NMODES]) -> [u64; NMODES] {
        let mut out = [0u64; NMODES];
        for (i, v) in raw.iter().enumerate() {
            out[i] = self.max[i].fetch_max(*v, Ordering::Relaxed).max(*v);
        }
        out
    }
}

/// The per-CPU slots (`nr_cpu_ids` of them), owned by the module struct; published here
/// for the timer callback and the show callback, which both stop before it is freed.
static SLOTS: AtomicPtr<Slot> = AtomicPtr::new(core::ptr::null_mut());
static NSLOTS: AtomicUsize = AtomicUsize::new(0);
/// Seqcount over one window's results (`LATEST`, `WINDOW_SEQ`, every `Slot::usage`):
/// odd while the sampler writes them.
static GEN: AtomicU64 = AtomicU64::new(0);
/// The last window's result: `usage_percent_x100 << 32 | window_ms`.
static LATEST: AtomicU64 = AtomicU64::new(0);
/// Windows closed since load.
static WINDOW_SEQ: AtomicU64 = AtomicU64::new(0);
/// `ktime_get()` at the start of the current window; only the timer callback writes it.
static WINDOW_START_NS: AtomicU64 = AtomicU64::new(0);

fn slots() -> &'static [Slot] {
    let p = SLOTS.load(Ordering::Acquire);
    if p.is_null() {
        return &[];
    }
    // SAFETY: `p` points at `NSLOTS` initialised slots owned by the module struct, which
    // frees them only after the timer is shut down and the /proc entry removed (no
    // caller of this function is left by then).
    unsafe { core::slice::from_raw_parts(p, NSLOTS.load(Ordering::Acquire)) }
}

/// `test_bit(cpu, mask)` on one of the kernel's static CPU masks.
fn mask_test(mask: *const bindings::cpumask, cpu: usize) -> bool {
    let bits = c_ulong::BITS as usize;
    // SAFETY: `cpu < nr_cpu_ids <= NR_CPUS`, so the word is inside the static mask; the
    // load is `test_bit()`'s plain (volatile) word read.
    let word = unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*mask).bits[cpu / bits])) };
    word & (1 << (cpu % bits)) != 0
}

/// `cpu_online(cpu)`.
fn cpu_online(cpu: usize) -> bool {
    mask_test(core::ptr::addr_of!(__cpu_online_mask), cpu)
}

/// `cpu_possible(cpu)`.
fn cpu_possible(cpu: usize) -> bool {
    mask_test(core::ptr::addr_of!(__cpu_possible_mask), cpu)
}

/// `kcpustat_cpu(cpu)`: this CPU's instance of the per-CPU `kernel_cpustat`.
#[cfg(not(CONFIG_VIRT_CPU_ACCOUNTING_GEN))]
fn kcpustat_cpu(cpu: usize) -> *const bindings::kernel_cpustat {
    // SAFETY: `cpu < nr_cpu_ids <= NR_CPUS` indexes the static offset table.
    let off = unsafe { core::ptr::read(core::ptr::addr_of!(__per_cpu_offset[cpu])) };
    // `per_cpu_ptr()`: the per-CPU symbol's address plus that CPU's area offset.
    (core::ptr::addr_of!(kernel_cpustat) as usize).wrapping_add(off as usize) as *const _
}

/// `get_idle_time()` / `get_iowait_time()` of fs/proc/stat.c (not exported): the NO_HZ
/// idle clocks for an online CPU when tickless, else `cpustat[]`.
fn idle_iowait(kcs: &[u64; NMODES], cpu: usize, online: bool) -> (u64, u64) {
    #[cfg(CONFIG_NO_HZ_COMMON)]
    if online {
        // SAFETY: `cpu` is a possible CPU id; a null `last_update_time` is allowed.
        let idle_us = unsafe { get_cpu_idle_time_us(cpu as c_int, core::ptr::null_mut()) };
        // SAFETY: as above.
        let iowait_us = unsafe { get_cpu_iowait_time_us(cpu as c_int, core::ptr::null_mut()) };
        let idle = if idle_us == u64::MAX { kcs[CPUTIME_IDLE] } else { idle_us * 1000 };
        let iowait = if iowait_us == u64::MAX { kcs[CPUTIME_IOWAIT] } else { iowait_us * 1000 };
        return (idle, iowait);
    }
    let _ = (cpu, online);
    (kcs[CPUTIME_IDLE], kcs[CPUTIME_IOWAIT])
}

#[cfg(CONFIG_VIRT_CPU_ACCOUNTING_GEN)]
extern "C" {
    // kernel/sched/cputime.c, EXPORT_SYMBOL_GPL (with VIRT_CPU_ACCOUNTING_GEN only): a
    // CPU's counters plus the vtime its current task has not flushed yet, as /proc/stat.
    fn kcpustat_cpu_fetch(dst: *mut bindings::kernel_cpustat, cpu: c_int);
}

/// One CPU's counters as /proc/stat computes them (ns), read now.
fn read_cpu(cpu: usize, online: bool) -> [u64; NMODES] {
    let mut kcs = [0u64; NMODES];
    #[cfg(CONFIG_VIRT_CPU_ACCOUNTING_GEN)]
    {
        // SAFETY: `kernel_cpustat` is plain data (all-zero is valid) that the call fills
        // for a possible CPU; it only reads per-CPU state under RCU and a seqcount.
        let mut k: bindings::kernel_cpustat = unsafe { core::mem::zeroed() };
        // SAFETY: as above.
        unsafe { kcpustat_cpu_fetch(&mut k, cpu as c_int) };
        for (d, v) in kcs.iter_mut().zip(k.cpustat.iter()) {
            *d = *v;
        }
    }
    #[cfg(not(CONFIG_VIRT_CPU_ACCOUNTING_GEN))]
    for (i, v) in kcs.iter_mut().enumerate() {
        // SAFETY: the per-CPU instance exists for every possible CPU; each counter is an
        // aligned u64 updated by its CPU, read whole (as /proc/stat reads it).
        *v = unsafe {
            core::ptr::read_volatile(core::ptr::addr_of!((*kcpustat_cpu(cpu)).cpustat[i]))
        };
    }
    let (idle, iowait) = idle_iowait(&kcs, cpu, online);
    kcs[CPUTIME_IDLE] = idle;
    kcs[CPUTIME_IOWAIT] = iowait;
    kcs
}

/// (busy, total) ns of one reading: busy = user+nice+system+irq+softirq+steal (guest time
/// is already inside user/nice), total = busy + idle + iowait.
fn busy_total(c: &[u64; NMODES]) -> (u64, u64) {
    let busy = c[CPUTIME_USER]
        + c[CPUTIME_NICE]
        + c[CPUTIME_SYSTEM]
        + c[CPUTIME_IRQ]
        + c[CPUTIME_SOFTIRQ]
        + c[CPUTIME_STEAL];
    (busy, busy + c[CPUTIME_IDLE] + c[CPUTIME_IOWAIT])
}

fn nr_cpus() -> usize {
    // SAFETY: `nr_cpu_ids` is set at boot and never changes afterwards.
    (unsafe { core::ptr::read(core::ptr::addr_of!(nr_cpu_ids)) } as usize)
        .min(bindings::NR_CPUS as usize)
}

/// Closes a window: per CPU online at both of its ends, the busy share of the counter
/// deltas; overall, the same over the sum of those CPUs. Starts the next window.
fn close_window(first: bool) {
    // SAFETY: ktime_get() may be called from any context once timekeeping is up.
    let now = unsafe { ktime_get() } as u64;
    let window_ms = now.saturating_sub(WINDOW_START_NS.swap(now, Ordering::Relaxed)) / 1_000_000;
    let (mut busy, mut total) = (0u64, 0u64);
    let s = GEN.load(Ordering::Relaxed);
    GEN.store(s + 1, Ordering::Relaxed);
    fence(Ordering::Release);
    for (cpu, slot) in slots().iter().enumerate() {
        let online = cpu_possible(cpu) && cpu_online(cpu);
        let (b, t) = busy_total(&read_cpu(cpu, online));
        let mut usage = NO_USAGE;
        if online && slot.prev_online.load(Ordering::Relaxed) {
            let dt = t.saturating_sub(slot.prev_total.load(Ordering::Relaxed));
            let db = b.saturating_sub(slot.prev_busy.load(Ordering::Relaxed)).min(dt);
            usage = if dt == 0 { 0 } else { db * 10000 / dt };
            busy += db;
            total += dt;
        }
        slot.usage.store(usage, Ordering::Relaxed);
        slot.prev_busy.store(b, Ordering::Relaxed);
        slot.prev_total.store(t, Ordering::Relaxed);
        slot.prev_online.store(online, Ordering::Relaxed);
    }
    if !first {
        let usage = if total == 0 { 0 } else { busy * 10000 / total };
        LATEST.store((usage << 32) | window_ms.min(u32::MAX as u64), Ordering::Relaxed);
        WINDOW_SEQ.fetch_add(1, Ordering::Relaxed);
    }
    GEN.store(s + 2, Ordering::Release);
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
    close_window(false);
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

/// Writes one CPU's counters as `,"user_ns":..` pairs.
fn write_modes(w: &mut SeqWriter, c: &[u64; NMODES]) -> core::fmt::Result {
    for i in PRINT_ORDER {
        write!(w, ",\"{}\":{}", MODE_NAMES[i], c[i])?;
    }
    Ok(())
}

/// The whole file, formatted from one window's results (see `cpu_show`).
fn write_cpu(w: &mut SeqWriter) -> core::fmt::Result {
    let latest = LATEST.load(Ordering::Relaxed);
    // SAFETY: `__num_online_cpus` is a static atomic_t; this is raw_atomic_read().
    let cores = unsafe { core::ptr::read_volatile(core::ptr::addr_of!(__num_online_cpus.counter)) };
    let mut sum = [0u64; NMODES];
    let slots = slots();
    for (cpu, slot) in slots.iter().enumerate() {
        if cpu_possible(cpu) {
            let c = slot.clamp(&read_cpu(cpu, cpu_online(cpu)));
            for (s, v) in sum.iter_mut().zip(c) {
                *s += v;
            }
        }
    }
    write!(
        w,
        "{{\"cores\":{},\"usage_percent_x100\":{},\"window_ms\":{},\"window_seq\":{}",
        cores,
        latest >> 32,
        latest & 0xffff_ffff,
        WINDOW_SEQ.load(Ordering::Relaxed)
    )?;
    write_modes(w, &sum)?;
    write!(
        w,
        ",\"load1_x100\":{},\"load5_x100\":{},\"load15_x100\":{},\"per_cpu\":[",
        load_x100(0),
        load_x100(1),
        load_x100(2)
    )?;
    let mut first = true;
    for (cpu, slot) in slots.iter().enumerate() {
        if !(cpu_possible(cpu) && cpu_online(cpu)) {
            continue;
        }
        let c = slot.clamp(&read_cpu(cpu, true));
        w.bytes(if first { b"{" } else { b",{" })?;
        first = false;
        write!(w, "\"cpu\":{cpu}")?;
        let usage = slot.usage.load(Ordering::Relaxed);
        if usage != NO_USAGE {
            write!(w, ",\"usage_percent_x100\":{usage}")?;
        }
        write_modes(w, &c)?;
        w.bytes(b"}")?;
    }
    w.bytes(b"]}\n")
}

/// Show callback of /proc/procpulse_cpu.
unsafe extern "C" fn cpu_show(m: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
    // SAFETY: `m` is the seq_file of this show call and the writer dies with it.
    let mut w = unsafe { SeqWriter::new(m) };
    // One window's results only: if the sampler closed a window meanwhile, what was
    // written is dropped and the file is formatted again (a seqcount read).
    let mark = w.mark();
    loop {
        let g = GEN.load(Ordering::Acquire);
        if g & 1 != 0 {
            core::hint::spin_loop();
            continue;
        }
        let r = write_cpu(&mut w);
        fence(Ordering::Acquire);
        if GEN.load(Ordering::Relaxed) == g {
            return show_result(r);
        }
        w.rewind(mark);
    }
}

struct ProcpulseCpu {
    // Dropped in this order, after `Drop::drop` stopped the timer: the /proc entry
    // (waiting for readers), then the slots they read.
    _entry: ProcEntry,
    _slots: KVVec<Slot>,
}

impl kernel::Module for ProcpulseCpu {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let n = nr_cpus();
        let mut slots = KVVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            slots.push(Slot::new(), GFP_KERNEL)?;
        }
        NSLOTS.store(n, Ordering::Relaxed);
        SLOTS.store(slots.as_mut_ptr(), Ordering::Release);
        LATEST.store(0, Ordering::Relaxed);
        WINDOW_SEQ.store(0, Ordering::Relaxed);
        // The readings the first window starts from.
        close_window(true);
        // SAFETY: the timer is not armed yet, so nothing else touches TIMER or TIMER_KEY;
        // the key and the name are static, as lockdep requires; `init_timer_key` is what
        // `timer_setup()` expands to.
        unsafe {
            init_timer_key(
                TIMER.get(),
                sample_tick,
                0,
                c_str!("procpulse_cpu_sampler").as_char_ptr().cast(),
                TIMER_KEY.get(),
            );
        }
        arm(FIRST_WINDOW_MS);
        let entry = match ProcEntry::new(c_str!("procpulse_cpu"), cpu_show) {
            Ok(e) => e,
            Err(e) => {
                // SAFETY: the timer was initialised above; this waits for a running
                // callback and keeps it from re-arming.
                unsafe { timer_shutdown_sync(TIMER.get()) };
                SLOTS.store(core::ptr::null_mut(), Ordering::Release);
                return Err(e);
            }
        };
        pr_info!("/proc/procpulse_cpu ready\n");
        Ok(Self { _entry: entry, _slots: slots })
    }
}

impl Drop for ProcpulseCpu {
    fn drop(&mut self) {
        // SAFETY: the timer was initialised in `init`; after this returns the callback
        // is neither running nor armed, so the module text and statics may go. The /proc
        // entry is removed right after, when `_entry` drops (waiting for readers), and
        // only then are the slots freed.
        unsafe { timer_shutdown_sync(TIMER.get()) };
    }
}
