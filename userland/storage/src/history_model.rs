//! The history data model (issue 15): the tiers, what the database says of each, and a
//! rollup bucket. Kept apart from the queries in [`crate::history`] (which re-exports
//! everything here) so that the fold tap and the rollup arithmetic, which the pool's
//! handle carries, need nothing that reads the database.

use std::str::FromStr;
use std::time::Duration;
use time::OffsetDateTime;

/// One tier of history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    /// Raw rows (`samples`), one per posted snapshot.
    Raw,
    /// One row per host and UTC minute (`rollup_1m`).
    Minute,
    /// One row per host and UTC hour (`rollup_1h`).
    Hour,
}

impl Tier {
    /// Every tier, finest first.
    pub const ALL: [Tier; 3] = [Tier::Raw, Tier::Minute, Tier::Hour];

    /// The name used in `history_tiers.tier` and in the API: `raw`, `1m`, `1h`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Raw => "raw",
            Tier::Minute => "1m",
            Tier::Hour => "1h",
        }
    }

    /// The bucket width of a rollup tier; `None` for raw rows.
    pub fn step(self) -> Option<Duration> {
        match self {
            Tier::Raw => None,
            Tier::Minute => Some(Duration::from_secs(60)),
            Tier::Hour => Some(Duration::from_secs(3600)),
        }
    }

    /// How long the tier is kept unless configured otherwise — the one definition of the
    /// defaults (ingest's flags show them; the migration's rows carry the same values,
    /// checked by a test): raw 7 days, 1m 90 days, 1h 730 days.
    pub fn default_keep(self) -> Duration {
        const DAY: u64 = 86_400;
        Duration::from_secs(match self {
            Tier::Raw => 7 * DAY,
            Tier::Minute => 90 * DAY,
            Tier::Hour => 730 * DAY,
        })
    }
}

impl std::fmt::Display for Tier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Tier {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Tier::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown tier {s:?} (expected raw, 1m or 1h)"))
    }
}

/// A tier as `history_tiers` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierInfo {
    /// Which tier.
    pub tier: Tier,
    /// Seconds its rows are kept; 0 = forever.
    pub keep_seconds: i64,
    /// Raw tier only: raw rows received up to this instant are folded into `rollup_1m`
    /// (None: nothing folded yet, or not the raw tier).
    pub rolled_up_to: Option<OffsetDateTime>,
}

impl TierInfo {
    /// How long rows are kept; `None` = forever.
    pub fn keep(&self) -> Option<Duration> {
        u64::try_from(self.keep_seconds)
            .ok()
            .filter(|s| *s > 0)
            .map(Duration::from_secs)
    }

    /// The oldest instant the tier still covers at `now`; `None` = forever (also for a
    /// keep so long that now − keep is no date, which no flag writes but anyone may
    /// store in `history_tiers`).
    pub fn oldest_kept(&self, now: OffsetDateTime) -> Option<OffsetDateTime> {
        self.keep().and_then(|k| checked_before(now, k))
    }
}

/// `now − d`, or `None` when that is no date the time crate can hold (years beyond
/// ±9999): callers read `None` as "no bound" rather than panic on a huge duration.
pub fn checked_before(now: OffsetDateTime, d: Duration) -> Option<OffsetDateTime> {
    time::Duration::try_from(d)
        .ok()
        .and_then(|d| now.checked_sub(d))
}

/// Minimum, mean and maximum of one metric over a bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MinAvgMax {
    /// Lowest value.
    pub min: f64,
    /// Mean value (for merged buckets: weighted by their sample counts).
    pub avg: f64,
    /// Highest value.
    pub max: f64,
}

/// One row of `rollup_1m` or `rollup_1h`.
#[derive(Debug, Clone, PartialEq)]
pub struct RollupRow {
    /// Host name.
    pub host: String,
    /// UTC start of the minute or hour (by `collected_at`).
    pub bucket: OffsetDateTime,
    /// Raw rows the bucket summarises.
    pub samples: i64,
    /// `cpu_usage_percent`.
    pub cpu: MinAvgMax,
    /// `ram_used_percent`.
    pub ram: MinAvgMax,
    /// Swap used % = (swap_total − swap_free) / swap_total × 100 over the rows with
    /// swap_total > 0; `None` when no row of the bucket had swap.
    pub swap: Option<MinAvgMax>,
    /// 1-minute load average.
    pub load1: MinAvgMax,
    /// Highest zombie count.
    pub zombies_max: i64,
    /// Highest D-state (disk sleep) count.
    pub disk_sleep_max: i64,
    /// Online CPUs of the newest row of the bucket.
    pub cpu_cores: i32,
    /// `kmod` or `procfs`, of the newest row of the bucket.
    pub source: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_name_step_and_parse_back() {
        for t in Tier::ALL {
            assert_eq!(t.as_str().parse::<Tier>(), Ok(t));
        }
        assert_eq!(Tier::Raw.step(), None);
        assert_eq!(Tier::Minute.step(), Some(Duration::from_secs(60)));
        assert_eq!(Tier::Hour.step(), Some(Duration::from_secs(3600)));
        assert!("5m".parse::<Tier>().is_err());
        assert!(Tier::Raw < Tier::Minute && Tier::Minute < Tier::Hour);
    }

    #[test]
    fn keep_zero_is_forever() {
        let info = |keep_seconds| TierInfo {
            tier: Tier::Raw,
            keep_seconds,
            rolled_up_to: None,
        };
        assert_eq!(info(0).keep(), None);
        assert_eq!(info(60).keep(), Some(Duration::from_secs(60)));
        let now = OffsetDateTime::now_utc();
        assert_eq!(info(0).oldest_kept(now), None);
        assert_eq!(
            info(60).oldest_kept(now),
            Some(now - Duration::from_secs(60))
        );
    }
}
