//! `/proc/meminfo`.

use super::{ParseError, num};
use crate::snapshot::Ram;

const FILE: &str = "/proc/meminfo";

/// The /proc/meminfo fields the snapshot uses, KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Meminfo {
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
}

impl Meminfo {
    /// The snapshot's RAM section: `used_kb = total_kb − available_kb` (procps 4 `free`),
    /// `used_percent` rounded to two decimals like the module's `_x100` value.
    pub fn to_ram(&self) -> Ram {
        let used_kb = self.total_kb.saturating_sub(self.available_kb);
        let used_percent = if self.total_kb == 0 {
            0.0
        } else {
            super::round2(used_kb as f64 * 100.0 / self.total_kb as f64)
        };
        Ram {
            total_kb: self.total_kb,
            free_kb: self.free_kb,
            available_kb: self.available_kb,
            used_kb,
            cached_kb: self.cached_kb,
            swap_total_kb: self.swap_total_kb,
            swap_free_kb: self.swap_free_kb,
            used_percent,
            buffers_kb: Some(self.buffers_kb),
            shared_kb: Some(self.shared_kb),
            swap_used_kb: Some(self.swap_total_kb.saturating_sub(self.swap_free_kb)),
        }
    }
}

const FIELDS: [&str; 8] = [
    "MemTotal",
    "MemFree",
    "MemAvailable",
    "Buffers",
    "Cached",
    "Shmem",
    "SwapTotal",
    "SwapFree",
];

/// Parses /proc/meminfo. All eight fields are required (MemAvailable exists since Linux
/// 3.14); the values must be in `kB`. Other lines are ignored.
pub fn parse_meminfo(text: &str) -> Result<Meminfo, ParseError> {
    let mut vals = [None::<u64>; FIELDS.len()];
    let mut found = 0;
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        let Some(i) = FIELDS.iter().position(|f| *f == key) else {
            continue;
        };
        let field = FIELDS[i];
        let mut parts = rest.split_ascii_whitespace();
        let v = num(FILE, field, parts.next())?;
        match parts.next() {
            Some("kB") => {}
            other => {
                return Err(ParseError::Invalid {
                    file: FILE,
                    field,
                    value: format!("unit {other:?}"),
                });
            }
        }
        if vals[i].replace(v).is_none() {
            found += 1;
        }
        if found == FIELDS.len() {
            break;
        }
    }
    let get = |i: usize| {
        vals[i].ok_or(ParseError::Missing {
            file: FILE,
            field: FIELDS[i],
        })
    };
    Ok(Meminfo {
        total_kb: get(0)?,
        free_kb: get(1)?,
        available_kb: get(2)?,
        buffers_kb: get(3)?,
        cached_kb: get(4)?,
        shared_kb: get(5)?,
        swap_total_kb: get(6)?,
        swap_free_kb: get(7)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPTURED: &str = "MemTotal:       24684092 kB\n\
MemFree:        21274480 kB\n\
MemAvailable:   23558736 kB\n\
Buffers:           27832 kB\n\
Cached:          2295552 kB\n\
SwapCached:            0 kB\n\
Active:           721768 kB\n\
Active(anon):       1612 kB\n\
SwapTotal:             0 kB\n\
SwapFree:              0 kB\n\
Shmem:              8856 kB\n\
HugePages_Total:       0\n\
Hugepagesize:       2048 kB\n";

    #[test]
    fn parses_captured_text() {
        let m = parse_meminfo(CAPTURED).unwrap();
        assert_eq!(m.total_kb, 24_684_092);
        assert_eq!(m.available_kb, 23_558_736);
        assert_eq!(m.cached_kb, 2_295_552);
        assert_eq!(m.shared_kb, 8856);
        let r = m.to_ram();
        assert_eq!(r.used_kb, 24_684_092 - 23_558_736);
        assert_eq!(r.used_percent, 4.56);
    }

    #[test]
    fn truncated_input_names_the_missing_field() {
        let cut = &CAPTURED[..CAPTURED.find("Buffers").unwrap()];
        assert_eq!(
            parse_meminfo(cut).unwrap_err(),
            ParseError::Missing {
                file: FILE,
                field: "Buffers"
            }
        );
        assert!(parse_meminfo("").is_err());
        // A line cut inside the number or before the unit.
        assert!(parse_meminfo("MemTotal:       24684").is_err());
    }

    #[test]
    fn bad_value_or_unit_is_invalid() {
        let bad = CAPTURED.replace("21274480", "2127x480");
        assert!(matches!(
            parse_meminfo(&bad),
            Err(ParseError::Invalid {
                field: "MemFree",
                ..
            })
        ));
        let bad_unit = CAPTURED.replace("27832 kB", "27832 MB");
        assert!(parse_meminfo(&bad_unit).is_err());
    }
}
