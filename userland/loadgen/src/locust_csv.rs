//! Locust-compatible CSV (`--csv PREFIX`): `PREFIX_stats.csv` (one row per request type
//! and name, then `Aggregated`; rewritten every second and at the end) and
//! `PREFIX_stats_history.csv` (one `Aggregated` row appended every second), with Locust
//! 2.x's headers and semantics, so tools that read Locust's files read ours.
//!
//! Semantics copied from Locust's `stats.py` (2.47): response times in milliseconds as
//! floats; percentiles and the median from a histogram rounded to ~2 significant digits
//! (the median clamped to min/max); `Request Count` includes failures; `Requests/s` is
//! the count over (last request − start of the stats); the history's `Requests/s` is the
//! mean of the per-second counts from 12 to 2 seconds before the last request. Numbers
//! are printed as Python prints them (`12.0`, not `12`). Not written: Locust's
//! `_failures.csv`/`_exceptions.csv` and `--csv-full-history`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often Locust writes its CSV files (`CSV_STATS_INTERVAL_SEC`).
pub const INTERVAL: Duration = Duration::from_secs(1);

/// Locust's `PERCENTILES_TO_REPORT`, as its column names.
const PERCENTILES: [(f64, &str); 11] = [
    (0.50, "50%"),
    (0.66, "66%"),
    (0.75, "75%"),
    (0.80, "80%"),
    (0.90, "90%"),
    (0.95, "95%"),
    (0.98, "98%"),
    (0.99, "99%"),
    (0.999, "99.9%"),
    (0.9999, "99.99%"),
    (1.0, "100%"),
];

/// The header of `_stats.csv`.
pub fn stats_header() -> String {
    let mut cols = vec![
        "Type",
        "Name",
        "Request Count",
        "Failure Count",
        "Median Response Time",
        "Average Response Time",
        "Min Response Time",
        "Max Response Time",
        "Average Content Size",
        "Requests/s",
        "Failures/s",
    ];
    cols.extend(PERCENTILES.iter().map(|p| p.1));
    csv_line(cols.iter().map(|c| c.to_string()))
}

/// The header of `_stats_history.csv`.
pub fn history_header() -> String {
    let mut cols = vec![
        "Timestamp",
        "User Count",
        "Type",
        "Name",
        "Requests/s",
        "Failures/s",
    ];
    cols.extend(PERCENTILES.iter().map(|p| p.1));
    cols.extend([
        "Total Request Count",
        "Total Failure Count",
        "Total Median Response Time",
        "Total Average Response Time",
        "Total Min Response Time",
        "Total Max Response Time",
        "Total Average Content Size",
    ]);
    csv_line(cols.iter().map(|c| c.to_string()))
}

/// A number as Python's `str()` prints it: an int, or a float (always with a `.`).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Num {
    Int(u64),
    Float(f64),
}

impl std::fmt::Display for Num {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Num::Int(n) => write!(f, "{n}"),
            Num::Float(x) => f.write_str(&py_float(x)),
        }
    }
}

/// Python's `repr(float)`: shortest round-trip digits, `.0` on integral values,
/// exponent form below 1e-4 and from 1e16.
fn py_float(x: f64) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "nan".into()
        } else if x > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    let a = x.abs();
    if a != 0.0 && !(1e-4..1e16).contains(&a) {
        let s = format!("{x:e}"); // 1.5e-7
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    let s = format!("{x}");
    if s.contains('.') { s } else { format!("{s}.0") }
}

/// Locust's `bucket_response_time`: ~2 significant digits (Python rounds half to even).
fn bucket(ms: f64) -> u64 {
    let round_to = |step: f64| ((ms / step).round_ties_even() * step) as u64;
    if ms < 100.0 {
        ms.round_ties_even() as u64
    } else if ms < 1000.0 {
        round_to(10.0)
    } else if ms < 10_000.0 {
        round_to(100.0)
    } else {
        round_to(1000.0)
    }
}

