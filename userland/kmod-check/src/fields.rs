//! SPEC §2 field lists and the JSON shape checks of the module files.

use crate::CheckError;
use serde_json::{Map, Value};

/// Required fields of /proc/procpulse_cpu.
pub const CPU_FIELDS: &[&str] = &[
    "cores",
    "usage_percent_x100",
    "window_ms",
    "user_ns",
    "nice_ns",
    "system_ns",
    "idle_ns",
    "iowait_ns",
    "irq_ns",
    "softirq_ns",
    "steal_ns",
    "load1_x100",
    "load5_x100",
    "load15_x100",
];
/// Required fields of /proc/procpulse_ram.
pub const RAM_FIELDS: &[&str] = &[
    "total_kb",
    "free_kb",
    "available_kb",
    "buffers_kb",
    "cached_kb",
    "shared_kb",
    "swap_total_kb",
    "swap_free_kb",
    "used_kb",
    "used_percent_x100",
];
/// Required fields of /proc/procpulse_procs.
pub const PROCS_FIELDS: &[&str] = &[
    "total",
    "running",
    "sleeping",
    "disk_sleep",
    "stopped",
    "traced",
    "zombie",
    "dead",
    "idle",
    "threads",
];
/// The exact keys of one /proc/procpulse_tasks line (the agent's parser relies on them).
pub const TASK_KEYS: &[&str] = &[
    "pid", "ppid", "uid", "comm", "state", "rss_kb", "utime_ns", "stime_ns",
];

/// A parsed module file: field name → unsigned value.
pub type Fields = std::collections::BTreeMap<String, u64>;

fn format_err(file: &str, msg: impl Into<String>) -> CheckError {
    CheckError::Format {
        file: file.to_owned(),
        msg: msg.into(),
    }
}

