//! The gateway's span for each HTTP request when traces are exported (docs/operate.md,
//! "Traces"): `<METHOD> <route>`, kind server, with `http.route` (the path template, never
//! the path with its ids) and `http.response.status_code` — the root of an order's trace, or
//! the child of the caller's `traceparent` header. The service call a handler makes carries
//! this span's `traceparent` (`telemetry::in_span`), so the component's span is its child.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use mandate::envelope::TRACEPARENT;
use mandate::telemetry;

/// The route label of a request no route matched (a 404 from the fallback).
const UNMATCHED: &str = "unmatched";

pub(crate) async fn trace(request: Request, next: Next) -> Response {
    if !telemetry::enabled() {
        return next.run(request).await;
    }
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, |matched| matched.as_str());
    let traceparent = request.headers().get(TRACEPARENT).and_then(|value| value.to_str().ok());
    let mut span = telemetry::http_server(traceparent, request.method().as_str(), route);
    let response = telemetry::in_span(&span, next.run(request)).await;
    span.http_answered(response.status().as_u16());
    response
}
