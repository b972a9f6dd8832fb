//! `/proc/pressure/{cpu,memory,io}`: pressure stall information (PSI).

use super::ParseError;
use crate::snapshot::{PressureLine, PressureStall};

const FILE: &str = "/proc/pressure";

/// Parses one pressure file: a `some` line and, except /proc/pressure/cpu before Linux
/// 5.13, a `full` line, each `avg10=F avg60=F avg300=F total=N`.
pub fn parse_pressure(text: &str) -> Result<PressureStall, ParseError> {
    let mut some = None;
    let mut full = None;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (kind, rest) = line.split_once(' ').ok_or_else(|| malformed(line))?;
        let slot = match kind {
            "some" => &mut some,
            "full" => &mut full,
            _ => return Err(malformed(line)),
        };
        *slot = Some(parse_line(rest)?);
    }
    Ok(PressureStall {
        some: some.ok_or(ParseError::Missing {
            file: FILE,
            field: "some",
        })?,
        full,
    })
}

fn parse_line(rest: &str) -> Result<PressureLine, ParseError> {
    let (mut avg10, mut avg60, mut avg300, mut total) = (None, None, None, None);
    for kv in rest.split_ascii_whitespace() {
        let (k, v) = kv.split_once('=').ok_or_else(|| malformed(rest))?;
        match k {
            "avg10" => avg10 = Some(avg("avg10", v)?),
            "avg60" => avg60 = Some(avg("avg60", v)?),
            "avg300" => avg300 = Some(avg("avg300", v)?),
            "total" => {
                total = Some(v.parse().map_err(|_| invalid("total", v))?);
            }
            _ => {} // later kernels may add keys
        }
    }
    let missing = |field| ParseError::Missing { file: FILE, field };
    Ok(PressureLine {
        avg10: avg10.ok_or(missing("avg10"))?,
        avg60: avg60.ok_or(missing("avg60"))?,
        avg300: avg300.ok_or(missing("avg300"))?,
        total_us: total.ok_or(missing("total"))?,
    })
}

fn avg(field: &'static str, v: &str) -> Result<f64, ParseError> {
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() && (0.0..=100.0).contains(&x) => Ok(x),
        _ => Err(invalid(field, v)),
    }
}

fn invalid(field: &'static str, v: &str) -> ParseError {
    ParseError::Invalid {
        file: FILE,
        field,
        value: super::truncate(v),
    }
}

fn malformed(line: &str) -> ParseError {
    ParseError::Malformed {
        file: FILE,
        message: format!("unexpected line {:?}", super::truncate(line)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured from Linux 6.12 (Debian 12 backports) under a CPU and memory burn.
    const MEMORY: &str = "some avg10=1.25 avg60=0.40 avg300=0.09 total=1234567\n\
full avg10=0.50 avg60=0.12 avg300=0.03 total=456789\n";
    const CPU_OLD: &str = "some avg10=12.04 avg60=8.71 avg300=3.02 total=98765432\n";

    #[test]
    fn parses_some_and_full() {
        let p = parse_pressure(MEMORY).unwrap();
        assert_eq!(p.some.avg10, 1.25);
        assert_eq!(p.some.total_us, 1234567);
        let full = p.full.unwrap();
        assert_eq!(
            (full.avg60, full.avg300, full.total_us),
            (0.12, 0.03, 456789)
        );
    }

    #[test]
    fn cpu_file_without_full_line() {
        let p = parse_pressure(CPU_OLD).unwrap();
        assert_eq!(p.full, None);
        assert_eq!(p.some.avg10, 12.04);
    }

    #[test]
    fn bad_text_names_the_field() {
        assert!(matches!(
            parse_pressure(""),
            Err(ParseError::Missing { field: "some", .. })
        ));
        assert!(matches!(
            parse_pressure("some avg10=1.0 avg60=2.0 avg300=3.0\n"),
            Err(ParseError::Missing { field: "total", .. })
        ));
        assert!(matches!(
            parse_pressure("some avg10=x avg60=2.0 avg300=3.0 total=1\n"),
            Err(ParseError::Invalid { field: "avg10", .. })
        ));
        assert!(matches!(
            parse_pressure("some avg10=101 avg60=2.0 avg300=3.0 total=1\n"),
            Err(ParseError::Invalid { field: "avg10", .. })
        ));
        assert!(parse_pressure("half avg10=1 avg60=2 avg300=3 total=1\n").is_err());
    }
}
