//! Times as people type them in a URL: `from=-24h`, `to=now`,
//! `from=2026-11-23T10:00:00Z`.
//!
//! A relative time is `-` and a duration in the one grammar of every procpulse duration
//! ([`HumanDuration`], what ingest's `--retention` and this binary's `--host-ttl` read:
//! whole numbers with a unit `d h m s ms`, e.g. `-15m`, `-7d`, `-1h30m`; a bare number
//! other than `0` is refused: minutes or seconds?). Pure: `now` is passed in.

use procpulse_storage::maintain::HumanDuration;
use time::OffsetDateTime;

/// Parses `now`, a relative time `-<duration>` (before `now`) or an RFC 3339 time with
/// `T` or `t` between date and time.
pub fn parse_time(text: &str, now: OffsetDateTime) -> Result<OffsetDateTime, String> {
    if text == "now" {
        return Ok(now);
    }
    if let Some(ago) = text.strip_prefix('-') {
        let HumanDuration(d) = ago
            .parse()
            .map_err(|e| format!("relative time {text:?}: {e}"))?;
        return time::Duration::try_from(d)
            .ok()
            .and_then(|d| now.checked_sub(d))
            .filter(|t| t.year() >= 1)
            .ok_or_else(|| format!("relative time {text:?} reaches before year 1"));
    }
    procpulse_model::time_text::parse(text).map_err(|e| {
        format!("{e} (give an RFC 3339 time, now, or a relative time like -15m, -24h, -7d)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn times_are_now_relative_or_rfc3339() {
        let now = datetime!(2026-11-23 10:00:00 UTC);
        assert_eq!(parse_time("now", now), Ok(now));
        for (text, want) in [
            ("-15m", datetime!(2026-11-23 09:45:00 UTC)),
            ("-7d", datetime!(2026-11-16 10:00:00 UTC)),
            ("-30s", datetime!(2026-11-23 09:59:30 UTC)),
            ("-1h30m", datetime!(2026-11-23 08:30:00 UTC)),
            ("-0", now),
            ("-1500ms", datetime!(2026-11-23 09:59:58.5 UTC)),
            (
                "2026-11-22t10:00:00+01:00",
                datetime!(2026-11-22 09:00:00 UTC),
            ),
        ] {
            assert_eq!(parse_time(text, now), Ok(want), "{text}");
        }
        for (text, says) in [
            ("-1", "units d, h, m, s, ms"),
            ("-", "relative time \"-\""),
            ("-15x", "got \"15x\""),
            ("-99999999999999999999d", "got"),
            // Refused either as too long for a duration or as reaching before year 1.
            ("-999999999d", "relative time \"-999999999d\""),
            ("+1h", "RFC 3339"),
            ("1h", "RFC 3339"),
            ("Now", "RFC 3339"),
            ("yesterday", "relative time like -15m"),
            ("2026-11-23 09:00:00Z", "separated by 'T'"),
            ("--1h", "relative time"),
        ] {
            let e = parse_time(text, now).unwrap_err();
            assert!(e.contains(says), "{text:?}: {e}");
        }
        // A valid duration reaching before year 1 is refused, not a panic.
        let early = datetime!(0100-01-01 00:00:00 UTC);
        let e = parse_time("-36600d", early).unwrap_err();
        assert!(e.contains("before year 1"), "{e}");
        assert_eq!(
            parse_time("-1d", early),
            Ok(datetime!(0099-12-31 00:00:00 UTC))
        );
    }
}
