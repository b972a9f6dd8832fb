// SPDX-License-Identifier: GPL-2.0

//! procpulse process sensor: `cat /proc/procpulse_procs` prints how many processes are
//! in each state (classified exactly like the state letter of /proc/[pid]/stat) and how
//! many threads exist; `cat /proc/procpulse_tasks` prints one JSON object per process.
//!
//! The counts walk the task list under RCU (`for_each_process` / `for_each_thread`),
//! without `tasklist_lock` (not exported) and without allocating per task; the table is
//! a `seq_file` iterator keyed by tgid (tasks.rs).

use core::ffi::{c_int, c_void};
use core::fmt::Write;
use core::mem::offset_of;
use kernel::bindings;
use kernel::c_str;
use kernel::prelude::*;

#[path = "common.rs"]
#[allow(dead_code)]
mod common;

#[path = "tasks.rs"]
mod tasks;

use common::{show_result, ProcEntry, RcuGuard, SeqWriter};

module! {
    type: ProcpulseProcs,
    name: "procpulse_procs",
    author: "procpulse",
    description: "procpulse: process state counts in /proc/procpulse_procs and /proc/procpulse_tasks",
    license: "GPL",
}

#[allow(improper_ctypes)]
extern "C" {
    // init/init_task.c, EXPORT_SYMBOL: the head of the process list (pid 0, not listed).
    static mut init_task: bindings::task_struct;
}

// include/linux/sched.h (6.12) state bits, for `task_state_index()`.
const TASK_INTERRUPTIBLE: u32 = 0x1;
const TASK_UNINTERRUPTIBLE: u32 = 0x2;
const TASK_NOLOAD: u32 = 0x400;
const TASK_IDLE: u32 = TASK_UNINTERRUPTIBLE | TASK_NOLOAD;
const TASK_RTLOCK_WAIT: u32 = 0x1000;
const TASK_FROZEN: u32 = 0x8000;
/// `TASK_REPORT`: RUNNING | INTERRUPTIBLE | UNINTERRUPTIBLE | __STOPPED | __TRACED |
/// EXIT_DEAD | EXIT_ZOMBIE | PARKED.
const TASK_REPORT: u32 = 0x7f;
const TASK_REPORT_IDLE: u32 = TASK_REPORT + 1;
/// fs/proc/array.c's `task_state_array`, indexed by `task_state_index()`.
pub(crate) const STATE_LETTERS: [u8; 9] = *b"RSDTtXZPI";

const _: () = assert!(TASK_INTERRUPTIBLE == bindings::TASK_INTERRUPTIBLE);
const _: () = assert!(TASK_UNINTERRUPTIBLE == bindings::TASK_UNINTERRUPTIBLE);
const _: () = assert!(TASK_NOLOAD == bindings::TASK_NOLOAD);
const _: () = assert!(TASK_FROZEN == bindings::TASK_FROZEN);

/// `task_state_index()` / `__task_state_index()` of include/linux/sched.h.
pub(crate) fn state_index(state: u32, exit_state: u32) -> usize {
    let mut s = (state | exit_state) & TASK_REPORT;
    if state & TASK_IDLE == TASK_IDLE {
        s = TASK_REPORT_IDLE;
    }
    if state & TASK_RTLOCK_WAIT != 0 || state & TASK_FROZEN != 0 {
        s = TASK_UNINTERRUPTIBLE;
    }
    // fls()
    (u32::BITS - s.leading_zeros()) as usize
}

/// A task pointer valid for the lifetime of the enclosing RCU read-side section.
#[derive(Clone, Copy)]
pub(crate) struct TaskRef<'rcu> {
    t: *mut bindings::task_struct,
    _rcu: core::marker::PhantomData<&'rcu RcuGuard>,
}

/// `container_of(node, struct task_struct, <field>)` for a list node pointer.
///
/// # Safety
///
/// `node` must point at the `<field>` list_head (at `offset`) of a task_struct.
unsafe fn task_of(node: *mut bindings::list_head, offset: usize) -> *mut bindings::task_struct {
    node.cast::<u8>().wrapping_sub(offset).cast()
}

/// `READ_ONCE(head->next)`, as `list_entry_rcu()` / `list_for_each_entry_rcu()` do.
///
/// # Safety
///
/// `head` must be a live list_head inside an RCU-protected list.
unsafe fn next_rcu(head: *mut bindings::list_head) -> *mut bindings::list_head {
    // SAFETY: guaranteed by the caller.
    unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*head).next)) }
}

