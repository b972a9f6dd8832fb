//! docs/design.md §2 field lists and the JSON shape checks of the module files.

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
    "window_seq",
    "guest_ns",
    "guest_nice_ns",
];
/// Cumulative counters of the aggregate and of every `per_cpu` entry, in ns.
pub const CPU_COUNTERS: &[&str] = &[
    "user_ns",
    "nice_ns",
    "system_ns",
    "idle_ns",
    "iowait_ns",
    "irq_ns",
    "softirq_ns",
    "steal_ns",
    "guest_ns",
    "guest_nice_ns",
];
/// Highest CPU id a `per_cpu` entry may have (the kernel's NR_CPUS limit).
pub const MAX_CPU_ID: u64 = 8191;
/// Required fields of /proc/procpulse_ram.
pub const RAM_FIELDS: &[&str] = &[
    "total_kb",
    "free_kb",
    "available_kb",
    "buffers_kb",
    "cached_kb",
    "shared_kb",
    "swap_cached_kb",
    "used_kb",
    "used_percent_x100",
];
/// Fields /proc/procpulse_ram must no longer emit (Linux 6.12 exports no swap totals to
/// modules).
pub const RAM_ABSENT: &[&str] = &["swap_total_kb", "swap_free_kb"];
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
/// The keys every /proc/procpulse_tasks line has (the agent's parser relies on them).
pub const TASK_KEYS: &[&str] = &[
    "pid", "ppid", "uid", "state", "rss_kb", "threads", "utime_ns", "stime_ns",
];
/// Keys a tasks line may have besides [`TASK_KEYS`] (`comm` is omitted for kernel
/// threads the module cannot name).
pub const TASK_OPTIONAL_KEYS: &[&str] = &["comm"];

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
    /// Pid in the reader's pid namespace.
    pub pid: u64,
    /// Parent pid (0 when the parent is outside the namespace).
    pub ppid: u64,
    /// Effective uid.
    pub uid: u64,
    /// /proc/[pid]/stat's comm; `None` for kernel threads the module cannot name.
    pub comm: Option<String>,
    /// /proc state letter.
    pub state: char,
    /// Resident set size, KiB.
    pub rss_kb: u64,
    /// num_threads.
    pub threads: u64,
    /// Cumulative user time, ns.
    pub utime_ns: u64,
    /// Cumulative system time, ns.
    pub stime_ns: u64,
}

/// Parses /proc/procpulse_tasks: one object per line with every key of [`TASK_KEYS`],
/// optionally those of [`TASK_OPTIONAL_KEYS`], and no other.
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
        let missing: Vec<&str> = TASK_KEYS
            .iter()
            .copied()
            .filter(|k| !v.contains_key(*k))
            .collect();
        let extra: Vec<&str> = v
            .keys()
            .map(String::as_str)
            .filter(|k| !TASK_KEYS.contains(k) && !TASK_OPTIONAL_KEYS.contains(k))
            .collect();
        if !missing.is_empty() || !extra.is_empty() {
            return Err(at(format!(
                "missing keys {missing:?}, unknown keys {extra:?}"
            )));
        }
        let num = |k: &str| {
            v[k].as_u64()
                .ok_or_else(|| at(format!("{k} is not a non-negative integer")))
        };
        let comm = match v.get("comm") {
            None => None,
            Some(c) => Some(
                c.as_str()
                    .ok_or_else(|| at("comm is not a string".into()))?
                    .to_owned(),
            ),
        };
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
            comm,
            state,
            rss_kb: num("rss_kb")?,
            threads: num("threads")?,
            utime_ns: num("utime_ns")?,
            stime_ns: num("stime_ns")?,
        });
    }
    Ok(out)
}

/// One entry of /proc/procpulse_cpu's `per_cpu` array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerCpu {
    /// CPU id.
    pub cpu: u64,
    /// Usage over the last window, percent × 100; `None` when the CPU was not online at
    /// both ends of it.
    pub usage: Option<u64>,
    /// Every [`CPU_COUNTERS`] key → ns.
    pub counters: Fields,
}

