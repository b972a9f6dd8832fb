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
    let unit_at = s.len().checked_sub(1).ok_or_else(err)?;
    let (num, unit) = s.split_at(unit_at);
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

/// SPEC §3's host rule: 1–64 chars of `[A-Za-z0-9._-]`.
pub fn valid_host(h: &str) -> bool {
    (1..=64).contains(&h.len())
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

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
