//! The maintainer's settings, their defaults (defined here once; ingest's flags show
//! them) and the duration syntax of the retention flags (`7d`, `36h`, `90s`, `0`).

use crate::history::Tier;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Default pause between two maintenance passes. Rollups trail the raw rows by settle +
/// interval (about a minute); a longer interval makes fewer, larger fold steps (see
/// BENCHMARKS.md "history" for what a pass costs ingest).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
/// Default settle delay: raw rows are folded only once their `received_at` is this far
/// behind the database's clock, so that every row stamped before the watermark has
/// committed. Ingest stamps `received_at` just before the INSERT, which then waits at
/// most the pool timeout and SQLite's busy timeout (2 s + 5 s by default); the rest of
/// the delay covers the ingest replicas' clock offset from the database's.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(30);
/// Default raw rows one scan of a fold step reads (every rollup column; a step scans at
/// most 20 chunks).
pub const DEFAULT_FOLD_CHUNK_ROWS: usize = 25_000;
/// Default most minute buckets (host × minute) one fold step computes and writes in one
/// transaction: enough for a pass over a large fleet's rows to be one step (10,000 hosts
/// touch ~20,000 minutes in 30 s; a step split in two recomputes each host's current
/// hour twice). About 10 MB of rollup rows are held.
pub const DEFAULT_FOLD_MAX_BUCKETS: usize = 50_000;
/// Default [`MaintainConfig::fold_memory`]: buckets that ended this long before the
/// watermark are forgotten (a row for them later is folded from the database). Rows
/// arrive seconds after they are collected, so a host's current and last two minutes
/// are held: a 10,000-host fleet is ~40,000 minutes and 10,000 hours, ~25 MB.
pub const DEFAULT_FOLD_MEMORY: Duration = Duration::from_secs(180);
/// Default [`MaintainConfig::fold_tap_rows`]. The tap holds the rows of about settle +
/// interval (a minute by default), ~120 bytes each: the limit is reached by a process
/// storing ~17,000 rows/s (~120 MB held; while a step takes them, about twice that
/// briefly).
pub const DEFAULT_FOLD_TAP_ROWS: usize = 1_000_000;
/// Default rows one retention DELETE removes (one short transaction each).
pub const DEFAULT_DELETE_BATCH_ROWS: usize = 500;
/// Default shortest pause between two retention batches, so queued writers get the
/// lock (the pause is also at least [`DELETE_PAUSE_PER_HELD`] times as long as the batch
/// held it).
pub const DEFAULT_DELETE_PAUSE: Duration = Duration::from_millis(5);
/// Default [`MaintainConfig::delete_pause_per_held`]: after each retention batch the
/// maintainer pauses at least this many times as long as the batch held its lock, so
/// deletes take at most 1/(1+9) = 10 % of the time while catching up on a backlog.
/// Chosen by measurement with `examples/retention_lock.rs` (factors 1, 4 and 9 against
/// the inserts' rate): the figures are in the storage README (retention) and
/// BENCHMARKS.md "history", not repeated here where they would go stale.
pub const DELETE_PAUSE_PER_HELD: u32 = 9;
/// Default lease time: a maintainer that dies (kill -9) is replaced within this. It is
/// renewed before every fold step and every few delete batches.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(60);

/// A length of time as the retention and interval flags write it: whole numbers with a
/// unit, largest first (`7d`, `36h`, `1h30m`, `90s`, `250ms`), or `0` (for retention:
/// forever). Units: `d`, `h`, `m`, `s`, `ms`. At most [`HumanDuration::MAX`] (1,000
/// years): instants are computed as now − duration, and the time crate's dates end at
/// ±9999 years. Displays in the same syntax, so clap shows defaults as `7d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    /// The longest duration accepted: 1,000 years of 365 days (`365000d`).
    pub const MAX: Duration = Duration::from_secs(1_000 * 365 * 86_400);
}

