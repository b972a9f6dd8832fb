//! Times and durations as people type them: in a URL (`from=-24h`, `to=now`,
//! `from=2026-11-23T10:00:00Z`) and in a flag (`--host-ttl 24h`, `--host-ttl 86400`).
//!
//! One grammar for every duration: one or more `<number><unit>` groups with the units
//! `d`, `h`, `m`, `s`, largest first, each at most once (`7d`, `36h`, `1h30m`); a flag
//! also takes a bare number of seconds (`86400`, `0`). A relative time is `-` and such a
//! duration with its unit (`-15m`; `-1` is refused: minutes or seconds?), or `now`.
//! Pure: `now` is passed in.

use std::fmt;
use std::str::FromStr;

use time::{Duration, OffsetDateTime};

/// The units, largest first, with their length in seconds.
const UNITS: [(char, i64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];

/// The longest duration either form accepts (about 100 years): beyond it a value is a
/// typo, and the arithmetic on times stays far from overflow.
pub const MAX_DURATION: Duration = Duration::days(36_525);

/// Parses a duration with units (`7d`, `36h`, `1h30m`, `30s`); with `bare_seconds`, a
/// bare number of seconds too (`86400`, `0`). The error says what was wrong.
pub fn parse_duration(text: &str, bare_seconds: bool) -> Result<Duration, String> {
    if text.is_empty() {
        return Err("empty duration".to_owned());
    }
    let too_long = || format!("{text:?} is longer than {}", Human(MAX_DURATION));
    if text.bytes().all(|b| b.is_ascii_digit()) {
        if !bare_seconds {
            return Err(format!(
                "{text:?} needs a unit: s, m, h or d (e.g. {text}m)"
            ));
        }
        let secs: i64 = text.parse().map_err(|_| too_long())?;
        return Some(Duration::seconds(secs))
            .filter(|d| *d <= MAX_DURATION)
            .ok_or_else(too_long);
    }
    let mut total: i64 = 0;
    let mut rest = text;
    let mut next_unit = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!(
                "{text:?} is not a duration like 15m, 24h, 7d or 1h30m"
            ));
        }
        let n: i64 = rest[..digits].parse().map_err(|_| too_long())?;
        let unit = rest[digits..].chars().next();
        let Some(pos) = UNITS[next_unit..]
            .iter()
            .position(|(u, _)| Some(*u) == unit)
        else {
            return Err(match unit {
                Some(u) if UNITS.iter().any(|(x, _)| *x == u) => {
                    format!("{text:?}: units go largest first, each once (e.g. 1h30m)")
                }
                Some(u) => format!("{text:?}: unknown unit {u:?} (s, m, h or d)"),
                None => format!("{text:?} needs a unit after {n}: s, m, h or d"),
            });
        };
        let (_, secs) = UNITS[next_unit + pos];
        next_unit += pos + 1;
        total = n
            .checked_mul(secs)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(too_long)?;
        rest = &rest[digits + 1..];
    }
    let d = Duration::seconds(total);
    if d > MAX_DURATION {
        return Err(too_long());
    }
    Ok(d)
}

/// Parses `now`, a relative time `-<duration>` (before `now`) or an RFC 3339 time with
/// `T` or `t` between date and time.
pub fn parse_time(text: &str, now: OffsetDateTime) -> Result<OffsetDateTime, String> {
    if text == "now" {
        return Ok(now);
    }
    if let Some(ago) = text.strip_prefix('-') {
        return parse_duration(ago, false)
            .map(|d| now - d)
            .map_err(|e| format!("relative time {text:?}: {e}"));
    }
    procpulse_model::time_text::parse(text).map_err(|e| {
        format!("{e} (give an RFC 3339 time, now, or a relative time like -15m, -24h, -7d)")
    })
}

/// A duration written the way [`parse_duration`] reads it, in its largest exact unit
/// (`24h`, `90m`, `7d`, `0`): `--help` shows defaults this way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Human(pub Duration);

impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.whole_seconds();
        if secs == 0 {
            return f.write_str("0");
        }
        let (unit, len) = UNITS
            .iter()
            .copied()
            .find(|(_, len)| secs % len == 0)
            .unwrap_or(('s', 1));
        write!(f, "{}{unit}", secs / len)
    }
}

impl FromStr for Human {
    type Err = String;

