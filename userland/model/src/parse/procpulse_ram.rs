//! `/proc/procpulse_ram` (docs/design.md §2).

use super::{ParseError, json_object};
use crate::snapshot::Ram;
use serde::Deserialize;

const FILE: &str = "/proc/procpulse_ram";

/// The RAM module's file, KiB as /proc/meminfo reports them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct KmodRam {
    /// MemTotal, KiB.
    pub total_kb: u64,
    /// MemFree, KiB.
    pub free_kb: u64,
    /// MemAvailable, KiB.
    pub available_kb: u64,
    /// Buffers, KiB.
    pub buffers_kb: u64,
    /// Cached, KiB.
    pub cached_kb: u64,
    /// Shmem, KiB.
    pub shared_kb: u64,
    /// What older modules printed as SwapTotal (really free swap; not used). Linux 6.12
    /// exports neither `total_swap_pages` nor `si_swapinfo()`, so current modules omit it.
    #[serde(default)]
    pub swap_total_kb: Option<u64>,
    /// What older modules printed as SwapFree (not used); present exactly when
    /// `swap_total_kb` is.
    #[serde(default)]
    pub swap_free_kb: Option<u64>,
    /// SwapCached, KiB (absent from modules older than the 6.12 format).
    #[serde(default)]
    pub swap_cached_kb: Option<u64>,
    /// total_kb − available_kb, KiB.
    pub used_kb: u64,
    /// used_kb / total_kb, percent × 100.
    pub used_percent_x100: u32,
}

impl KmodRam {
    /// The snapshot's RAM section with SwapTotal/SwapFree (KiB) from the caller, i.e.
    /// /proc/meminfo: current modules omit them, and the values older modules printed
    /// (free swap as both) are not used.
    pub fn to_ram_with_swap(&self, swap_total_kb: u64, swap_free_kb: u64) -> Ram {
        Ram {
            total_kb: self.total_kb,
            free_kb: self.free_kb,
            available_kb: self.available_kb,
            used_kb: self.used_kb,
            cached_kb: self.cached_kb,
            swap_total_kb,
            swap_free_kb,
            used_percent: f64::from(self.used_percent_x100.min(10_000)) / 100.0,
            buffers_kb: Some(self.buffers_kb),
            shared_kb: Some(self.shared_kb),
            swap_used_kb: Some(swap_total_kb.saturating_sub(swap_free_kb)),
        }
    }
}

/// Parses the file's text, checking `used_kb ≤ total_kb` and that `swap_total_kb` and
/// `swap_free_kb` are both present (old modules) or both absent (current modules).
pub fn parse_procpulse_ram(text: &str) -> Result<KmodRam, ParseError> {
    let ram: KmodRam = json_object(FILE, text)?;
    if ram.used_kb > ram.total_kb {
        return Err(ParseError::Invalid {
            file: FILE,
            field: "used_kb",
            value: ram.used_kb.to_string(),
        });
    }
    if ram.swap_total_kb.is_some() != ram.swap_free_kb.is_some() {
        let field = if ram.swap_total_kb.is_some() {
            "swap_free_kb"
        } else {
            "swap_total_kb"
        };
        return Err(ParseError::Missing { file: FILE, field });
    }
    Ok(ram)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "{\"total_kb\":24684092,\"free_kb\":21274480,\"available_kb\":23558736,\"buffers_kb\":27832,\"cached_kb\":2295552,\"shared_kb\":8856,\"swap_total_kb\":0,\"swap_free_kb\":0,\"used_kb\":1125356,\"used_percent_x100\":455}\n";

    /// Captured from the 6.12 module: no swap_total_kb/swap_free_kb, plus swap_cached_kb.
    const SAMPLE_612: &str = "{\"total_kb\":496532,\"free_kb\":301244,\"available_kb\":398120,\"buffers_kb\":0,\"cached_kb\":9612,\"shared_kb\":112,\"swap_cached_kb\":2048,\"used_kb\":98412,\"used_percent_x100\":1981}\n";

    #[test]
    fn parses_and_converts() {
        let r = parse_procpulse_ram(SAMPLE).unwrap();
        assert_eq!((r.swap_total_kb, r.swap_free_kb), (Some(0), Some(0)));
        assert_eq!(r.swap_cached_kb, None);
        let ram = r.to_ram_with_swap(7, 3);
        assert_eq!(ram.total_kb, 24_684_092);
        assert_eq!(ram.used_kb, 24_684_092 - 23_558_736);
        assert_eq!(ram.used_percent, 4.55);
        assert_eq!((ram.swap_total_kb, ram.swap_free_kb), (7, 3));
    }

    #[test]
    fn new_shape_without_swap_parses_and_takes_swap_from_the_caller() {
        let r = parse_procpulse_ram(SAMPLE_612).unwrap();
        assert_eq!((r.swap_total_kb, r.swap_free_kb), (None, None));
        assert_eq!(r.swap_cached_kb, Some(2048));
        let ram = r.to_ram_with_swap(262_140, 200_000);
        assert_eq!((ram.swap_total_kb, ram.swap_free_kb), (262_140, 200_000));
        assert_eq!(ram.used_percent, 19.81);
    }

    #[test]
    fn half_of_the_old_swap_pair_is_an_error() {
        let e = parse_procpulse_ram(&SAMPLE.replace("\"swap_free_kb\":0,", "")).unwrap_err();
        assert!(e.to_string().contains("swap_free_kb"), "{e}");
        let e = parse_procpulse_ram(&SAMPLE.replace("\"swap_total_kb\":0,", "")).unwrap_err();
        assert!(e.to_string().contains("swap_total_kb"), "{e}");
    }

    #[test]
    fn rejects_truncated_missing_and_inconsistent() {
        assert!(parse_procpulse_ram(&SAMPLE[..40]).is_err());
        assert!(parse_procpulse_ram("").is_err());
        let err = parse_procpulse_ram(&SAMPLE.replace("\"shared_kb\":8856,", "")).unwrap_err();
        assert!(err.to_string().contains("shared_kb"));
        assert!(
            parse_procpulse_ram(&SAMPLE.replace("\"used_kb\":1125356", "\"used_kb\":99999999"))
                .is_err()
        );
        assert!(parse_procpulse_ram(&SAMPLE.replace("24684092", "\"24684092\"")).is_err());
    }
}