impl FromStr for HumanDuration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || {
            format!(
                "expected a duration such as 7d, 36h, 90s, 250ms or 0 (units d, h, m, s, ms), got {s:?}"
            )
        };
        if s == "0" {
            return Ok(HumanDuration(Duration::ZERO));
        }
        let mut total: u64 = 0;
        let mut rest = s;
        if rest.is_empty() {
            return Err(err());
        }
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(err());
            }
            let n: u64 = rest[..digits].parse().map_err(|_| err())?;
            rest = &rest[digits..];
            let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            let millis_per = match &rest[..unit_len] {
                "d" => 86_400_000,
                "h" => 3_600_000,
                "m" => 60_000,
                "s" => 1_000,
                "ms" => 1,
                _ => return Err(err()),
            };
            rest = &rest[unit_len..];
            total = n
                .checked_mul(millis_per)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(err)?;
        }
        let d = Duration::from_millis(total);
        if d > HumanDuration::MAX {
            return Err(format!(
                "{s:?} is too long: at most 1000 years ({})",
                HumanDuration(HumanDuration::MAX)
            ));
        }
        Ok(HumanDuration(d))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX);
        if ms == 0 {
            return f.write_str("0");
        }
        for (unit, per) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1_000),
            ("ms", 1),
        ] {
            if ms >= per {
                write!(f, "{}{unit}", ms / per)?;
                ms %= per;
            }
        }
        Ok(())
    }
}

/// What the maintainer keeps and how it works. Build with [`MaintainConfig::default`]
/// and change what the flags say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintainConfig {
    /// Raw rows kept (by `received_at`); zero = forever.
    pub keep_raw: Duration,
    /// Minute rows kept (by `bucket`); zero = forever.
    pub keep_1m: Duration,
    /// Hour rows kept (by `bucket`); zero = forever.
    pub keep_1h: Duration,
    /// Pause between passes.
    pub interval: Duration,
    /// Rows are folded once received this long ago ([`DEFAULT_SETTLE`]).
    pub settle: Duration,
    /// Raw rows read per scan of a fold step (every rollup column).
    pub fold_chunk_rows: usize,
    /// Minute buckets one fold step recomputes at most (scans stop once this many are
    /// touched): bounds the rows re-read and the step's transaction.
    pub fold_max_buckets: usize,
    /// How long the maintainer remembers the buckets it folded (a running aggregate
    /// each, see `maintain::memory`), so that the next steps extend them instead of
    /// re-reading their rows; zero = never (every touched bucket is recomputed from the
    /// database).
    pub fold_memory: Duration,
    /// Most raw rows the fold tap (`fold_tap`) holds for the next fold step: the
    /// rows this process committed, so that a step whose range the database holds
    /// exactly these rows of takes them from memory instead of reading them back; zero
    /// = off. Over the limit the tap starts over (the steps scan until it covers a
    /// step's range again).
    pub fold_tap_rows: usize,
    /// How long a pass deletes at most (from the pass's start); rows left past their keep
    /// are deleted by the next pass, which starts at once — after a fold step — so that
    /// a large backlog (retention lowered, a long outage) never holds the rollups back
    /// for longer than this. Default: the interval's default (ingest sets its interval).
    pub retention_budget: Duration,
    /// Rows per retention DELETE.
    pub delete_batch_rows: usize,
    /// Shortest pause between retention batches.
    pub delete_pause: Duration,
    /// The pause after a batch is also at least this many times as long as the batch
    /// held its lock ([`DELETE_PAUSE_PER_HELD`]).
    pub delete_pause_per_held: u32,
    /// How long a taken lease lasts unless renewed.
    pub lease_ttl: Duration,
    /// This maintainer's name in `maintenance_lease.holder` (at most 128 bytes).
    pub holder: String,
}

impl Default for MaintainConfig {
    fn default() -> Self {
        MaintainConfig {
            keep_raw: Tier::Raw.default_keep(),
            keep_1m: Tier::Minute.default_keep(),
            keep_1h: Tier::Hour.default_keep(),
            interval: DEFAULT_INTERVAL,
            settle: DEFAULT_SETTLE,
            fold_chunk_rows: DEFAULT_FOLD_CHUNK_ROWS,
            fold_max_buckets: DEFAULT_FOLD_MAX_BUCKETS,
            fold_memory: DEFAULT_FOLD_MEMORY,
            fold_tap_rows: DEFAULT_FOLD_TAP_ROWS,
            retention_budget: DEFAULT_INTERVAL,
            delete_batch_rows: DEFAULT_DELETE_BATCH_ROWS,
            delete_pause: DEFAULT_DELETE_PAUSE,
            delete_pause_per_held: DELETE_PAUSE_PER_HELD,
            lease_ttl: DEFAULT_LEASE_TTL,
            holder: default_holder(),
        }
    }
}

