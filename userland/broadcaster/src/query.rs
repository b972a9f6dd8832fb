//! The query of `GET /api/v1/history`: `host`, `from` (alias `since`), `to` and
//! `from_host`, parsed and checked without I/O. Any input gives a [`HistoryQuery`] or a
//! 422 naming the field: an unknown parameter, one given twice (`since` and `from`
//! count as one), a bad host name, a time that does not parse, `from` not before `to`,
//! a span over [`MAX_SPAN`]. Whether the tiers still keep `from` is checked against the
//! database's `history_tiers` afterwards ([`crate::tiers::choose`]), naming
//! [`HistoryQuery::from_field`].
//!
//! Without `to` the range ends now, but what is read goes on to [`MAX_FUTURE_SKEW`]
//! later ([`HistoryQuery::read_to`]): ingest accepts a `collected_at` up to that far
//! ahead of its clock, so a host whose clock runs ahead would otherwise lose its newest
//! rows from every "last N minutes" answer.

use procpulse_model::validate::MAX_FUTURE_SKEW;
use procpulse_service::ApiError;
use time::OffsetDateTime;

use crate::history::WINDOW;
use crate::range::parse_time;
use crate::tiers::MAX_SPAN;

/// The parameters `/api/v1/history` knows.
pub const PARAMETERS: [&str; 5] = ["host", "from", "since", "to", "from_host"];

/// Query of `/api/v1/history`.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryQuery {
    /// One host, or every host.
    pub host: Option<String>,
    /// Start of the range (inclusive): `from` or `since`; default [`WINDOW`] before `to`.
    pub from: OffsetDateTime,
    /// End of the range (exclusive); default now. The tier and the span limits are
    /// judged on `[from, to)`.
    pub to: OffsetDateTime,
    /// End of what is read (exclusive): `to` when it was given, else [`MAX_FUTURE_SKEW`]
    /// after it (rows of hosts whose clocks run ahead; see the module docs).
    pub read_to: OffsetDateTime,
    /// Without `host`: start the page at this host name (the previous page's `next_host`).
    pub from_host: Option<String>,
    /// The parameter an error about the range's start names: `from` or `since` as
    /// given, `to` when neither was (the start then follows from `to`).
    pub from_field: &'static str,
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

