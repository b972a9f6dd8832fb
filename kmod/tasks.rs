// SPDX-License-Identifier: GPL-2.0

//! `/proc/procpulse_tasks`: one JSON line per process, as `/proc/[pid]/stat` shows it to
//! the reader.
//!
//! A `seq_file` iterator keyed by tgid, the way `proc_pid_readdir()` walks `/proc`:
//! every record is found with `find_ge_pid(next tgid, ns)` under a short RCU section and
//! pinned with a task reference, so an open file holds one `seq_file` buffer and one task
//! at a time whatever the process count, a read resumes where the previous one stopped,
//! and no RCU section spans more than one lookup. Only what the reader could see in its
//! own `/proc` is listed: the pid namespace of the proc mount the file was opened
//! through, and that mount's `hidepid=` / `gid=` (see `visible`).

use super::common::{show_result, ProcEntry, RcuGuard, SeqWriter};
use super::{TaskRef, STATE_LETTERS};
use core::ffi::{c_int, c_void};
use core::fmt::Write;
use core::sync::atomic::{fence, Ordering};
use kernel::bindings;
use kernel::c_str;
use kernel::prelude::*;

/// `struct proc_fs_info` of include/linux/proc_fs.h (6.12), the `s_fs_info` of every
/// proc superblock; proc_fs.h is not part of 6.12's generated bindings. Only the leading
/// fields are declared: the struct is only ever read through a pointer.
#[repr(C)]
struct ProcFsInfo {
    pid_ns: *mut bindings::pid_namespace,
    proc_self: *mut bindings::dentry,
    proc_thread_self: *mut bindings::dentry,
    pid_gid: bindings::kgid_t,
    hide_pid: c_int,
}

/// `enum proc_hidepid`.
const HIDEPID_OFF: c_int = 0;
const HIDEPID_NOT_PTRACEABLE: c_int = 4;
const CAP_SYS_PTRACE: u32 = bindings::CAP_SYS_PTRACE;

#[cfg(CONFIG_USER_NS)]
extern "C" {
    // kernel/user_namespace.c, EXPORT_SYMBOL (static inline without USER_NS). `to` is a
    // `struct user_namespace *`, declared opaque: the generated struct holds a field-less
    // `lockdep_map` without lockdep, which rustc's improper_ctypes lint refuses even behind
    // a pointer, and the function only needs the address.
    fn from_kuid_munged(to: *mut c_void, uid: bindings::kuid_t) -> u32;
}

#[cfg(any(not(CONFIG_PREEMPTION), CONFIG_PREEMPT_DYNAMIC))]
extern "C" {
    // kernel/sched/core.c, EXPORT_SYMBOL: the body of cond_resched() without
    // preemption or with a boot-time preemption model (with full preemption built in,
    // cond_resched() is a no-op and the scheduler preempts).
    fn __cond_resched() -> c_int;
}

/// The private state of one open file (`seq_file::private`, zeroed at open by
/// `__seq_open_private()` and freed by `seq_release_private()`).
#[repr(C)]
struct Iter {
    /// The process of the current record, with a reference held; null between reads.
    task: *mut bindings::task_struct,
    /// Its tgid in the mount's pid namespace.
    tgid: i32,
}

/// The proc mount the file was opened through.
///
/// # Safety
///
/// `m` must be a seq_file of this module's `/proc` entry inside one of its callbacks.
unsafe fn mount_info(m: *mut bindings::seq_file) -> *const ProcFsInfo {
    // SAFETY: by the caller, `m->file` is the open file, whose inode belongs to a proc
    // superblock for as long as the file is open; its `s_fs_info` is that mount's
    // `struct proc_fs_info`, set at mount and freed only after the superblock dies.
    unsafe { (*(*(*(*m).file).f_inode).i_sb).s_fs_info.cast() }
}

/// Whether `cap_effective` holds CAP_SYS_PTRACE in `ns`: a conservative `ns_capable()`
/// that accepts only the caller's own user namespace or the initial one (an ancestor of
/// every namespace).
///
/// # Safety
///
/// `cred` must be a live `struct cred`.
unsafe fn ptrace_capable(cred: *const bindings::cred, ns: *mut bindings::user_namespace) -> bool {
    // SAFETY: by the caller; `init_user_ns` is a static whose address is only compared.
    unsafe {
        let has = (*cred).cap_effective.val & (1u64 << CAP_SYS_PTRACE) != 0;
        let cns = (*cred).user_ns;
        has && (cns == ns || cns == core::ptr::addr_of_mut!(bindings::init_user_ns))
    }
}

