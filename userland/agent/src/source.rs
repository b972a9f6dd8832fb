//! Which source serves snapshots: the modules' files when all three exist (`auto`
//! re-checks periodically and logs a switch once), or the standard /proc files.

use crate::config::SourceMode;
use crate::files::{ProcFile, ProcFiles};
use procpulse_model::Source;
use std::sync::atomic::{AtomicBool, Ordering};

/// The three files that make the modules usable.
pub const MODULE_FILES: [ProcFile; 3] = [ProcFile::KmodCpu, ProcFile::KmodRam, ProcFile::KmodProcs];

/// The current source.
#[derive(Debug)]
pub struct SourceState {
    mode: SourceMode,
    kmod: AtomicBool,
}

impl SourceState {
    /// Decides the initial source for `mode`.
    pub fn new(mode: SourceMode, files: &ProcFiles) -> Self {
        let kmod = match mode {
            SourceMode::Kmod => true,
            SourceMode::Procfs => false,
            SourceMode::Auto => Self::modules_present(files),
        };
        tracing::info!(mode = ?mode, source = %Self::name(kmod), "Source selected");
        SourceState {
            mode,
            kmod: AtomicBool::new(kmod),
        }
    }

    fn name(kmod: bool) -> Source {
        if kmod { Source::Kmod } else { Source::Procfs }
    }

    /// Whether all module files exist and parse (a present but broken file would
    /// otherwise make `auto` flip back and forth at every re-check).
    pub fn modules_present(files: &ProcFiles) -> bool {
        use procpulse_model::parse;
        MODULE_FILES.iter().all(|f| files.exists(*f))
            && files
                .read_with(ProcFile::KmodCpu, parse::parse_procpulse_cpu)
                .is_ok()
            && files
                .read_with(ProcFile::KmodRam, parse::parse_procpulse_ram)
                .is_ok()
            && files
                .read_with(ProcFile::KmodProcs, parse::parse_procpulse_procs)
                .is_ok()
    }

    /// The configured mode.
    pub fn mode(&self) -> SourceMode {
        self.mode
    }

    /// The source a snapshot should be read from now.
    pub fn current(&self) -> Source {
        Self::name(self.kmod.load(Ordering::Relaxed))
    }

    /// In `auto`, sets the source to `kmod` or `procfs`, logging (once) when it changes.
    /// Returns whether it changed.
    pub fn set_kmod(&self, kmod: bool, why: &str) -> bool {
        if self.mode != SourceMode::Auto {
            return false;
        }
        let was = self.kmod.swap(kmod, Ordering::Relaxed);
        if was != kmod {
            tracing::info!(
                from = %Self::name(was),
                to = %Self::name(kmod),
                reason = why,
                "Source switched"
            );
            true
        } else {
            false
        }
    }

    /// In `auto`, re-checks whether the modules are present.
    pub fn recheck(&self, files: &ProcFiles) -> bool {
        let present = Self::modules_present(files);
        self.set_kmod(
            present,
            if present {
                "module files appeared"
            } else {
                "module files are gone"
            },
        )
    }
}
