//! Reading /proc files cheaply: per-thread kept-open descriptors read with `pread` at
//! offset 0 into a per-thread reusable buffer.
//!
//! That is correct for procfs: seq_file-backed files (meminfo, loadavg, stat and the
//! procpulse modules' `single_open` files) regenerate their content when read from
//! offset 0, and a removed proc entry makes reads on open descriptors fail (then the
//! descriptor is reopened once). Cached descriptors are keyed by the reader instance and a
//! generation that [`ProcFiles::invalidate`] bumps (e.g. when the source switches), so
//! several agents in one process (tests) never share them.

use std::cell::RefCell;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The files read on the request path and by the sampler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcFile {
    /// `meminfo`.
    Meminfo,
    /// `loadavg`.
    Loadavg,
    /// `stat`.
    Stat,
    /// `procpulse_cpu`.
    KmodCpu,
    /// `procpulse_ram`.
    KmodRam,
    /// `procpulse_procs`.
    KmodProcs,
    /// `procpulse_tasks`.
    KmodTasks,
    /// `pressure/cpu` (PSI).
    PressureCpu,
    /// `pressure/memory` (PSI).
    PressureMemory,
    /// `pressure/io` (PSI).
    PressureIo,
}

impl ProcFile {
    /// File name under the proc root.
    pub fn name(self) -> &'static str {
        match self {
            ProcFile::Meminfo => "meminfo",
            ProcFile::Loadavg => "loadavg",
            ProcFile::Stat => "stat",
            ProcFile::KmodCpu => "procpulse_cpu",
            ProcFile::KmodRam => "procpulse_ram",
            ProcFile::KmodProcs => "procpulse_procs",
            ProcFile::KmodTasks => "procpulse_tasks",
            ProcFile::PressureCpu => "pressure/cpu",
            ProcFile::PressureMemory => "pressure/memory",
            ProcFile::PressureIo => "pressure/io",
        }
    }
}

/// Why a file could not be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The read failed.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The file is not UTF-8 text.
    #[error("{path} is not UTF-8 text")]
    NotText {
        /// The file.
        path: String,
    },
    /// The text did not parse.
    #[error(transparent)]
    Parse(#[from] procpulse_model::parse::ParseError),
}

impl ReadError {
    /// The OS error number of a failed read (`None` for parse errors).
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            ReadError::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

static NEXT_INSTANCE: AtomicU64 = AtomicU64::new(1);

/// Reads files under one proc root.
#[derive(Debug)]
pub struct ProcFiles {
    root: PathBuf,
    instance: u64,
    generation: AtomicU64,
}

struct Cached {
    instance: u64,
    generation: u64,
    file: ProcFile,
    fd: File,
}

#[derive(Default)]
struct Cache {
    buf: Vec<u8>,
    fds: Vec<Cached>,
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

/// First buffer size: /proc/meminfo is ~1.5 KiB; grown by doubling when a file is larger.
const INITIAL_BUF: usize = 8192;

/// Reads all of `fd` from offset 0 into `buf` (resized to the content's length).
fn pread_all(fd: &File, buf: &mut Vec<u8>) -> io::Result<()> {
    if buf.len() < INITIAL_BUF {
        buf.resize(INITIAL_BUF, 0);
    }
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        match fd.read_at(&mut buf[len..], len as u64) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(len);
    Ok(())
}

impl ProcFiles {
    /// A reader for files under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ProcFiles {
            root: root.into(),
            instance: NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed),
            generation: AtomicU64::new(0),
        }
    }

    /// The proc root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether `file` exists under the root.
    pub fn exists(&self, file: ProcFile) -> bool {
        self.root.join(file.name()).exists()
    }

    /// Makes every thread reopen its descriptors on their next use.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads `file` and hands its text to `parse`.
    pub fn read_with<T, E>(
        &self,
        file: ProcFile,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, ReadError>
    where
        ReadError: From<E>,
    {
        let generation = self.generation.load(Ordering::Relaxed);
        CACHE.with(|cell| {
            let mut cache = cell.borrow_mut();
            let Cache { buf, fds } = &mut *cache;
            let pos = fds
                .iter()
                .position(|c| c.instance == self.instance && c.file == file);
            let mut fresh = false;
            let idx = match pos {
                Some(i) if fds[i].generation == generation => i,
                other => {
                    if let Some(i) = other {
                        fds.swap_remove(i);
                    }
                    fds.push(Cached {
                        instance: self.instance,
                        generation,
                        file,
                        fd: self.open(file)?,
                    });
                    fresh = true;
                    fds.len() - 1
                }
            };
            if let Err(e) = pread_all(&fds[idx].fd, buf) {
                // A kept descriptor may have gone stale (module reloaded): reopen once.
                if fresh {
                    fds.swap_remove(idx);
                    return Err(self.io_error(file, e));
                }
                fds[idx].fd = self.open(file).inspect_err(|_| {
                    fds.swap_remove(idx);
                })?;
                if let Err(e) = pread_all(&fds[idx].fd, buf) {
                    fds.swap_remove(idx);
                    return Err(self.io_error(file, e));
                }
            }
            let text = std::str::from_utf8(buf).map_err(|_| ReadError::NotText {
                path: self.path_string(file),
            })?;
            Ok(parse(text)?)
        })
    }

    fn open(&self, file: ProcFile) -> Result<File, ReadError> {
        File::open(self.root.join(file.name())).map_err(|e| self.io_error(file, e))
    }

    fn path_string(&self, file: ProcFile) -> String {
        self.root.join(file.name()).display().to_string()
    }

    fn io_error(&self, file: ProcFile, source: io::Error) -> ReadError {
        ReadError::Io {
            path: self.path_string(file),
            source,
        }
    }
}

impl Drop for ProcFiles {
    fn drop(&mut self) {
        // This thread's descriptors of this instance; other threads' are dropped when
        // they next touch the cache or exit (they never match a new instance number).
        let instance = self.instance;
        let _ = CACHE.try_with(|cell| {
            if let Ok(mut c) = cell.try_borrow_mut() {
                c.fds.retain(|f| f.instance != instance);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rereads_in_place_changes_and_reopens_after_invalidate() {
        let dir = std::env::temp_dir().join(format!("pp-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("loadavg");
        std::fs::write(&p, "1.00 2.00 3.00 1/2 3\n").unwrap();
        let f = ProcFiles::new(&dir);
        let read = || {
            f.read_with(ProcFile::Loadavg, procpulse_model::parse::parse_loadavg)
                .map(|l| l.load1)
        };
        assert_eq!(read().unwrap(), 1.0);
        // Rewritten in place: the kept descriptor sees it.
        std::fs::write(&p, "4.00 2.00 3.00 1/2 3\n").unwrap();
        assert_eq!(read().unwrap(), 4.0);
        // Replaced by a new file: seen after invalidate.
        let tmp = dir.join("loadavg.new");
        std::fs::write(&tmp, "5.00 2.00 3.00 1/2 3\n").unwrap();
        std::fs::rename(&tmp, &p).unwrap();
        f.invalidate();
        assert_eq!(read().unwrap(), 5.0);
        // Larger than the first buffer.
        let big = format!("6.00 2.00 3.00 1/2 3{}\n", " ".repeat(20_000));
        std::fs::write(&p, big).unwrap();
        assert_eq!(read().unwrap(), 6.0);
        std::fs::remove_file(&p).unwrap();
        f.invalidate();
        assert!(matches!(read(), Err(ReadError::Io { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
