// SPDX-License-Identifier: GPL-2.0

//! procpulse RAM sensor: `cat /proc/procpulse_ram` prints memory use in KiB, computed the
//! way `fs/proc/meminfo.c` computes /proc/meminfo (same kernel counters, same formulas).
//! SwapTotal and SwapFree are left out: a module cannot read them on 6.12 (see
//! `read_ram`), and the agent takes them from /proc/meminfo.

use core::ffi::{c_int, c_void};
use core::fmt::Write;
use kernel::bindings;
use kernel::c_str;
use kernel::prelude::*;

#[path = "common.rs"]
#[allow(dead_code)]
mod common;

use common::{show_result, ProcEntry, SeqWriter};

module! {
    type: ProcpulseRam,
    name: "procpulse_ram",
    author: "procpulse",
    description: "procpulse: RAM usage as JSON in /proc/procpulse_ram",
    license: "GPL",
}

#[allow(improper_ctypes)]
extern "C" {
    // mm/vmstat.c, EXPORT_SYMBOL: the global per-node counters behind
    // global_node_page_state().
    static vm_node_stat: [bindings::atomic_long_t; bindings::node_stat_item_NR_VM_NODE_STAT_ITEMS as usize];
}

/// `global_node_page_state()`: the counter, clamped at 0 on SMP like the C version.
fn node_page_state(item: bindings::node_stat_item) -> u64 {
    // SAFETY: `vm_node_stat` is a static kernel array indexed by `node_stat_item`, and
    // `item` is one of its enumerators; the read is `atomic_long_read()` (a plain
    // aligned load of a machine word), done volatile so it is not torn or cached.
    let x = unsafe {
        core::ptr::read_volatile(core::ptr::addr_of!(vm_node_stat[item as usize].counter))
    };
    x.max(0) as u64
}

/// Pages to KiB, `show_val_kb()`'s `x << (PAGE_SHIFT - 10)`.
fn kb(pages: u64) -> u64 {
    pages << (bindings::PAGE_SHIFT - 10)
}

/// One reading of the memory counters, in KiB.
struct Ram {
    total: u64,
    free: u64,
    available: u64,
    buffers: u64,
    cached: u64,
    shared: u64,
    swap_cached: u64,
}

fn read_ram() -> Ram {
    // SAFETY: `sysinfo` is plain data; all-zero is a valid value that `si_meminfo` then fills.
    let mut i: bindings::sysinfo = unsafe { core::mem::zeroed() };
    // SAFETY: `i` is a valid, writable `struct sysinfo`; si_meminfo() only fills it in.
    unsafe { bindings::si_meminfo(&mut i) };
    // SAFETY: si_mem_available() takes no arguments and only reads global counters.
    let available = unsafe { bindings::si_mem_available() }.max(0) as u64;
    let buffers = i.bufferram as u64;
    // meminfo: Cached = NR_FILE_PAGES - total_swapcache_pages() - Buffers, floored at 0;
    // total_swapcache_pages() is NR_SWAPCACHE with CONFIG_SWAP and 0 without.
    #[cfg(CONFIG_SWAP)]
    let swapcache = node_page_state(bindings::node_stat_item_NR_SWAPCACHE);
    #[cfg(not(CONFIG_SWAP))]
    let swapcache = 0u64;
    let cached = node_page_state(bindings::node_stat_item_NR_FILE_PAGES)
        .saturating_sub(swapcache)
        .saturating_sub(buffers);
    // SwapTotal and SwapFree are not reported: 6.12 exports neither `total_swap_pages`
    // nor `si_swapinfo()` (and `swap_info[]` is static), and the exported
    // `nr_swap_pages` is not SwapFree while a swapoff runs (si_swapinfo() adds back the
    // pages still in use on the device going away). Never a wrong value: see README.
    Ram {
        total: kb(i.totalram as u64),
        free: kb(i.freeram as u64),
        available: kb(available),
        buffers: kb(buffers),
        cached: kb(cached),
        shared: kb(i.sharedram as u64),
        swap_cached: kb(swapcache),
    }
}

fn write_ram(w: &mut SeqWriter, r: &Ram) -> core::fmt::Result {
    let used = r.total.saturating_sub(r.available);
    let used_x100 = if r.total == 0 { 0 } else { used * 10000 / r.total };
    writeln!(
        w,
        "{{\"total_kb\":{},\"free_kb\":{},\"available_kb\":{},\"buffers_kb\":{},\
         \"cached_kb\":{},\"shared_kb\":{},\"swap_cached_kb\":{},\"used_kb\":{},\
         \"used_percent_x100\":{}}}",
        r.total,
        r.free,
        r.available,
        r.buffers,
        r.cached,
        r.shared,
        r.swap_cached,
        used,
        used_x100
    )
}

/// Show callback of /proc/procpulse_ram.
unsafe extern "C" fn ram_show(m: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
    // SAFETY: `m` is the seq_file of this show call and the writer dies with it.
    let mut w = unsafe { SeqWriter::new(m) };
    show_result(write_ram(&mut w, &read_ram()))
}

struct ProcpulseRam {
    _entry: ProcEntry,
}

impl kernel::Module for ProcpulseRam {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let entry = ProcEntry::new(c_str!("procpulse_ram"), ram_show)?;
        pr_info!("/proc/procpulse_ram ready\n");
        Ok(Self { _entry: entry })
    }
}
