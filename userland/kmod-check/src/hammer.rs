//! Many concurrent readers while the modules are inserted and removed over and over:
//! every successful read is valid JSON, every failed one fails cleanly (the file is
//! gone: ENOENT, or removed under an open file: EIO), a file kept open across an rmmod
//! reads EIO, and nothing is left behind.

use crate::fields::{PROCS_FIELDS, parse_cpu, parse_object, parse_ram, parse_tasks};
use crate::{CPU_FILE, CheckError, PROCS_FILE, RAM_FILE, TASKS_FILE};
use std::io::Read;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

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

/// Inserts every module from `dir` (`<dir>/<module>.ko`), in load order.
pub fn insmod_all(dir: &str) -> Result<(), CheckError> {
    for m in MODULES {
        run("insmod", &[&format!("{dir}/{m}.ko")])?;
    }
    Ok(())
}

/// Removes every module, in reverse load order.
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
                CPU_FILE => parse_cpu(&text).map(drop)?,
                RAM_FILE => parse_ram(&text).map(drop)?,
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

/// Opens `path` while the modules are loaded and reads its first bytes (so the open file
/// holds its `seq_file` state), waits until the modules were removed at least once since,
/// then reads on: the read must fail (EIO from procfs), not return data or splat.
/// Returns false when the file could not be opened before the cycles ended.
fn held_across_rmmod(
    path: &str,
    removed: &AtomicU64,
    cycling: &AtomicBool,
) -> Result<bool, CheckError> {
    let mut buf = [0u8; 64];
    let (mut f, seen) = loop {
        if !cycling.load(Ordering::Relaxed) {
            return Ok(false);
        }
        let seen = removed.load(Ordering::Acquire);
        match std::fs::File::open(path) {
            Ok(mut f) => match f.read(&mut buf) {
                Ok(n) if n > 0 => break (f, seen),
                _ => continue, // removed between open and read: try again
            },
            Err(_) => std::thread::yield_now(),
        }
    };
    while removed.load(Ordering::Acquire) == seen {
        if !cycling.load(Ordering::Relaxed) {
            return Ok(false);
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    match f.read(&mut buf) {
        Err(e) if e.raw_os_error() == Some(nix::libc::EIO) => Ok(true),
        Err(e) => Err(CheckError::Mismatch(format!(
            "{path} held open across rmmod: read failed with {e}, want EIO"
        ))),
        Ok(n) => Err(CheckError::Mismatch(format!(
            "{path} held open across rmmod: read returned {n} bytes, want EIO"
        ))),
    }
}

/// `readers` threads read the four files round-robin (each at most `reads` times) for as
/// long as the modules are inserted and removed `cycles` times, while one more thread
/// keeps a file open across an rmmod again and again; ends with the modules removed.
pub fn check(dir: &str, readers: usize, reads: usize, cycles: usize) -> Result<String, CheckError> {
    let files = [CPU_FILE, RAM_FILE, PROCS_FILE, TASKS_FILE];
    let cycling = AtomicBool::new(true);
    let removed = AtomicU64::new(0);
    let (tallies, held, cycled) = std::thread::scope(|s| {
        let (cycling, removed) = (&cycling, &removed);
        let hs: Vec<_> = (0..readers)
            .map(|r| {
                s.spawn(move || {
                    let mut t = Tally::default();
                    let mut i = 0;
                    while cycling.load(Ordering::Relaxed) && i < reads {
                        if one_read(files[(r + i) % files.len()])? {
                            t.ok += 1;
                        } else {
                            t.gone += 1;
                        }
                        i += 1;
                    }
                    Ok::<_, CheckError>(t)
                })
            })
            .collect();
        let holder = s.spawn(move || {
            let mut held = 0u64;
            for i in 0.. {
                let path = [TASKS_FILE, CPU_FILE][i % 2];
                if !held_across_rmmod(path, removed, cycling)? {
                    break;
                }
                held += 1;
            }
            Ok::<_, CheckError>(held)
        });
        let cycler = s.spawn(move || {
            let r = (0..cycles).try_for_each(|_| {
                insmod_all(dir)?;
                let r = rmmod_all();
                removed.fetch_add(1, Ordering::Release);
                r
            });
            cycling.store(false, Ordering::Relaxed);
            r
        });
        let tallies: Vec<_> = hs.into_iter().map(|h| h.join().expect("reader")).collect();
        (
            tallies,
            holder.join().expect("holder"),
            cycler.join().expect("cycler"),
        )
    });
    cycled?;
    let held = held?;
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
    if held == 0 {
        return Err(CheckError::Mismatch(
            "no file was held open across an rmmod".into(),
        ));
    }
    Ok(format!(
        "{readers} readers during {cycles} insmod/rmmod cycles: {} valid reads, {} on a removed file; {held} files held open across rmmod got EIO; no leftovers",
        total.ok, total.gone
    ))
}