/// The counters of one request name (Locust's `StatsEntry`).
#[derive(Debug, Clone, Default)]
struct Entry {
    requests: u64,
    failures: u64,
    total_ms: f64,
    min_ms: Option<f64>,
    max_ms: f64,
    /// Bucketed response time (ms) → count.
    times: BTreeMap<u64, u64>,
    /// Unix second → requests / failures logged in it.
    per_sec: BTreeMap<i64, u64>,
    fail_per_sec: BTreeMap<i64, u64>,
    content_bytes: u64,
}

impl Entry {
    fn log(&mut self, ms: f64, bytes: u64, failed: bool, now: f64) {
        let sec = now.floor() as i64;
        self.requests += 1;
        *self.per_sec.entry(sec).or_default() += 1;
        self.total_ms += ms;
        self.min_ms = Some(self.min_ms.map_or(ms, |m| m.min(ms)));
        self.max_ms = self.max_ms.max(ms);
        *self.times.entry(bucket(ms)).or_default() += 1;
        self.content_bytes += bytes;
        if failed {
            self.failures += 1;
            *self.fail_per_sec.entry(sec).or_default() += 1;
        }
    }

    /// Locust's `calculate_response_time_percentile`.
    fn percentile(&self, percent: f64) -> u64 {
        let wanted = (self.requests as f64 * percent) as u64;
        let mut processed = 0;
        for (&ms, &n) in self.times.iter().rev() {
            processed += n;
            if self.requests - processed <= wanted {
                return ms;
            }
        }
        0
    }

    fn median(&self) -> Num {
        if self.times.is_empty() {
            return Num::Int(0);
        }
        let m = self.percentile(0.5) as f64;
        if m > self.max_ms {
            Num::Float(self.max_ms)
        } else if self.min_ms.is_some_and(|min| m < min) {
            Num::Float(self.min_ms.unwrap_or(0.0))
        } else {
            Num::Int(m as u64)
        }
    }

    /// Request count, failure count, median, average, min, max and average content size:
    /// the columns both CSV files carry, in this order.
    fn summary_fields(&self) -> [String; 7] {
        [
            self.requests.to_string(),
            self.failures.to_string(),
            self.median().to_string(),
            self.avg_ms().to_string(),
            self.min().to_string(),
            self.max().to_string(),
            self.avg_content().to_string(),
        ]
    }

    fn percentile_fields(&self) -> Vec<String> {
        PERCENTILES
            .iter()
            .map(|&(p, _)| {
                if self.requests == 0 {
                    "N/A".to_owned()
                } else {
                    self.percentile(p).to_string()
                }
            })
            .collect()
    }

    fn avg_ms(&self) -> Num {
        Num::Float(if self.requests == 0 {
            0.0
        } else {
            self.total_ms / self.requests as f64
        })
    }

    fn min(&self) -> Num {
        self.min_ms.map_or(Num::Int(0), Num::Float)
    }

    fn max(&self) -> Num {
        if self.requests == 0 {
            Num::Int(0)
        } else {
            Num::Float(self.max_ms)
        }
    }

    fn avg_content(&self) -> Num {
        if self.requests == 0 {
            Num::Int(0)
        } else {
            Num::Float(self.content_bytes as f64 / self.requests as f64)
        }
    }

    /// Locust's `current_rps` / `current_fail_per_sec`.
    fn current(per_sec: &BTreeMap<i64, u64>, start: f64, last: Option<f64>) -> f64 {
        let Some(last) = last else { return 0.0 };
        let last = last.floor() as i64;
        let from = (last - 12).max(start.floor() as i64);
        let to = last - 2;
        if to <= from {
            return 0.0;
        }
        let sum: u64 = (from..to)
            .map(|s| per_sec.get(&s).copied().unwrap_or(0))
            .sum();
        sum as f64 / (to - from) as f64
    }
}

