//! The replay tally: which route acknowledged each record (from the response's
//! `"route"`), the progress line printed every N records and the final table, and the
//! `--split-tolerance` check.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::str::FromStr;

/// The acknowledgement ingest sends (docs/design.md §4):
/// `{"accepted":n,"duplicates":m,"route":"a"}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Ack {
    /// Rows newly stored by this request.
    pub accepted: u64,
    /// Rows whose `sample_id` was already stored.
    pub duplicates: u64,
    /// The route (`a`/`b`) that stored them.
    pub route: String,
}

/// Route name used when a 2xx answer carries no readable `"route"`.
pub const UNKNOWN_ROUTE: &str = "?";

/// Counts for one route.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RouteCount {
    /// Records this route acknowledged.
    pub acked: u64,
    /// Rows it reported as newly stored.
    pub accepted: u64,
    /// Rows it reported as duplicates.
    pub duplicates: u64,
}

/// Everything a replay counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Per route, in name order.
    pub routes: BTreeMap<String, RouteCount>,
    /// Records refused with a 4xx (never retried).
    pub rejected: u64,
    /// Records given up after too many failed attempts.
    pub gave_up: u64,
    /// Attempts answered 503/429 and retried after `Retry-After`.
    pub retried_busy: u64,
    /// Attempts that failed otherwise (connection error, timeout, other 5xx) and were
    /// retried.
    pub retried_error: u64,
}

impl Tally {
    /// Records one acknowledgement.
    pub fn ack(&mut self, ack: &Ack) {
        let c = self.routes.entry(ack.route.clone()).or_default();
        c.acked += 1;
        c.accepted += ack.accepted;
        c.duplicates += ack.duplicates;
    }

    /// Records acknowledged, all routes together.
    pub fn acked(&self) -> u64 {
        self.routes.values().map(|c| c.acked).sum()
    }

    /// Duplicates reported, all routes together.
    pub fn duplicates(&self) -> u64 {
        self.routes.values().map(|c| c.duplicates).sum()
    }

    /// `sent 1000/2000 | a 501 (50.1%) | b 499 (49.9%)`; without a total (`--loop`)
    /// `sent 1000 | ...`.
    pub fn progress_line(&self, total: Option<usize>) -> String {
        let acked = self.acked();
        let mut line = match total {
            Some(t) => format!("sent {acked}/{t}"),
            None => format!("sent {acked}"),
        };
        for (route, c) in &self.routes {
            let _ = write!(line, " | {route} {} ({})", c.acked, percent(c.acked, acked));
        }
        line
    }

    /// The final table, one row per route and a total.
    pub fn table(&self) -> String {
        let acked = self.acked();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<8} {:>10} {:>8} {:>10} {:>10}",
            "route", "records", "share", "accepted", "duplicates"
        );
        for (route, c) in &self.routes {
            let _ = writeln!(
                out,
                "{:<8} {:>10} {:>8} {:>10} {:>10}",
                route,
                c.acked,
                percent(c.acked, acked),
                c.accepted,
                c.duplicates
            );
        }
        let _ = writeln!(
            out,
            "{:<8} {:>10} {:>8} {:>10} {:>10}",
            "total",
            acked,
            if acked > 0 { "100.0%" } else { "-" },
            self.routes.values().map(|c| c.accepted).sum::<u64>(),
            self.duplicates()
        );
        let _ = write!(
            out,
            "rejected {} | gave up {} | retried after 503/429 {} | retried after errors {}",
            self.rejected, self.gave_up, self.retried_busy, self.retried_error
        );
        out
    }

    /// Checks that each of `expected` routes took an even share of the acknowledged
    /// records, within `tolerance` percentage points, and that no other route took any.
    pub fn check_split(&self, expected: &[String], tolerance: Tolerance) -> Result<(), SplitError> {
        let acked = self.acked();
        if acked == 0 {
            return Err(SplitError("no record was acknowledged".into()));
        }
        if expected.is_empty() {
            return Err(SplitError("no expected route given (--routes)".into()));
        }
        let fair = 100.0 / expected.len() as f64;
        let mut problems = Vec::new();
        for route in expected {
            let got = self.routes.get(route).map_or(0, |c| c.acked);
            let share = 100.0 * got as f64 / acked as f64;
            if (share - fair).abs() > tolerance.0 + 1e-9 {
                problems.push(format!(
                    "route {route} took {share:.1}% (expected {fair:.1}% ± {}%)",
                    tolerance.0
                ));
            }
        }
        for (route, c) in &self.routes {
            if !expected.contains(route) && c.acked > 0 {
                problems.push(format!("unexpected route {route} took {} records", c.acked));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(SplitError(problems.join("; ")))
        }
    }
}

