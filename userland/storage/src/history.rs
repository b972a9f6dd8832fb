//! History tiers and the read API over them (issue 15).
//!
//! Three tiers of the same metrics: `raw` (the `samples` table), `1m` (`rollup_1m`: one
//! row per host and UTC minute) and `1h` (`rollup_1h`: per host and UTC hour). Each is
//! kept for its own time (`history_tiers.keep_seconds`, 0 = forever), written by the
//! maintainer ([`crate::maintain`]) from ingest's flags; readers (the broadcaster) choose
//! a tier with [`tiers`] and read it with [`rollups`] and [`rollup_hosts`].
//!
//! Every read here is bounded by its `limit` and served by a primary key or index:
//! `(host, bucket)` for the rollup tables, `(host, collected_at)` for raw rows.

use crate::error::StorageError;
use crate::row::{from_db_time, to_db_time};
use crate::schema::history_tiers;
use crate::{Database, with_conn};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use time::{OffsetDateTime, PrimitiveDateTime};

pub use crate::history_model::{MinAvgMax, RollupRow, Tier, TierInfo, checked_before};

/// The columns of a rollup table in table order, as Diesel reads them.
pub(crate) type RollupRecord = (
    String,
    PrimitiveDateTime,
    i32,
    f64,
    f64,
    f64,
    f64,
    f64,
    f64,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    f64,
    f64,
    f64,
    i64,
    i64,
    i32,
    String,
);

impl RollupRow {
    /// A row as read from a rollup table. A half-NULL swap triple (never written) reads
    /// as no swap.
    pub(crate) fn from_record(r: RollupRecord) -> RollupRow {
        let m = |min, avg, max| MinAvgMax { min, avg, max };
        let swap = match (r.9, r.10, r.11) {
            (Some(min), Some(avg), Some(max)) => Some(m(min, avg, max)),
            _ => None,
        };
        RollupRow {
            host: r.0,
            bucket: from_db_time(r.1),
            samples: i64::from(r.2),
            cpu: m(r.3, r.4, r.5),
            ram: m(r.6, r.7, r.8),
            swap,
            load1: m(r.12, r.13, r.14),
            zombies_max: r.15,
            disk_sleep_max: r.16,
            cpu_cores: r.17,
            source: r.18,
        }
    }

    /// The row as stored (bucket truncated to milliseconds like every stored time;
    /// samples saturate at `i32::MAX`).
    pub(crate) fn to_record(&self) -> RollupRecord {
        let swap = self.swap;
        (
            self.host.clone(),
            to_db_time(self.bucket),
            i32::try_from(self.samples).unwrap_or(i32::MAX),
            self.cpu.min,
            self.cpu.avg,
            self.cpu.max,
            self.ram.min,
            self.ram.avg,
            self.ram.max,
            swap.map(|s| s.min),
            swap.map(|s| s.avg),
            swap.map(|s| s.max),
            self.load1.min,
            self.load1.avg,
            self.load1.max,
            self.zombies_max,
            self.disk_sleep_max,
            self.cpu_cores,
            self.source.clone(),
        )
    }
}

/// Runs `$body` with `$t` naming the schema module of `$tier`'s rollup table
/// (`rollup_1m` or `rollup_1h`), or evaluates `$raw` for [`Tier::Raw`].
macro_rules! on_rollup_table {
    ($tier:expr, $t:ident => $body:expr, raw => $raw:expr) => {
        match $tier {
            $crate::history::Tier::Minute => {
                use $crate::schema::rollup_1m as $t;
                $body
            }
            $crate::history::Tier::Hour => {
                use $crate::schema::rollup_1h as $t;
                $body
            }
            $crate::history::Tier::Raw => $raw,
        }
    };
}

/// The columns of rollup table `$t` in [`RollupRecord`] order.
macro_rules! rollup_columns {
    ($t:ident) => {
        (
            $t::host,
            $t::bucket,
            $t::samples,
            $t::cpu_min,
            $t::cpu_avg,
            $t::cpu_max,
            $t::ram_min,
            $t::ram_avg,
            $t::ram_max,
            $t::swap_min,
            $t::swap_avg,
            $t::swap_max,
            $t::load1_min,
            $t::load1_avg,
            $t::load1_max,
            $t::zombies_max,
            $t::disk_sleep_max,
            $t::cpu_cores,
            $t::source,
        )
    };
}
pub(crate) use rollup_columns;

