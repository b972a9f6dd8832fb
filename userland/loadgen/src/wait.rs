//! Durations and wait ranges as operators type them: `500ms`, `1s`, `2m`, `1m30s`, and
//! Locust's `between(a, b)` written `1s..2s`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Why a duration or range did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?}: {reason}")]
pub struct ParseError {
    input: String,
    reason: &'static str,
}

fn err(input: &str, reason: &'static str) -> ParseError {
    ParseError {
        input: input.to_owned(),
        reason,
    }
}

/// Parses `500ms`, `1s`, `2m`, `1h`, combinations in decreasing order (`1m30s`) and a
/// bare number, which means seconds (as goose's and Locust's `--run-time` take it).
pub fn parse_duration(input: &str) -> Result<Duration, ParseError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(err(input, "empty duration"));
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        let secs: u64 = s.parse().map_err(|_| err(input, "number too large"))?;
        return Ok(Duration::from_secs(secs));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    let mut last_rank = u8::MAX;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(err(
                input,
                "expected a number before each unit (e.g. 1m30s)",
            ));
        }
        let n: u64 = rest[..digits]
            .parse()
            .map_err(|_| err(input, "number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, rank) = match &rest[..unit_len] {
            "h" => (Duration::from_secs(3600), 4),
            "m" => (Duration::from_secs(60), 3),
            "s" => (Duration::from_secs(1), 2),
            "ms" => (Duration::from_millis(1), 1),
            "" => return Err(err(input, "a unit (h, m, s, ms) must follow each number")),
            _ => return Err(err(input, "unknown unit (expected h, m, s or ms)")),
        };
        if rank >= last_rank {
            return Err(err(input, "units must come in decreasing order, once each"));
        }
        last_rank = rank;
        let part = unit
            .checked_mul(u32::try_from(n).map_err(|_| err(input, "number too large"))?)
            .ok_or_else(|| err(input, "duration too large"))?;
        total = total
            .checked_add(part)
            .ok_or_else(|| err(input, "duration too large"))?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}

/// Formats a duration the way [`parse_duration`] reads it back (`1m30s`, `250ms`).
pub fn format_duration(d: Duration) -> String {
    if d.is_zero() {
        return "0s".into();
    }
    let ms = d.as_millis();
    if ms % 1000 != 0 {
        return format!("{ms}ms");
    }
    let mut secs = d.as_secs();
    let mut out = String::new();
    for (unit, len) in [("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= len {
            out.push_str(&format!("{}{unit}", secs / len));
            secs %= len;
        }
    }
    out
}

/// How long a user waits after each transaction: uniformly within `min..=max`
/// (Locust's `between(min, max)`, goose's `Scenario::set_wait_time`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitRange {
    /// Shortest wait.
    pub min: Duration,
    /// Longest wait.
    pub max: Duration,
}

impl FromStr for WaitRange {
    type Err = ParseError;

    /// `1s..2s`, or one duration for a constant wait (`0s` for none).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (min, max) = match s.split_once("..") {
            Some((a, b)) => (parse_duration(a)?, parse_duration(b)?),
            None => {
                let d = parse_duration(s)?;
                (d, d)
            }
        };
        if min > max {
            return Err(err(s, "the lower bound is larger than the upper bound"));
        }
        Ok(WaitRange { min, max })
    }
}

impl fmt::Display for WaitRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}..{}",
            format_duration(self.min),
            format_duration(self.max)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_every_unit() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("3m"), Ok(Duration::from_secs(180)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("20"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("1s250ms"), Ok(Duration::from_millis(1250)));
    }

    #[test]
    fn bad_durations_say_why() {
        for bad in ["", "s", "1x", "1s1m", "1s1s", "-1s", "1.5s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} parsed");
        }
        let e = parse_duration("5 parsecs").unwrap_err().to_string();
        assert!(e.contains("5 parsecs"), "{e}");
    }

    #[test]
    fn wait_ranges() {
        let w: WaitRange = "1s..2s".parse().unwrap();
        assert_eq!(
            (w.min, w.max),
            (Duration::from_secs(1), Duration::from_secs(2))
        );
        let w: WaitRange = "0s".parse().unwrap();
        assert_eq!((w.min, w.max), (Duration::ZERO, Duration::ZERO));
        assert!("2s..1s".parse::<WaitRange>().is_err());
        assert!("1s..".parse::<WaitRange>().is_err());
        assert_eq!("1s..4s".parse::<WaitRange>().unwrap().to_string(), "1s..4s");
        assert_eq!(
            "250ms..1m30s".parse::<WaitRange>().unwrap().to_string(),
            "250ms..1m30s"
        );
    }
}