/// `12.3%` of `part` in `whole`, `-` when `whole` is 0.
fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.1}%", 100.0 * part as f64 / whole as f64)
    }
}

/// The split was off.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("route split outside tolerance: {0}")]
pub struct SplitError(pub String);

/// `--split-tolerance`: allowed deviation from an even split, in percentage points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance(pub f64);

impl FromStr for Tolerance {
    type Err = String;

    /// `2%` or `2` (percentage points), within 0..=100.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let n = s.trim().strip_suffix('%').unwrap_or(s.trim());
        match n.parse::<f64>() {
            Ok(v) if v.is_finite() && (0.0..=100.0).contains(&v) => Ok(Tolerance(v)),
            _ => Err(format!(
                "{s:?} is not a tolerance: expected percentage points such as 2% or 0.5"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ack(route: &str, dup: u64) -> Ack {
        Ack {
            accepted: 1 - dup,
            duplicates: dup,
            route: route.into(),
        }
    }

    fn tally(a: u64, b: u64) -> Tally {
        let mut t = Tally::default();
        for _ in 0..a {
            t.ack(&ack("a", 0));
        }
        for _ in 0..b {
            t.ack(&ack("b", 0));
        }
        t
    }

    #[test]
    fn progress_line_matches_the_issue() {
        assert_eq!(
            tally(501, 499).progress_line(Some(2000)),
            "sent 1000/2000 | a 501 (50.1%) | b 499 (49.9%)"
        );
        assert_eq!(tally(1, 0).progress_line(None), "sent 1 | a 1 (100.0%)");
        assert_eq!(Tally::default().progress_line(Some(5)), "sent 0/5");
    }

    #[test]
    fn table_has_rows_total_and_counters() {
        let mut t = tally(3, 1);
        t.ack(&ack("b", 1));
        t.rejected = 2;
        t.retried_busy = 4;
        let table = t.table();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 5, "{table}");
        assert!(lines[0].starts_with("route"));
        let cols = |l: &str| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(cols(lines[1]), ["a", "3", "60.0%", "3", "0"]);
        assert_eq!(cols(lines[2]), ["b", "2", "40.0%", "1", "1"]);
        assert_eq!(cols(lines[3]), ["total", "5", "100.0%", "4", "1"]);
        assert!(lines[4].contains("rejected 2"));
        assert!(lines[4].contains("503/429 4"));
    }

    #[test]
    fn split_within_and_outside_tolerance() {
        let routes = vec!["a".to_owned(), "b".to_owned()];
        let two = Tolerance(2.0);
        assert!(tally(501, 499).check_split(&routes, two).is_ok());
        assert!(tally(520, 480).check_split(&routes, two).is_ok());
        let e = tally(530, 470).check_split(&routes, two).unwrap_err();
        assert!(e.to_string().contains("route a took 53.0%"), "{e}");
        let e = tally(10, 0).check_split(&routes, two).unwrap_err();
        assert!(e.to_string().contains("route b took 0.0%"), "{e}");
        assert!(Tally::default().check_split(&routes, two).is_err());
        let mut t = tally(5, 5);
        t.ack(&ack(UNKNOWN_ROUTE, 0));
        let e = t.check_split(&routes, Tolerance(50.0)).unwrap_err();
        assert!(e.to_string().contains("unexpected route ?"), "{e}");
    }

    #[test]
    fn tolerance_parses_percent() {
        assert_eq!("2%".parse::<Tolerance>(), Ok(Tolerance(2.0)));
        assert_eq!("0.5".parse::<Tolerance>(), Ok(Tolerance(0.5)));
        assert!("-1%".parse::<Tolerance>().is_err());
        assert!("two".parse::<Tolerance>().is_err());
        assert!("101".parse::<Tolerance>().is_err());
    }

    #[test]
    fn ack_decodes_the_spec_shape() {
        let a: Ack = serde_json::from_str(r#"{"accepted":1,"duplicates":0,"route":"b"}"#).unwrap();
        assert_eq!(a, ack("b", 0));
    }
}
