//! # gateway — the storefront's HTTP/JSON API
//!
//! A stateless translator between HTTP and the bus: every route turns a JSON request into one
//! typed service call (`svc.<owner>.<op>.v1`) and the reply (or its typed error) back into JSON,
//! and `GET /v1/orders/{id}/events` forwards the live events of one order as server-sent events.
//! It owns no store and is not a kit [`Component`](mandate::Component): it is a client of the
//! bus like any outside program, so it scales out by running more copies.
//!
//! Code map:
//! - [`routes`]: the single list of routes — method, path and the operation each one calls.
//!   The router, the OpenAPI test and the manifest test all read it.
//! - `caller.rs`: [`Caller<O>`](caller::Caller), the only way a handler reaches the bus; it
//!   refuses an operation its route does not declare.
//! - `body_limit.rs`: the body limit, answered with a 413 the uploading client can hear.
//! - `extract.rs`: JSON bodies, queries, path ids and the `Idempotency-Key` header, each with
//!   a JSON 4xx instead of axum's plain-text rejections.
//! - `errors.rs`: [`ApiError`] (`{"code","message"}`), the mapping of [`mandate::CallError`]
//!   to statuses, the JSON 404 and the guarantee that every error response is JSON.
//! - `products.rs`, `inventory.rs`, `orders.rs`, `health.rs`: the handlers, one concern each.
//! - `events.rs`: one shared core-NATS subscription to `evt.>`, fanned out to SSE clients.
//! - `metrics.rs`: HTTP requests by route and status, and the readiness served on the kit's
//!   metrics listener (`MANDATE_METRICS`).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use mandate::Bus;
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

mod body_limit;
mod caller;
mod errors;
mod events;
mod extract;
mod health;
mod inventory;
mod metrics;
mod orders;
mod products;
pub mod routes;
mod traces;

pub use errors::ApiError;
pub use events::LISTENS;

/// The gateway's name on the bus: its connection name, inbox prefix (`_INBOX.gateway.>`) and
/// the `name` of its manifest.
pub const NAME: &str = "gateway";

/// Tunables of the HTTP side (the bus connection has its own options).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The largest request body accepted, in bytes; larger ones get 413 before anything
    /// reaches the bus.
    pub body_limit: usize,
    /// How long a service call may take before the request fails with 504.
    pub call_timeout: Duration,
    /// How often an idle event stream sends a keep-alive comment.
    pub keep_alive: Duration,
    /// Events buffered per watched order before a slow event-stream client is told it lagged.
    pub event_buffer: usize,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            body_limit: 64 * 1024,
            call_timeout: Duration::from_secs(5),
            keep_alive: Duration::from_secs(15),
            event_buffer: 64,
        }
    }
}

/// What every handler sees.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The bus, sealed: only [`caller::Caller`] can call through it.
    bus: caller::SealedBus,
    events: events::Hub,
    settings: Settings,
    /// Cancelled at shutdown: ends every event stream so the server can drain.
    shutdown: CancellationToken,
}

impl AppState {
    pub(crate) fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    pub(crate) fn events(&self) -> &events::Hub {
        &self.inner.events
    }

    pub(crate) fn shutdown(&self) -> &CancellationToken {
        &self.inner.shutdown
    }

    pub(crate) fn bus(&self) -> &caller::SealedBus {
        &self.inner.bus
    }
}

/// A running gateway: the shared event subscription and the router over it.
#[derive(Debug)]
pub struct Gateway {
    state: AppState,
    http: metrics::HttpMetrics,
}

impl Gateway {
    /// Subscribes to the events it forwards (`evt.>`) and prepares the router. `bus` should be
    /// connected as [`NAME`]; its call timeout is replaced by `settings.call_timeout`.
    pub async fn start(bus: Bus, settings: Settings) -> mandate::Result<Gateway> {
        let bus = bus.with_timeout(settings.call_timeout);
        let shutdown = CancellationToken::new();
        let events = events::Hub::start(bus.client(), settings.event_buffer, shutdown.clone()).await?;
        Ok(Gateway {
            state: AppState {
                inner: Arc::new(Inner {
                    bus: caller::SealedBus::new(bus),
                    events,
                    settings,
                    shutdown,
                }),
            },
            http: metrics::HttpMetrics::default(),
        })
    }

    /// The whole HTTP API: the routes of [`routes::ROUTES`], a JSON 404 for anything else,
    /// the body limit, panic and error safety nets, and request tracing.
    pub fn router(&self) -> Router {
        routes::build()
            .fallback(errors::not_found)
            // The limit is body_limit.rs's alone; axum's own default (2 MiB) would cap a
            // larger configured limit.
            .layer(axum::middleware::from_fn_with_state(
                self.state.clone(),
                body_limit::limit_body,
            ))
            .layer(DefaultBodyLimit::disable())
            .layer(axum::middleware::map_response(errors::ensure_json))
            .layer(CatchPanicLayer::custom(errors::panic_response))
            .layer(
                TraceLayer::new_for_http()
                    .on_failure(tower_http::trace::DefaultOnFailure::new().level(tracing::Level::WARN)),
            )
            // The request's span (traces exported), the parent of the service call it makes.
            .layer(axum::middleware::from_fn(traces::trace))
            // Outermost: the status counted is the one the client gets.
            .layer(axum::middleware::from_fn_with_state(self.http.clone(), metrics::record))
            .with_state(self.state.clone())
    }

    /// Serves `/metrics` (HTTP requests by route and status, process RSS and CPU), `/livez`
    /// and `/readyz` (connected to NATS) on `addr` until `stop` is cancelled.
    pub async fn serve_metrics(
        &self,
        addr: std::net::SocketAddr,
        stop: CancellationToken,
    ) -> std::io::Result<mandate::metrics::Listening> {
        let registry = metrics::registry(&self.http);
        mandate::metrics::serve(addr, registry, metrics::probe(&self.state), stop).await
    }

    /// Ends every open event stream and the event subscription. In-flight calls finish.
    pub fn shutdown(&self) {
        self.state.shutdown().cancel();
    }

    /// Serves the API on `listener` until `signal` resolves, then shuts down gracefully:
    /// event streams end, open requests finish, the subscription is dropped.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let token = self.state.shutdown().clone();
        axum::serve(listener, self.router())
            .with_graceful_shutdown(async move {
                signal.await;
                token.cancel();
            })
            .await
    }
}
