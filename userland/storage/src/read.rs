//! Ingest's read queries: rows per host and per route (`GET /api/v1/stats`) and CPU/RAM
//! averages per host over a window (`GET /api/v1/averages`). Each is one grouped query
//! per backend, served by the indexes on `(host, collected_at)`.

use crate::error::StorageError;
use crate::row::{
    LenientTime, MAX_READABLE_TIME, MIN_READABLE_TIME, from_db_time, readable_time, to_db_time,
};
use crate::schema::samples::dsl;
use crate::{Database, with_conn};
use diesel::dsl::{avg, count_star, max, min};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde::Serialize;
use time::{OffsetDateTime, PrimitiveDateTime};

/// Rows stored for one host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostStats {
    /// Host name.
    pub host: String,
    /// Rows stored.
    pub rows: i64,
    /// Oldest `collected_at`.
    #[serde(with = "time::serde::rfc3339")]
    pub first_collected_at: OffsetDateTime,
    /// Newest `collected_at`.
    #[serde(with = "time::serde::rfc3339")]
    pub last_collected_at: OffsetDateTime,
}

/// Rows stored by one ingest route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteStats {
    /// Route label (`a`, `b`).
    pub route: String,
    /// Rows stored.
    pub rows: i64,
}

/// The whole table at a glance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// All rows.
    pub total_rows: i64,
    /// Per host, sorted by host.
    pub hosts: Vec<HostStats>,
    /// Per route, sorted by route.
    pub routes: Vec<RouteStats>,
}

/// Averages of one host over a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostAverages {
    /// Host name.
    pub host: String,
    /// Samples in the window.
    pub samples: i64,
    /// Mean CPU busy share, percent.
    pub cpu_usage_percent: f64,
    /// Mean 1-minute load average.
    pub load1: f64,
    /// Mean RAM used share, percent.
    pub ram_used_percent: f64,
}

type HostRow = (String, i64, Option<LenientTime>, Option<LenientTime>);
type AvgRow = (String, i64, Option<f64>, Option<f64>, Option<f64>);

/// Rows per host (with first/last `collected_at`) and per route.
///
/// A row whose `collected_at` no read can render (outside
/// [`MIN_READABLE_TIME`]..=[`MAX_READABLE_TIME`]: never written by a validated ingest,
/// but possible in a table written by other means) is counted in `total_rows` and its
/// route, and left out of the per-host figures, with a warning — it never fails the
/// request.
pub async fn stats(db: &Database) -> Result<Stats, StorageError> {
    let (hosts, routes): (Vec<HostRow>, Vec<(String, i64)>) = with_conn!(db.read_pool(), c => {
        let hosts = dsl::samples
            .filter(dsl::collected_at.between(MIN_READABLE_TIME, MAX_READABLE_TIME))
            .group_by(dsl::host)
            .order(dsl::host)
            .select((
                dsl::host,
                count_star(),
                min(dsl::collected_at),
                max(dsl::collected_at),
            ))
            .load::<HostRow>(c)
            .await?;
        let routes = dsl::samples
            .group_by(dsl::route)
            .select((dsl::route, count_star()))
            .order(dsl::route)
            .load::<(String, i64)>(c)
            .await?;
        Ok::<_, StorageError>((hosts, routes))
    })?;
    let mut out = Vec::with_capacity(hosts.len());
    for (host, rows, first, last) in hosts {
        let (Some(first), Some(last)) = (first, last) else {
            continue;
        };
        let (first, last) = (
            PrimitiveDateTime::from(first),
            PrimitiveDateTime::from(last),
        );
        if readable_time(first) && readable_time(last) {
            out.push(HostStats {
                host,
                rows,
                first_collected_at: from_db_time(first),
                last_collected_at: from_db_time(last),
            });
        } else if let Some(h) = host_stats_row_by_row(db, &host).await? {
            // Text that is no date (SQLite stores any) sorted first or last.
            tracing::warn!(%host, "Stats skip stored collected_at values that do not decode");
            out.push(h);
        }
    }
    let hosts = out;
    let routes: Vec<RouteStats> = routes
        .into_iter()
        .map(|(route, rows)| RouteStats { route, rows })
        .collect();
    let total_rows = routes.iter().map(|r| r.rows).sum();
    let readable: i64 = hosts.iter().map(|h| h.rows).sum();
    if readable != total_rows {
        tracing::warn!(
            skipped = total_rows - readable,
            "Rows with a collected_at no read can render are left out of the per-host stats"
        );
    }
    Ok(Stats {
        total_rows,
        hosts,
        routes,
    })
}

/// One host's stats from its rows' `collected_at` one by one, leaving out those that do
/// not decode: the slow path of [`stats`], taken only when a host's first or last value
/// does not decode (never for a table written by ingest).
async fn host_stats_row_by_row(
    db: &Database,
    host: &str,
) -> Result<Option<HostStats>, StorageError> {
    let host_owned = host.to_owned();
    let times: Vec<LenientTime> = with_conn!(db.read_pool(), c => {
        Ok::<_, StorageError>(dsl::samples
            .filter(dsl::host.eq(host_owned.clone()))
            .filter(dsl::collected_at.between(MIN_READABLE_TIME, MAX_READABLE_TIME))
            .select(dsl::collected_at)
            .load::<LenientTime>(c)
            .await?)
    })?;
    let good: Vec<PrimitiveDateTime> = times
        .into_iter()
        .map(PrimitiveDateTime::from)
        .filter(|t| readable_time(*t))
        .collect();
    let (Some(first), Some(last)) = (good.iter().min(), good.iter().max()) else {
        return Ok(None);
    };
    Ok(Some(HostStats {
        host: host.to_owned(),
        rows: i64::try_from(good.len()).unwrap_or(i64::MAX),
        first_collected_at: from_db_time(*first),
        last_collected_at: from_db_time(*last),
    }))
}

/// Averages per host of the samples collected in `[since, ∞)`, optionally for one host.
pub async fn averages(
    db: &Database,
    since: OffsetDateTime,
    host: Option<&str>,
) -> Result<Vec<HostAverages>, StorageError> {
    let since = to_db_time(since);
    let rows: Vec<AvgRow> = with_conn!(db.read_pool(), c => {
        let mut q = dsl::samples
            .filter(dsl::collected_at.ge(since))
            .group_by(dsl::host)
            .select((
                dsl::host,
                count_star(),
                avg(dsl::cpu_usage_percent),
                avg(dsl::load1),
                avg(dsl::ram_used_percent),
            ))
            .order(dsl::host)
            .into_boxed();
        if let Some(h) = host {
            q = q.filter(dsl::host.eq(h.to_owned()));
        }
        Ok::<_, StorageError>(q.load::<AvgRow>(c).await?)
    })?;
    Ok(rows
        .into_iter()
        .map(|(host, samples, cpu, load1, ram)| HostAverages {
            host,
            samples,
            cpu_usage_percent: cpu.unwrap_or(0.0),
            load1: load1.unwrap_or(0.0),
            ram_used_percent: ram.unwrap_or(0.0),
        })
        .collect())
}