/// One key of the stats: (name, method), Locust's sort order.
type Key = (String, String);

#[derive(Debug, Default)]
struct Inner {
    entries: BTreeMap<Key, Entry>,
    total: Entry,
    last_request: Option<f64>,
    users: usize,
}

/// The stats of one phase, fed by every request the phase makes.
#[derive(Debug)]
pub struct LocustStats {
    start: f64,
    inner: Mutex<Inner>,
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Default for LocustStats {
    fn default() -> Self {
        Self::new()
    }
}

impl LocustStats {
    /// Empty stats starting now.
    pub fn new() -> Self {
        LocustStats {
            start: unix_now(),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Logs one request (failed: connection error, non-2xx, or a body we refused) of
    /// goose user `user` (0-based, in start order).
    pub fn log(
        &self,
        method: &str,
        name: &str,
        elapsed: Duration,
        bytes: u64,
        failed: bool,
        user: usize,
    ) {
        self.log_at(
            method,
            name,
            elapsed.as_secs_f64() * 1000.0,
            bytes,
            failed,
            user,
            unix_now(),
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn log_at(
        &self,
        method: &str,
        name: &str,
        ms: f64,
        bytes: u64,
        failed: bool,
        user: usize,
        now: f64,
    ) {
        let mut inner = self.lock();
        inner
            .entries
            .entry((name.to_owned(), method.to_owned()))
            .or_default()
            .log(ms, bytes, failed, now);
        inner.total.log(ms, bytes, failed, now);
        inner.last_request = Some(inner.last_request.map_or(now, |l| l.max(now)));
        inner.users = inner.users.max(user + 1);
    }

    /// Requests logged so far (failures included).
    pub fn requests(&self) -> u64 {
        self.lock().total.requests
    }

    /// The whole `_stats.csv`.
    pub fn stats_csv(&self) -> String {
        let inner = self.lock();
        let span = inner.last_request.map(|l| l - self.start);
        let per_s = |n: u64| match span {
            Some(s) if s > 0.0 => n as f64 / s,
            _ => 0.0,
        };
        let mut out = stats_header();
        let rows = inner
            .entries
            .iter()
            .map(|((name, method), e)| (method.as_str(), name.as_str(), e))
            .chain(std::iter::once(("", "Aggregated", &inner.total)));
        for (method, name, e) in rows {
            let mut cols = vec![method.to_owned(), name.to_owned()];
            cols.extend(e.summary_fields());
            cols.extend([py_float(per_s(e.requests)), py_float(per_s(e.failures))]);
            cols.extend(e.percentile_fields());
            out.push_str(&csv_line(cols));
        }
        out
    }

    /// One `_stats_history.csv` row (Aggregated) as of `now` (unix seconds).
    pub fn history_row(&self, now: f64) -> String {
        let inner = self.lock();
        let e = &inner.total;
        let mut cols = vec![
            (now.floor() as i64).to_string(),
            inner.users.to_string(),
            String::new(),
            "Aggregated".to_owned(),
            format!(
                "{:.6}",
                Entry::current(&e.per_sec, self.start, inner.last_request)
            ),
            format!(
                "{:.6}",
                Entry::current(&e.fail_per_sec, self.start, inner.last_request)
            ),
        ];
        cols.extend(e.percentile_fields());
        cols.extend(e.summary_fields());
        csv_line(cols)
    }
}

/// Python's `csv.writer` (QUOTE_MINIMAL, `\r\n` line ends).
fn csv_line(cols: impl IntoIterator<Item = String>) -> String {
    let mut line = String::new();
    for (i, c) in cols.into_iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        if c.contains([',', '"', '\r', '\n']) {
            let _ = write!(line, "\"{}\"", c.replace('"', "\"\""));
        } else {
            line.push_str(&c);
        }
    }
    line.push_str("\r\n");
    line
}

/// The two files of one `--csv PREFIX`.
#[derive(Debug)]
pub struct CsvFiles {
    stats: PathBuf,
    history: Mutex<File>,
}

impl CsvFiles {
    /// Creates `PREFIX_stats.csv` and `PREFIX_stats_history.csv` with their headers.
    pub fn create(prefix: &str) -> std::io::Result<(CsvFiles, [PathBuf; 2])> {
        let stats = PathBuf::from(format!("{prefix}_stats.csv"));
        let history_path = PathBuf::from(format!("{prefix}_stats_history.csv"));
        std::fs::write(&stats, stats_header()).map_err(|e| named(e, &stats))?;
        let mut history = File::create(&history_path).map_err(|e| named(e, &history_path))?;
        history
            .write_all(history_header().as_bytes())
            .map_err(|e| named(e, &history_path))?;
        Ok((
            CsvFiles {
                stats: stats.clone(),
                history: Mutex::new(history),
            },
            [stats, history_path],
        ))
    }

    /// Appends a history row and rewrites the stats file (Locust does both every second).
    pub fn write(&self, stats: &LocustStats) -> std::io::Result<()> {
        let row = stats.history_row(unix_now());
        self.history
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .write_all(row.as_bytes())?;
        let tmp = self.stats.with_extension("csv.tmp");
        std::fs::write(&tmp, stats.stats_csv())?;
        std::fs::rename(&tmp, &self.stats)
    }
}

fn named(e: std::io::Error, path: &std::path::Path) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_number_forms() {
        assert_eq!(py_float(12.0), "12.0");
        assert_eq!(py_float(0.0), "0.0");
        assert_eq!(py_float(2.5), "2.5");
        assert_eq!(py_float(0.00001), "1e-05");
        assert_eq!(py_float(1.5e17), "1.5e+17");
        assert_eq!(Num::Int(7).to_string(), "7");
    }

    #[test]
    fn buckets_like_locust() {
        assert_eq!(bucket(0.4), 0);
        assert_eq!(bucket(2.5), 2); // Python's round() is half-to-even
        assert_eq!(bucket(99.6), 100);
        assert_eq!(bucket(147.0), 150);
        assert_eq!(bucket(3432.0), 3400);
        assert_eq!(bucket(58760.0), 59000);
    }

    #[test]
    fn rows_follow_locust_semantics() {
        let s = LocustStats {
            start: 1000.0,
            inner: Mutex::new(Inner::default()),
        };
        assert!(s.stats_csv().ends_with("\r\n,Aggregated,0,0,0,0.0,0,0,0,0.0,0.0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A\r\n"));
        for (i, ms) in [10.0, 20.0, 30.0, 147.3].into_iter().enumerate() {
            s.log_at("GET", "/a", ms, 100, i == 3, i, 1001.0 + i as f64);
        }
        s.log_at("POST", "/b", 5.0, 10, false, 0, 1005.0);
        let csv = s.stats_csv();
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(lines[0], stats_header().trim_end());
        assert_eq!(
            lines[1],
            "GET,/a,4,1,30,51.825,10.0,147.3,100.0,0.8,0.2,30,30,150,150,150,150,150,150,150,150,150"
        );
        assert!(
            lines[2].starts_with("POST,/b,1,0,5,5.0,5.0,5.0,10.0,0.2,0.0,5,"),
            "{}",
            lines[2]
        );
        assert!(lines[3].starts_with(",Aggregated,5,1,20,"), "{}", lines[3]);
        let row = s.history_row(1006.5);
        assert!(
            row.starts_with("1006,4,,Aggregated,0.666667,0.000000,20,"),
            "{row}"
        );
        assert!(row.ends_with(",5,1,20,42.46,5.0,147.3,82.0\r\n"), "{row}");
    }

    #[test]
    fn quoting_like_python_csv() {
        assert_eq!(
            csv_line(["a,b".into(), "x\"y".into(), "".into()]),
            "\"a,b\",\"x\"\"y\",\r\n"
        );
    }
}
