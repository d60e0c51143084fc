//! The gateway's figures (docs/operate.md): HTTP requests by method, route and status, and
//! their latency by route, served with the process's RSS and CPU on the kit's metrics listener
//! (`MANDATE_METRICS`), where `/readyz` says whether the gateway is connected to NATS.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use mandate::health::{Probe, Readiness};
use mandate::metrics::{Histogram, ProcessCollector};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::{Registry, Unit};

use crate::{AppState, NAME, routes};

/// The route label of a request no route matched (a 404 from the fallback).
const UNMATCHED: &str = "unmatched";

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: &'static str,
    status: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: &'static str,
}

/// The HTTP figures; clones share them.
#[derive(Debug, Clone, Default)]
pub(crate) struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    seconds: Family<RouteLabels, Histogram>,
}

impl HttpMetrics {
    fn register(&self, registry: &mut Registry) {
        let http = registry.sub_registry_with_prefix("mandate_http");
        http.register(
            "requests",
            "HTTP requests answered, by method, route (its path template) and status",
            self.requests.clone(),
        );
        http.register_with_unit(
            "request",
            "Time to answer an HTTP request (for an event stream: to open it), by method and route",
            Unit::Seconds,
            self.seconds.clone(),
        );
    }
}

/// The middleware that counts every request, with the route's template as its label — never
/// the path itself, whose ids would make a series per order.
pub(crate) async fn record(State(metrics): State<HttpMetrics>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .and_then(|matched| routes::ROUTES.iter().find(|r| r.path == matched.as_str()))
        .map_or(UNMATCHED, |r| r.path);
    let response = next.run(request).await;
    let status = response.status().as_u16();
    metrics
        .requests
        .get_or_create(&RequestLabels { method, route, status })
        .inc();
    metrics
        .seconds
        .get_or_create(&RouteLabels { method, route })
        .observe(started.elapsed());
    response
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The registry the gateway's listener serves, every series labelled `component="gateway"`.
pub(crate) fn registry(metrics: &HttpMetrics) -> Registry {
    let label = (Cow::Borrowed("component"), Cow::Borrowed(NAME));
    let mut registry = Registry::with_labels(std::iter::once(label));
    registry.register_collector(Box::new(ProcessCollector));
    metrics.register(&mut registry);
    registry
}

/// Ready while connected to NATS: every route is a call over it.
#[derive(Debug)]
pub(crate) struct Connected(pub AppState);

impl Probe for Connected {
    fn readiness(&self) -> Readiness {
        let mut not_ready = Vec::new();
        if !self.0.bus().is_connected() {
            not_ready.push("not connected to NATS".to_owned());
        }
        Readiness::from_reasons(not_ready)
    }
}

/// The probe, shareable with the listener.
pub(crate) fn probe(state: &AppState) -> Arc<dyn Probe> {
    Arc::new(Connected(state.clone()))
}