impl MaintainConfig {
    /// How long `tier` is kept (zero = forever).
    pub fn keep(&self, tier: Tier) -> Duration {
        match tier {
            Tier::Raw => self.keep_raw,
            Tier::Minute => self.keep_1m,
            Tier::Hour => self.keep_1h,
        }
    }

    /// How far past a tier's delete cutoff (`history_tiers.deleted_before`) a bucket of
    /// the next tier must start for the maintainer to recompute it: source rows near the
    /// cutoff may already be deleted (raw rows are deleted by `received_at`, buckets are
    /// by `collected_at`), and a recompute from part of them would replace a complete
    /// row with a partial one. One hour, or a quarter of the retention when that is
    /// shorter — but never less than the `collected_at` skew validation allows (a row
    /// may be collected up to `MAX_FUTURE_SKEW`, 5 minutes, after it is received, so a
    /// minute that starts less than that after the cutoff may have lost rows).
    pub fn recompute_margin(keep: Duration) -> Duration {
        let skew = Duration::from_secs(
            procpulse_model::validate::MAX_FUTURE_SKEW
                .whole_seconds()
                .unsigned_abs(),
        );
        (keep / 4).min(Duration::from_secs(3600)).max(skew)
    }
}

/// `host:pid:random`, the default lease holder name.
pub fn default_holder() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    let mut name = format!("{host}:{}:{}", std::process::id(), crate::tag::random_tag());
    name.truncate(128);
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Result<Duration, String> {
        s.parse::<HumanDuration>().map(|h| h.0)
    }

    #[test]
    fn durations_parse_and_print_in_the_flag_syntax() {
        assert_eq!(d("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(d("36h"), Ok(Duration::from_secs(36 * 3600)));
        assert_eq!(d("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(d("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(d("0"), Ok(Duration::ZERO));
        for bad in [
            "",
            "7",
            "d",
            "7x",
            "-1d",
            "1.5h",
            "7d ",
            " 7d",
            "0s0",
            "99999999999999999d",
            "5000000d",
            "365001d",
        ] {
            assert!(d(bad).is_err(), "{bad:?}");
        }
        assert_eq!(d("365000d"), Ok(HumanDuration::MAX));
        assert!(d("5000000d").unwrap_err().contains("at most 1000 years"));
        for (dur, text) in [
            (Duration::from_secs(7 * 86_400), "7d"),
            (Duration::from_secs(36 * 3600), "1d12h"),
            (Duration::from_millis(90_250), "1m30s250ms"),
            (Duration::ZERO, "0"),
        ] {
            assert_eq!(HumanDuration(dur).to_string(), text);
            assert_eq!(d(text), Ok(dur));
        }
    }

    #[test]
    fn defaults_come_from_the_tiers_and_margins_shrink_with_short_retention() {
        let c = MaintainConfig::default();
        assert_eq!(c.keep(Tier::Raw), Tier::Raw.default_keep());
        assert_eq!(c.keep(Tier::Hour), Tier::Hour.default_keep());
        assert!(c.holder.len() <= 128 && c.holder.contains(':'));
        let m = MaintainConfig::recompute_margin;
        assert_eq!(m(Duration::ZERO), Duration::from_secs(300));
        assert_eq!(
            m(Duration::from_secs(7 * 86_400)),
            Duration::from_secs(3600)
        );
        // Short retention: a quarter of it, but not under the 5-minute future skew.
        assert_eq!(m(Duration::from_secs(60)), Duration::from_secs(300));
        assert_eq!(m(Duration::from_secs(1800)), Duration::from_secs(450));
    }
}