/// Rows per REPLACE statement: 19 bound columns each, well under SQLite's 32,766 and
/// MySQL's 65,535 placeholders.
pub(crate) const ROLLUP_ROWS_PER_STATEMENT: usize = 500;

/// `REPLACE INTO` rollup table `$t` the rows `$rows` (`&[RollupRow]`) on connection `$c`,
/// in statements of [`ROLLUP_ROWS_PER_STATEMENT`]; evaluates to
/// `Result<usize, diesel::result::Error>` (rows written; MySQL counts a replaced row
/// twice). `$run` is `diesel::RunQueryDsl::execute` (a blocking SQLite connection) or
/// `diesel_async::RunQueryDsl::execute, await` (an async one).
macro_rules! replace_rollup_rows {
    ($t:ident, $c:expr, $rows:expr, $run:path $(, $await:tt)?) => {{
        let mut written = 0usize;
        let mut result = Ok(());
        for chunk in $rows.chunks($crate::history::ROLLUP_ROWS_PER_STATEMENT) {
            let values: Vec<_> = chunk
                .iter()
                .map(|r| {
                    let v = r.to_record();
                    (
                        $t::host.eq(v.0),
                        $t::bucket.eq(v.1),
                        $t::samples.eq(v.2),
                        $t::cpu_min.eq(v.3),
                        $t::cpu_avg.eq(v.4),
                        $t::cpu_max.eq(v.5),
                        $t::ram_min.eq(v.6),
                        $t::ram_avg.eq(v.7),
                        $t::ram_max.eq(v.8),
                        $t::swap_min.eq(v.9),
                        $t::swap_avg.eq(v.10),
                        $t::swap_max.eq(v.11),
                        $t::load1_min.eq(v.12),
                        $t::load1_avg.eq(v.13),
                        $t::load1_max.eq(v.14),
                        $t::zombies_max.eq(v.15),
                        $t::disk_sleep_max.eq(v.16),
                        $t::cpu_cores.eq(v.17),
                        $t::source.eq(v.18),
                    )
                })
                .collect();
            match $run(diesel::replace_into($t::table).values(values), $c)$(.$await)? {
                Ok(n) => written += n,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        result.map(|()| written)
    }};
}
pub(crate) use replace_rollup_rows;

/// Writes `rows` into `tier`'s rollup table, replacing any row with the same
/// `(host, bucket)`, in one transaction. For tools that generate history directly (the
/// history benchmark) and tests; the maintainer computes and writes its rows itself.
pub async fn replace_rollups(
    db: &Database,
    tier: Tier,
    rows: &[RollupRow],
) -> Result<(), StorageError> {
    use diesel_async::AsyncConnection;
    if rows.is_empty() {
        return Ok(());
    }
    let rows = rows.to_vec();
    on_rollup_table!(tier, t => {
        match db.write_pool().get().await? {
            crate::PooledConn::Sqlite(mut c) => {
                c.spawn_blocking(move |c| {
                    c.immediate_transaction(|c| {
                        replace_rollup_rows!(t, c, rows, diesel::RunQueryDsl::execute).map(|_| ())
                    })
                })
                .await?;
            }
            crate::PooledConn::Mysql(mut c) => {
                let r = c
                    .transaction::<_, diesel::result::Error, _>(async |c| {
                        replace_rollup_rows!(t, c, rows, diesel_async::RunQueryDsl::execute, await).map(|_| ())
                    })
                    .await;
                if r.is_err() {
                    crate::pool::discard(c);
                }
                r?;
            }
        }
        Ok(())
    }, raw => Err(raw_has_no_rollups()))
}

fn raw_has_no_rollups() -> StorageError {
    StorageError::InvalidArgument("the raw tier has no rollup rows (read samples)".into())
}

/// Every tier as `history_tiers` describes it, finest first. A tier name this version
/// does not know (written by a newer one) is skipped with a warning.
pub async fn tiers(db: &Database) -> Result<Vec<TierInfo>, StorageError> {
    use history_tiers::dsl;
    let rows: Vec<(String, i64, Option<PrimitiveDateTime>)> = with_conn!(db.read_pool(), c => {
        Ok::<_, StorageError>(dsl::history_tiers
            .select((dsl::tier, dsl::keep_seconds, dsl::rolled_up_to))
            .load(c)
            .await?)
    })?;
    let mut out: Vec<TierInfo> = rows
        .into_iter()
        .filter_map(
            |(name, keep_seconds, rolled_up_to)| match name.parse::<Tier>() {
                Ok(tier) => Some(TierInfo {
                    tier,
                    keep_seconds,
                    rolled_up_to: rolled_up_to.map(from_db_time),
                }),
                Err(e) => {
                    tracing::warn!(error = %e, "Skipping a history_tiers row");
                    None
                }
            },
        )
        .collect();
    out.sort_by_key(|t| t.tier);
    Ok(out)
}

/// The rollup rows of `host` in `tier` with `bucket` in `[from, to)`, oldest first, at
/// most `limit` (a range read of the primary key). [`Tier::Raw`] is an
/// [`StorageError::InvalidArgument`]: raw rows are `samples`.
pub async fn rollups(
    db: &Database,
    tier: Tier,
    host: &str,
    from: OffsetDateTime,
    to: OffsetDateTime,
    limit: i64,
) -> Result<Vec<RollupRow>, StorageError> {
    let (from, to) = (to_db_time(from), to_db_time(to));
    let limit = limit.max(0);
    let records: Vec<RollupRecord> = on_rollup_table!(tier, t => {
        with_conn!(db.read_pool(), c => {
            Ok::<_, StorageError>(t::table
                .filter(t::host.eq(host))
                .filter(t::bucket.ge(from))
                .filter(t::bucket.lt(to))
                .order(t::bucket.asc())
                .select(rollup_columns!(t))
                .limit(limit)
                .load::<RollupRecord>(c)
                .await?)
        })?
    }, raw => return Err(raw_has_no_rollups()));
    Ok(records.into_iter().map(RollupRow::from_record).collect())
}

/// The distinct hosts with rows of `tier` in `[from, to)` (for raw rows: by
/// `collected_at`), in name order, after `after_host` when given, at most `limit`.
///
/// A skip scan of the `(host, time)` key — one index probe per host, not a scan of the
/// range's rows (30 days of 10 hosts' minutes are 432,000 rows): on MySQL/MariaDB a
/// `GROUP BY host` with `MIN(time)` (a loose index scan), on SQLite, which does no
/// skip scan without `ANALYZE` statistics, a recursive query that steps from host to
/// next host.
pub async fn rollup_hosts(
    db: &Database,
    tier: Tier,
    from: OffsetDateTime,
    to: OffsetDateTime,
    after_host: Option<&str>,
    limit: i64,
) -> Result<Vec<String>, StorageError> {
    use diesel::sql_types::{BigInt, Text, Timestamp};
    let (from, to) = (to_db_time(from), to_db_time(to));
    let after = after_host.unwrap_or("").to_owned();
    let limit = limit.max(0);
    let (table, time) = match tier {
        Tier::Raw => ("samples", "collected_at"),
        Tier::Minute => ("rollup_1m", "bucket"),
        Tier::Hour => ("rollup_1h", "bucket"),
    };
    let sql = match db.backend() {
        crate::Backend::Sqlite => format!(
            "WITH RECURSIVE h(host) AS ( \
               SELECT (SELECT MIN(host) FROM {table} WHERE host > ?) \
               UNION ALL \
               SELECT (SELECT MIN(host) FROM {table} WHERE host > h.host) FROM h \
               WHERE h.host IS NOT NULL) \
             SELECT host FROM h WHERE host IS NOT NULL AND EXISTS \
               (SELECT 1 FROM {table} r WHERE r.host = h.host AND r.{time} >= ? AND r.{time} < ?) \
             LIMIT ?"
        ),
        crate::Backend::Mysql => format!(
            "SELECT host, MIN({time}) AS first FROM {table} \
             WHERE host > ? AND {time} >= ? AND {time} < ? \
             GROUP BY host ORDER BY host LIMIT ?"
        ),
    };
    #[derive(diesel::QueryableByName)]
    struct Host {
        #[diesel(sql_type = Text)]
        host: String,
    }
    let hosts: Vec<Host> = with_conn!(db.read_pool(), c => {
        Ok::<_, StorageError>(diesel::sql_query(&sql)
            .bind::<Text, _>(&after)
            .bind::<Timestamp, _>(from)
            .bind::<Timestamp, _>(to)
            .bind::<BigInt, _>(limit)
            .load(c)
            .await?)
    })?;
    Ok(hosts.into_iter().map(|h| h.host).collect())
}
