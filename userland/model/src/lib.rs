//! procpulse's data model: the snapshot that travels agent → loadgen → ingest →
//! broadcaster (docs/design.md §3), pure parsers for the kernel modules' /proc files
//! (docs/design.md §2) and for the standard /proc files used as a fallback, and the ingest
//! validation rules.
//!
//! This crate does no I/O: every parser takes the text of a file and returns typed
//! values, so it is tested on captured text. Services add I/O on top of it.

pub mod parse;
pub mod redact;
pub mod snapshot;
pub mod time_text;
pub mod validate;

pub use snapshot::{
    CoreUsage, Cpu, CpuModes, Pressure, PressureLine, PressureStall, Procs, Ram, Snapshot, Source,
    TopProcess,
};
pub use validate::{ValidationError, decode_batch, validate, validate_at};
