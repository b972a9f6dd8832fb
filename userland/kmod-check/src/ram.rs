//! /proc/procpulse_ram against /proc/meminfo, read back to back.

use crate::fields::{Fields, parse_ram};
use crate::procfs::parse_meminfo;
use crate::{CheckError, RAM_FILE, read};
use std::collections::BTreeMap;

/// Fields that never move on an idle guest: they must match on every attempt. (The
/// module no longer emits swap totals: [`parse_ram`] requires them absent.)
pub const STATIC: &[(&str, &str)] = &[("total_kb", "MemTotal")];
/// Fields that may move between the two reads: retried until one attempt matches.
pub const MOVING: &[(&str, &str)] = &[
    ("free_kb", "MemFree"),
    ("available_kb", "MemAvailable"),
    ("buffers_kb", "Buffers"),
    ("cached_kb", "Cached"),
    ("shared_kb", "Shmem"),
    ("swap_cached_kb", "SwapCached"),
];

/// Differences between one module reading and one meminfo reading, as
/// `(field, module, meminfo)`; also checks the derived fields. Empty when they agree.
pub fn compare(
    ram: &Fields,
    meminfo: &BTreeMap<String, u64>,
    pairs: &[(&str, &str)],
) -> Result<Vec<(String, u64, u64)>, CheckError> {
    let mut diffs = Vec::new();
    for (ours, theirs) in pairs {
        let m = *meminfo
            .get(*theirs)
            .ok_or_else(|| CheckError::Mismatch(format!("/proc/meminfo has no {theirs}")))?;
        let r = *ram
            .get(*ours)
            .ok_or_else(|| CheckError::Mismatch(format!("{RAM_FILE} has no {ours}")))?;
        if r != m {
            diffs.push(((*ours).to_owned(), r, m));
        }
    }
    let used = ram["total_kb"] - ram["available_kb"].min(ram["total_kb"]);
    if ram["used_kb"] != used {
        return Err(CheckError::Mismatch(format!(
            "used_kb {} != total_kb - available_kb = {used}",
            ram["used_kb"]
        )));
    }
    let pct = used * 10000 / ram["total_kb"].max(1);
    if ram["used_percent_x100"] != pct {
        return Err(CheckError::Mismatch(format!(
            "used_percent_x100 {} != {pct}",
            ram["used_percent_x100"]
        )));
    }
    Ok(diffs)
}

/// Static fields equal on every try; moving fields equal in one of `tries` attempts.
pub fn check(tries: usize) -> Result<String, CheckError> {
    let mut last = Vec::new();
    for attempt in 1..=tries {
        let ram = parse_ram(&read(RAM_FILE)?)?;
        let meminfo = parse_meminfo(&read("/proc/meminfo")?);
        let stat = compare(&ram, &meminfo, STATIC)?;
        if !stat.is_empty() {
            return Err(CheckError::Mismatch(format!(
                "static fields differ: {stat:?}"
            )));
        }
        last = compare(&ram, &meminfo, MOVING)?;
        if last.is_empty() {
            return Ok(format!(
                "equal on attempt {attempt}: total_kb={} available_kb={} swap_cached_kb={}",
                ram["total_kb"], ram["available_kb"], ram["swap_cached_kb"]
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Err(CheckError::Mismatch(format!(
        "moving fields never matched in {tries} attempts; last: {last:?}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ram(available: u64, used: u64, pct: u64) -> Fields {
        let mut f = Fields::new();
        for k in crate::fields::RAM_FIELDS {
            f.insert((*k).to_owned(), 0);
        }
        f.insert("total_kb".into(), 1000);
        f.insert("available_kb".into(), available);
        f.insert("used_kb".into(), used);
        f.insert("used_percent_x100".into(), pct);
        f
    }

    #[test]
    fn equal_and_different_fields() {
        let m = parse_meminfo("MemTotal: 1000 kB\nMemAvailable: 600 kB\nSwapCached: 12 kB\n");
        let r = ram(600, 400, 4000);
        assert!(compare(&r, &m, STATIC).unwrap().is_empty());
        let r = ram(700, 300, 3000);
        let d = compare(&r, &m, &[("available_kb", "MemAvailable")]).unwrap();
        assert_eq!(d, vec![("available_kb".to_owned(), 700, 600)]);
        let d = compare(&r, &m, &[("swap_cached_kb", "SwapCached")]).unwrap();
        assert_eq!(d, vec![("swap_cached_kb".to_owned(), 0, 12)]);
    }

    #[test]
    fn wrong_used_is_an_error() {
        let m = parse_meminfo("MemTotal: 1000 kB\n");
        assert!(compare(&ram(600, 401, 4010), &m, STATIC).is_err());
        assert!(compare(&ram(600, 400, 4001), &m, STATIC).is_err());
    }
}