    /// A flag value: units or bare seconds.
    fn from_str(s: &str) -> Result<Self, String> {
        parse_duration(s, true).map(Human)
    }
}

impl Human {
    /// From a `std::time::Duration` (whole seconds).
    pub fn from_std(d: std::time::Duration) -> Human {
        Human(Duration::seconds(d.as_secs().min(i64::MAX as u64) as i64))
    }

    /// As a `std::time::Duration` (never negative).
    pub fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.0.whole_seconds().max(0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn durations_with_units_and_bare_seconds() {
        for (text, secs) in [
            ("30s", 30),
            ("15m", 900),
            ("24h", 86_400),
            ("7d", 604_800),
            ("1h30m", 5_400),
            ("1d2h3m4s", 93_784),
            ("0s", 0),
        ] {
            assert_eq!(
                parse_duration(text, false),
                Ok(Duration::seconds(secs)),
                "{text}"
            );
            assert_eq!(
                parse_duration(text, true),
                Ok(Duration::seconds(secs)),
                "{text}"
            );
        }
        assert_eq!(parse_duration("86400", true), Ok(Duration::days(1)));
        assert_eq!(parse_duration("0", true), Ok(Duration::ZERO));
        for (text, bare, says) in [
            ("", true, "empty"),
            ("10", false, "needs a unit"),
            ("10x", true, "unknown unit 'x'"),
            ("10", false, "10m"),
            ("1m1h", true, "largest first"),
            ("1h1h", true, "largest first"),
            ("h", true, "not a duration"),
            ("1.5h", true, "unknown unit '.'"),
            ("1h30", true, "needs a unit after 30"),
            ("-1h", true, "not a duration"),
            (" 1h", true, "not a duration"),
            ("1h ", true, "not a duration"),
            ("99999999999999999999s", true, "longer than"),
            ("99999999999999999999", true, "longer than"),
            ("36526d", true, "longer than"),
            ("3155760001", true, "longer than"),
            ("9223372036854775807d", true, "longer than"),
        ] {
            let e = parse_duration(text, bare).unwrap_err();
            assert!(e.contains(says), "{text:?}: {e}");
        }
        assert_eq!(parse_duration("36525d", true), Ok(MAX_DURATION));
    }

    #[test]
    fn times_are_now_relative_or_rfc3339() {
        let now = datetime!(2026-11-23 10:00:00 UTC);
        assert_eq!(parse_time("now", now), Ok(now));
        assert_eq!(
            parse_time("-15m", now),
            Ok(datetime!(2026-11-23 09:45:00 UTC))
        );
        assert_eq!(
            parse_time("-7d", now),
            Ok(datetime!(2026-11-16 10:00:00 UTC))
        );
        assert_eq!(
            parse_time("-30s", now),
            Ok(datetime!(2026-11-23 09:59:30 UTC))
        );
        assert_eq!(
            parse_time("2026-11-22t10:00:00+01:00", now),
            Ok(datetime!(2026-11-22 09:00:00 UTC))
        );
        for (text, says) in [
            ("-1", "needs a unit"),
            ("-", "empty duration"),
            ("+1h", "RFC 3339"),
            ("1h", "RFC 3339"),
            ("Now", "RFC 3339"),
            ("yesterday", "relative time like -15m"),
            ("2026-11-23 09:00:00Z", "separated by 'T'"),
            ("--1h", "not a duration"),
        ] {
            let e = parse_time(text, now).unwrap_err();
            assert!(e.contains(says), "{text:?}: {e}");
        }
    }

    #[test]
    fn human_prints_the_largest_exact_unit_and_reads_back() {
        for (d, text) in [
            (Duration::ZERO, "0"),
            (Duration::seconds(45), "45s"),
            (Duration::minutes(90), "90m"),
            (Duration::hours(24), "1d"),
            (Duration::hours(36), "36h"),
            (Duration::days(730), "730d"),
        ] {
            assert_eq!(Human(d).to_string(), text);
            assert_eq!(text.parse::<Human>(), Ok(Human(d)));
        }
        assert_eq!(Human(Duration::hours(2)).to_std().as_secs(), 7_200);
        assert_eq!(
            Human::from_std(std::time::Duration::from_secs(90)),
            Human(Duration::seconds(90))
        );
    }
}