impl<'rcu> TaskRef<'rcu> {
    /// A task the caller holds a reference to (`get_task_struct()`), for the RCU section
    /// `_rcu`: the reference keeps the task and its `signal` allocated.
    ///
    /// # Safety
    ///
    /// `t` must point at a task_struct whose reference count the caller holds for at
    /// least as long as `_rcu` lives.
    pub(crate) unsafe fn held(t: *mut bindings::task_struct, _rcu: &'rcu RcuGuard) -> Self {
        TaskRef { t, _rcu: core::marker::PhantomData }
    }

    /// The task.
    pub(crate) fn ptr(self) -> *mut bindings::task_struct {
        self.t
    }

    /// Every process (thread-group leader), like `for_each_process()`.
    fn for_each_process(_rcu: &'rcu RcuGuard, mut f: impl FnMut(TaskRef<'rcu>) -> bool) {
        let head = core::ptr::addr_of_mut!(init_task);
        let off = offset_of!(bindings::task_struct, tasks);
        // SAFETY: init_task is static; its `tasks` list links all thread-group leaders
        // with RCU-safe deletion (list_del_rcu in __unhash_process), and every task on it
        // stays allocated until an RCU grace period after removal, which cannot end while
        // `_rcu` is held.
        unsafe {
            let mut p = task_of(next_rcu(core::ptr::addr_of_mut!((*head).tasks)), off);
            while p != head {
                if !f(TaskRef { t: p, _rcu: core::marker::PhantomData }) {
                    return;
                }
                p = task_of(next_rcu(core::ptr::addr_of_mut!((*p).tasks)), off);
            }
        }
    }

    /// Every thread of this process, like `for_each_thread()`.
    pub(crate) fn for_each_thread(self, mut f: impl FnMut(TaskRef<'rcu>)) {
        let off = offset_of!(bindings::task_struct, thread_node);
        // SAFETY: `signal` of a task found under RCU stays valid until the task is freed
        // (after a grace period); `signal->thread_head` links the group's threads through
        // `thread_node` with RCU-safe deletion, so walking it under RCU is what
        // for_each_thread() does.
        unsafe {
            let sig = (*self.t).signal;
            let head = core::ptr::addr_of_mut!((*sig).thread_head);
            let mut n = next_rcu(head);
            while n != head {
                f(TaskRef { t: task_of(n, off), _rcu: core::marker::PhantomData });
                n = next_rcu(n);
            }
        }
    }

    /// The /proc state letter's index (`task_state_index()`).
    pub(crate) fn state_index(self) -> usize {
        // SAFETY: the task is alive under RCU (see `for_each_process`); `__state` is read
        // with READ_ONCE semantics like the C helper does, `exit_state` plainly.
        let (state, exit) = unsafe {
            (
                core::ptr::read_volatile(core::ptr::addr_of!((*self.t).__state)),
                core::ptr::read_volatile(core::ptr::addr_of!((*self.t).exit_state)),
            )
        };
        state_index(state, exit as u32)
    }
}

/// Process counts by /proc state letter, indexed by `task_state_index()`.
#[derive(Default)]
struct Counts {
    by_state: [u64; 9],
    threads: u64,
}

fn count_procs() -> Counts {
    let mut c = Counts::default();
    let rcu = RcuGuard::new();
    TaskRef::for_each_process(&rcu, |p| {
        c.by_state[p.state_index()] += 1;
        p.for_each_thread(|_| c.threads += 1);
        true
    });
    drop(rcu);
    c
}

fn write_counts(w: &mut SeqWriter, c: &Counts) -> core::fmt::Result {
    let s = &c.by_state;
    let total: u64 = s.iter().sum();
    writeln!(
        w,
        "{{\"total\":{},\"running\":{},\"sleeping\":{},\"disk_sleep\":{},\"stopped\":{},\
         \"traced\":{},\"zombie\":{},\"dead\":{},\"idle\":{},\"parked\":{},\"threads\":{}}}",
        total, s[0], s[1], s[2], s[3], s[4], s[6], s[5], s[8], s[7], c.threads
    )
}

/// Show callback of /proc/procpulse_procs.
unsafe extern "C" fn procs_show(m: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
    // SAFETY: `m` is the seq_file of this show call and the writer dies with it.
    let mut w = unsafe { SeqWriter::new(m) };
    show_result(write_counts(&mut w, &count_procs()))
}

struct ProcpulseProcs {
    _procs: ProcEntry,
    _tasks: ProcEntry,
}

impl kernel::Module for ProcpulseProcs {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let procs = ProcEntry::new(c_str!("procpulse_procs"), procs_show)?;
        let tasks = tasks::entry()?;
        pr_info!("/proc/procpulse_procs and /proc/procpulse_tasks ready\n");
        Ok(Self { _procs: procs, _tasks: tasks })
    }
}