/// `ptrace_may_access(task, PTRACE_MODE_READ_FSCREDS)` (not exported) for the reader,
/// without the LSM hook: same thread group; or the reader's fsuid/fsgid equal the task's
/// uid/euid/suid and gid/egid/sgid, or CAP_SYS_PTRACE over the task's user namespace;
/// and the task's mm dumpable (`SUID_DUMP_USER`) unless CAP_SYS_PTRACE over its owner.
///
/// # Safety
///
/// The caller holds a reference to `task`.
unsafe fn may_read(task: *mut bindings::task_struct) -> bool {
    // SAFETY: `current` is the running task; its `cred` (current_cred()) cannot change
    // under us because only the task itself replaces its own credentials.
    let (me, cred) = unsafe {
        let me = bindings::get_current();
        (me, (*me).cred)
    };
    // SAFETY: `task` is referenced (caller), so its `signal` is live; comparing the two
    // pointers is `same_thread_group()`.
    if unsafe { (*me).signal == (*task).signal } {
        return true;
    }
    let ids_ok = {
        let _rcu = RcuGuard::new();
        // SAFETY: `real_cred` is RCU-protected (`__task_cred()`), never null while the
        // task is referenced, and creds are freed only after a grace period.
        unsafe {
            let t = core::ptr::read_volatile(core::ptr::addr_of!((*task).real_cred));
            let (u, g) = ((*cred).fsuid.val, (*cred).fsgid.val);
            let same = u == (*t).euid.val
                && u == (*t).suid.val
                && u == (*t).uid.val
                && g == (*t).egid.val
                && g == (*t).sgid.val
                && g == (*t).gid.val;
            same || ptrace_capable(cred, (*t).user_ns)
        }
    };
    if !ids_ok {
        return false;
    }
    // SAFETY: `task_lock()` (alloc_lock) pins `task->mm` (exit_mm() clears it under this
    // lock before dropping its reference); `flags` and `user_ns` of a live mm are read
    // like `get_dumpable()` and `__ptrace_may_access()` read them.
    unsafe {
        let lock = core::ptr::addr_of_mut!((*task).alloc_lock);
        bindings::spin_lock(lock);
        let mm = (*task).mm;
        let ok = mm.is_null()
            || ((*mm).__bindgen_anon_1.flags as u64 & u64::from(bindings::MMF_DUMPABLE_MASK))
                == u64::from(bindings::SUID_DUMP_USER)
            || ptrace_capable(cred, (*mm).__bindgen_anon_1.user_ns);
        bindings::spin_unlock(lock);
        ok
    }
}

/// `has_pid_permissions(fs_info, task, HIDEPID_NO_ACCESS)` of fs/proc/base.c: a line
/// shows what `/proc/[pid]/stat` holds, so under `hidepid=noaccess` as under `invisible`
/// the reader must be in the mount's `gid=` group or pass the ptrace read check.
///
/// # Safety
///
/// `info` is the live mount info; the caller holds a reference to `task`.
unsafe fn visible(info: *const ProcFsInfo, task: *mut bindings::task_struct) -> bool {
    // SAFETY: by the caller.
    let (hide, gid) = unsafe { ((*info).hide_pid, (*info).pid_gid) };
    if hide == HIDEPID_OFF {
        return true;
    }
    // SAFETY: `in_group_p()` only reads the current task's credentials.
    if hide != HIDEPID_NOT_PTRACEABLE && unsafe { bindings::in_group_p(gid) } != 0 {
        return true;
    }
    // SAFETY: by the caller.
    unsafe { may_read(task) }
}

/// Drops the task reference held by `it`, if any.
///
/// # Safety
///
/// `it` is the private state of an open file, used by one callback at a time.
unsafe fn release(it: *mut Iter) {
    // SAFETY: by the caller; a non-null `task` carries the reference taken in `find`.
    unsafe {
        let t = core::mem::replace(&mut (*it).task, core::ptr::null_mut());
        if !t.is_null() {
            bindings::put_task_struct(t);
        }
    }
}

