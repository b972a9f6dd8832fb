//! `GET /api/v1/history?host=&from=&to=&from_host=` (`since` is another name for
//! `from`): the rows or rollup points of a time range, from the tier that holds it.
//!
//! The query is parsed by [`crate::query`]; the tier is chosen by
//! [`crate::tiers::choose`] from what `history_tiers` says is kept (cached, see
//! [`Feed::tiers`]). Answers:
//!
//! - raw rows (spans up to an hour): `{"tier":"raw","step_seconds":null,"from":"…",
//!   "to":"…","samples":[wire rows…],"truncated":false}`, at most
//!   [`MAX_POINTS`] rows a host (evenly spread, always with the newest) and
//!   [`crate::history::MAX_HOST_BYTES`];
//! - rollups: `{"tier":"1m","step_seconds":120,"from":"…","to":"…",
//!   "complete_to":"…","points":[…],"truncated":false}`, at most [`MAX_ROLLUP_POINTS`]
//!   points a host (consecutive buckets merged, [`crate::points`]); `step_seconds` is
//!   after merging. `complete_to` is the rollups' watermark (`history_tiers.rolled_up_to`
//!   of the raw tier, read at most [`crate::feed::TIERS_MAX_AGE`] before): every raw row
//!   received up to it is in the points; later ones may be missing (the maintainer
//!   folds rows about half a minute after they arrive, and not at all while stopped), so
//!   a range ending after it may be incomplete. `null`: nothing rolled up yet.
//!
//! Raw rows of a host the in-memory window holds completely (the last 15 minutes of
//! its newest row, as the live view and the WebSocket `history` frame hold them; see
//! [`crate::history::History::range`]) are answered from memory — already-encoded texts,
//! no query — and are then as of the last poll (at most one `--poll-interval-ms` behind
//! the database); the rest come from the database. Both give the same rows and the same
//! text (tested in `tests/it/ranges.rs`); the
//! `procpulse_broadcaster_history_raw_hosts_from_{memory,database}_total` counters say
//! which answered.
//!
//! `from` and `to` are the range asked for. Without a `to`, rows and buckets collected
//! up to [`procpulse_model::validate::MAX_FUTURE_SKEW`] after it are included too
//! ([`HistoryQuery::read_to`]: hosts whose clocks run ahead).
//!
//! Hosts in name order, each host's rows oldest first. Every read is bounded: hosts by
//! [`MAX_PAGE_HOSTS`] per page and [`MAX_HOST_PROBES`] tried (found by index seeks, not
//! a scan), rows by `LIMIT` ([`HISTORY_LOAD_ROWS`] a host, a range of
//! [`crate::tiers::MAX_SPAN`] has fewer buckets) and [`MAX_REQUEST_ROWS`] a request.
//! Hosts are sent whole; when a limit stops the page first, the answer ends with
//! `"truncated":true,"next_host":"h042"` and `from_host=h042` asks for the rest.

use std::sync::Arc;

use procpulse_service::ApiError;
use procpulse_storage::StorageError;
use procpulse_storage::history::{Tier, rollups};
use procpulse_storage::maintain::HumanDuration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use warp::Rejection;

use crate::feed::{Feed, HISTORY_LOAD_ROWS};
use crate::history::{MAX_POINTS, downsample, points_budget};
use crate::hub::Hub;
use crate::query::HistoryQuery;
use crate::row::Row;
use crate::tiers::{self, MAX_ROLLUP_POINTS, Refusal};

/// Most rows one request loads from the database, all hosts together (each host at most
/// [`HISTORY_LOAD_ROWS`]).
pub const MAX_REQUEST_ROWS: i64 = 50_000;
/// Most bytes of samples in one answer (a host's points alone are at most
/// [`crate::history::MAX_HOST_BYTES`], so a page always holds at least one host).
pub const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;
/// Most hosts in one answer (one query each).
pub const MAX_PAGE_HOSTS: usize = 100;
/// Most hosts tried for one answer without `host` (hosts without rows in the range
/// included): each costs two index seeks, so a database of many silent hosts still
/// answers in bounded time, with `next_host` where the next page goes on.
pub const MAX_HOST_PROBES: usize = 1_000;

