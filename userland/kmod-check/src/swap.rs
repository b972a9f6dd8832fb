//! With a zram swap device partly in use: /proc/procpulse_ram omits the swap totals and
//! matches /proc/meminfo otherwise, and the agent on the kmod source serves SwapTotal
//! and SwapFree from /proc/meminfo.
//!
//! Pages are pushed to swap by memory pressure, not `madvise(MADV_PAGEOUT)`: nix's
//! `mmap_anonymous` and `madvise` are `unsafe fn`s and the workspace forbids `unsafe`.
//! A helper process (`swap-hog`) allocates compressible, not same-filled pages until
//! the kernel has swapped out enough, and keeps them until the check ends.

use crate::agent::{parse_snapshot, spawn_agent, wait_snapshot};
use crate::helpers::swap_used_kb;
use crate::procfs::parse_meminfo;
use crate::tasks::Helper;
use crate::{CheckError, read};
use std::time::Duration;

/// Swap the hog waits for, KiB.
pub const TARGET_KB: u64 = 32 * 1024;
/// vm.swappiness during the check (the maximum, as for zram).
const SWAPPINESS: &str = "200";

/// `None` when swap is partly used (0 < used < total), else why not.
pub fn judge_swap(total_kb: u64, used_kb: u64) -> Option<String> {
    if total_kb == 0 {
        return Some("swap not in use: no swap device (SwapTotal 0)".into());
    }
    if used_kb == 0 || used_kb >= total_kb {
        return Some(format!(
            "swap not in use: SwapTotal {total_kb} kB, used {used_kb} kB"
        ));
    }
    None
}

/// The agent's swap equals the meminfo readings taken before and after it (which must
/// agree with each other for the attempt to count): `Ok(true)` equal, `Ok(false)` the
/// attempt is inconclusive or differs (retry), `Err` the snapshot lacks the fields.
pub fn compare_agent_swap(
    snap: &serde_json::Value,
    before: (u64, u64),
    after: (u64, u64),
) -> Result<bool, String> {
    let ram = &snap["ram"];
    let got = (
        ram["swap_total_kb"]
            .as_u64()
            .ok_or_else(|| format!("snapshot ram has no swap_total_kb: {ram}"))?,
        ram["swap_free_kb"]
            .as_u64()
            .ok_or_else(|| format!("snapshot ram has no swap_free_kb: {ram}"))?,
    );
    Ok(before == after && got == before)
}

fn meminfo_swap() -> Result<(u64, u64), CheckError> {
    let m = parse_meminfo(&read("/proc/meminfo")?);
    Ok((
        m.get("SwapTotal").copied().unwrap_or(0),
        m.get("SwapFree").copied().unwrap_or(0),
    ))
}

/// Restores vm.swappiness when dropped.
struct Swappiness(Option<String>);

impl Drop for Swappiness {
    fn drop(&mut self) {
        if let Some(v) = &self.0 {
            let _ = std::fs::write("/proc/sys/vm/swappiness", v);
        }
    }
}

/// The `swap` check.
pub fn check(agent_bin: &str, listen: &str, max_mib: Option<u64>) -> Result<String, CheckError> {
    let max_mib = match max_mib {
        Some(m) => m,
        None => {
            let m = parse_meminfo(&read("/proc/meminfo")?);
            m.get("MemTotal").copied().unwrap_or(0) / 1024 + 1024
        }
    };
    let (total, _) = swap_used_kb()?;
    if let Some(why) = judge_swap(total, 1) {
        return Err(CheckError::Mismatch(why));
    }
    let old = std::fs::read_to_string("/proc/sys/vm/swappiness").ok();
    let _restore = Swappiness(old);
    let _ = std::fs::write("/proc/sys/vm/swappiness", SWAPPINESS);
    let hog = Helper::start(&[
        "swap-hog",
        "--target-kb",
        &TARGET_KB.to_string(),
        "--max-mib",
        &max_mib.to_string(),
    ])?;
    let (total, used) = swap_used_kb()?;
    if let Some(why) = judge_swap(total, used) {
        return Err(CheckError::Mismatch(format!("{why} (swap-hog: {})", hog.1)));
    }
    let ram = crate::ram::check(50)?;

    let mut agent = spawn_agent(agent_bin, listen, "kmod")?;
    let r = (|| {
        wait_snapshot(listen, Duration::from_secs(60))?;
        let mut last = String::new();
        for _ in 0..20 {
            let before = meminfo_swap()?;
            let snap = parse_snapshot(&wait_snapshot(listen, Duration::from_secs(10))?)?;
            let after = meminfo_swap()?;
            if snap["source"] != "kmod" {
                return Err(CheckError::Mismatch(format!(
                    "agent --source kmod served source {}",
                    snap["source"]
                )));
            }
            match compare_agent_swap(&snap, before, after) {
                Ok(true) => return Ok(before),
                Ok(false) => {
                    last = format!(
                        "agent swap ({}, {}), meminfo before {before:?} after {after:?}",
                        snap["ram"]["swap_total_kb"], snap["ram"]["swap_free_kb"]
                    );
                }
                Err(e) => return Err(CheckError::Mismatch(e)),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(CheckError::Mismatch(format!(
            "agent swap never matched /proc/meminfo in 20 attempts: {last}"
        )))
    })();
    let _ = agent.kill();
    let _ = agent.wait();
    let (t, f) = r?;
    drop(hog);
    Ok(format!(
        "swap used {used} kB of {total} kB; module ram: {ram}; agent swap_total_kb={t} swap_free_kb={f} (= /proc/meminfo)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partly_used_swap() {
        assert_eq!(judge_swap(262_140, 40_000), None);
        assert!(judge_swap(0, 0).unwrap().contains("no swap device"));
        assert!(
            judge_swap(262_140, 0)
                .unwrap()
                .starts_with("swap not in use")
        );
        assert!(judge_swap(262_140, 262_140).is_some());
    }

    #[test]
    fn agent_swap_against_meminfo() {
        let snap: serde_json::Value = serde_json::from_str(
            "{\"source\":\"kmod\",\"ram\":{\"swap_total_kb\":262140,\"swap_free_kb\":200000}}",
        )
        .unwrap();
        assert_eq!(
            compare_agent_swap(&snap, (262_140, 200_000), (262_140, 200_000)),
            Ok(true)
        );
        assert_eq!(
            compare_agent_swap(&snap, (262_140, 200_000), (262_140, 199_000)),
            Ok(false)
        );
        assert_eq!(
            compare_agent_swap(&snap, (262_140, 0), (262_140, 0)),
            Ok(false)
        );
        let none: serde_json::Value = serde_json::from_str("{\"ram\":{}}").unwrap();
        assert!(compare_agent_swap(&none, (1, 1), (1, 1)).is_err());
    }
}
