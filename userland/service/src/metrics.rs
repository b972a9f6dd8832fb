//! Request metrics for every service, and `GET /metrics` in OpenMetrics or the
//! Prometheus text format 0.0.4, negotiated from `Accept` ([`Format`]).
//!
//! A service builds one [`Registry`] with the prefix `procpulse` at start-up, registers
//! [`HttpMetrics`] and its own metrics, then freezes it into a [`MetricsRegistry`] that
//! [`route`] renders. Names follow `procpulse_<name>_<unit>[_total]`; register a counter
//! without `_total` (the encoder appends it).

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use warp::Filter;
use warp::http::header;

pub use crate::exposition::{Format, OpenMetricsVersion, openmetrics_to_text};

/// The frozen registry a service renders at `GET /metrics`.
pub type MetricsRegistry = Arc<Registry>;

/// A registry whose metric names start with `procpulse_`.
pub fn new_registry() -> Registry {
    Registry::with_prefix("procpulse")
}

/// Latency buckets in seconds, 100 µs to 10 s: the range from a cached snapshot to a
/// database outage.
pub const LATENCY_BUCKETS_SECONDS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5, 10.0,
];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

/// Counts requests by route, method and status, and their latency by route.
///
/// Labels stay bounded: a path that is not one of the service's routes is counted as
/// `other`, a method outside the usual set as `OTHER`.
#[derive(Debug)]
pub struct HttpMetrics {
    routes: &'static [&'static str],
    requests: Family<RequestLabels, Counter>,
    duration: Family<RouteLabels, Histogram>,
}

impl HttpMetrics {
    /// Registers `procpulse_http_requests_total` and
    /// `procpulse_http_request_duration_seconds` in `registry`. `routes` are the
    /// service's paths (without query), used as the `route` label.
    pub fn register(registry: &mut Registry, routes: &'static [&'static str]) -> Arc<Self> {
        let requests = Family::<RequestLabels, Counter>::default();
        let duration = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(LATENCY_BUCKETS_SECONDS)
        });
        registry.register(
            "http_requests",
            "HTTP requests answered, by route, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time from request to response head, by route",
            duration.clone(),
        );
        Arc::new(HttpMetrics {
            routes,
            requests,
            duration,
        })
    }

    /// Records one answered request.
    pub fn observe(&self, method: &warp::http::Method, path: &str, status: u16, elapsed: Duration) {
        let route = self
            .routes
            .iter()
            .copied()
            .find(|r| *r == path)
            .unwrap_or("other");
        let method = match method.as_str() {
            "GET" => "GET",
            "POST" => "POST",
            "PUT" => "PUT",
            "DELETE" => "DELETE",
            "HEAD" => "HEAD",
            "OPTIONS" => "OPTIONS",
            "PATCH" => "PATCH",
            _ => "OTHER",
        };
        self.requests
            .get_or_create(&RequestLabels {
                route,
                method,
                status,
            })
            .inc();
        self.duration
            .get_or_create(&RouteLabels { route })
            .observe(elapsed.as_secs_f64());
    }

    /// A `warp::log` wrapper that records every request: `routes.with(metrics.log())`.
    pub fn log(self: &Arc<Self>) -> warp::log::Log<impl Fn(warp::log::Info<'_>) + Clone + use<>> {
        let this = Arc::clone(self);
        warp::log::custom(move |info| {
            this.observe(
                info.method(),
                info.path(),
                info.status().as_u16(),
                info.elapsed(),
            )
        })
    }
}

/// `registries` in `format`: their OpenMetrics encoding, one after the other, ended by
/// `# EOF`, or that rewritten into the text format 0.0.4 (see [`openmetrics_to_text`]).
/// Family names must be unique across `registries`. Empty when encoding fails (a
/// metric's own encoder failed; not expected).
pub fn render(format: Format, registries: &[&Registry]) -> String {
    let mut out = String::with_capacity(4096);
    let encoded = registries
        .iter()
        .try_for_each(|r| prometheus_client::encoding::text::encode_registry(&mut out, r))
        .and_then(|()| prometheus_client::encoding::text::encode_eof(&mut out));
    if encoded.is_err() {
        tracing::error!("Encoding metrics failed");
        out.clear();
        if matches!(format, Format::OpenMetrics(_)) {
            out.push_str("# EOF\n");
        }
        return out;
    }
    match format {
        Format::OpenMetrics(_) => out,
        Format::Text => openmetrics_to_text(&out),
    }
}