/// One answer under the request limits: hosts are added whole, in order, until one does
/// not fit.
#[derive(Debug)]
pub struct Page {
    out: String,
    hosts: usize,
    rows_left: i64,
}

impl Page {
    /// An empty page of `tier` for `[from, to)`, with points `step_seconds` apart
    /// (`None` for raw rows); rollup tiers say how far they are `complete_to` (ignored
    /// for raw rows).
    pub fn new(
        tier: Tier,
        step_seconds: Option<i64>,
        from: OffsetDateTime,
        to: OffsetDateTime,
        complete_to: Option<OffsetDateTime>,
    ) -> Self {
        let time = |t: OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
        let step = step_seconds.map_or("null".to_owned(), |s| s.to_string());
        let (complete, list) = if tier == Tier::Raw {
            (String::new(), "samples")
        } else {
            // A watermark outside years 0-9999 (no RFC 3339 text) is as good as none.
            let at = complete_to
                .and_then(|t| t.format(&Rfc3339).ok())
                .map_or("null".to_owned(), |t| format!("\"{t}\""));
            (format!(r#""complete_to":{at},"#), "points")
        };
        Page {
            out: format!(
                r#"{{"tier":"{}","step_seconds":{step},"from":"{}","to":"{}",{complete}"{list}":["#,
                tier.as_str(),
                time(from),
                time(to),
            ),
            hosts: 0,
            rows_left: MAX_REQUEST_ROWS,
        }
    }

    /// How many rows the next host may load, or `None` when the page is full.
    pub fn next_limit(&self) -> Option<i64> {
        let limit = HISTORY_LOAD_ROWS.min(self.rows_left);
        (self.hosts < MAX_PAGE_HOSTS && limit > 0).then_some(limit)
    }

    /// Adds one host: `loaded` rows were read with `limit`, `encoded` are the JSON texts
    /// of its points, oldest first. `false` (nothing added) when the host does not fit:
    /// the row budget may have cut it short, or its points would pass
    /// [`MAX_RESPONSE_BYTES`]. The first host of a page always fits; a host without
    /// points is not counted.
    pub fn add(&mut self, loaded: usize, limit: i64, encoded: Vec<String>) -> bool {
        let loaded = loaded as i64;
        self.rows_left -= loaded.min(self.rows_left);
        if encoded.is_empty() {
            return true;
        }
        let empty = self.hosts == 0;
        if !empty && limit < HISTORY_LOAD_ROWS && loaded >= limit {
            return false;
        }
        let size: usize = encoded.iter().map(|p| p.len() + 1).sum();
        if !empty && self.out.len() + size > MAX_RESPONSE_BYTES {
            return false;
        }
        for p in encoded {
            if !self.out.ends_with('[') {
                self.out.push(',');
            }
            self.out.push_str(&p);
        }
        self.hosts += 1;
        true
    }

    /// The answer: `truncated` and, when a host did not fit, `next_host`.
    pub fn finish(mut self, next_host: Option<&str>) -> String {
        match next_host {
            None => self.out.push_str(r#"],"truncated":false}"#),
            Some(h) => {
                self.out.push_str(r#"],"truncated":true,"next_host":"#);
                self.out.push_str(&serde_json::Value::from(h).to_string());
                self.out.push('}');
            }
        }
        self.out
    }
}

/// The wire texts of a host's raw rows (oldest first): at most [`MAX_POINTS`] and no
/// more than fit [`crate::history::MAX_HOST_BYTES`] at their average size, evenly
/// spread and always with the newest.
pub fn raw_points(rows: &[Row]) -> Vec<String> {
    thin(
        downsample(rows.len(), MAX_POINTS)
            .into_iter()
            .map(|i| rows[i].to_json())
            .collect(),
    )
}

/// [`raw_points`] of rows already encoded (the in-memory window's texts).
pub fn memory_points(texts: &[Arc<str>]) -> Vec<String> {
    thin(
        downsample(texts.len(), MAX_POINTS)
            .into_iter()
            .map(|i| texts[i].to_string())
            .collect(),
    )
}

/// Encoded points, thinned evenly to what fits [`crate::history::MAX_HOST_BYTES`].
fn thin(encoded: Vec<String>) -> Vec<String> {
    let bytes = encoded.iter().map(String::len).sum();
    let keep = downsample(encoded.len(), points_budget(encoded.len(), bytes));
    if keep.len() == encoded.len() {
        return encoded;
    }
    let mut encoded: Vec<Option<String>> = encoded.into_iter().map(Some).collect();
    keep.into_iter().filter_map(|i| encoded[i].take()).collect()
}

/// The 422 for a range no tier answers, naming the field that set its start.
pub fn refusal(r: &Refusal, q: &HistoryQuery, now: OffsetDateTime) -> ApiError {
    let field = q.from_field;
    match r {
        Refusal::OlderThanKept { oldest } => ApiError::invalid_field(
            field,
            format!(
                "{field} is older than the history kept: nothing before {} ({} ago; set by ingest's --retention flags)",
                oldest.format(&Rfc3339).unwrap_or_default(),
                HumanDuration(std::time::Duration::from_secs(
                    (now - *oldest).whole_seconds().max(0) as u64
                )),
            ),
        ),
        Refusal::SpanNotServed => ApiError::invalid_field(
            field,
            "no tier holds this range: the tiers that keep its start do not serve a span this long (ask for a shorter range)",
        ),
    }
}

/// Answers `q` at `now` from `feed`'s database, raw rows from `hub`'s in-memory window
/// when it holds them (see the module docs).
pub async fn answer(
    feed: &Feed,
    hub: &Hub,
    q: &HistoryQuery,
    now: OffsetDateTime,
) -> Result<String, Answer> {
    let stored = feed.tiers().await?;
    let tier = tiers::choose(q.from, q.to, now, &stored.keeps).map_err(|r| refusal(&r, q, now))?;
    let db = feed.database();
    // The tier is chosen for [from, to); what is read goes on to read_to (see the module
    // docs), and the grouping covers that so no host passes MAX_ROLLUP_POINTS.
    let (read_from, grouping) = match tier.step() {
        None => (q.from, None),
        Some(step) => {
            let g = tiers::grouping(q.from, q.read_to, step.as_secs() as i64);
            (g.first_bucket, Some(g))
        }
    };
    let mut page = Page::new(
        tier,
        grouping.map(|g| g.step_seconds),
        q.from,
        q.to,
        stored.complete_to,
    );
    // The hosts: the one asked for, or every host of the tier's table in name order from
    // `from_host` on, found one index seek at a time (a scan for the distinct hosts with
    // rows in the range would read every row of the table); hosts without rows in the
    // range add nothing. At most MAX_HOST_PROBES hosts are tried per page.
    let mut candidate = match (&q.host, &q.from_host) {
        (Some(h), _) | (None, Some(h)) => Some(h.clone()),
        (None, None) => feed.next_host(tier, "").await?,
    };
    let mut probes = 0;
    let mut next_host = None;
    while let Some(host) = candidate.take() {
        let Some(limit) = page.next_limit().filter(|_| probes < MAX_HOST_PROBES) else {
            next_host = Some(host);
            break;
        };
        probes += 1;
        let (loaded, encoded) = match grouping {
            None => match hub.raw_range(&host, q.from, q.read_to) {
                Some(texts) => {
                    // As the database read: the newest `limit` rows.
                    let texts = &texts[texts.len().saturating_sub(limit as usize)..];
                    (texts.len(), memory_points(texts))
                }
                None => {
                    let rows = feed
                        .host_rows(&host, q.from, Some(q.read_to), i64::MAX, limit)
                        .await?;
                    (rows.len(), raw_points(&rows))
                }
            },
            Some(g) => {
                let rows = rollups(db, tier, &host, read_from, q.read_to, limit).await?;
                let loaded = rows.len();
                let step = g.step_seconds / g.k;
                let points = crate::points::merge(rows, g.k, step, q.from);
                debug_assert!(points.len() as i64 <= MAX_ROLLUP_POINTS);
                (loaded, points.iter().map(crate::points::to_json).collect())
            }
        };
        if !page.add(loaded, limit, encoded) {
            next_host = Some(host);
            break;
        }
        if q.host.is_none() {
            candidate = feed.next_host(tier, &host).await?;
        }
    }
    Ok(page.finish(next_host.as_deref()))
}

/// Why [`answer`] has no answer: a 422 or a database error.
#[derive(Debug)]
pub enum Answer {
    /// The range cannot be answered (422).
    Refused(ApiError),
    /// The database failed.
    Storage(StorageError),
}

impl From<ApiError> for Answer {
    fn from(e: ApiError) -> Self {
        Answer::Refused(e)
    }
}

impl From<StorageError> for Answer {
    fn from(e: StorageError) -> Self {
        Answer::Storage(e)
    }
}

impl Answer {
    /// As a warp rejection (`unavailable` maps storage errors).
    pub fn reject(self, unavailable: impl FnOnce(&StorageError) -> Rejection) -> Rejection {
        match self {
            Answer::Refused(e) => warp::reject::custom(e),
            Answer::Storage(e) => unavailable(&e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const T: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);

    fn points(n: usize, size: usize) -> Vec<String> {
        (0..n)
            .map(|i| {
                format!(
                    "{{\"i\":{i},\"p\":\"{}\"}}",
                    "x".repeat(size.saturating_sub(20))
                )
            })
            .collect()
    }

    fn raw_page() -> Page {
        Page::new(Tier::Raw, None, T - time::Duration::minutes(15), T, Some(T))
    }

    fn parse(page: Page, next: Option<&str>) -> serde_json::Value {
        serde_json::from_str(&page.finish(next)).unwrap()
    }

    #[test]
    fn the_head_names_tier_step_and_range() {
        let v = parse(raw_page(), None);
        assert_eq!(
            v,
            serde_json::json!({"tier":"raw","step_seconds":null,"from":"2026-11-23T09:45:00Z",
                "to":"2026-11-23T10:00:00Z","samples":[],"truncated":false})
        );
        let day = T - time::Duration::hours(24);
        let at = T - time::Duration::seconds(40);
        let mut page = Page::new(Tier::Minute, Some(120), day, T, Some(at));
        assert!(page.add(1, HISTORY_LOAD_ROWS, vec![r#"{"t":1}"#.to_owned()]));
        let v = parse(page, Some("vm-2"));
        assert_eq!(
            v,
            serde_json::json!({"tier":"1m","step_seconds":120,"from":"2026-11-22T10:00:00Z",
                "to":"2026-11-23T10:00:00Z","complete_to":"2026-11-23T09:59:20Z",
                "points":[{"t":1}],"truncated":true,"next_host":"vm-2"})
        );
        // Nothing rolled up yet: null (the key is always there on rollup tiers).
        let v = parse(Page::new(Tier::Hour, Some(3_600), day, T, None), None);
        assert!(v.as_object().unwrap().contains_key("complete_to"));
        assert_eq!(v["complete_to"], serde_json::Value::Null);
        assert_eq!(v["points"], serde_json::json!([]));
        let far = datetime!(-0001-01-01 00:00:00 UTC);
        let v = parse(Page::new(Tier::Hour, Some(3_600), day, T, Some(far)), None);
        assert_eq!(v["complete_to"], serde_json::Value::Null);
    }

    #[test]
    fn a_page_stops_at_the_row_budget_with_whole_hosts() {
        let mut page = raw_page();
        let mut loaded = Vec::new();
        // Hosts that each have more rows than one host may load.
        while let Some(limit) = page.next_limit() {
            let rows = limit as usize; // the database had at least `limit`
            if !page.add(rows, limit, points(MAX_POINTS, 100)) {
                break;
            }
            loaded.push(rows);
        }
        assert_eq!(loaded.len() as i64, MAX_REQUEST_ROWS / HISTORY_LOAD_ROWS);
        assert!(loaded.iter().all(|&n| n as i64 == HISTORY_LOAD_ROWS));
        let v = parse(page, Some("next"));
        assert_eq!(v["truncated"], true);
        assert_eq!(v["next_host"], "next");
        assert_eq!(
            v["samples"].as_array().unwrap().len(),
            loaded.len() * MAX_POINTS
        );
    }

    #[test]
    fn a_page_stops_at_the_byte_budget_but_always_holds_one_host() {
        let mut page = raw_page();
        let big = crate::history::MAX_HOST_BYTES / MAX_POINTS;
        let mut hosts = 0;
        while page.next_limit().is_some()
            && page.add(MAX_POINTS, HISTORY_LOAD_ROWS, points(MAX_POINTS, big))
        {
            hosts += 1;
        }
        assert_eq!(hosts, MAX_RESPONSE_BYTES / crate::history::MAX_HOST_BYTES);
        let out = page.finish(Some("h"));
        assert!(out.len() <= MAX_RESPONSE_BYTES + 64, "{}", out.len());
        // Small hosts: the host count is the limit; hosts without points do not count.
        let mut page = raw_page();
        let mut hosts = 0;
        while page.next_limit().is_some() {
            assert!(page.add(0, HISTORY_LOAD_ROWS, Vec::new()));
            assert!(page.add(3, HISTORY_LOAD_ROWS, points(3, 50)));
            hosts += 1;
        }
        assert_eq!(hosts, MAX_PAGE_HOSTS);
        let v = parse(page, None);
        assert_eq!(v["truncated"], false);
        assert_eq!(v["samples"].as_array().unwrap().len(), 3 * MAX_PAGE_HOSTS);
    }

    #[test]
    fn raw_points_are_bounded_by_count_and_bytes() {
        use crate::row::tests::{row, row_v2};
        let rows: Vec<Row> = (0..2_000).map(|i| row(i, "vm-1", i)).collect();
        let got = raw_points(&rows);
        assert_eq!(got.len(), MAX_POINTS);
        assert!(
            got.last().unwrap().contains(r#""id":1999"#),
            "the newest survives"
        );
        let big: Vec<Row> = (0..400).map(|i| row_v2(i, "vm-1024", i, 1024)).collect();
        let got = raw_points(&big);
        let bytes: usize = got.iter().map(String::len).sum();
        assert!(
            got.len() < 400 && bytes <= crate::history::MAX_HOST_BYTES + 40_000,
            "{} {bytes}",
            got.len()
        );
        assert!(got.last().unwrap().contains(r#""id":399"#));
    }

    #[test]
    fn refusals_name_the_field_that_set_the_start() {
        let q = HistoryQuery {
            host: None,
            from: T - time::Duration::days(800),
            to: T,
            read_to: T,
            from_host: None,
            from_field: "since",
        };
        let e = refusal(
            &Refusal::OlderThanKept {
                oldest: T - time::Duration::days(730),
            },
            &q,
            T,
        );
        assert_eq!(e.field.as_deref(), Some("since"));
        assert!(
            e.message
                .contains("nothing before 2024-11-23T10:00:00Z (730d ago"),
            "{}",
            e.message
        );
        let e = refusal(&Refusal::SpanNotServed, &q, T);
        assert_eq!(e.field.as_deref(), Some("since"));
    }
}
