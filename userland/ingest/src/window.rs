//! Query parameters of `GET /api/v1/averages`: `window=5m` and `host=`.

use std::time::Duration;

/// Window when none is given.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(300);
/// Longest window: a day (the query scans the `(host, collected_at)` index range).
pub const MAX_WINDOW: Duration = Duration::from_secs(86_400);

/// Parses `30s`, `5m`, `2h`, `1d` (a positive integer and one unit) up to [`MAX_WINDOW`].
pub fn parse_window(s: &str) -> Result<Duration, String> {
    let err =
        || format!("window must be a number followed by s, m, h or d (at most 1d), got {s:?}");
    // Split off the last *character* (not byte): a multi-byte last character must be an
    // error, not a panic on a non-boundary index.
    let unit_at = s
        .char_indices()
        .next_back()
        .map(|(i, _)| i)
        .ok_or_else(err)?;
    let (num, unit) = s.split_at(unit_at);
    // `u64::from_str` accepts a leading `+`; docs/design.md §4's form is digits only.
    if !num.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err());
    }
    let n: u64 = num.parse().map_err(|_| err())?;
    let secs = match unit {
        "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        "d" => n.checked_mul(86_400),
        _ => None,
    }
    .ok_or_else(err)?;
    let d = Duration::from_secs(secs);
    if d.is_zero() || d > MAX_WINDOW {
        return Err(err());
    }
    Ok(d)
}

/// The host rule of docs/design.md §3: 1–64 chars of `[A-Za-z0-9._-]`.
pub use procpulse_model::validate::valid_host;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_multi_byte_last_character_is_an_error_not_a_panic() {
        for s in ["é", "1é", "%C3%A9", "\u{1F600}", "5\u{0301}", "m", ""] {
            assert!(parse_window(s).is_err(), "{s:?}");
        }
        assert!(parse_window("+5m").is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]
        /// Total: any string is a window or an error, never a panic; a window is within
        /// (0, 1d]; and host validation is total too.
        #[test]
        fn parse_window_and_valid_host_are_total(s in any::<String>()) {
            if let Ok(d) = parse_window(&s) {
                prop_assert!(!d.is_zero() && d <= MAX_WINDOW);
            }
            let _ = valid_host(&s);
        }

        #[test]
        fn number_unit_strings_parse_exactly(n in 0u64..200_000, unit in "[smhdé]") {
            let r = parse_window(&format!("{n}{unit}"));
            let mult = match unit.as_str() { "s" => 1, "m" => 60, "h" => 3600, "d" => 86_400, _ => 0 };
            let want = n.checked_mul(mult).filter(|&s| s > 0 && s <= MAX_WINDOW.as_secs());
            prop_assert_eq!(r.ok(), want.map(Duration::from_secs));
        }
    }

    #[test]
    fn windows() {
        assert_eq!(parse_window("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_window("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_window("1d"), Ok(MAX_WINDOW));
        for bad in [
            "",
            "m",
            "0m",
            "5",
            "5x",
            "-5m",
            "2d",
            "99999999999999999999h",
            "5 m",
        ] {
            assert!(parse_window(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hosts() {
        assert!(valid_host("vm-1.example_2"));
        assert!(!valid_host(""));
        assert!(!valid_host("a b"));
        assert!(!valid_host(&"x".repeat(65)));
    }
}