/// The [`Format`] a request asks for in its `Accept` header: add it to a `/metrics`
/// filter (`warp::path!("metrics").and(warp::get()).and(format())`).
pub fn format() -> impl Filter<Extract = (Format,), Error = std::convert::Infallible> + Clone {
    warp::header::optional::<String>("accept")
        .or(warp::any().map(|| None))
        .unify()
        .map(|accept: Option<String>| Format::negotiate(accept.as_deref()))
}

/// A `/metrics` answer: `body` (from [`render`] in `format`) with its `Content-Type`
/// and `Vary: Accept`.
pub fn response(format: Format, body: String) -> warp::reply::Response {
    let mut res = warp::reply::Response::new(body.into());
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(format.content_type()),
    );
    headers.insert(header::VARY, header::HeaderValue::from_static("accept"));
    res
}

/// `GET /metrics`: the registry in OpenMetrics or the text format 0.0.4, as the `Accept`
/// header asks (see [`Format::negotiate`]).
pub fn route(
    registry: MetricsRegistry,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    warp::path!("metrics")
        .and(warp::get())
        .and(format())
        .map(move |format| response(format, render(format, &[&registry])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::gauge::Gauge;
    use prometheus_client::metrics::info::Info;
    use prometheus_client::registry::Unit;

    fn sample_registry() -> Registry {
        let mut reg = new_registry();
        let m = HttpMetrics::register(&mut reg, &["/healthz"]);
        let get = warp::http::Method::GET;
        m.observe(&get, "/healthz", 200, Duration::from_millis(1));
        m.observe(&get, "/random/1", 404, Duration::from_millis(1));
        m.observe(&get, "/random/2", 404, Duration::from_millis(1));
        let g: Gauge = Gauge::default();
        g.set(7);
        reg.register_with_unit("queue", "Queued bytes", Unit::Bytes, g);
        reg.register(
            "build",
            "Build",
            Info::new(vec![("version".to_owned(), "1.2".to_owned())]),
        );
        reg
    }

    /// Checks the 0.0.4 grammar the way Prometheus' text parser reads it: every sample
    /// belongs to the family its preceding TYPE line names (exactly, or with the
    /// histogram suffixes), a TYPE comes at most once per name and before its samples,
    /// types are 0.0.4 ones, no OpenMetrics-only lines.
    fn assert_valid_0_0_4(text: &str) {
        let mut seen = std::collections::HashSet::new();
        let mut current: Option<(String, String)> = None;
        for line in text.lines() {
            assert!(!line.is_empty(), "blank line in {text}");
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, ty) = rest.split_once(' ').unwrap();
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&ty),
                    "{line}"
                );
                assert!(seen.insert(name.to_owned()), "TYPE twice: {line}");
                current = Some((name.to_owned(), ty.to_owned()));
                continue;
            }
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let name = rest.split(' ').next().unwrap();
                assert!(!rest.contains("\\\""), "{line}");
                assert!(
                    text.contains(&format!("# TYPE {name} ")),
                    "HELP without TYPE: {line}"
                );
                continue;
            }
            assert!(!line.starts_with('#'), "OpenMetrics-only line: {line}");
            let name = line.split(['{', ' ']).next().unwrap();
            let (family, ty) = current.as_ref().expect("sample before any TYPE");
            let ok = match ty.as_str() {
                "histogram" => ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|s| name.strip_prefix(family.as_str()) == Some(*s)),
                "summary" => {
                    name == family
                        || name == format!("{family}_sum")
                        || name == format!("{family}_count")
                }
                _ => name == family,
            };
            assert!(ok, "sample {name} under TYPE {family} {ty}");
            assert!(!line.contains(" # "), "exemplar left: {line}");
            let fields: Vec<&str> = line[line.rfind('}').map_or(name.len(), |i| i + 1)..]
                .split_ascii_whitespace()
                .collect();
            assert!((1..=2).contains(&fields.len()), "{line}");
            fields[0].parse::<f64>().unwrap();
        }
    }

    #[test]
    fn unknown_paths_fold_into_other() {
        let text = render(Format::Text, &[&sample_registry()]);
        assert!(
            text.contains(
                r#"procpulse_http_requests_total{route="/healthz",method="GET",status="200"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(
                r#"procpulse_http_requests_total{route="other",method="GET",status="404"} 2"#
            ),
            "{text}"
        );
        assert!(text.contains("procpulse_http_request_duration_seconds_bucket"));
    }

    #[test]
    fn text_rendering_is_0_0_4() {
        let text = render(Format::Text, &[&sample_registry()]);
        assert_valid_0_0_4(&text);
        for needle in [
            "# HELP procpulse_http_requests_total HTTP requests answered",
            "# TYPE procpulse_http_requests_total counter\n",
            "# TYPE procpulse_http_request_duration_seconds histogram\n",
            "procpulse_http_request_duration_seconds_bucket{le=\"+Inf\",route=\"/healthz\"} 1\n",
            "# TYPE procpulse_queue_bytes gauge\nprocpulse_queue_bytes 7\n",
            "# TYPE procpulse_build_info gauge\nprocpulse_build_info{version=\"1.2\"} 1\n",
        ] {
            assert!(text.contains(needle), "{needle} missing from:\n{text}");
        }
        for absent in ["# EOF", "# UNIT", "_created", " info\n"] {
            assert!(!text.contains(absent), "{absent} in:\n{text}");
        }
    }

    #[test]
    fn openmetrics_rendering_ends_in_eof_and_keeps_family_names() {
        let a = sample_registry();
        let mut b = Registry::with_prefix("other");
        let g: Gauge = Gauge::default();
        b.register("thing", "A thing", g);
        let om = render(Format::OpenMetrics(OpenMetricsVersion::V1_0_0), &[&a, &b]);
        assert!(om.ends_with("\n# EOF\n"), "{om}");
        assert_eq!(om.matches("# EOF").count(), 1);
        assert!(om.contains("# TYPE procpulse_http_requests counter\n"));
        assert!(om.contains("# UNIT procpulse_queue_bytes bytes\n"));
        assert!(om.contains("# TYPE procpulse_build info\n"));
        assert!(om.contains("# TYPE other_thing gauge\nother_thing 0\n"));
        // Both registries, one 0.0.4 document.
        let text = render(Format::Text, &[&a, &b]);
        assert_valid_0_0_4(&text);
        assert!(text.contains("other_thing 0\n"));
    }

    #[tokio::test]
    async fn route_negotiates_from_accept() {
        let registry: MetricsRegistry = Arc::new(sample_registry());
        let filter = route(registry);
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        let res = warp::test::request()
            .path("/metrics")
            .header("accept", prometheus)
            .reply(&filter)
            .await;
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.headers()["content-type"],
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        );
        assert_eq!(res.headers()["vary"], "accept");
        assert!(res.body().ends_with(b"# EOF\n"));
        for accept in [
            None,
            Some("*/*"),
            Some("text/plain"),
            Some("application/json"),
        ] {
            let mut req = warp::test::request().path("/metrics");
            if let Some(a) = accept {
                req = req.header("accept", a);
            }
            let res = req.reply(&filter).await;
            assert_eq!(
                res.headers()["content-type"],
                "text/plain; version=0.0.4; charset=utf-8",
                "{accept:?}"
            );
            let body = std::str::from_utf8(res.body()).unwrap();
            assert_valid_0_0_4(body);
        }
    }
}
