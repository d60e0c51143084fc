//! Services on the NATS services API (ADR-32): typed MessagePack requests and responses,
//! typed errors in the standard `Nats-Service-Error` / `Nats-Service-Error-Code` headers,
//! discoverable with `$SRV.PING/INFO/STATS` (`nats micro ls`).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use async_nats::HeaderMap;
use async_nats::service::{Request, Service};
use futures::{FutureExt, StreamExt};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::context::Context;
use crate::envelope::Cause;
use crate::error::{Error, Result};
use crate::handler::{CommandFn, Endpoint, QueryFn, RETRYABLE_HEADER, Served, ServiceError};
use crate::metrics::EndpointMetrics;
use crate::own;
use crate::routing;
use crate::shared::Shared;
use crate::store::StoreError;
use crate::telemetry;

/// Starts the component's service with its domain endpoints, one task per endpoint. The
/// runtime adds the admin endpoints.
pub(crate) async fn start(
    shared: &Arc<Shared>,
    version: &str,
    description: &str,
    served: Vec<Served>,
    tasks: &mut JoinSet<()>,
) -> Result<Service> {
    use async_nats::service::ServiceExt;
    let service = shared
        .client()
        .service_builder()
        .description(description.to_owned())
        .start(shared.name(), version)
        .await
        .map_err(|e| Error::nats("starting the service", e))?;
    for served in served {
        let served = Arc::new(served);
        let name = served.operation.replace('.', "-");
        let public = service
            .endpoint_builder()
            .name(name.clone())
            .add(served.subject.as_str())
            .await
            .map_err(|e| Error::nats("adding a service endpoint", e))?;
        tasks.spawn(serve(Arc::clone(shared), Arc::clone(&served), public, Face::Public));
        // A partition also answers on its own subject: what other partitions forward to it.
        if let Some(seat) = shared.seat() {
            let private = service
                .endpoint_builder()
                .name(format!("{name}-{}", seat.label()))
                .add(routing::private_subject(&served.subject, &seat, seat.index))
                .await
                .map_err(|e| Error::nats("adding a partition's service endpoint", e))?;
            tasks.spawn(serve(Arc::clone(shared), served, private, Face::Private));
        }
    }
    Ok(service)
}

/// Which subject an endpoint serves: the public one, or a partition's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Face {
    Public,
    Private,
}

/// One endpoint's task: queries one at a time, commands in groups.
async fn serve(
    shared: Arc<Shared>,
    served: Arc<Served>,
    mut endpoint: async_nats::service::endpoint::Endpoint,
    face: Face,
) {
    let metrics = shared.metrics().endpoint(&served.operation);
    while let Some(first) = endpoint.next().await {
        let Some(first) = route(&shared, &served, face, first).await else {
            continue;
        };
        match &served.endpoint {
            Endpoint::Query(query) => {
                let request = Received::new(&served, first);
                let result = match (face, shared.seat(), &served.gather) {
                    (Face::Public, Some(seat), Some(merge)) => {
                        let traceparent = request.traced.traceparent();
                        let gathered = routing::gather(
                            shared.client(),
                            &seat,
                            &served.subject,
                            &request.request,
                            traceparent,
                            merge,
                        );
                        gathered.instrument(request.span.clone()).await
                    }
                    _ => {
                        let _handler = request.traced.child(|| format!("handler {}", served.operation));
                        request.span.in_scope(|| query_once(&shared, query, &request))
                    }
                };
                // What it read may be a commit whose sync is still running (group commit): the
                // answer leaves once that is durable, so no caller learns what a crash undoes.
                let result = match shared.store().durable_now().await {
                    Ok(()) => result,
                    Err(err) => Err(ServiceError::from(err)),
                };
                request.respond(result, &metrics).await;
            }
            Endpoint::Command(command) => {
                // Every request already waiting joins this one's transaction.
                let mut group = vec![Received::new(&served, first)];
                while group.len() < GROUP_MAX {
                    match endpoint.next().now_or_never() {
                        Some(Some(request)) => {
                            if let Some(request) = route(&shared, &served, face, request).await {
                                group.push(Received::new(&served, request));
                            }
                        }
                        _ => break,
                    }
                }
                run_commands(&shared, &served.operation, command, group, &metrics).await;
            }
        }
    }
}

/// `request`, to be handled here — or `None` once it is forwarded to the partition that owns
/// its key (which answers the caller).
async fn route(shared: &Shared, served: &Served, face: Face, request: Request) -> Option<Request> {
    let (Face::Public, Some(seat), Some(key)) = (face, shared.seat(), &served.key) else {
        return Some(request);
    };
    let Some(owner) = routing::elsewhere(&seat, key, &request.message.payload) else {
        return Some(request);
    };
    let subject = routing::private_subject(&served.subject, &seat, owner);
    routing::forward(shared.client(), &request, subject).await;
    None
}

/// Most command requests one transaction takes in.
const GROUP_MAX: usize = 256;

/// A request as received, with what it was caused by and the span it is handled in.
struct Received {
    request: Request,
    cause: Cause,
    /// Set when the request's headers are malformed: its answer, whatever the body says.
    refused: Option<ServiceError>,
    span: tracing::Span,
    /// Its span when traces are exported: `<operation>`, kind server.
    traced: telemetry::Span,
    /// When it was taken off the endpoint, for its latency.
    received: Instant,
}

