//! The two text exposition formats a `/metrics` route can answer in, chosen from the
//! request's `Accept` header the way Prometheus' own libraries do it
//! (prometheus/common `expfmt.NegotiateIncludingOpenMetrics`, used by client_golang and
//! node_exporter):
//!
//! - **OpenMetrics 1.0.0** (`application/openmetrics-text; version=1.0.0`) when the
//!   client prefers it: Prometheus ≥ 2.5 sends
//!   `application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1`
//!   (2.42, captured). This is what prometheus-client encodes natively.
//! - **Prometheus text 0.0.4** (`text/plain; version=0.0.4`) otherwise: no or an
//!   unparsable `Accept`, `*/*`, `text/plain`, unknown types (protobuf, JSON, HTML), a
//!   version we do not speak. It is derived from the OpenMetrics encoding by
//!   [`openmetrics_to_text`], because the two differ in ways a 0.0.4 parser rejects or
//!   misreads: a counter's `# TYPE` names the family (`foo`) while its sample is
//!   `foo_total`; `# UNIT` and `# EOF` lines; `_created` samples; exemplars after ` # `;
//!   timestamps in seconds instead of milliseconds; the `info`, `stateset` and `unknown`
//!   types; `\"` in HELP.
//!
//! Media ranges are tried in order of their q-value (ties keep header order); the first
//! one we can produce wins. A q of 0 means "not acceptable" and is skipped; wildcards
//! never select OpenMetrics (as in expfmt), so they fall through to 0.0.4.

/// OpenMetrics version named in the answer's `Content-Type` (the body is the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMetricsVersion {
    /// `version=0.0.1`, the draft Prometheus 2.5–2.32 asked for.
    V0_0_1,
    /// `version=1.0.0`.
    V1_0_0,
}

/// An exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics text.
    OpenMetrics(OpenMetricsVersion),
}

/// `Content-Type` of the 0.0.4 text format.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// `Content-Type` of OpenMetrics 1.0.0.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
const OPENMETRICS_0_0_1_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=0.0.1; charset=utf-8";

impl Format {
    /// The format to answer a request carrying `accept` (its `Accept` header) in.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Text;
        };
        let mut ranges: Vec<MediaRange<'_>> = split_unquoted(accept, ',')
            .filter_map(MediaRange::parse)
            .filter(|r| r.q > 0.0)
            .collect();
        // Stable: equal q-values keep the client's order.
        ranges.sort_by(|a, b| b.q.total_cmp(&a.q));
        ranges
            .iter()
            .find_map(MediaRange::format)
            .unwrap_or(Format::Text)
    }

    /// The answer's `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => TEXT_CONTENT_TYPE,
            Format::OpenMetrics(OpenMetricsVersion::V1_0_0) => OPENMETRICS_CONTENT_TYPE,
            Format::OpenMetrics(OpenMetricsVersion::V0_0_1) => OPENMETRICS_0_0_1_CONTENT_TYPE,
        }
    }
}

/// One element of an `Accept` header.
#[derive(Debug)]
struct MediaRange<'a> {
    /// `type/subtype`, as sent (compared case-insensitively).
    essence: &'a str,
    version: Option<&'a str>,
    q: f32,
}

impl<'a> MediaRange<'a> {
    /// Parses `type/subtype; k=v; q=0.5`; `None` for a malformed element or q-value.
    fn parse(element: &'a str) -> Option<Self> {
        let mut parts = split_unquoted(element, ';');
        let essence = parts.next()?.trim();
        let (ty, sub) = essence.split_once('/')?;
        if ty.trim().is_empty() || sub.trim().is_empty() {
            return None;
        }
        let mut range = MediaRange {
            essence,
            version: None,
            q: 1.0,
        };
        for param in parts {
            let Some((k, v)) = param.split_once('=') else {
                continue;
            };
            let v = v.trim().trim_matches('"');
            match k.trim() {
                k if k.eq_ignore_ascii_case("q") => {
                    let q: f32 = v.parse().ok()?;
                    if !(0.0..=1.0).contains(&q) {
                        return None;
                    }
                    range.q = q;
                }
                k if k.eq_ignore_ascii_case("version") => range.version = Some(v),
                _ => {}
            }
        }
        Some(range)
    }

