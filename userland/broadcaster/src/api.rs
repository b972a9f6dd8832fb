//! The REST fallback (`/api/v1/latest`, `/api/v1/history`), `/healthz` and `/readyz`.

use std::sync::Arc;
use std::time::Duration;

use procpulse_service::ApiError;
use procpulse_storage::StorageError;
use time::OffsetDateTime;
use warp::http::{HeaderValue, StatusCode, header};
use warp::reply::Response;
use warp::{Filter, Rejection};

use crate::feed::{Feed, HISTORY_LOAD_ROWS};
use crate::history::{MAX_POINTS, WINDOW, downsample, points_budget};
use crate::hub::Hub;
use crate::metrics::Metrics;

/// How long `/readyz` waits for the database.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// What the handlers need.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// Database reads.
    pub feed: Feed,
    /// The fan-out (latest rows, load state).
    pub hub: Arc<Hub>,
    /// Metrics (client count).
    pub metrics: Arc<Metrics>,
}

fn json(body: String, status: StatusCode) -> Response {
    let mut res = Response::new(body.into());
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

fn unavailable(error: &StorageError) -> Rejection {
    warp::reject::custom(ApiError::unavailable(
        format!("database unavailable: {error}"),
        Duration::from_secs(1),
    ))
}

/// The paths of the REST fallback (what a CORS preflight may ask about).
pub fn rest_path() -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::path!("api" / "v1" / "latest")
        .or(warp::path!("api" / "v1" / "history"))
        .unify()
}

/// The query string as `(name, value)` pairs in order (none when there is no query);
/// percent-decoded, invalid UTF-8 replaced, never a rejection.
fn query_pairs()
-> impl Filter<Extract = (Vec<(String, String)>,), Error = std::convert::Infallible> + Clone {
    warp::query::raw()
        .or(warp::any().map(String::new))
        .unify()
        .map(|raw: String| url_pairs(&raw))
}

/// Splits and decodes an `application/x-www-form-urlencoded` query (`+` is a space).
pub fn url_pairs(raw: &str) -> Vec<(String, String)> {
    fn decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            let hex = |j: usize| b.get(j).and_then(|c| (*c as char).to_digit(16));
            match b[i] {
                b'+' => {
                    out.push(b' ');
                    i += 1;
                }
                b'%' => match (hex(i + 1), hex(i + 2)) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                    }
                    _ => {
                        out.push(b'%');
                        i += 1;
                    }
                },
                c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Every route of this module.
pub fn routes(state: ApiState) -> impl Filter<Extract = (Response,), Error = Rejection> + Clone {
    let with = warp::any().map(move || state.clone());
    let healthz = warp::path!("healthz")
        .and(warp::get())
        .and(with.clone())
        .map(healthz);
    let readyz = warp::path!("readyz")
        .and(warp::get())
        .and(with.clone())
        .and_then(readyz);
    let latest = warp::path!("api" / "v1" / "latest")
        .and(warp::get())
        .and(with.clone())
        .map(latest);
    let history = warp::path!("api" / "v1" / "history")
        .and(warp::get())
        .and(query_pairs())
        .and(with)
        .and_then(history);
    healthz
        .or(readyz)
        .unify()
        .or(latest)
        .unify()
        .or(history)
        .unify()
}

/// GET /healthz
fn healthz(state: ApiState) -> Response {
    json(
        serde_json::json!({
            "status": "ok",
            "clients": state.metrics.clients.get(),
            "history_loaded": state.hub.is_loaded(),
        })
        .to_string(),
        StatusCode::OK,
    )
}

/// GET /readyz
async fn readyz(state: ApiState) -> Result<Response, Rejection> {
    match tokio::time::timeout(READY_TIMEOUT, state.feed.database().ping()).await {
        Ok(Ok(took)) if state.hub.is_loaded() => Ok(json(
            serde_json::json!({"status": "ready", "database_seconds": took.as_secs_f64()})
                .to_string(),
            StatusCode::OK,
        )),
        Ok(Ok(_)) => Err(warp::reject::custom(ApiError::unavailable(
            "history not loaded yet",
            Duration::from_secs(1),
        ))),
        Ok(Err(e)) => Err(unavailable(&e)),
        Err(_) => Err(warp::reject::custom(ApiError::unavailable(
            "database did not answer in time",
            Duration::from_secs(1),
        ))),
    }
}

