//! The broadcaster's read-side queries on the `samples` table (diesel_async, both
//! backends through `procpulse_storage::with_conn!`).
//!
//! Every query is bounded: pages by [`PAGE_ROWS`], history loads by [`HISTORY_LOAD_ROWS`]
//! per host. The tiers' retention and rollup watermark (`history_tiers`, read through
//! `procpulse_storage::history::tiers`) are cached for [`TIERS_MAX_AGE`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::dsl::{count_star, max, min};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use procpulse_storage::history::Tier;
use procpulse_storage::row::{SampleRow, from_db_time, to_db_time};
use procpulse_storage::schema::samples;
use procpulse_storage::{Database, StorageError, with_conn};
use time::OffsetDateTime;

use crate::row::Row;
use crate::tiers::Tiers;

/// Rows per poll query; the poller asks again at once while a page comes back full.
pub const PAGE_ROWS: i64 = 1000;
/// Newest rows per host read to build a history (then downsampled to 900 points); also
/// the most rollup rows a host loads (a range of [`crate::tiers::MAX_SPAN`] holds fewer).
pub const HISTORY_LOAD_ROWS: i64 = 20_000;
/// How long the tiers read from `history_tiers` are reused: ingest writes them at its
/// start, so a change of `--retention` reaches the broadcaster within a minute; the
/// rollup watermark an answer reports (`complete_to`) is at most this old.
pub const TIERS_MAX_AGE: Duration = Duration::from_secs(60);

/// Read access to the samples of one database.
#[derive(Debug, Clone)]
pub struct Feed {
    db: Database,
    tiers: Arc<Mutex<Option<(Instant, Tiers)>>>,
}

fn decode(rows: Vec<SampleRow>) -> Vec<Row> {
    rows.into_iter()
        .filter_map(|r| match r.to_snapshot() {
            Ok(snapshot) => Some(Row {
                id: r.id,
                route: r.route,
                received_at: from_db_time(r.received_at),
                snapshot,
            }),
            Err(error) => {
                tracing::warn!(id = r.id, %error, "Skipping a row that does not decode");
                None
            }
        })
        .collect()
}

impl Feed {
    /// Reads through `db`'s read pool.
    pub fn new(db: Database) -> Self {
        Feed {
            db,
            tiers: Arc::new(Mutex::new(None)),
        }
    }

