//! The literal multi-row `INSERT` / `INSERT IGNORE` the MySQL write path sends.
//!
//! Why not Diesel's bound batch insert: in MySQL's binary protocol every placeholder of a
//! prepared statement comes back as a parameter-definition packet on PREPARE, so a
//! 1,000-row insert of 36 columns costs 36,000 packets parsed and allocated before it even
//! runs (measured: the largest cost of ingest's batched mode after the HTTP layer). A
//! literal statement has no placeholders. It is still executed through diesel_async
//! (`sql_query`), inside the same transaction, and stays injection-proof: every string is
//! sent as a hex literal (`X'…'`), numbers via Rust's exact formatting, timestamps in a
//! fixed digits-only format.

use crate::row::NewSample;
use std::fmt::Write;
use time::PrimitiveDateTime;

/// Upper bound of one statement's text, well under MariaDB/MySQL's default
/// `max_allowed_packet` (16 MiB / 64 MiB).
pub const MAX_STATEMENT_BYTES: usize = 4 * 1024 * 1024;

/// What a statement does with a `sample_id` that is already stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDuplicate {
    /// `INSERT`: the statement fails whole (duplicate-key error) and stores nothing.
    Fail,
    /// `INSERT IGNORE`: the row is skipped, the others are stored.
    Skip,
}

impl OnDuplicate {
    fn verb(self) -> &'static str {
        match self {
            OnDuplicate::Fail => "INSERT",
            OnDuplicate::Skip => "INSERT IGNORE",
        }
    }
}

const HEAD: &str = " INTO samples (sample_id, host, source, route, collected_at, \
received_at, cpu_usage_percent, cpu_cores, load1, load5, load15, ram_total_kb, ram_free_kb, \
ram_available_kb, ram_used_kb, ram_cached_kb, ram_swap_total_kb, ram_swap_free_kb, \
ram_used_percent, procs_total, procs_running, procs_sleeping, procs_disk_sleep, \
procs_stopped, procs_traced, procs_zombie, procs_dead, procs_idle, procs_threads, top_json, \
ram_buffers_kb, ram_shared_kb, ram_swap_used_kb, cpu_modes, cpu_per_cpu, pressure) VALUES ";

fn hex(out: &mut String, s: &str) {
    if s.is_empty() {
        out.push_str("''");
        return;
    }
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.push_str("X'");
    for b in s.bytes() {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out.push('\'');
}

fn float(out: &mut String, v: f64) {
    // Validated finite; `{:e}` is the shortest exact form and parses as a DOUBLE literal.
    if v.is_finite() {
        let _ = write!(out, "{v:e}");
    } else {
        out.push_str("NULL");
    }
}

fn datetime(out: &mut String, t: PrimitiveDateTime) {
    let _ = write!(
        out,
        "'{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}'",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    );
}

fn row(out: &mut String, r: &NewSample) {
    out.push('(');
    hex(out, &r.sample_id);
    out.push(',');
    hex(out, &r.host);
    out.push(',');
    hex(out, &r.source);
    out.push(',');
    hex(out, &r.route);
    out.push(',');
    datetime(out, r.collected_at);
    out.push(',');
    datetime(out, r.received_at);
    out.push(',');
    float(out, r.cpu_usage_percent);
    let _ = write!(out, ",{},", r.cpu_cores);
    float(out, r.load1);
    out.push(',');
    float(out, r.load5);
    out.push(',');
    float(out, r.load15);
    let _ = write!(
        out,
        ",{},{},{},{},{},{},{},",
        r.ram_total_kb,
        r.ram_free_kb,
        r.ram_available_kb,
        r.ram_used_kb,
        r.ram_cached_kb,
        r.ram_swap_total_kb,
        r.ram_swap_free_kb
    );
    float(out, r.ram_used_percent);
    let _ = write!(
        out,
        ",{},{},{},{},{},{},{},{},{},{},",
        r.procs_total,
        r.procs_running,
        r.procs_sleeping,
        r.procs_disk_sleep,
        r.procs_stopped,
        r.procs_traced,
        r.procs_zombie,
        r.procs_dead,
        r.procs_idle,
        r.procs_threads
    );
    opt_text(out, r.top_json.as_deref());
    for v in [r.ram_buffers_kb, r.ram_shared_kb, r.ram_swap_used_kb] {
        match v {
            Some(v) => {
                let _ = write!(out, ",{v}");
            }
            None => out.push_str(",NULL"),
        }
    }
    for t in [&r.cpu_modes, &r.cpu_per_cpu, &r.pressure] {
        out.push(',');
        opt_text(out, t.as_deref());
    }
    out.push(')');
}

fn opt_text(out: &mut String, t: Option<&str>) {
    match t {
        Some(t) => hex(out, t),
        None => out.push_str("NULL"),
    }
}

/// Splits `rows` into statements of at most `max_rows` rows and about
/// [`MAX_STATEMENT_BYTES`] of text each.
pub fn statements<'a>(
    rows: impl IntoIterator<Item = &'a NewSample>,
    max_rows: usize,
    on_duplicate: OnDuplicate,
) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut sql = String::new();
    let mut n = 0;
    for r in rows {
        if n == 0 {
            sql.reserve(64 * 1024);
            sql.push_str(on_duplicate.verb());
            sql.push_str(HEAD);
        } else {
            sql.push(',');
        }
        row(&mut sql, r);
        n += 1;
        if n >= max_rows || sql.len() >= MAX_STATEMENT_BYTES {
            out.push((std::mem::take(&mut sql), n));
            n = 0;
        }
    }
    if n > 0 {
        out.push((sql, n));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_hex_literals_and_numbers_exact() {
        let mut s = String::new();
        hex(&mut s, "a'\\");
        assert_eq!(s, "X'61275c'");
        for (v, text) in [
            (23.45, "2.345e1"),
            (0.1, "1e-1"),
            (0.0, "0e0"),
            (1e300, "1e300"),
        ] {
            let mut s = String::new();
            float(&mut s, v);
            assert_eq!(s, text);
        }
    }
}