/// Pins the first visible process with tgid ≥ `from` in the mount's pid namespace and
/// returns it (null at the end), as `next_tgid()` of fs/proc/base.c does.
///
/// # Safety
///
/// `m` is this file's seq_file inside a callback (so `m->private` is our `Iter`).
unsafe fn find(m: *mut bindings::seq_file, from: i64) -> *mut c_void {
    // SAFETY: by the caller.
    let (it, info) = unsafe { ((*m).private.cast::<Iter>(), mount_info(m)) };
    // SAFETY: `it` is ours for the duration of the callback.
    unsafe { release(it) };
    // SAFETY: the mount info lives as long as the open file.
    let ns = unsafe { (*info).pid_ns };
    let mut nr = from.max(1);
    while nr <= i64::from(i32::MAX) {
        #[cfg(any(not(CONFIG_PREEMPTION), CONFIG_PREEMPT_DYNAMIC))]
        // SAFETY: a reschedule point; seq_file callbacks run in process context with only
        // `m->lock` (a mutex) held, and no RCU section or spinlock is open here.
        unsafe {
            __cond_resched()
        };
        let rcu = RcuGuard::new();
        // SAFETY: `find_ge_pid`, `pid_nr_ns` and `pid_task` must be called under RCU,
        // which `rcu` holds; the pid and task they return stay allocated until it ends,
        // and `get_task_struct()` extends the task's lifetime past it.
        let (task, tgid) = unsafe {
            let pid = bindings::find_ge_pid(nr as c_int, ns);
            if pid.is_null() {
                return core::ptr::null_mut();
            }
            let tgid = bindings::pid_nr_ns(pid, ns);
            let task = bindings::pid_task(pid, bindings::pid_type_PIDTYPE_TGID);
            if !task.is_null() {
                bindings::get_task_struct(task);
            }
            (task, tgid)
        };
        drop(rcu);
        nr = i64::from(tgid) + 1;
        if task.is_null() {
            continue;
        }
        // SAFETY: `task` is referenced; `info` is live (see above).
        if unsafe { visible(info, task) } {
            // SAFETY: `it` is ours; the reference moves into it.
            unsafe {
                (*it).task = task;
                (*it).tgid = tgid;
            }
            return task.cast();
        }
        // SAFETY: drops the reference taken above.
        unsafe { bindings::put_task_struct(task) };
    }
    core::ptr::null_mut()
}

unsafe extern "C" fn tasks_start(m: *mut bindings::seq_file, pos: *mut bindings::loff_t) -> *mut c_void {
    // SAFETY: seq_file passes its own `m` and `&m->index`; `*pos` is the lowest tgid
    // still to show (0 at open, else one past the last record shown).
    unsafe { find(m, *pos) }
}

unsafe extern "C" fn tasks_next(
    m: *mut bindings::seq_file,
    _v: *mut c_void,
    pos: *mut bindings::loff_t,
) -> *mut c_void {
    // SAFETY: as in `tasks_start`; `v` is the task `it` holds. The position moves past
    // it before the lookup, so it always changes, and a record that did not fit in the
    // buffer is found again by the next `start`.
    unsafe {
        let it = (*m).private.cast::<Iter>();
        *pos = i64::from((*it).tgid) + 1;
        find(m, *pos)
    }
}

unsafe extern "C" fn tasks_stop(m: *mut bindings::seq_file, _v: *mut c_void) {
    // SAFETY: `m->private` is our state; between reads no reference is kept, so closing
    // the file (or `proc_remove()` closing it for us) leaks nothing.
    unsafe { release((*m).private.cast()) };
}

unsafe extern "C" fn tasks_show(m: *mut bindings::seq_file, v: *mut c_void) -> c_int {
    // SAFETY: `v` is the referenced task returned by start/next, `m` its seq_file.
    let r = unsafe {
        let tgid = (*(*m).private.cast::<Iter>()).tgid;
        let mut w = SeqWriter::new(m);
        write_task(&mut w, m, v.cast(), tgid)
    };
    show_result(r)
}

/// The table's `seq_operations`.
static TASKS_OPS: bindings::seq_operations = bindings::seq_operations {
    start: Some(tasks_start),
    stop: Some(tasks_stop),
    next: Some(tasks_next),
    show: Some(tasks_show),
};