/// GET /api/v1/latest
fn latest(state: ApiState) -> Response {
    json(state.hub.latest_json(), StatusCode::OK)
}

/// How far back `since` may reach: a day. The history is a 15-minute view and the REST
/// fallback exists for dashboards and scripts that missed the socket; a request for more
/// is refused (422, field `since`) rather than clamped, so no caller mistakes a shorter
/// answer for the whole range.
pub const MAX_LOOKBACK: time::Duration = time::Duration::hours(24);
/// Most rows one request loads from the database, all hosts together (each host at most
/// [`HISTORY_LOAD_ROWS`], its newest).
pub const MAX_REQUEST_ROWS: i64 = 50_000;
/// Most bytes of samples in one answer (a host's points alone are at most
/// [`crate::history::MAX_HOST_BYTES`], so a page always holds at least one host).
pub const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;
/// Most hosts in one answer (one query each).
pub const MAX_PAGE_HOSTS: usize = 100;

/// Query of `/api/v1/history`.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryQuery {
    /// One host, or every host.
    pub host: Option<String>,
    /// Rows collected at or after this instant.
    pub since: OffsetDateTime,
    /// Without `host`: start the page at this host name (the previous page's `next_host`).
    pub from_host: Option<String>,
}

/// `h` (never empty: empty values are dropped before) checked by the model's host rule.
fn host_name(field: &str, h: &str) -> Result<String, ApiError> {
    if procpulse_model::validate::valid_host(h) {
        Ok(h.to_owned())
    } else {
        Err(ApiError::invalid_field(
            field,
            format!("{field} must be 1-64 characters of [A-Za-z0-9._-]"),
        ))
    }
}

/// The first 64 characters of a parameter name, for an error's `field`.
fn field_name(name: &str) -> String {
    name.chars().take(64).collect()
}

/// Parses and validates `host`, `since` (default: 15 minutes before `now`; at most
/// [`MAX_LOOKBACK`] back, not in the future; RFC 3339 with `T` or `t` between date and
/// time) and `from_host`. Total: any input gives a query or a 422 naming the field — an
/// unknown parameter or one given twice included.
pub fn parse_history_query(
    pairs: &[(String, String)],
    now: OffsetDateTime,
) -> Result<HistoryQuery, ApiError> {
    let mut seen: Vec<&str> = Vec::new();
    for (k, _) in pairs {
        if !matches!(k.as_str(), "host" | "since" | "from_host") {
            return Err(ApiError::invalid_field(
                field_name(k),
                "unknown parameter (known: host, since, from_host)",
            ));
        }
        if seen.contains(&k.as_str()) {
            return Err(ApiError::invalid_field(
                k.as_str(),
                format!("{k} is given more than once"),
            ));
        }
        seen.push(k);
    }
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let host = get("host").map(|h| host_name("host", h)).transpose()?;
    let from_host = get("from_host")
        .map(|h| host_name("from_host", h))
        .transpose()?;
    if host.is_some() && from_host.is_some() {
        return Err(ApiError::invalid_field(
            "from_host",
            "from_host pages over every host; it cannot be combined with host",
        ));
    }
    let since = match get("since") {
        None => now - WINDOW,
        Some(s) => procpulse_model::time_text::parse(s).map_err(|e| {
            ApiError::invalid_field("since", format!("since must be an RFC 3339 time: {e}"))
        })?,
    };
    if since > now {
        return Err(ApiError::invalid_field(
            "since",
            "since must not be in the future",
        ));
    }
    if since < now - MAX_LOOKBACK {
        return Err(ApiError::invalid_field(
            "since",
            "since must be within the last 24 hours",
        ));
    }
    Ok(HistoryQuery {
        host,
        since,
        from_host,
    })
}

/// One answer of `/api/v1/history` under the request limits: hosts are added whole, in
/// order, until one does not fit.
#[derive(Debug)]
pub struct Page {
    out: String,
    hosts: usize,
    rows_left: i64,
}

impl Default for Page {
    fn default() -> Self {
        Self::new()
    }
}