    /// The format this range selects, if we can produce it.
    fn format(&self) -> Option<Format> {
        if self.essence.eq_ignore_ascii_case("text/plain") {
            return match self.version {
                None | Some("0.0.4") => Some(Format::Text),
                Some(_) => None,
            };
        }
        if self
            .essence
            .eq_ignore_ascii_case("application/openmetrics-text")
        {
            return match self.version {
                None | Some("1.0.0") => Some(Format::OpenMetrics(OpenMetricsVersion::V1_0_0)),
                Some("0.0.1") => Some(Format::OpenMetrics(OpenMetricsVersion::V0_0_1)),
                Some(_) => None,
            };
        }
        None
    }
}

/// `s` split at every `sep` outside double quotes.
fn split_unquoted(s: &str, sep: char) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let s = rest?;
        let mut quoted = false;
        let mut escaped = false;
        for (i, c) in s.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                c if c == sep && !quoted => {
                    rest = Some(&s[i + c.len_utf8()..]);
                    return Some(&s[..i]);
                }
                _ => {}
            }
        }
        rest = None;
        Some(s)
    })
}

/// How a family's `# TYPE` line and samples are rewritten for 0.0.4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    /// Samples pass unchanged except `<family>_created`, which 0.0.4 has no place for.
    DropCreated,
    /// Every sample passes.
    Plain,
}

