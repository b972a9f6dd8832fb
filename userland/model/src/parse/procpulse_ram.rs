//! `/proc/procpulse_ram` (SPEC §2).

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
    /// SwapTotal, KiB.
    pub swap_total_kb: u64,
    /// SwapFree, KiB.
    pub swap_free_kb: u64,
    /// total_kb − available_kb, KiB.
    pub used_kb: u64,
    /// used_kb / total_kb, percent × 100.
    pub used_percent_x100: u32,
}

impl KmodRam {
    /// The snapshot's RAM section.
    pub fn to_ram(&self) -> Ram {
        Ram {
            total_kb: self.total_kb,
            free_kb: self.free_kb,
            available_kb: self.available_kb,
            used_kb: self.used_kb,
            cached_kb: self.cached_kb,
            swap_total_kb: self.swap_total_kb,
            swap_free_kb: self.swap_free_kb,
            used_percent: f64::from(self.used_percent_x100.min(10_000)) / 100.0,
        }
    }
}

/// Parses the file's text, checking `used_kb ≤ total_kb`.
pub fn parse_procpulse_ram(text: &str) -> Result<KmodRam, ParseError> {
    let ram: KmodRam = json_object(FILE, text)?;
    if ram.used_kb > ram.total_kb {
        return Err(ParseError::Invalid {
            file: FILE,
            field: "used_kb",
            value: ram.used_kb.to_string(),
        });
    }
    Ok(ram)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "{\"total_kb\":24684092,\"free_kb\":21274480,\"available_kb\":23558736,\"buffers_kb\":27832,\"cached_kb\":2295552,\"shared_kb\":8856,\"swap_total_kb\":0,\"swap_free_kb\":0,\"used_kb\":1125356,\"used_percent_x100\":455}\n";

    #[test]
    fn parses_and_converts() {
        let r = parse_procpulse_ram(SAMPLE).unwrap();
        let ram = r.to_ram();
        assert_eq!(ram.total_kb, 24_684_092);
        assert_eq!(ram.used_kb, 24_684_092 - 23_558_736);
        assert_eq!(ram.used_percent, 4.55);
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
