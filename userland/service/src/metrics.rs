//! Request metrics for every service, in Prometheus text exposition (prometheus-client).
//!
//! A service builds one [`Registry`] with the prefix `procpulse` at start-up, registers
//! [`HttpMetrics`] and its own metrics, then freezes it into a [`MetricsRegistry`] that
//! `GET /metrics` renders. Names follow `procpulse_<name>_<unit>[_total]`.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use warp::Filter;
use warp::http::header;

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

/// Renders `registry` in the Prometheus text format.
pub fn render(registry: &Registry) -> String {
    let mut out = String::with_capacity(4096);
    if prometheus_client::encoding::text::encode(&mut out, registry).is_err() {
        out.clear();
    }
    out
}

/// `GET /metrics`: the registry in the Prometheus text format.
pub fn route(
    registry: MetricsRegistry,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    warp::path!("metrics").and(warp::get()).map(move || {
        let body = render(&registry);
        let mut res = warp::reply::Response::new(body.into());
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        res
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_paths_fold_into_other() {
        let mut reg = new_registry();
        let m = HttpMetrics::register(&mut reg, &["/healthz"]);
        let get = warp::http::Method::GET;
        m.observe(&get, "/healthz", 200, Duration::from_millis(1));
        m.observe(&get, "/random/1", 404, Duration::from_millis(1));
        m.observe(&get, "/random/2", 404, Duration::from_millis(1));
        let text = render(&reg);
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
}