/// Parses and checks the query at `now`: times are RFC 3339 (`T` or `t` between date and
/// time), `now` or relative (`-15m`, `-24h`, `-7d`, `-30s`); `to` defaults to `now`,
/// `from` to [`WINDOW`] before `to`; `from < to`; `to − from ≤` [`MAX_SPAN`]; reads go
/// on to [`MAX_FUTURE_SKEW`] after `to` when it was not given. An empty value counts as
/// absent.
pub fn parse_history_query(
    pairs: &[(String, String)],
    now: OffsetDateTime,
) -> Result<HistoryQuery, ApiError> {
    fn canonical(name: &str) -> &str {
        if name == "since" { "from" } else { name }
    }
    let mut seen: Vec<&str> = Vec::new();
    for (k, _) in pairs {
        if !PARAMETERS.contains(&k.as_str()) {
            return Err(ApiError::invalid_field(
                field_name(k),
                format!("unknown parameter (known: {})", PARAMETERS.join(", ")),
            ));
        }
        if let Some(prev) = seen.iter().find(|p| canonical(p) == canonical(k)) {
            return Err(ApiError::invalid_field(
                k.as_str(),
                if prev == k {
                    format!("{k} is given more than once")
                } else {
                    "since is another name for from: give one of them".to_owned()
                },
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
    let time = |field: &'static str, text: &str| {
        parse_time(text, now).map_err(|e| ApiError::invalid_field(field, format!("{field}: {e}")))
    };
    let given_to = get("to").map(|t| time("to", t)).transpose()?;
    let to = given_to.unwrap_or(now);
    let read_to = match given_to {
        Some(to) => to,
        None => now.checked_add(MAX_FUTURE_SKEW).unwrap_or(now),
    };
    let (from_field, from) = match (get("from"), get("since")) {
        (Some(f), _) => ("from", time("from", f)?),
        (None, Some(s)) => ("since", time("since", s)?),
        (None, None) => ("to", to - WINDOW),
    };
    if from >= to {
        return Err(ApiError::invalid_field(
            from_field,
            format!("{from_field} must be before to ({to})"),
        ));
    }
    if to - from > MAX_SPAN {
        return Err(ApiError::invalid_field(
            from_field,
            format!(
                "the range from {from_field} to to is longer than {} days (ask in parts)",
                MAX_SPAN.whole_days()
            ),
        ));
    }
    Ok(HistoryQuery {
        host,
        from,
        to,
        read_to,
        from_host,
        from_field,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::url_pairs;
    use proptest::prelude::*;
    use time::macros::datetime;
    use warp::http::StatusCode;

    const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_aliases_and_relative_times() {
        assert_eq!(
            parse_history_query(&q(&[]), NOW).unwrap(),
            HistoryQuery {
                host: None,
                from: NOW - WINDOW,
                to: NOW,
                read_to: NOW + MAX_FUTURE_SKEW,
                from_host: None,
                from_field: "to",
            }
        );
        let ok = parse_history_query(
            &q(&[("host", "vm-1"), ("since", "2026-11-23T09:00:00Z")]),
            NOW,
        )
        .unwrap();
        assert_eq!(ok.host.as_deref(), Some("vm-1"));
        assert_eq!((ok.from, ok.to), (datetime!(2026-11-23 09:00:00 UTC), NOW));
        assert_eq!(ok.from_field, "since");
        let ok = parse_history_query(&q(&[("from", "-24h"), ("to", "now")]), NOW).unwrap();
        assert_eq!(
            (ok.from, ok.to, ok.from_field),
            (NOW - time::Duration::hours(24), NOW, "from")
        );
        // `to` given (even as now): exactly up to it; not given: up to the skew ingest
        // accepts in collected_at.
        assert_eq!(ok.read_to, NOW);
        let ok = parse_history_query(&q(&[("from", "-1h")]), NOW).unwrap();
        assert_eq!((ok.to, ok.read_to), (NOW, NOW + time::Duration::minutes(5)));
        let ok = parse_history_query(&q(&[("to", "")]), NOW).unwrap();
        assert_eq!(ok.read_to, NOW + MAX_FUTURE_SKEW, "an empty to is absent");
        let ok = parse_history_query(
            &q(&[
                ("from_host", "vm-2"),
                ("from", "2026-11-22t10:00:00+00:00"),
                ("to", "-30s"),
            ]),
            NOW,
        )
        .unwrap();
        assert_eq!(ok.from_host.as_deref(), Some("vm-2"));
        assert_eq!(ok.to, NOW - time::Duration::seconds(30));
        assert_eq!(ok.read_to, ok.to);
        // `to` alone: the window ends there.
        let ok = parse_history_query(&q(&[("to", "-1h")]), NOW).unwrap();
        assert_eq!(ok.from, NOW - time::Duration::hours(1) - WINDOW);
        // Empty values are absent; the span limit is inclusive.
        let ok = parse_history_query(&q(&[("host", ""), ("from", "-800d")]), NOW).unwrap();
        assert_eq!((ok.host, ok.from), (None, NOW - MAX_SPAN));
        // A future `to` is allowed (a host whose clock runs ahead).
        assert!(parse_history_query(&q(&[("to", "2026-11-24T00:00:00Z")]), NOW).is_ok());
    }

    #[test]
    fn errors_name_the_field() {
        for (bad, field, says) in [
            (q(&[("host", "vm 1")]), "host", "1-64 characters"),
            (q(&[("host", &"x".repeat(65))]), "host", ""),
            (q(&[("host", "é")]), "host", ""),
            (q(&[("from_host", "a/b")]), "from_host", ""),
            (
                q(&[("host", "a"), ("from_host", "b")]),
                "from_host",
                "cannot be combined",
            ),
            (q(&[("since", "yesterday")]), "since", "RFC 3339"),
            (q(&[("from", "-1")]), "from", "got \"1\""),
            (q(&[("from", "-15x")]), "from", "units d, h, m, s, ms"),
            (q(&[("to", "soon")]), "to", "relative time like -15m"),
            (
                q(&[("since", "2026-11-23T11:00:00Z")]),
                "since",
                "before to",
            ),
            (q(&[("from", "now")]), "from", "before to"),
            (q(&[("from", "-1h"), ("to", "-2h")]), "from", "before to"),
            (q(&[("from", "-1h"), ("to", "-1h")]), "from", "before to"),
            (q(&[("from", "-801d")]), "from", "longer than 800 days"),
            (q(&[("since", "2026-11-23 09:00:00Z")]), "since", "'T'"),
            (q(&[("since", "2026-11-23x09:00:00Z")]), "since", ""),
            (q(&[("since", "0000-01-01T00:30:00+01:00")]), "since", ""),
            (q(&[("since", "-1h"), ("since", "-1h")]), "since", "once"),
            (
                q(&[("from", "-1h"), ("from", "-2h")]),
                "from",
                "more than once",
            ),
            (
                q(&[("from", "-1h"), ("since", "-2h")]),
                "since",
                "another name for from",
            ),
            (
                q(&[("since", "-1h"), ("from", "-2h")]),
                "from",
                "another name for from",
            ),
            (q(&[("to", "-1h"), ("to", "-2h")]), "to", "more than once"),
            (
                q(&[("window", "%C3%A9")]),
                "window",
                "unknown parameter (known: host, from, since, to, from_host)",
            ),
            (q(&[("é", "1")]), "é", "unknown"),
            (q(&[("limit", "5")]), "limit", "unknown"),
        ] {
            let e = parse_history_query(&bad, NOW).unwrap_err();
            assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
            assert_eq!(e.field.as_deref(), Some(field), "{bad:?}");
            assert!(e.message.contains(says), "{bad:?}: {}", e.message);
        }
    }

    fn field_of(name: &str) -> String {
        name.chars().take(64).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any query string: the parser answers a query within the limits or a 422
        /// naming one of the parameters it was given; it never panics.
        #[test]
        fn any_query_string_parses_or_names_a_field(raw in "[a-z_%=&+0-9A-FTZ:.\\-é\\x00-\\x7f]{0,80}") {
            let pairs = url_pairs(&raw);
            match parse_history_query(&pairs, NOW) {
                Ok(h) => {
                    prop_assert!(h.from < h.to && h.to - h.from <= MAX_SPAN);
                    prop_assert!(h.read_to == h.to || h.read_to == NOW + MAX_FUTURE_SKEW);
                }
                Err(e) => {
                    prop_assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
                    let field = e.field.clone().unwrap();
                    prop_assert!(pairs.iter().any(|(k, _)| field_of(k) == field), "{field} not in {pairs:?}");
                }
            }
        }

        /// Arbitrary maps over the known names with arbitrary values, plus a time that
        /// is valid often enough.
        #[test]
        fn any_known_parameters_parse_or_name_their_field(
            pairs in proptest::collection::vec(
                (prop_oneof![Just("host"), Just("since"), Just("from"), Just("to"), Just("from_host")], any::<String>()),
                0..4,
            ),
            at in "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})|now|-[0-9]{1,4}[smhdx]",
            name in prop_oneof![Just("since"), Just("from"), Just("to")],
        ) {
            let mut pairs: Vec<(String, String)> =
                pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            pairs.push((name.to_owned(), at));
            if let Err(e) = parse_history_query(&pairs, NOW) {
                let field = e.field.clone().unwrap();
                prop_assert!(pairs.iter().any(|(k, _)| *k == field));
            }
        }
    }
}