/// Rewrites OpenMetrics text (as prometheus-client encodes it) into the Prometheus text
/// format 0.0.4:
///
/// - `# TYPE foo counter` → `# TYPE foo_total counter` (and its HELP renamed alike), the
///   name of the only sample the family has in 0.0.4;
/// - `info` → `gauge` named `foo_info`; `stateset` → `gauge`; `unknown` → `untyped`;
///   `gaugehistogram` and other types loses its TYPE (its samples become untyped);
/// - `# UNIT`, `# EOF`, other comments and blank lines are dropped, as are `_created`
///   samples of counters, histograms and summaries;
/// - exemplars are cut, timestamps turned from seconds into milliseconds;
/// - `\"` in HELP (an OpenMetrics-only escape) becomes `"`.
pub fn openmetrics_to_text(om: &str) -> String {
    let mut out = String::with_capacity(om.len());
    // HELP comes before TYPE in OpenMetrics, but its name depends on the type.
    let mut pending_help: Option<(&str, &str)> = None;
    let mut family: Option<(&str, Family)> = None;
    for line in om.lines() {
        if let Some(comment) = line.strip_prefix('#') {
            let comment = comment.trim_start();
            if let Some(rest) = comment.strip_prefix("HELP ") {
                let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
                if let Some((n, h)) = pending_help.replace((name, help)) {
                    push_help(&mut out, n, h);
                }
            } else if let Some(rest) = comment.strip_prefix("TYPE ") {
                let (name, ty) = rest.split_once(' ').unwrap_or((rest, ""));
                let help = pending_help.take().filter(|(n, _)| *n == name);
                let mapped = match ty.trim() {
                    "counter" => Some((format!("{name}_total"), "counter", Family::DropCreated)),
                    "gauge" => Some((name.to_owned(), "gauge", Family::Plain)),
                    "histogram" => Some((name.to_owned(), "histogram", Family::DropCreated)),
                    "summary" => Some((name.to_owned(), "summary", Family::DropCreated)),
                    "info" => Some((format!("{name}_info"), "gauge", Family::Plain)),
                    "stateset" => Some((name.to_owned(), "gauge", Family::Plain)),
                    "unknown" => Some((name.to_owned(), "untyped", Family::Plain)),
                    _ => None,
                };
                match mapped {
                    Some((text_name, text_type, kind)) => {
                        if let Some((_, h)) = help {
                            push_help(&mut out, &text_name, h);
                        }
                        out.push_str("# TYPE ");
                        out.push_str(&text_name);
                        out.push(' ');
                        out.push_str(text_type);
                        out.push('\n');
                        family = Some((name, kind));
                    }
                    None => family = Some((name, Family::Plain)),
                }
            }
            // `# UNIT`, `# EOF` and anything else: nothing in 0.0.4.
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        if let Some((n, h)) = pending_help.take() {
            push_help(&mut out, n, h);
        }
        let Some(sample) = Sample::parse(line) else {
            // Not something this encoder produces; keep it rather than lose data.
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let created = matches!(family, Some((fam, Family::DropCreated))
            if sample.name.strip_prefix(fam) == Some("_created"));
        if created {
            continue;
        }
        out.push_str(sample.series);
        out.push(' ');
        out.push_str(sample.value);
        if let Some(ts) = sample.timestamp {
            match ts.parse::<f64>() {
                Ok(s) if s.is_finite() => {
                    out.push(' ');
                    out.push_str(&format!("{}", (s * 1000.0).round() as i64));
                }
                _ => {}
            }
        }
        out.push('\n');
    }
    if let Some((n, h)) = pending_help {
        push_help(&mut out, n, h);
    }
    out
}

fn push_help(out: &mut String, name: &str, help: &str) {
    out.push_str("# HELP ");
    out.push_str(name);
    out.push(' ');
    out.push_str(&help.replace("\\\"", "\""));
    out.push('\n');
}

/// A sample line split into its parts.
struct Sample<'a> {
    /// The metric name.
    name: &'a str,
    /// Name and label set, as written.
    series: &'a str,
    value: &'a str,
    timestamp: Option<&'a str>,
}

impl<'a> Sample<'a> {
    /// `name{labels} value [timestamp] [# exemplar]`; `None` when it is not that shape.
    fn parse(line: &'a str) -> Option<Self> {
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let name = &line[..name_end];
        if name.is_empty() {
            return None;
        }
        let mut series_end = name_end;
        if line[name_end..].starts_with('{') {
            // Scan to the closing brace outside quoted label values.
            let mut quoted = false;
            let mut escaped = false;
            let mut close = None;
            for (i, c) in line[name_end..].char_indices() {
                match c {
                    _ if escaped => escaped = false,
                    '\\' if quoted => escaped = true,
                    '"' => quoted = !quoted,
                    '}' if !quoted => {
                        close = Some(name_end + i + 1);
                        break;
                    }
                    _ => {}
                }
            }
            series_end = close?;
        }
        let series = &line[..series_end];
        let mut rest = line[series_end..].split_ascii_whitespace();
        let value = rest.next()?;
        let timestamp = rest.next().filter(|t| *t != "#");
        Some(Sample {
            name,
            series,
            value,
            timestamp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROMETHEUS_2_42: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

    #[test]
    fn prometheus_default_accept_gets_openmetrics() {
        assert_eq!(
            Format::negotiate(Some(PROMETHEUS_2_42)),
            Format::OpenMetrics(OpenMetricsVersion::V1_0_0)
        );
        assert_eq!(
            Format::negotiate(Some(PROMETHEUS_2_42)).content_type(),
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        );
    }

    #[test]
    fn no_or_generic_accept_gets_text_0_0_4() {
        for accept in [
            None,
            Some(""),
            Some("*/*"),
            Some("text/*"),
            Some("text/plain"),
            Some("text/plain;version=0.0.4"),
            Some("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
            Some("application/json"),
            Some("garbage"),
            Some(";;;,,"),
        ] {
            assert_eq!(Format::negotiate(accept), Format::Text, "{accept:?}");
        }
        assert_eq!(
            Format::Text.content_type(),
            "text/plain; version=0.0.4; charset=utf-8"
        );
    }

    #[test]
    fn q_values_order_the_choice() {
        // Text preferred over OpenMetrics by q, whatever the order in the header.
        assert_eq!(
            Format::negotiate(Some(
                "application/openmetrics-text;version=1.0.0;q=0.4,text/plain;version=0.0.4;q=0.9"
            )),
            Format::Text
        );
        assert_eq!(
            Format::negotiate(Some(
                "text/plain;version=0.0.4;q=0.3, application/openmetrics-text; version=1.0.0; q=0.8"
            )),
            Format::OpenMetrics(OpenMetricsVersion::V1_0_0)
        );
        // Equal q: the client's order.
        assert_eq!(
            Format::negotiate(Some("text/plain, application/openmetrics-text")),
            Format::Text
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text, text/plain")),
            Format::OpenMetrics(OpenMetricsVersion::V1_0_0)
        );
        // q=0 is "not acceptable"; a malformed q drops only that element.
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;q=0")),
            Format::Text
        );
        assert_eq!(
            Format::negotiate(Some(
                "text/plain;q=bogus,application/openmetrics-text;q=0.1"
            )),
            Format::OpenMetrics(OpenMetricsVersion::V1_0_0)
        );
        assert_eq!(
            Format::negotiate(Some("text/plain;q=2,application/openmetrics-text;q=0.1")),
            Format::OpenMetrics(OpenMetricsVersion::V1_0_0)
        );
    }

    #[test]
    fn versions_and_wildcards() {
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;version=0.0.1")),
            Format::OpenMetrics(OpenMetricsVersion::V0_0_1)
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;version=0.0.1")).content_type(),
            "application/openmetrics-text; version=0.0.1; charset=utf-8"
        );
        // A version we do not speak is skipped, the next acceptable range wins.
        assert_eq!(
            Format::negotiate(Some(
                "application/openmetrics-text;version=2.0.0,application/openmetrics-text;version=1.0.0;q=0.5"
            )),
            Format::OpenMetrics(OpenMetricsVersion::V1_0_0)
        );
        assert_eq!(
            Format::negotiate(Some("text/plain;version=1.0.0")),
            Format::Text
        );
        // Wildcards never pick OpenMetrics, even at a higher q.
        assert_eq!(
            Format::negotiate(Some("*/*;q=1,application/*;q=1")),
            Format::Text
        );
        // Protobuf (Prometheus with native histograms) first: we fall to the next range.
        assert_eq!(
            Format::negotiate(Some(
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,text/plain;version=0.0.4;q=0.5"
            )),
            Format::OpenMetrics(OpenMetricsVersion::V1_0_0)
        );
        // Case-insensitive type, quoted parameter with a comma inside.
        assert_eq!(
            Format::negotiate(Some(
                "Application/OpenMetrics-Text; Version=\"1.0.0\"; foo=\"a,b\""
            )),
            Format::OpenMetrics(OpenMetricsVersion::V1_0_0)
        );
    }

    #[test]
    fn converts_every_openmetrics_construct() {
        let om = "# HELP req Requests \\\"served\\\".\n\
# TYPE req counter\n\
req_total{route=\"/a b}\\\"\",code=\"200\"} 3 # {trace_id=\"x\"} 1.0 1700000000.5\n\
req_created{route=\"/a b}\\\"\",code=\"200\"} 1700000000.0\n\
# HELP lat_seconds Latency.\n\
# TYPE lat_seconds histogram\n\
# UNIT lat_seconds seconds\n\
lat_seconds_sum 1.5\n\
lat_seconds_count 2\n\
lat_seconds_bucket{le=\"+Inf\"} 2 # {id=\"e\"} 0.7\n\
# HELP build Build.\n\
# TYPE build info\n\
build_info{version=\"1\"} 1\n\
# HELP temp Temperature.\n\
# TYPE temp gauge\n\
temp 21.5 1700000000.25\n\
# HELP mystery Something.\n\
# TYPE mystery unknown\n\
mystery 7\n\
# EOF\n";
        let text = openmetrics_to_text(om);
        let expected = "# HELP req_total Requests \"served\".\n\
# TYPE req_total counter\n\
req_total{route=\"/a b}\\\"\",code=\"200\"} 3\n\
# HELP lat_seconds Latency.\n\
# TYPE lat_seconds histogram\n\
lat_seconds_sum 1.5\n\
lat_seconds_count 2\n\
lat_seconds_bucket{le=\"+Inf\"} 2\n\
# HELP build_info Build.\n\
# TYPE build_info gauge\n\
build_info{version=\"1\"} 1\n\
# HELP temp Temperature.\n\
# TYPE temp gauge\n\
temp 21.5 1700000000250\n\
# HELP mystery Something.\n\
# TYPE mystery untyped\n\
mystery 7\n";
        assert_eq!(text, expected);
    }
}
