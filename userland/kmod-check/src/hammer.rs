//! Many concurrent readers while the modules are inserted and removed over and over:
//! every successful read is valid JSON, every failed one fails cleanly (the file is
//! gone: ENOENT, or removed under an open file: EIO), and nothing is left behind.

use crate::fields::{CPU_FIELDS, PROCS_FIELDS, RAM_FIELDS, parse_object, parse_tasks};
use crate::{CPU_FILE, CheckError, PROCS_FILE, RAM_FILE, TASKS_FILE};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

/// The module names, in load order.
pub const MODULES: &[&str] = &["procpulse_cpu", "procpulse_ram", "procpulse_procs"];

fn run(cmd: &str, args: &[&str]) -> Result<(), CheckError> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .map_err(|source| CheckError::Io {
            path: cmd.into(),
            source,
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(CheckError::Mismatch(format!(
            "{cmd} {}: {} {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

pub fn insmod_all(dir: &str) -> Result<(), CheckError> {
    for m in MODULES {
        run("insmod", &[&format!("{dir}/{m}.ko")])?;
    }
    Ok(())
}

pub fn rmmod_all() -> Result<(), CheckError> {
    for m in MODULES.iter().rev() {
        run("rmmod", &[m])?;
    }
    Ok(())
}

/// Leftover /proc/procpulse_* entries.
pub fn leftovers() -> Vec<String> {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with("procpulse_"))
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Default, Debug)]
struct Tally {
    ok: u64,
    gone: u64,
}

fn one_read(path: &str) -> Result<bool, CheckError> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            match path {
                CPU_FILE => parse_object(path, &text, CPU_FIELDS).map(drop)?,
                RAM_FILE => parse_object(path, &text, RAM_FIELDS).map(drop)?,
                PROCS_FILE => parse_object(path, &text, PROCS_FIELDS).map(drop)?,
                _ => parse_tasks(&text).map(drop)?,
            }
            Ok(true)
        }
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound
                || e.raw_os_error() == Some(nix::libc::EIO) =>
        {
            Ok(false)
        }
        Err(source) => Err(CheckError::Io {
            path: path.into(),
            source,
        }),
    }
}

/// `readers` threads × `reads` reads (round-robin over the four files) while the modules
/// are inserted and removed `cycles` times; ends with the modules removed.
pub fn check(dir: &str, readers: usize, reads: usize, cycles: usize) -> Result<String, CheckError> {
    let files = [CPU_FILE, RAM_FILE, PROCS_FILE, TASKS_FILE];
    let cycling = AtomicBool::new(true);
    let (tallies, cycled) = std::thread::scope(|s| {
        let hs: Vec<_> = (0..readers)
            .map(|r| {
                s.spawn(move || {
                    let mut t = Tally::default();
                    for i in 0..reads {
                        if one_read(files[(r + i) % files.len()])? {
                            t.ok += 1;
                        } else {
                            t.gone += 1;
                        }
                    }
                    Ok::<_, CheckError>(t)
                })
            })
            .collect();
        let cycler = s.spawn(|| {
            let r = (0..cycles).try_for_each(|_| {
                insmod_all(dir)?;
                rmmod_all()
            });
            cycling.store(false, Ordering::Relaxed);
            r
        });
        let tallies: Vec<_> = hs.into_iter().map(|h| h.join().expect("reader")).collect();
        (tallies, cycler.join().expect("cycler"))
    });
    cycled?;
    let mut total = Tally::default();
    for t in tallies {
        let t = t?;
        total.ok += t.ok;
        total.gone += t.gone;
    }
    let left = leftovers();
    if !left.is_empty() {
        return Err(CheckError::Mismatch(format!(
            "leftover /proc entries after the last rmmod: {left:?}"
        )));
    }
    if total.ok == 0 || total.gone == 0 {
        return Err(CheckError::Mismatch(format!(
            "readers never raced the loader: {total:?}"
        )));
    }
    Ok(format!(
        "{readers} readers x {reads} reads, {cycles} insmod/rmmod cycles: {} valid reads, {} on a removed file, no leftovers",
        total.ok, total.gone
    ))
}