/// Parses a module file: exactly one JSON object followed by a newline, with every
/// `required` field present as a non-negative integer. Extra fields are allowed (and
/// returned when they are integers).
pub fn parse_object(file: &str, text: &str, required: &[&str]) -> Result<Fields, CheckError> {
    let body = text
        .strip_suffix('\n')
        .ok_or_else(|| format_err(file, "does not end with a newline"))?;
    if body.contains('\n') {
        return Err(format_err(file, "more than one line"));
    }
    let v: Map<String, Value> = serde_json::from_str(body)
        .map_err(|e| format_err(file, format!("not a JSON object: {e}")))?;
    let mut out = Fields::new();
    for (k, val) in &v {
        if let Some(n) = val.as_u64() {
            out.insert(k.clone(), n);
        }
    }
    for f in required {
        match v.get(*f) {
            None => return Err(format_err(file, format!("missing field {f}"))),
            Some(val) if val.as_u64().is_none() => {
                return Err(format_err(
                    file,
                    format!("field {f} is not a non-negative integer: {val}"),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(out)
}

/// One line of /proc/procpulse_tasks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub pid: u64,
    pub ppid: u64,
    pub uid: u64,
    pub comm: String,
    pub state: char,
    pub rss_kb: u64,
    pub utime_ns: u64,
    pub stime_ns: u64,
}

/// Parses /proc/procpulse_tasks: one object per line with exactly [`TASK_KEYS`].
pub fn parse_tasks(text: &str) -> Result<Vec<Task>, CheckError> {
    let file = crate::TASKS_FILE;
    if !text.is_empty() && !text.ends_with('\n') {
        return Err(format_err(file, "does not end with a newline"));
    }
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let at = |m: String| format_err(file, format!("line {}: {m}", i + 1));
        let v: Map<String, Value> =
            serde_json::from_str(line).map_err(|e| at(format!("not a JSON object: {e}")))?;
        let mut keys: Vec<&str> = v.keys().map(String::as_str).collect();
        let mut want = TASK_KEYS.to_vec();
        keys.sort_unstable();
        want.sort_unstable();
        if keys != want {
            return Err(at(format!("keys {keys:?}, want exactly {want:?}")));
        }
        let num = |k: &str| {
            v[k].as_u64()
                .ok_or_else(|| at(format!("{k} is not a non-negative integer")))
        };
        let comm = v["comm"]
            .as_str()
            .ok_or_else(|| at("comm is not a string".into()))?;
        let state = v["state"]
            .as_str()
            .ok_or_else(|| at("state is not a string".into()))?;
        let mut chars = state.chars();
        let state = match (chars.next(), chars.next()) {
            (Some(c), None) if "RSDTtXZPI".contains(c) => c,
            _ => return Err(at(format!("state {state:?} is not one /proc state letter"))),
        };
        out.push(Task {
            pid: num("pid")?,
            ppid: num("ppid")?,
            uid: num("uid")?,
            comm: comm.to_owned(),
            state,
            rss_kb: num("rss_kb")?,
            utime_ns: num("utime_ns")?,
            stime_ns: num("stime_ns")?,
        });
    }
    Ok(out)
}

/// Reads and checks every module file; returns a one-line summary.
pub fn check_all() -> Result<String, CheckError> {
    let cpu = parse_object(crate::CPU_FILE, &crate::read(crate::CPU_FILE)?, CPU_FIELDS)?;
    let ram = parse_object(crate::RAM_FILE, &crate::read(crate::RAM_FILE)?, RAM_FIELDS)?;
    let procs = parse_object(
        crate::PROCS_FILE,
        &crate::read(crate::PROCS_FILE)?,
        PROCS_FIELDS,
    )?;
    let tasks = parse_tasks(&crate::read(crate::TASKS_FILE)?)?;
    if cpu["cores"] == 0 || ram["total_kb"] == 0 || procs["total"] == 0 || tasks.is_empty() {
        return Err(CheckError::Mismatch(format!(
            "implausible zero: cores={} total_kb={} procs.total={} tasks={}",
            cpu["cores"],
            ram["total_kb"],
            procs["total"],
            tasks.len()
        )));
    }
    let sum: u64 = PROCS_FIELDS
        .iter()
        .filter(|f| !matches!(**f, "total" | "threads"))
        .map(|f| procs[*f])
        .sum::<u64>()
        + procs.get("parked").copied().unwrap_or(0);
    if sum != procs["total"] {
        return Err(CheckError::Mismatch(format!(
            "procs: categories sum to {sum}, total is {}",
            procs["total"]
        )));
    }
    if procs["threads"] < procs["total"] {
        return Err(CheckError::Mismatch(
            "procs: fewer threads than processes".into(),
        ));
    }
    let me = std::process::id() as u64;
    if !tasks
        .iter()
        .any(|t| t.pid == me && t.comm == "procpulse-kmod-" && t.state == 'R')
    {
        return Err(CheckError::Mismatch(format!(
            "tasks: no running line for this checker (pid {me})"
        )));
    }
    Ok(format!(
        "cores={} total_kb={} procs.total={} tasks={}",
        cpu["cores"],
        ram["total_kb"],
        procs["total"],
        tasks.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CPU: &str = "{\"cores\":2,\"usage_percent_x100\":2345,\"window_ms\":1000,\"user_ns\":1,\"nice_ns\":0,\"system_ns\":0,\"idle_ns\":0,\"iowait_ns\":0,\"irq_ns\":0,\"softirq_ns\":0,\"steal_ns\":0,\"load1_x100\":50,\"load5_x100\":40,\"load15_x100\":30}\n";

    #[test]
    fn cpu_object_with_every_field_parses() {
        let f = parse_object("cpu", CPU, CPU_FIELDS).unwrap();
        assert_eq!(f["usage_percent_x100"], 2345);
    }

    #[test]
    fn missing_field_is_named() {
        let text = CPU.replace("\"steal_ns\":0,", "");
        let e = parse_object("cpu", &text, CPU_FIELDS).unwrap_err();
        assert!(e.to_string().contains("missing field steal_ns"), "{e}");
    }

    #[test]
    fn negative_or_float_is_rejected() {
        for bad in ["\"cores\":-2", "\"cores\":2.5", "\"cores\":\"2\""] {
            let text = CPU.replace("\"cores\":2", bad);
            assert!(parse_object("cpu", &text, CPU_FIELDS).is_err(), "{bad}");
        }
    }

    #[test]
    fn missing_newline_and_two_lines_are_rejected() {
        assert!(parse_object("cpu", CPU.trim_end(), CPU_FIELDS).is_err());
        assert!(parse_object("cpu", &format!("{CPU}{CPU}"), CPU_FIELDS).is_err());
    }

    #[test]
    fn tasks_with_escaped_comm_parse() {
        let text = "{\"pid\":1,\"ppid\":0,\"uid\":0,\"comm\":\"init\",\"state\":\"S\",\"rss_kb\":1234,\"utime_ns\":0,\"stime_ns\":0}\n\
                    {\"pid\":7,\"ppid\":1,\"uid\":1000,\"comm\":\"a \\\"b\\\" (c)\\u0001\\ufffd\",\"state\":\"t\",\"rss_kb\":0,\"utime_ns\":5,\"stime_ns\":6}\n";
        let t = parse_tasks(text).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[1].comm, "a \"b\" (c)\u{1}\u{fffd}");
        assert_eq!(t[1].state, 't');
    }

    #[test]
    fn tasks_with_extra_or_missing_key_are_rejected() {
        let extra = "{\"pid\":1,\"ppid\":0,\"uid\":0,\"comm\":\"x\",\"state\":\"S\",\"rss_kb\":1,\"utime_ns\":0,\"stime_ns\":0,\"nice\":0}\n";
        let missing = "{\"pid\":1,\"ppid\":0,\"uid\":0,\"comm\":\"x\",\"state\":\"S\",\"rss_kb\":1,\"utime_ns\":0}\n";
        let bad_state = "{\"pid\":1,\"ppid\":0,\"uid\":0,\"comm\":\"x\",\"state\":\"Q\",\"rss_kb\":1,\"utime_ns\":0,\"stime_ns\":0}\n";
        for t in [extra, missing, bad_state] {
            assert!(parse_tasks(t).is_err(), "{t}");
        }
    }
}