/// Creates `/proc/procpulse_tasks`.
pub(crate) fn entry() -> Result<ProcEntry> {
    ProcEntry::new_seq(c_str!("procpulse_tasks"), &TASKS_OPS, core::mem::size_of::<Iter>())
}

/// `thread_group_cputime()` (not exported): user, system and runtime (ns) of the whole
/// group, exited threads included, read consistently under `signal->stats_lock` — a
/// lockless seqcount pass first, then with the lock taken, as the C function does.
///
/// # Safety
///
/// The caller holds a reference to `task`.
unsafe fn group_cputime(task: *mut bindings::task_struct) -> (u64, u64, u64) {
    let rcu = RcuGuard::new();
    // SAFETY: the reference keeps `signal` allocated.
    let sig = unsafe { (*task).signal };
    // SAFETY: `stats_lock` lives in `sig`; only addresses are taken here.
    let (seqp, lock) = unsafe {
        (
            core::ptr::addr_of!((*sig).stats_lock.seqcount.seqcount.sequence),
            core::ptr::addr_of_mut!((*sig).stats_lock.lock).cast::<bindings::raw_spinlock_t>(),
        )
    };
    // SAFETY: the task is referenced and `rcu` is held (see `TaskRef::held`).
    let leader = unsafe { TaskRef::held(task, &rcu) };
    let mut pass = 0;
    loop {
        let locked = pass > 0;
        let mut seq = 0;
        let mut flags = 0;
        if locked {
            // SAFETY: `spinlock_t` starts with its `raw_spinlock_t` (not PREEMPT_RT);
            // `read_seqlock_excl_irqsave()` is this call. Released below.
            flags = unsafe { bindings::_raw_spin_lock_irqsave(lock) };
        } else {
            loop {
                // SAFETY: the writer's sequence word, read once like READ_ONCE().
                seq = unsafe { core::ptr::read_volatile(seqp) };
                if seq & 1 == 0 {
                    break;
                }
                core::hint::spin_loop();
            }
            fence(Ordering::Acquire);
        }
        // SAFETY: `sig` is live; the counters are u64 read whole, consistent with each
        // other because the sequence (or the lock) covers every writer (`__exit_signal`
        // adds a thread's times to `sig` and unhashes it in one write section).
        let (mut u, mut s, mut r) = unsafe {
            (
                core::ptr::read_volatile(core::ptr::addr_of!((*sig).utime)),
                core::ptr::read_volatile(core::ptr::addr_of!((*sig).stime)),
                core::ptr::read_volatile(core::ptr::addr_of!((*sig).sum_sched_runtime)),
            )
        };
        leader.for_each_thread(|t| {
            // SAFETY: `t` is a live thread under RCU; `task_cputime()` without
            // VIRT_CPU_ACCOUNTING_GEN and `read_sum_exec_runtime()` on 64-bit are these
            // plain loads.
            unsafe {
                let t = t.ptr();
                u += core::ptr::read_volatile(core::ptr::addr_of!((*t).utime));
                s += core::ptr::read_volatile(core::ptr::addr_of!((*t).stime));
                r += core::ptr::read_volatile(core::ptr::addr_of!((*t).se.sum_exec_runtime));
            }
        });
        if locked {
            // SAFETY: releases the lock taken above with its saved flags.
            unsafe { bindings::_raw_spin_unlock_irqrestore(lock, flags) };
            return (u, s, r);
        }
        fence(Ordering::Acquire);
        // SAFETY: as above.
        if unsafe { core::ptr::read_volatile(seqp) } == seq {
            return (u, s, r);
        }
        pass += 1;
    }
}

/// `mul_u64_u64_div_u64(a, b, c)` exactly (x86-64's `mulq`/`divq`), without 128-bit
/// division, which the kernel's Rust runtime does not provide. Requires `a <= c` so the
/// quotient fits in 64 bits.
fn mul_div(a: u64, b: u64, c: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    let (mut hi, lo) = ((p >> 64) as u64, p as u64);
    let mut q = 0u64;
    for i in (0..64).rev() {
        let carry = hi >> 63;
        hi = (hi << 1) | ((lo >> i) & 1);
        q <<= 1;
        if carry != 0 || hi >= c {
            hi = hi.wrapping_sub(c);
            q |= 1;
        }
    }
    q
}