    /// How long each tier keeps its rows and how far the rollups are complete, from
    /// `history_tiers`, read at most once per [`TIERS_MAX_AGE`]. When the read fails,
    /// the last value read is used (with a warning); without one the error is returned.
    pub async fn tiers(&self) -> Result<Tiers, StorageError> {
        let cached = *self.tiers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, tiers)) = cached {
            if at.elapsed() < TIERS_MAX_AGE {
                return Ok(tiers);
            }
        }
        match procpulse_storage::history::tiers(&self.db).await {
            Ok(rows) => {
                let tiers = Tiers::from_tiers(&rows);
                *self.tiers.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some((Instant::now(), tiers));
                Ok(tiers)
            }
            Err(error) => match cached {
                Some((_, tiers)) => {
                    tracing::warn!(%error, "Cannot read history_tiers; using the last value");
                    Ok(tiers)
                }
                None => Err(error),
            },
        }
    }

    /// The database handle.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The highest row id (0 for an empty table).
    pub async fn max_id(&self) -> Result<i64, StorageError> {
        let id: Option<i64> = with_conn!(self.db.read_pool(), conn => {
            Ok::<_, StorageError>(samples::table.select(max(samples::id)).first(conn).await?)
        })?;
        Ok(id.unwrap_or(0))
    }

    /// Rows with `id > after` or `id` in `gaps`, by id, at most `limit`.
    pub async fn page(
        &self,
        after: i64,
        gaps: &[i64],
        limit: i64,
    ) -> Result<Vec<Row>, StorageError> {
        let gaps = gaps.to_vec();
        let rows: Vec<SampleRow> = with_conn!(self.db.read_pool(), conn => {
            let q = samples::table
                .select(SampleRow::as_select())
                .order(samples::id.asc())
                .limit(limit);
            let rows = if gaps.is_empty() {
                q.filter(samples::id.gt(after)).load(conn).await?
            } else {
                q.filter(samples::id.gt(after).or(samples::id.eq_any(gaps.clone())))
                    .load(conn)
                    .await?
            };
            Ok::<_, StorageError>(rows)
        })?;
        Ok(decode(rows))
    }

    /// The first host name after `after` (`""`: the first of all) with a row in `tier`'s
    /// table (`samples`, `rollup_1m`, `rollup_1h`): one seek of the index that starts
    /// with `host` (`MIN(host) WHERE host > after`), however many rows the table holds.
    pub async fn next_host(&self, tier: Tier, after: &str) -> Result<Option<String>, StorageError> {
        macro_rules! next_in {
            ($t:ident) => {{
                use procpulse_storage::schema::$t;
                with_conn!(self.db.read_pool(), conn => {
                    Ok::<_, StorageError>($t::table
                        .filter($t::host.gt(after))
                        .select(min($t::host))
                        .first::<Option<String>>(conn)
                        .await?)
                })
            }};
        }
        match tier {
            Tier::Raw => next_in!(samples),
            Tier::Minute => next_in!(rollup_1m),
            Tier::Hour => next_in!(rollup_1h),
        }
    }

    /// Every host name with a row, in name order: one index seek per host
    /// ([`Feed::next_host`]), not a scan of every row.
    pub async fn hosts(&self) -> Result<Vec<String>, StorageError> {
        let mut out: Vec<String> = Vec::new();
        while let Some(host) = self
            .next_host(Tier::Raw, out.last().map_or("", String::as_str))
            .await?
        {
            out.push(host);
        }
        Ok(out)
    }

    /// Rows of `host` with `collected_at` in `[from, to)` (no upper bound without `to`)
    /// and `id ≤ upto`, oldest first; when there are more than `limit`, the newest
    /// `limit` of them. Only the newest row has its `top` table; the others have none.
    pub async fn host_rows(
        &self,
        host: &str,
        from: OffsetDateTime,
        to: Option<OffsetDateTime>,
        upto: i64,
        limit: i64,
    ) -> Result<Vec<Row>, StorageError> {
        let from = to_db_time(from);
        let to = to.map(to_db_time);
        let host = host.to_owned();
        let mut rows: Vec<SampleRow> = with_conn!(self.db.read_pool(), conn => {
            let mut q = samples::table
                .filter(samples::host.eq(&host))
                .filter(samples::collected_at.ge(from))
                .filter(samples::id.le(upto))
                .order((samples::collected_at.desc(), samples::id.desc()))
                .limit(limit)
                .select(SampleRow::as_select())
                .into_boxed();
            if let Some(to) = to {
                q = q.filter(samples::collected_at.lt(to));
            }
            Ok::<_, StorageError>(q.load(conn).await?)
        })?;
        // Only the newest row keeps its `top` table: history points carry none but each
        // host's newest (docs/design.md §4), and parsing every row's table was most of the cost of
        // a 15-minute answer.
        for r in rows.iter_mut().skip(1) {
            r.top_json = None;
        }
        rows.reverse();
        Ok(decode(rows))
    }

    /// The newest `collected_at` of `host` among rows `id ≤ upto`.
    pub async fn newest_collected_at(
        &self,
        host: &str,
        upto: i64,
    ) -> Result<Option<OffsetDateTime>, StorageError> {
        let host = host.to_owned();
        let t: Option<time::PrimitiveDateTime> = with_conn!(self.db.read_pool(), conn => {
            Ok::<_, StorageError>(samples::table
                .filter(samples::host.eq(&host))
                .filter(samples::id.le(upto))
                .select(max(samples::collected_at))
                .first(conn)
                .await?)
        })?;
        Ok(t.map(from_db_time))
    }

    /// How many rows of `host` with `collected_at ≥ from` and `id ≤ upto` there are
    /// (what [`Feed::host_rows`] would read without a limit).
    pub async fn count_rows(
        &self,
        host: &str,
        from: OffsetDateTime,
        upto: i64,
    ) -> Result<i64, StorageError> {
        let host = host.to_owned();
        let from = to_db_time(from);
        with_conn!(self.db.read_pool(), conn => {
            Ok::<_, StorageError>(samples::table
                .filter(samples::host.eq(&host))
                .filter(samples::collected_at.ge(from))
                .filter(samples::id.le(upto))
                .select(count_star())
                .first(conn)
                .await?)
        })
    }

    /// Rows stored per ingest route among rows `id ≤ upto`: `(a, b)`.
    pub async fn route_counts(&self, upto: i64) -> Result<(u64, u64), StorageError> {
        let counts: Vec<(String, i64)> = with_conn!(self.db.read_pool(), conn => {
            Ok::<_, StorageError>(samples::table
                .filter(samples::id.le(upto))
                .group_by(samples::route)
                .select((samples::route, count_star()))
                .load(conn)
                .await?)
        })?;
        let get = |name: &str| {
            counts
                .iter()
                .filter(|(r, _)| r == name)
                .map(|(_, n)| u64::try_from(*n).unwrap_or(0))
                .sum()
        };
        Ok((get("a"), get("b")))
    }
}