/// /proc/procpulse_cpu: the flat fields and the `per_cpu` entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuFile {
    /// Every top-level integer field ([`CPU_FIELDS`] at least).
    pub flat: Fields,
    /// One entry per online CPU, ascending by id.
    pub per_cpu: Vec<PerCpu>,
}

/// Parses /proc/procpulse_cpu: [`parse_object`] with [`CPU_FIELDS`], plus a `per_cpu`
/// array whose entries have a `cpu` id (strictly ascending, ≤ [`MAX_CPU_ID`]), every
/// [`CPU_COUNTERS`] key, and `usage_percent_x100` ≤ 10000 when present.
pub fn parse_cpu(text: &str) -> Result<CpuFile, CheckError> {
    let file = crate::CPU_FILE;
    let flat = parse_object(file, text, CPU_FIELDS)?;
    let v: Map<String, Value> = serde_json::from_str(text.trim_end())
        .map_err(|e| format_err(file, format!("not a JSON object: {e}")))?;
    let arr = v
        .get("per_cpu")
        .ok_or_else(|| format_err(file, "missing field per_cpu"))?
        .as_array()
        .ok_or_else(|| format_err(file, "per_cpu is not an array"))?;
    let mut per_cpu: Vec<PerCpu> = Vec::with_capacity(arr.len());
    for (i, e) in arr.iter().enumerate() {
        let at = |m: String| format_err(file, format!("per_cpu[{i}]: {m}"));
        let o = e.as_object().ok_or_else(|| at("not an object".into()))?;
        let num = |k: &str| {
            o.get(k)
                .ok_or_else(|| at(format!("missing {k}")))?
                .as_u64()
                .ok_or_else(|| at(format!("{k} is not a non-negative integer")))
        };
        let cpu = num("cpu")?;
        if cpu > MAX_CPU_ID {
            return Err(at(format!("cpu id {cpu} > {MAX_CPU_ID}")));
        }
        if let Some(prev) = per_cpu.last()
            && prev.cpu >= cpu
        {
            return Err(at(format!(
                "cpu {cpu} after cpu {}: not ascending",
                prev.cpu
            )));
        }
        let usage = match o.get("usage_percent_x100") {
            None => None,
            Some(_) => Some(num("usage_percent_x100")?),
        };
        if let Some(u) = usage
            && u > 10_000
        {
            return Err(at(format!("usage_percent_x100 {u} > 10000")));
        }
        let mut counters = Fields::new();
        for k in CPU_COUNTERS {
            counters.insert((*k).to_owned(), num(k)?);
        }
        per_cpu.push(PerCpu {
            cpu,
            usage,
            counters,
        });
    }
    Ok(CpuFile { flat, per_cpu })
}

/// Parses /proc/procpulse_ram: [`RAM_FIELDS`] present, [`RAM_ABSENT`] absent.
pub fn parse_ram(text: &str) -> Result<Fields, CheckError> {
    let file = crate::RAM_FILE;
    let f = parse_object(file, text, RAM_FIELDS)?;
    let v: Map<String, Value> = serde_json::from_str(text.trim_end())
        .map_err(|e| format_err(file, format!("not a JSON object: {e}")))?;
    for k in RAM_ABSENT {
        if v.contains_key(*k) {
            return Err(format_err(
                file,
                format!("field {k} must be absent (6.12 has no swap totals for modules)"),
            ));
        }
    }
    Ok(f)
}