impl Received {
    fn new(served: &Served, request: Request) -> Received {
        let (cause, refused) = match Cause::from_request(request.message.headers.as_ref()) {
            Ok(cause) => (cause, None),
            // Handled under a fresh trace, for the log line of the refusal.
            Err(err) => (
                Cause::fresh(),
                Some(ServiceError::bad_request(format!("malformed request headers: {err}"))),
            ),
        };
        let span = tracing::info_span!(
            "request",
            operation = %served.operation,
            correlation_id = %cause.correlation_id,
            trace_id = %cause.traceparent.trace_id,
        );
        let traced = telemetry::serve(&cause.traceparent, &served.operation, &served.subject);
        Received {
            request,
            cause,
            refused,
            span,
            traced,
            received: Instant::now(),
        }
    }

    /// Refuses a request whose headers are malformed before anything runs.
    fn check_headers(&self) -> Result<(), ServiceError> {
        self.refused.clone().map_or(Ok(()), Err)
    }

    fn payload(&self) -> &[u8] {
        &self.request.message.payload
    }

    async fn respond(mut self, result: Result<Vec<u8>, ServiceError>, metrics: &EndpointMetrics) {
        metrics.answered(result.as_ref().err().map(|err| err.code), self.received.elapsed());
        self.traced
            .answered(result.as_ref().err().map(|err| (err.code, err.message.as_str())));
        let _entered = self.span.enter();
        if let Err(err) = &result {
            if err.code >= 500 {
                tracing::error!(code = err.code, message = %err.message, "request failed");
            } else {
                tracing::debug!(code = err.code, message = %err.message, "request refused");
            }
        }
        if let Err(err) = respond(&self.request, result).await {
            tracing::warn!(error = %err, "cannot send the reply");
        }
    }
}

fn refuse_while_rebuilding(shared: &Shared) -> Result<(), ServiceError> {
    if shared.is_rebuilding() {
        return Err(ServiceError::unavailable(format!(
            "{} is rebuilding its state from the streams; retry shortly",
            shared.name()
        )));
    }
    Ok(())
}

fn query_once(shared: &Shared, query: &QueryFn, request: &Received) -> Result<Vec<u8>, ServiceError> {
    request.check_headers()?;
    refuse_while_rebuilding(shared)?;
    catch_panic(|| query(&shared.store().view(), request.payload()))
}

/// Runs a group of command requests in one store transaction, each in its own step (a
/// refused or failed request leaves no trace), commits once — and only once the commit is
/// durable (`durability.rs`: the sync shared with whatever else committed meanwhile)
/// replies to each. Run one after another, they see each
/// other's writes exactly as if they had been committed apart.
async fn run_commands(
    shared: &Shared,
    operation: &str,
    command: &CommandFn,
    group: Vec<Received>,
    metrics: &EndpointMetrics,
) {
    let mut results = Vec::with_capacity(group.len());
    let applied = {
        let _writer = shared.writer().await;
        let mut tx = shared.store().begin();
        for request in &group {
            // What the command emits carries its handler span's traceparent (traces exported).
            let mut handler = request.traced.child(|| format!("handler {operation}"));
            let cause = handler.cause(&request.cause);
            let result = request.span.in_scope(|| {
                request.check_headers()?;
                refuse_while_rebuilding(shared)?;
                catch_panic(|| {
                    let mut ctx = Context::for_command(&mut tx, shared.emitter(), &cause);
                    let response = command(&mut ctx, request.payload())?;
                    own::apply(&mut ctx, shared.handlers()).map_err(own::refusal)?;
                    Ok(response)
                })
            });
            match &result {
                Ok(_) => tx.accept_step(),
                Err(err) => {
                    handler.fail(|| err.message.clone());
                    tx.discard_step();
                }
            }
            results.push(result);
        }
        let traced = telemetry::commit_start(group.iter().any(|request| request.traced.is_on()));
        match shared.store().apply(tx) {
            // Still the one writer: hand-offs come in commit order.
            Ok(committed) => Some((shared.hand_off(committed).await, traced)),
            Err(err) => {
                fail_all(&mut results, err);
                None
            }
        }
    };
    // The writer is free: the next group (or a consumer) is applied while this one syncs, and
    // shares the sync. No reply leaves before the commit is durable.
    if let Some((ticket, traced)) = applied {
        match shared.store().durable(ticket).await {
            Ok(()) => {
                if let Some(took) = telemetry::commit_took(traced) {
                    for (request, _) in group.iter().zip(&results).filter(|(_, result)| result.is_ok()) {
                        request.traced.committed(took);
                    }
                }
            }
            Err(err) => fail_all(&mut results, err),
        }
    }
    for (request, result) in group.into_iter().zip(results) {
        request.respond(result, metrics).await;
    }
}

/// The commit failed: no request of the group succeeded.
fn fail_all(results: &mut [Result<Vec<u8>, ServiceError>], err: StoreError) {
    let failed = ServiceError::from(err);
    for result in results.iter_mut().filter(|r| r.is_ok()) {
        *result = Err(failed.clone());
    }
}

/// Runs a handler, turning a panic into a 500 rather than a dead task.
fn catch_panic<T>(f: impl FnOnce() -> Result<T, ServiceError>) -> Result<T, ServiceError> {
    std::panic::catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        Err(ServiceError::internal(format!(
            "handler panicked: {}",
            crate::panic_message(&panic)
        )))
    })
}

async fn respond(request: &Request, result: Result<Vec<u8>, ServiceError>) -> Result<(), async_nats::PublishError> {
    match result {
        Ok(body) => request.respond(Ok(body.into())).await,
        Err(err) => {
            let mut headers = HeaderMap::new();
            headers.insert(RETRYABLE_HEADER, if err.retryable { "true" } else { "false" });
            let status = async_nats::service::error::Error {
                status: err.message,
                code: usize::from(err.code),
            };
            request.respond_with_headers(Err(status), headers).await
        }
    }
}