/// `thread_group_cputime_adjusted()` (not exported): the group's times scaled so that
/// they add up to its runtime, never below what any reader of this process was shown
/// (`cputime_adjust()`, which keeps that floor in `signal->prev_cputime` under its lock,
/// shared with /proc). Returns (utime, stime) in ns.
///
/// # Safety
///
/// The caller holds a reference to `task`.
unsafe fn group_cputime_adjusted(task: *mut bindings::task_struct) -> (u64, u64) {
    // SAFETY: by the caller.
    let (cu, cs, rtime) = unsafe { group_cputime(task) };
    // SAFETY: the reference keeps `signal` allocated; `prev_cputime.lock` is the raw
    // spinlock that serialises every `cputime_adjust()` on it.
    unsafe {
        let prev = core::ptr::addr_of_mut!((*(*task).signal).prev_cputime);
        let lock = core::ptr::addr_of_mut!((*prev).lock);
        let flags = bindings::_raw_spin_lock_irqsave(lock);
        let (pu, ps) = ((*prev).utime, (*prev).stime);
        if ps + pu < rtime {
            let mut stime = if cs == 0 {
                0
            } else if cu == 0 {
                rtime
            } else {
                mul_div(cs, rtime, cs + cu).min(rtime)
            };
            if stime < ps {
                stime = ps;
            }
            let mut utime = rtime - stime;
            if utime < pu {
                utime = pu;
                stime = rtime - utime;
            }
            (*prev).stime = stime;
            (*prev).utime = utime;
        }
        let r = ((*prev).utime, (*prev).stime);
        bindings::_raw_spin_unlock_irqrestore(lock, flags);
        r
    }
}

/// What /proc/[pid]/stat prints as the name: `None` where `proc_task_name()` would use a
/// name this module cannot read (a workqueue worker's `wq_worker_comm()`; a kernel
/// thread's `full_name`, which exists only when its comm was cut to 15 bytes).
///
/// # Safety
///
/// The caller holds a reference to `task`.
unsafe fn comm(task: *mut bindings::task_struct, buf: &mut [u8; 16]) -> Option<&[u8]> {
    // SAFETY: `flags` of a referenced task; PF_WQ_WORKER/PF_KTHREAD never change after
    // the thread starts.
    let flags = unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*task).flags)) };
    if flags & bindings::PF_WQ_WORKER != 0 {
        return None;
    }
    // SAFETY: `__get_task_comm()` copies the comm under `task_lock()`, as /proc does.
    unsafe { bindings::__get_task_comm(buf.as_mut_ptr().cast(), buf.len(), task) };
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len() - 1);
    if flags & bindings::PF_KTHREAD != 0 && len == buf.len() - 1 {
        return None;
    }
    Some(&buf[..len])
}

/// Resident set in KiB as /proc/[pid]/stat computes it (`get_task_mm()` + `get_mm_rss()`);
/// 0 for kernel threads and exited processes.
///
/// # Safety
///
/// The caller holds a reference to `task`.
unsafe fn rss_kb(task: *mut bindings::task_struct) -> u64 {
    // SAFETY: `task_lock()` pins `task->mm` (exit_mm() clears it under this lock before
    // dropping its reference), so a non-null mm is live until unlock. The counters are
    // percpu_counters read like percpu_counter_read_positive().
    unsafe {
        let lock = core::ptr::addr_of_mut!((*task).alloc_lock);
        bindings::spin_lock(lock);
        let mm = (*task).mm;
        let mut pages: i64 = 0;
        if !mm.is_null() && (*task).flags & bindings::PF_KTHREAD == 0 {
            for i in [bindings::MM_FILEPAGES, bindings::MM_ANONPAGES, bindings::MM_SHMEMPAGES] {
                let c = core::ptr::read_volatile(core::ptr::addr_of!(
                    (*mm).__bindgen_anon_1.rss_stat[i as usize].count
                ));
                pages += c.max(0);
            }
        }
        bindings::spin_unlock(lock);
        (pages as u64) << (bindings::PAGE_SHIFT - 10)
    }
}

