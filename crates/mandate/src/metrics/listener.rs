//! The one HTTP listener of a process: `/metrics` (the Prometheus/OpenMetrics text format),
//! `/livez` and `/readyz`. Off by default; `MANDATE_METRICS=ADDR` or `--metrics ADDR` turns it
//! on (docs/operate.md). The gateway serves its own registry and readiness through it too.

use std::net::SocketAddr;

use crate::options::MetricsAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::health::Probe;

/// The content type of the OpenMetrics text exposition, which Prometheus negotiates.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The address of the listener, `IP:PORT`, checked when flags are parsed.
#[derive(Debug, Clone)]
struct Served {
    registry: Arc<Registry>,
    probe: Arc<dyn Probe>,
}

/// A listener that is running: where it listens, and its task.
#[derive(Debug)]
pub struct Listening {
    pub addr: SocketAddr,
    pub task: JoinHandle<()>,
}

/// Binds `addr` and serves `registry` and `probe` until `stop` is cancelled. A port that
/// cannot be bound is an error at once, saying which setting to change.
pub async fn serve(
    addr: MetricsAddr,
    registry: Registry,
    probe: Arc<dyn Probe>,
    stop: CancellationToken,
) -> std::io::Result<Listening> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|err| {
        std::io::Error::new(
            err.kind(),
            format!("cannot listen for metrics on {addr}: {err} (change MANDATE_METRICS or --metrics)"),
        )
    })?;
    let addr = listener.local_addr()?;
    let served = Served {
        registry: Arc::new(registry),
        probe,
    };
    let ticking = Arc::clone(&served.probe);
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .with_state(served);
    let task = tokio::spawn(async move {
        let ticker = async {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            loop {
                every.tick().await;
                ticking.tick();
            }
        };
        let server = axum::serve(listener, app).with_graceful_shutdown(stop.clone().cancelled_owned());
        tokio::select! {
            result = server => if let Err(err) = result {
                tracing::warn!(error = %err, "the metrics listener stopped");
            },
            () = ticker => {}
            () = stop.cancelled() => {}
        }
    });
    tracing::info!(address = %addr, "metrics and probes listening (/metrics, /livez, /readyz)");
    Ok(Listening { addr, task })
}

async fn metrics(State(served): State<Served>) -> Response {
    let mut body = String::with_capacity(16 * 1024);
    match prometheus_client::encoding::text::encode(&mut body, &served.registry) {
        Ok(()) => ([(header::CONTENT_TYPE, OPENMETRICS)], body).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "cannot encode the metrics").into_response(),
    }
}

/// Alive: the process answers. Whatever makes it unfit for work is `/readyz`'s to say; a
/// component that fails for good exits (and so stops answering this).
async fn livez() -> Response {
    axum::Json(serde_json::json!({ "alive": true })).into_response()
}

async fn readyz(State(served): State<Served>) -> Response {
    let readiness = served.probe.readiness();
    let status = if readiness.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(readiness)).into_response()
}
