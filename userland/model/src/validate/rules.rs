//! The value rules of a decoded snapshot (docs/design.md §3): ranges, sums, sizes, the
//! host and sample-id syntax, and the limits they check against. Nothing here reads JSON:
//! the body decoding (`decode.rs`) calls [`validate_at`] on what it decoded.

use super::error::ValidationError;
use crate::snapshot::{
    CpuModes, MAX_PER_CPU, MAX_TOP, MODES_SUM_TOLERANCE, PressureStall, Snapshot, TOP_STATES,
    TopProcess,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// How far in the future `collected_at` may lie (clock skew allowance).
pub const MAX_FUTURE_SKEW: Duration = Duration::minutes(5);
/// The earliest `collected_at` accepted, compared as an instant (after conversion to UTC):
/// the Unix epoch. No Linux clock reads earlier (`CLOCK_REALTIME` counts from it; a reset
/// clock reads 1970-01-01), and every instant from it on is stored and read back exactly by
/// both backends — SQLite's `YYYY-MM-DD HH:MM:SS.fff` text (which compares chronologically
/// only for four-digit years ≥ 0) and MySQL's `DATETIME(3)` (1000-01-01..9999-12-31) —
/// and renders as RFC 3339 (years 0000..9999). Year 1000 or `0000-01-01T00:30:00+01:00`
/// (year −1 in UTC) are refused here rather than stored and then failing every read.
pub const MIN_COLLECTED_AT: OffsetDateTime = datetime!(1970-01-01 00:00:00 UTC);
/// The largest integer a stored column holds (`BIGINT`); every unsigned count, size and
/// total on the wire must be at most this.
pub const MAX_STORED_INT: u64 = i64::MAX as u64;
/// The largest `cpu.cores` (`cpu_cores` is an `INTEGER`/`INT` column).
pub const MAX_CORES: u32 = i32::MAX as u32;

/// Validates the value rules of docs/design.md §3 with the current time.
pub fn validate(s: &Snapshot) -> Result<(), ValidationError> {
    validate_at(s, OffsetDateTime::now_utc())
}

/// Validates the value rules of docs/design.md §3 against `now`.
pub fn validate_at(s: &Snapshot, now: OffsetDateTime) -> Result<(), ValidationError> {
    check_host(&s.host)?;
    check_sample_id(&s.sample_id)?;
    if s.collected_at > now + MAX_FUTURE_SKEW {
        return Err(ValidationError::invalid(
            "collected_at",
            "is more than 5 minutes in the future",
        ));
    }
    if s.collected_at < MIN_COLLECTED_AT {
        return Err(ValidationError::invalid(
            "collected_at",
            "must not be before 1970-01-01T00:00:00Z (in UTC)",
        ));
    }
    check_stored_ints(s)?;
    percent("cpu.usage_percent", s.cpu.usage_percent)?;
    non_negative("cpu.load1", s.cpu.load1)?;
    non_negative("cpu.load5", s.cpu.load5)?;
    non_negative("cpu.load15", s.cpu.load15)?;
    if s.cpu.cores == 0 {
        return Err(ValidationError::invalid("cpu.cores", "must be at least 1"));
    }
    if s.cpu.cores > MAX_CORES {
        return Err(ValidationError::invalid(
            "cpu.cores",
            format!("must be at most {MAX_CORES}"),
        ));
    }
    if let Some(m) = &s.cpu.modes {
        check_modes(m)?;
    }
    check_per_cpu(s)?;
    percent("ram.used_percent", s.ram.used_percent)?;
    if s.ram.used_kb > s.ram.total_kb {
        return Err(ValidationError::invalid(
            "ram.used_kb",
            format!(
                "must not exceed ram.total_kb ({} > {})",
                s.ram.used_kb, s.ram.total_kb
            ),
        ));
    }
    if s.ram.available_kb > s.ram.total_kb {
        return Err(ValidationError::invalid(
            "ram.available_kb",
            "must not exceed ram.total_kb",
        ));
    }
    if s.ram.free_kb > s.ram.total_kb {
        return Err(ValidationError::invalid(
            "ram.free_kb",
            "must not exceed ram.total_kb",
        ));
    }
    if s.ram.swap_free_kb > s.ram.swap_total_kb {
        return Err(ValidationError::invalid(
            "ram.swap_free_kb",
            "must not exceed ram.swap_total_kb",
        ));
    }
    for (field, v) in [
        ("ram.buffers_kb", s.ram.buffers_kb),
        ("ram.shared_kb", s.ram.shared_kb),
    ] {
        if v.is_some_and(|v| v > s.ram.total_kb) {
            return Err(ValidationError::invalid(
                field,
                "must not exceed ram.total_kb",
            ));
        }
    }
    if let Some(used) = s.ram.swap_used_kb {
        let want = s.ram.swap_total_kb - s.ram.swap_free_kb;
        if used != want {
            return Err(ValidationError::invalid(
                "ram.swap_used_kb",
                format!("must equal ram.swap_total_kb - ram.swap_free_kb ({used} != {want})"),
            ));
        }
    }
    if let Some(p) = &s.pressure {
        for (name, stall) in [("cpu", &p.cpu), ("memory", &p.memory), ("io", &p.io)] {
            if let Some(stall) = stall {
                check_pressure(name, stall)?;
            }
        }
    }
    match s.procs.checked_category_sum() {
        Some(sum) if sum == s.procs.total => {}
        Some(sum) => {
            return Err(ValidationError::invalid(
                "procs.total",
                format!(
                    "must equal the sum of the state counts ({} != {sum})",
                    s.procs.total
                ),
            ));
        }
        None => {
            return Err(ValidationError::invalid(
                "procs.total",
                "must equal the sum of the state counts, which overflows",
            ));
        }
    }
    if s.top.len() > MAX_TOP {
        return Err(ValidationError::invalid(
            "top",
            format!(
                "holds {} entries; at most {MAX_TOP} are accepted",
                s.top.len()
            ),
        ));
    }
    for (i, p) in s.top.iter().enumerate() {
        let cpu = p.cpu_percent;
        if !cpu.is_finite() || cpu < 0.0 {
            return Err(ValidationError::invalid(
                format!("top[{i}].cpu_percent"),
                "must be a finite, non-negative number",
            ));
        }
        if p.comm.len() > 64 || p.comm.contains('\0') {
            return Err(ValidationError::invalid(
                format!("top[{i}].comm"),
                "must be at most 64 bytes without NUL",
            ));
        }
        let mut state = p.state.chars();
        let letter = state.next().filter(|c| TOP_STATES.contains(c));
        if letter.is_none() || state.next().is_some() {
            return Err(ValidationError::invalid(
                format!("top[{i}].state"),
                "must be one procps state letter (R, S, D, T, t, Z, X, x, I or P)",
            ));
        }
        check_top_v2(i, p)?;
    }
    Ok(())
}

/// Every unsigned integer that is stored in a `BIGINT` column (or as text read back into
/// the same type) is at most [`MAX_STORED_INT`], so it is stored and read back exactly.
fn check_stored_ints(s: &Snapshot) -> Result<(), ValidationError> {
    let r = &s.ram;
    let p = &s.procs;
    let fixed = [
        ("ram.total_kb", Some(r.total_kb)),
        ("ram.free_kb", Some(r.free_kb)),
        ("ram.available_kb", Some(r.available_kb)),
        ("ram.used_kb", Some(r.used_kb)),
        ("ram.cached_kb", Some(r.cached_kb)),
        ("ram.swap_total_kb", Some(r.swap_total_kb)),
        ("ram.swap_free_kb", Some(r.swap_free_kb)),
        ("ram.buffers_kb", r.buffers_kb),
        ("ram.shared_kb", r.shared_kb),
        ("ram.swap_used_kb", r.swap_used_kb),
        ("procs.total", Some(p.total)),
        ("procs.running", Some(p.running)),
        ("procs.sleeping", Some(p.sleeping)),
        ("procs.disk_sleep", Some(p.disk_sleep)),
        ("procs.stopped", Some(p.stopped)),
        ("procs.traced", Some(p.traced)),
        ("procs.zombie", Some(p.zombie)),
        ("procs.dead", Some(p.dead)),
        ("procs.idle", Some(p.idle)),
        ("procs.threads", Some(p.threads)),
    ];
    for (field, v) in fixed {
        if v.is_some_and(|v| v > MAX_STORED_INT) {
            return Err(too_big(field.to_owned()));
        }
    }
    if let Some(pr) = &s.pressure {
        for (name, stall) in [("cpu", &pr.cpu), ("memory", &pr.memory), ("io", &pr.io)] {
            let Some(stall) = stall else { continue };
            for (kind, line) in [("some", Some(&stall.some)), ("full", stall.full.as_ref())] {
                if line.is_some_and(|l| l.total_us > MAX_STORED_INT) {
                    return Err(too_big(format!("pressure.{name}.{kind}.total_us")));
                }
            }
        }
    }
    for (i, t) in s.top.iter().enumerate() {
        if t.rss_kb > MAX_STORED_INT {
            return Err(too_big(format!("top[{i}].rss_kb")));
        }
    }
    Ok(())
}

fn too_big(field: String) -> ValidationError {
    ValidationError::invalid(field, format!("must be at most {MAX_STORED_INT} (2^63-1)"))
}

/// Every mode within 0..=100, the exclusive eight summing to 100 (± the rounding
/// tolerance), guest shares within the share they are part of.
fn check_modes(m: &CpuModes) -> Result<(), ValidationError> {
    for (name, v) in m.all() {
        percent_at(|| format!("cpu.modes.{name}"), v)?;
    }
    let sum: f64 = m.exclusive().iter().map(|(_, v)| v).sum();
    if (sum - 100.0).abs() > MODES_SUM_TOLERANCE {
        return Err(ValidationError::invalid(
            "cpu.modes",
            format!("user..steal must sum to 100 (within {MODES_SUM_TOLERANCE}), not {sum:.2}"),
        ));
    }
    if m.guest > m.user + MODES_SUM_TOLERANCE {
        return Err(ValidationError::invalid(
            "cpu.modes.guest",
            "must not exceed cpu.modes.user (guest time is part of user)",
        ));
    }
    if m.guest_nice > m.nice + MODES_SUM_TOLERANCE {
        return Err(ValidationError::invalid(
            "cpu.modes.guest_nice",
            "must not exceed cpu.modes.nice (guest_nice time is part of nice)",
        ));
    }
    Ok(())
}

/// At most [`MAX_PER_CPU`] entries, strictly ascending CPU numbers, usage 0..=100.
fn check_per_cpu(s: &Snapshot) -> Result<(), ValidationError> {
    let cores = &s.cpu.per_cpu;
    if cores.len() > MAX_PER_CPU {
        return Err(ValidationError::invalid(
            "cpu.per_cpu",
            format!(
                "holds {} entries; at most {MAX_PER_CPU} are accepted",
                cores.len()
            ),
        ));
    }
    let mut last = None;
    for (i, c) in cores.iter().enumerate() {
        if last.is_some_and(|l| c.cpu <= l) {
            return Err(ValidationError::invalid(
                format!("cpu.per_cpu[{i}].cpu"),
                "must be greater than the previous entry's (ascending, no repeats)",
            ));
        }
        last = Some(c.cpu);
        percent_at(
            || format!("cpu.per_cpu[{i}].usage_percent"),
            c.usage_percent,
        )?;
    }
    Ok(())
}

fn check_pressure(resource: &str, p: &PressureStall) -> Result<(), ValidationError> {
    for (kind, line) in [("some", Some(&p.some)), ("full", p.full.as_ref())] {
        let Some(line) = line else { continue };
        for (avg, v) in [
            ("avg10", line.avg10),
            ("avg60", line.avg60),
            ("avg300", line.avg300),
        ] {
            percent_at(|| format!("pressure.{resource}.{kind}.{avg}"), v)?;
        }
    }
    Ok(())
}

/// The v2 columns of a top row: a printable user name of at most 64 bytes, nice in
/// −20..=19, at least one thread.
fn check_top_v2(i: usize, p: &TopProcess) -> Result<(), ValidationError> {
    if let Some(user) = &p.user {
        let printable = user.chars().all(|c| !c.is_control());
        if user.is_empty() || user.len() > 64 || !printable {
            return Err(ValidationError::invalid(
                format!("top[{i}].user"),
                "must be 1-64 bytes without control characters",
            ));
        }
    }
    if p.nice.is_some_and(|n| !(-20..=19).contains(&n)) {
        return Err(ValidationError::invalid(
            format!("top[{i}].nice"),
            "must be within -20..=19",
        ));
    }
    if p.threads == Some(0) {
        return Err(ValidationError::invalid(
            format!("top[{i}].threads"),
            "must be at least 1",
        ));
    }
    Ok(())
}

/// The host-name rule of docs/design.md §3: 1–64 characters of `[A-Za-z0-9._-]`. The one
/// definition ingest's and the broadcaster's `host=` query parameters use too.
pub fn valid_host(host: &str) -> bool {
    (1..=64).contains(&host.len())
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn check_host(host: &str) -> Result<(), ValidationError> {
    if valid_host(host) {
        Ok(())
    } else {
        Err(ValidationError::invalid(
            "host",
            "must be 1-64 characters of [A-Za-z0-9._-]",
        ))
    }
}

fn check_sample_id(id: &str) -> Result<(), ValidationError> {
    let ok_len = (1..=128).contains(&id.len());
    let ok_chars = id.bytes().all(|b| (0x20..0x7f).contains(&b));
    if ok_len && ok_chars {
        Ok(())
    } else {
        Err(ValidationError::invalid(
            "sample_id",
            "must be 1-128 printable ASCII characters",
        ))
    }
}

fn percent(field: &str, v: f64) -> Result<(), ValidationError> {
    percent_at(|| field.to_owned(), v)
}

/// [`percent`] with a field path built only on failure.
fn percent_at(field: impl FnOnce() -> String, v: f64) -> Result<(), ValidationError> {
    if v.is_finite() && (0.0..=100.0).contains(&v) {
        Ok(())
    } else {
        Err(ValidationError::invalid(field(), "must be within 0..=100"))
    }
}

fn non_negative(field: &str, v: f64) -> Result<(), ValidationError> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(ValidationError::invalid(
            field,
            "must be a finite, non-negative number",
        ))
    }
}

#[cfg(test)]
mod tests;