/// The task's effective uid as the reader's user namespace sees it (`/proc/[pid]/status`
/// `Uid:` second column; ps and htop show this one).
///
/// # Safety
///
/// `m` is this file's seq_file in a callback; the caller holds a reference to `task`.
unsafe fn euid(m: *mut bindings::seq_file, task: *mut bindings::task_struct) -> u32 {
    let _rcu = RcuGuard::new();
    // SAFETY: `real_cred` is RCU-protected and never null for a referenced task.
    let kuid = unsafe { (*core::ptr::read_volatile(core::ptr::addr_of!((*task).real_cred))).euid };
    #[cfg(CONFIG_USER_NS)]
    // SAFETY: `seq_user_ns(m)`: the opener's credentials live as long as the file.
    let uid = unsafe { from_kuid_munged((*(*(*m).file).f_cred).user_ns.cast(), kuid) };
    #[cfg(not(CONFIG_USER_NS))]
    let uid = {
        let _ = m;
        kuid.val
    };
    uid
}

/// One line: `{"pid","ppid","uid","comm"?,"state","rss_kb","threads","utime_ns"?,"stime_ns"?}`.
///
/// # Safety
///
/// `m` is this file's seq_file in a callback; the caller holds a reference to `task`.
unsafe fn write_task(
    w: &mut SeqWriter,
    m: *mut bindings::seq_file,
    task: *mut bindings::task_struct,
    tgid: i32,
) -> core::fmt::Result {
    // SAFETY: the mount info lives as long as the open file.
    let ns = unsafe { (*mount_info(m)).pid_ns };
    let (ppid, state, threads) = {
        let rcu = RcuGuard::new();
        // SAFETY: referenced task, RCU held.
        let t = unsafe { TaskRef::held(task, &rcu) };
        // SAFETY: `task_ppid_nr_ns()`: `real_parent` is RCU-protected and valid while
        // `pid_alive()`; `nr_threads` is read once like `get_nr_threads()`.
        let (ppid, threads) = unsafe {
            let ppid = if core::ptr::read_volatile(core::ptr::addr_of!((*task).thread_pid)).is_null() {
                0
            } else {
                let parent = core::ptr::read_volatile(core::ptr::addr_of!((*task).real_parent));
                bindings::__task_pid_nr_ns(parent, bindings::pid_type_PIDTYPE_TGID, ns)
            };
            (ppid, core::ptr::read_volatile(core::ptr::addr_of!((*(*task).signal).nr_threads)))
        };
        (ppid, STATE_LETTERS[t.state_index()], threads)
    };
    // SAFETY: by the caller (all of these only need the reference).
    let (uid, rss) = unsafe { (euid(m, task), rss_kb(task)) };
    // SAFETY: as above.
    let times = plain_cputime().then(|| unsafe { group_cputime_adjusted(task) });
    let mut buf = [0u8; 16];
    write!(w, "{{\"pid\":{tgid},\"ppid\":{ppid},\"uid\":{uid},")?;
    // SAFETY: by the caller.
    if let Some(c) = unsafe { comm(task, &mut buf) } {
        w.bytes(b"\"comm\":")?;
        w.json_str(c)?;
        w.bytes(b",")?;
    }
    write!(w, "\"state\":\"{}\",\"rss_kb\":{rss},\"threads\":{threads}", state as char)?;
    if let Some((utime, stime)) = times {
        write!(w, ",\"utime_ns\":{utime},\"stime_ns\":{stime}")?;
    }
    w.bytes(b"}\n")
}

#[cfg(CONFIG_VIRT_CPU_ACCOUNTING_GEN)]
#[allow(improper_ctypes)]
extern "C" {
    // kernel/context_tracking.c, EXPORT_SYMBOL_GPL: set at boot when some CPU runs with
    // nohz_full (vtime accounting), never changed afterwards (read-only after init).
    static context_tracking_key: bindings::static_key_false;
}

/// Whether `task_cputime()` is the plain `t->utime`/`t->stime` this module reads: always
/// without VIRT_CPU_ACCOUNTING_GEN, and with it unless vtime accounting is on (a
/// `nohz_full=` boot), where running tasks carry time that only the unexported
/// `task_cputime()` can add — then the module omits utime/stime.
fn plain_cputime() -> bool {
    #[cfg(CONFIG_VIRT_CPU_ACCOUNTING_GEN)]
    {
        // SAFETY: `static_key_enabled()`: an atomic read of the key's count.
        let n = unsafe {
            core::ptr::read_volatile(core::ptr::addr_of!(context_tracking_key.key.enabled.counter))
        };
        n <= 0
    }
    #[cfg(not(CONFIG_VIRT_CPU_ACCOUNTING_GEN))]
    true
}