impl Page {
    /// An empty page.
    pub fn new() -> Self {
        Page {
            out: String::from(r#"{"samples":["#),
            hosts: 0,
            rows_left: MAX_REQUEST_ROWS,
        }
    }

    /// How many rows the next host may load, or `None` when the page is full.
    pub fn next_limit(&self) -> Option<i64> {
        let limit = HISTORY_LOAD_ROWS.min(self.rows_left);
        (self.hosts < MAX_PAGE_HOSTS && limit > 0).then_some(limit)
    }

    /// Adds one host: `loaded` rows were read with `limit`, `encoded` are their (at most
    /// [`MAX_POINTS`]) JSON texts, oldest first. `false` (nothing added) when the host
    /// does not fit: the row budget may have cut it short, or its points would pass
    /// [`MAX_RESPONSE_BYTES`]. The first host of a page always fits.
    pub fn add(&mut self, loaded: usize, limit: i64, encoded: Vec<String>) -> bool {
        let loaded = loaded as i64;
        self.rows_left -= loaded.min(self.rows_left);
        let empty = self.hosts == 0;
        if !empty && limit < HISTORY_LOAD_ROWS && loaded >= limit {
            return false;
        }
        let bytes = encoded.iter().map(String::len).sum();
        let keep = downsample(encoded.len(), points_budget(encoded.len(), bytes));
        let size: usize = keep.iter().map(|&i| encoded[i].len() + 1).sum();
        if !empty && self.out.len() + size > MAX_RESPONSE_BYTES {
            return false;
        }
        for i in keep {
            if !self.out.ends_with('[') {
                self.out.push(',');
            }
            self.out.push_str(&encoded[i]);
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

/// GET /api/v1/history?host=&since=&from_host=
///
/// Answers `{"samples":[…],"truncated":false}`, or, when a page limit
/// ([`MAX_PAGE_HOSTS`], [`MAX_REQUEST_ROWS`], [`MAX_RESPONSE_BYTES`]) stopped it before
/// every host was in, `{"samples":[…],"truncated":true,"next_host":"…"}`: the hosts are
/// sent whole, in name order, and `from_host=<next_host>` asks for the rest.
async fn history(q: Vec<(String, String)>, state: ApiState) -> Result<Response, Rejection> {
    let q = parse_history_query(&q, OffsetDateTime::now_utc()).map_err(warp::reject::custom)?;
    let hosts = match q.host {
        Some(h) => vec![h],
        None => state
            .feed
            .hosts_since(q.since, q.from_host.as_deref(), MAX_PAGE_HOSTS as i64 + 1)
            .await
            .map_err(|e| unavailable(&e))?,
    };
    let mut page = Page::new();
    let mut next_host = None;
    for host in &hosts {
        let Some(limit) = page.next_limit() else {
            next_host = Some(host.as_str());
            break;
        };
        let rows = state
            .feed
            .host_rows(host, q.since, i64::MAX, limit)
            .await
            .map_err(|e| unavailable(&e))?;
        // At most MAX_POINTS, and no more than MAX_HOST_BYTES of them (big v2 rows of
        // hosts with hundreds of CPUs), evenly spread and always with the newest.
        let encoded: Vec<String> = downsample(rows.len(), MAX_POINTS)
            .into_iter()
            .map(|i| rows[i].to_json())
            .collect();
        if !page.add(rows.len(), limit, encoded) {
            next_host = Some(host.as_str());
            break;
        }
    }
    let out = page.finish(next_host);
    Ok(json(out, StatusCode::OK))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn history_query_defaults_and_errors_name_the_field() {
        let now = datetime!(2026-11-23 10:00:00 UTC);
        let ok = parse_history_query(&q(&[]), now).unwrap();
        assert_eq!(
            ok,
            HistoryQuery {
                host: None,
                since: now - WINDOW,
                from_host: None,
            }
        );
        let ok = parse_history_query(
            &q(&[("host", "vm-1"), ("since", "2026-11-23T09:00:00Z")]),
            now,
        )
        .unwrap();
        assert_eq!(ok.host.as_deref(), Some("vm-1"));
        assert_eq!(ok.since, datetime!(2026-11-23 09:00:00 UTC));
        let ok = parse_history_query(
            &q(&[
                ("from_host", "vm-2"),
                ("since", "2026-11-22t10:00:00+00:00"),
            ]),
            now,
        )
        .unwrap();
        assert_eq!(ok.from_host.as_deref(), Some("vm-2"));
        assert_eq!(ok.since, now - MAX_LOOKBACK);
        for (bad, field) in [
            (q(&[("host", "vm 1")]), "host"),
            (q(&[("host", &"x".repeat(65))]), "host"),
            (q(&[("host", "é")]), "host"),
            (q(&[("from_host", "a/b")]), "from_host"),
            (q(&[("host", "a"), ("from_host", "b")]), "from_host"),
            (q(&[("since", "yesterday")]), "since"),
            (q(&[("since", "2026-11-23T11:00:00Z")]), "since"),
            (q(&[("since", "2026-11-23 09:00:00Z")]), "since"),
            (q(&[("since", "2026-11-23x09:00:00Z")]), "since"),
            (q(&[("since", "2026-11-22T09:59:59Z")]), "since"),
            (q(&[("since", "0000-01-01T00:30:00+01:00")]), "since"),
            (
                q(&[
                    ("since", "2026-11-23T09:00:00Z"),
                    ("since", "2026-11-23T09:00:00Z"),
                ]),
                "since",
            ),
            (q(&[("window", "%C3%A9")]), "window"),
            (q(&[("é", "1")]), "é"),
        ] {
            let e = parse_history_query(&bad, now).unwrap_err();
            assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
            assert_eq!(e.field.as_deref(), Some(field), "{bad:?}");
        }
    }

    #[test]
    fn query_strings_decode_without_failing() {
        assert_eq!(
            url_pairs("host=vm-1&since=2026-11-23T09%3A00%3A00Z&&x"),
            q(&[
                ("host", "vm-1"),
                ("since", "2026-11-23T09:00:00Z"),
                ("x", "")
            ])
        );
        assert_eq!(url_pairs("a=%C3%A9+b%"), q(&[("a", "é b%")]));
        assert_eq!(url_pairs("a=%C3"), q(&[("a", "\u{fffd}")]));
        assert_eq!(url_pairs(""), q(&[]));
    }

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

    fn parse(page: Page, next: Option<&str>) -> serde_json::Value {
        serde_json::from_str(&page.finish(next)).unwrap()
    }

    #[test]
    fn a_page_stops_at_the_row_budget_with_whole_hosts() {
        let mut page = Page::new();
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
        let mut page = Page::new();
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
        // Small hosts: the host count is the limit.
        let mut page = Page::new();
        let mut hosts = 0;
        while page.next_limit().is_some() {
            assert!(page.add(3, HISTORY_LOAD_ROWS, points(3, 50)));
            hosts += 1;
        }
        assert_eq!(hosts, MAX_PAGE_HOSTS);
        let v = parse(page, None);
        assert_eq!(v["truncated"], false);
        assert_eq!(v["samples"].as_array().unwrap().len(), 3 * MAX_PAGE_HOSTS);
    }

    fn field_of(name: &str) -> String {
        name.chars().take(64).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any query string: the parser answers a query or a 422 naming one of the
        /// parameters it was given; it never panics.
        #[test]
        fn any_query_string_parses_or_names_a_field(raw in "[a-z_%=&+0-9A-FTZ:.\\-é\\x00-\\x7f]{0,80}") {
            let pairs = url_pairs(&raw);
            let now = datetime!(2026-11-23 10:00:00 UTC);
            match parse_history_query(&pairs, now) {
                Ok(h) => {
                    prop_assert!(h.since <= now && h.since >= now - MAX_LOOKBACK);
                }
                Err(e) => {
                    prop_assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
                    let field = e.field.clone().unwrap();
                    prop_assert!(pairs.iter().any(|(k, _)| field_of(k) == field), "{field} not in {pairs:?}");
                }
            }
        }

        /// Arbitrary maps over the known names with arbitrary values.
        #[test]
        fn any_known_parameters_parse_or_name_their_field(
            pairs in proptest::collection::vec(
                (prop_oneof![Just("host"), Just("since"), Just("from_host")], any::<String>()),
                0..4,
            ),
            since in "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})",
        ) {
            let mut pairs: Vec<(String, String)> =
                pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            pairs.push(("since".to_owned(), since));
            let now = datetime!(2026-11-23 10:00:00 UTC);
            if let Err(e) = parse_history_query(&pairs, now) {
                let field = e.field.clone().unwrap();
                prop_assert!(pairs.iter().any(|(k, _)| *k == field));
            }
        }
    }
}
