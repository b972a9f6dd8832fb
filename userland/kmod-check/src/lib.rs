//! `procpulse-kmod-check`: the checker that ci/kmod-test.sh runs *inside* a QEMU guest
//! to prove the procpulse kernel modules against docs/design.md §2. It is not a monitoring tool:
//! every subcommand compares what a module reports with what the kernel shows through
//! the standard /proc files (or what a helper process created) and prints one marker
//! line, `PPCHECK ok <check> …` or `PPCHECK FAIL <check>: …`, that the host greps.
//!
//! Pure parts (field lists, /proc text parsers, comparisons) are unit-tested on captured
//! text; the I/O parts only make sense in a guest with the modules loaded.

pub mod agent;
pub mod bench;
pub mod cpu;
pub mod cpu_partial;
pub mod fields;
pub mod hammer;
pub mod helpers;
pub mod hotplug;
pub mod pidns;
pub mod pidstat;
pub mod procfs;
pub mod procs;
pub mod ram;
pub mod scale;
pub mod sleepers;
pub mod swap;
pub mod tasks;
pub mod usage;

/// Files the modules create.
pub const CPU_FILE: &str = "/proc/procpulse_cpu";
/// The RAM module's file.
pub const RAM_FILE: &str = "/proc/procpulse_ram";
/// The process-states module's file.
pub const PROCS_FILE: &str = "/proc/procpulse_procs";
/// The per-task file of the process module.
pub const TASKS_FILE: &str = "/proc/procpulse_tasks";

/// Why a check failed.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// A file or command could not be read or run.
    #[error("{path}: {source}")]
    Io {
        /// The file or command.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A file does not have its documented shape.
    #[error("{file}: {msg}")]
    Format {
        /// The file.
        file: String,
        /// What is wrong.
        msg: String,
    },
    /// A module's value differs from its /proc twin.
    #[error("{0}")]
    Mismatch(String),
}

/// Reads a whole file, naming it in the error.
pub fn read(path: &str) -> Result<String, CheckError> {
    std::fs::read_to_string(path).map_err(|source| CheckError::Io {
        path: path.to_owned(),
        source,
    })
}