/// Reads and checks every module file; returns a one-line summary.
pub fn check_all() -> Result<String, CheckError> {
    let cpu_file = parse_cpu(&crate::read(crate::CPU_FILE)?)?;
    let cpu = &cpu_file.flat;
    let ram = parse_ram(&crate::read(crate::RAM_FILE)?)?;
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
    if cpu_file.per_cpu.len() as u64 != cpu["cores"] {
        return Err(CheckError::Mismatch(format!(
            "cpu: {} per_cpu entries, cores is {}",
            cpu_file.per_cpu.len(),
            cpu["cores"]
        )));
    }
    let me = std::process::id() as u64;
    if !tasks
        .iter()
        .any(|t| t.pid == me && t.comm.as_deref() == Some("procpulse-kmod-") && t.state == 'R')
    {
        return Err(CheckError::Mismatch(format!(
            "tasks: no running line for this checker (pid {me})"
        )));
    }
    Ok(format!(
        "cores={} window_seq={} total_kb={} swap_cached_kb={} procs.total={} tasks={}",
        cpu["cores"],
        cpu["window_seq"],
        ram["total_kb"],
        ram["swap_cached_kb"],
        procs["total"],
        tasks.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from the 6.12 module on a 2-CPU guest.
    pub const CPU: &str = "{\"cores\":2,\"usage_percent_x100\":2345,\"window_ms\":1000,\"window_seq\":17,\"user_ns\":1,\"nice_ns\":0,\"system_ns\":0,\"idle_ns\":0,\"iowait_ns\":0,\"irq_ns\":0,\"softirq_ns\":0,\"steal_ns\":0,\"guest_ns\":0,\"guest_nice_ns\":0,\"load1_x100\":50,\"load5_x100\":40,\"load15_x100\":30,\"per_cpu\":[{\"cpu\":0,\"usage_percent_x100\":4690,\"user_ns\":1,\"nice_ns\":0,\"system_ns\":0,\"idle_ns\":0,\"iowait_ns\":0,\"irq_ns\":0,\"softirq_ns\":0,\"steal_ns\":0,\"guest_ns\":0,\"guest_nice_ns\":0},{\"cpu\":1,\"user_ns\":0,\"nice_ns\":0,\"system_ns\":0,\"idle_ns\":0,\"iowait_ns\":0,\"irq_ns\":0,\"softirq_ns\":0,\"steal_ns\":0,\"guest_ns\":0,\"guest_nice_ns\":0}]}\n";

    const RAM: &str = "{\"total_kb\":496532,\"free_kb\":301244,\"available_kb\":398120,\"buffers_kb\":0,\"cached_kb\":9612,\"shared_kb\":112,\"swap_cached_kb\":2048,\"used_kb\":98412,\"used_percent_x100\":1981}\n";

    #[test]
    fn cpu_object_with_every_field_parses() {
        let f = parse_object("cpu", CPU, CPU_FIELDS).unwrap();
        assert_eq!(f["usage_percent_x100"], 2345);
        assert_eq!(f["window_seq"], 17);
        assert!(!f.contains_key("per_cpu"));
    }

    #[test]
    fn per_cpu_entries_parse() {
        let c = parse_cpu(CPU).unwrap();
        assert_eq!(c.flat["cores"], 2);
        assert_eq!(c.per_cpu.len(), 2);
        assert_eq!(c.per_cpu[0].usage, Some(4690));
        assert_eq!(c.per_cpu[1].usage, None);
        assert_eq!(c.per_cpu[0].counters["user_ns"], 1);
        assert_eq!(c.per_cpu[1].counters.len(), CPU_COUNTERS.len());
    }

    #[test]
    fn bad_per_cpu_entries_are_named() {
        let cases = [
            (
                CPU.replace(",\"per_cpu\":[", ",\"other\":["),
                "missing field per_cpu",
            ),
            (CPU.replace("\"cpu\":1,", "\"cpu\":0,"), "not ascending"),
            (CPU.replace("\"cpu\":1,", "\"cpu\":9000,"), "cpu id 9000"),
            (
                CPU.replace(
                    "\"usage_percent_x100\":4690",
                    "\"usage_percent_x100\":10001",
                ),
                "> 10000",
            ),
            (
                CPU.replace("\"cpu\":1,\"user_ns\":0,", "\"cpu\":1,"),
                "per_cpu[1]: missing user_ns",
            ),
            (CPU.replace("\"cpu\":0,", ""), "per_cpu[0]: missing cpu"),
        ];
        for (text, want) in cases {
            let e = parse_cpu(&text).unwrap_err().to_string();
            assert!(e.contains(want), "{want}: {e}");
        }
    }

    #[test]
    fn missing_field_is_named() {
        let text = CPU.replace(
            "\"steal_ns\":0,\"guest_ns\":0,\"guest_nice_ns\":0,\"load1",
            "\"guest_ns\":0,\"guest_nice_ns\":0,\"load1",
        );
        let e = parse_object("cpu", &text, CPU_FIELDS).unwrap_err();
        assert!(e.to_string().contains("missing field steal_ns"), "{e}");
        let e = parse_cpu(&CPU.replace("\"window_seq\":17,", "")).unwrap_err();
        assert!(e.to_string().contains("missing field window_seq"), "{e}");
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
    fn ram_new_shape_parses_and_old_swap_fields_are_rejected() {
        let f = parse_ram(RAM).unwrap();
        assert_eq!(f["swap_cached_kb"], 2048);
        let old = RAM.replace("{", "{\"swap_total_kb\":0,\"swap_free_kb\":0,");
        let e = parse_ram(&old).unwrap_err().to_string();
        assert!(e.contains("swap_total_kb must be absent"), "{e}");
        let e = parse_ram(&RAM.replace("\"swap_cached_kb\":2048,", "")).unwrap_err();
        assert!(
            e.to_string().contains("missing field swap_cached_kb"),
            "{e}"
        );
    }

    #[test]
    fn tasks_with_escaped_comm_and_without_comm_parse() {
        let text = "{\"pid\":1,\"ppid\":0,\"uid\":0,\"comm\":\"init\",\"state\":\"S\",\"rss_kb\":1234,\"threads\":1,\"utime_ns\":0,\"stime_ns\":0}\n\
                    {\"pid\":7,\"ppid\":1,\"uid\":1000,\"comm\":\"a \\\"b\\\" (c)\\u0001\\ufffd\",\"state\":\"t\",\"rss_kb\":0,\"threads\":3,\"utime_ns\":5,\"stime_ns\":6}\n\
                    {\"pid\":9,\"ppid\":2,\"uid\":0,\"state\":\"I\",\"rss_kb\":0,\"threads\":1,\"utime_ns\":0,\"stime_ns\":0}\n";
        let t = parse_tasks(text).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t[1].comm.as_deref(), Some("a \"b\" (c)\u{1}\u{fffd}"));
        assert_eq!(t[1].state, 't');
        assert_eq!(t[1].threads, 3);
        assert_eq!(t[2].comm, None);
    }

    #[test]
    fn tasks_with_extra_or_missing_key_are_rejected() {
        let extra = "{\"pid\":1,\"ppid\":0,\"uid\":0,\"comm\":\"x\",\"state\":\"S\",\"rss_kb\":1,\"threads\":1,\"utime_ns\":0,\"stime_ns\":0,\"nice\":0}\n";
        let missing = "{\"pid\":1,\"ppid\":0,\"uid\":0,\"comm\":\"x\",\"state\":\"S\",\"rss_kb\":1,\"threads\":1,\"utime_ns\":0}\n";
        let old = "{\"pid\":1,\"ppid\":0,\"uid\":0,\"comm\":\"x\",\"state\":\"S\",\"rss_kb\":1,\"utime_ns\":0,\"stime_ns\":0}\n";
        let bad_state = "{\"pid\":1,\"ppid\":0,\"uid\":0,\"comm\":\"x\",\"state\":\"Q\",\"rss_kb\":1,\"threads\":1,\"utime_ns\":0,\"stime_ns\":0}\n";
        let bad_comm = "{\"pid\":1,\"ppid\":0,\"uid\":0,\"comm\":5,\"state\":\"S\",\"rss_kb\":1,\"threads\":1,\"utime_ns\":0,\"stime_ns\":0}\n";
        for t in [extra, missing, old, bad_state, bad_comm] {
            assert!(parse_tasks(t).is_err(), "{t}");
        }
    }
}
