//! OpenTelemetry traces over OTLP (docs/operate.md, "Traces"): off unless the standard
//! `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set; then every
//! kit component (and the gateway) exports its spans to it over OTLP/HTTP, protobuf by default
//! (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json` also works; `grpc` is not built in).
//!
//! The spans are built on the `traceparent` each message already carries, so one order is one
//! trace across every component: a span is parented on the incoming `traceparent` (a remote
//! context), and what a component sends on carries the `traceparent` of its own span. Spans
//! are started with the OpenTelemetry API and explicit parents, not through `tracing`: a
//! batch commits on a blocking thread and an outbox entry is published long after the handler
//! that staged it, so the parent is data that travels with the work (a [`Span`] or the
//! stored `traceparent`), not whatever span is current on a thread.
//!
//! Off, nothing here allocates or locks: [`Span`] is an `Option` that stays `None`, and the
//! hop to the next component keeps today's behaviour (a fresh child id, `TraceParent::child`).

use std::borrow::Cow;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer as _,
    TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanData, SpanExporter};

use crate::envelope::{Cause, TraceParent};

/// The tracer of this process, once export is on ([`init`]).
static TRACER: OnceLock<SdkTracer> = OnceLock::new();

/// The variables that turn export on (either; the signal's own wins, as the exporter reads it).
pub const ENDPOINT_VARS: [&str; 2] = ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"];

/// Whether spans are exported by this process.
pub fn enabled() -> bool {
    TRACER.get().is_some()
}

/// Export, while it runs: [`shutdown`](Telemetry::shutdown) flushes what is queued.
#[derive(Debug)]
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Telemetry {
    /// Exports every span still queued and stops the exporter: the last step of a clean stop,
    /// after the component has drained, so that no span of its last work is lost. Runs on a
    /// blocking thread (the SDK waits for the export), bounded by the exporter's timeout.
    pub async fn shutdown(self) {
        let provider = self.provider;
        let done = tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(Duration::from_secs(10))).await;
        match done {
            Ok(Ok(())) => tracing::debug!("traces flushed"),
            Ok(Err(err)) => tracing::warn!(error = %err, "flushing the traces at shutdown failed"),
            Err(err) => tracing::warn!(error = %err, "flushing the traces at shutdown failed"),
        }
    }
}

/// Turns export on when the environment asks for it ([`ENDPOINT_VARS`]; `OTEL_SDK_DISABLED`
/// or `OTEL_TRACES_EXPORTER=none` keep it off). `service.name` is `OTEL_SERVICE_NAME`, or
/// `service` (the component's name); a partition adds `mandate.partition` (`p1of3`).
/// `OTEL_RESOURCE_ATTRIBUTES` is honoured. An exporter that cannot be built is logged and
/// export stays off: traces never stop a component.
pub fn init(service: &str, partition: Option<String>) -> Option<Telemetry> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if !ENDPOINT_VARS.iter().any(|name| var(name).is_some()) {
        return None;
    }
    if var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        || var("OTEL_TRACES_EXPORTER").is_some_and(|v| v.eq_ignore_ascii_case("none"))
    {
        return None;
    }
    let mut builder = opentelemetry_otlp::SpanExporter::builder().with_http();
    // The standard default is protobuf; the crate's is JSON once JSON is built in. A protocol
    // given in the environment is left to the crate to read (what is set here would win).
    if ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"]
        .iter()
        .all(|name| var(name).is_none())
    {
        builder = builder.with_protocol(Protocol::HttpBinary);
    }
    let exporter = match builder.build() {
        Ok(exporter) => exporter,
        Err(err) => {
            tracing::error!(error = %err, "cannot export traces (OTEL_EXPORTER_OTLP_*); going on without");
            return None;
        }
    };
    let mut resource = Resource::builder();
    if var("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name(service.to_owned());
    }
    if let Some(partition) = partition {
        resource = resource.with_attribute(KeyValue::new("mandate.partition", partition));
    }
    let processor = opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
        LoggedOnce::new(exporter),
        opentelemetry_sdk::runtime::TokioCurrentThread,
    )
    .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(resource.build())
        .build();
    if TRACER.set(provider.tracer("mandate")).is_err() {
        tracing::warn!("traces were already set up in this process; keeping the first");
        return None;
    }
    crate::envelope::spans_are_exported();
    tracing::info!("exporting traces over OTLP");
    Some(Telemetry { provider })
}

/// The exporter, saying once that it cannot export (a collector down or unreachable) and once
/// that it can again, instead of an error per batch or none at all.
#[derive(Debug)]
struct LoggedOnce<E> {
    exporter: E,
    failing: AtomicBool,
}

impl<E> LoggedOnce<E> {
    fn new(exporter: E) -> LoggedOnce<E> {
        LoggedOnce {
            exporter,
            failing: AtomicBool::new(false),
        }
    }
}

impl<E: SpanExporter> SpanExporter for LoggedOnce<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let result = self.exporter.export(batch).await;
        match &result {
            Err(err) if !self.failing.swap(true, Ordering::Relaxed) => {
                tracing::warn!(error = %err, "cannot export traces; spans are dropped until the collector answers (said once)");
            }
            Ok(()) if self.failing.swap(false, Ordering::Relaxed) => tracing::info!("exporting traces again"),
            _ => {}
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.exporter.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.exporter.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.exporter.set_resource(resource);
    }
}

/// A span of this process, or nothing (export off, or no parent to hang it on). Ends when
/// dropped. Boxed, so that with export off it is one word wherever it is kept (the relay's
/// window, a request).
#[derive(Debug, Default)]
pub struct Span(Option<Box<opentelemetry_sdk::trace::Span>>);

impl Span {
    /// A span of `kind` named `name`, child of `parent` (a `traceparent` received or stored).
    fn start(parent: &TraceParent, name: String, kind: SpanKind, attributes: Vec<KeyValue>) -> Span {
        match TRACER.get() {
            Some(tracer) => Span::under(tracer, &remote(parent), name, kind, attributes),
            None => Span(None),
        }
    }

    fn under(tracer: &SdkTracer, parent: &Context, name: String, kind: SpanKind, attributes: Vec<KeyValue>) -> Span {
        let builder = tracer.span_builder(name).with_kind(kind).with_attributes(attributes);
        Span(Some(Box::new(tracer.build_with_context(builder, parent))))
    }

    /// An internal span named `name` inside this one.
    pub fn child(&self, name: impl FnOnce() -> String) -> Span {
        match (TRACER.get(), &self.0) {
            (Some(tracer), Some(span)) => {
                let parent = Context::new().with_remote_span_context(span.span_context().clone());
                Span::under(tracer, &parent, name(), SpanKind::Internal, Vec::new())
            }
            _ => Span(None),
        }
    }

    /// This span as the `traceparent` of what is sent on from inside it.
    pub fn traceparent(&self) -> Option<TraceParent> {
        self.0.as_ref().map(|span| traceparent(span.span_context()))
    }

    /// Marks the span failed, saying why.
    pub fn fail(&mut self, why: impl FnOnce() -> String) {
        if let Some(span) = &mut self.0 {
            span.set_status(Status::error(why()));
        }
    }

    /// Adds an attribute (nothing when off).
    pub fn set(&mut self, attribute: impl FnOnce() -> KeyValue) {
        if let Some(span) = &mut self.0 {
            span.set_attribute(attribute());
        }
    }

    /// Whether this span is exported.
    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// `cause` as what is emitted from inside this span inherits it: its `traceparent` is this
    /// span's. Borrowed unchanged when off.
    pub fn cause<'c>(&self, cause: &'c Cause) -> Cow<'c, Cause> {
        match self.traceparent() {
            Some(traceparent) => Cow::Owned(Cause {
                traceparent,
                ..cause.clone()
            }),
            None => Cow::Borrowed(cause),
        }
    }

    /// An HTTP server span's answer: `http.response.status_code`, a 5xx marks it failed.
    pub fn http_answered(&mut self, status: u16) {
        let Some(span) = &mut self.0 else { return };
        span.set_attribute(KeyValue::new("http.response.status_code", i64::from(status)));
        if status >= 500 {
            span.set_status(Status::error(format!("HTTP {status}")));
        }
    }

    /// A service's answer: an error code (4xx, 5xx) as `error.type`, a 5xx marks the span
    /// failed.
    pub(crate) fn answered(&mut self, error: Option<(u16, &str)>) {
        let (Some(span), Some((code, message))) = (&mut self.0, error) else {
            return;
        };
        span.set_attribute(KeyValue::new("error.type", code.to_string()));
        if code >= 500 {
            span.set_status(Status::error(message.to_owned()));
        }
    }

    /// A `commit` span inside this one, over `took` (a transaction's commit, shared by every
    /// message and request it held).
    pub(crate) fn committed(&self, took: (SystemTime, SystemTime)) {
        let (Some(tracer), Some(span)) = (TRACER.get(), &self.0) else {
            return;
        };
        let parent = Context::new().with_remote_span_context(span.span_context().clone());
        let builder = tracer
            .span_builder("commit")
            .with_kind(SpanKind::Internal)
            .with_start_time(took.0);
        tracer.build_with_context(builder, &parent).end_with_timestamp(took.1);
    }
}

/// The spans of the messages or requests one transaction applies, each ended after its commit
/// with a `commit` span inside it. Empty, and allocation-free, with export off.
#[derive(Debug, Default)]
pub(crate) struct Committing(Vec<Span>);

impl Committing {
    /// Keeps `span` open until the commit.
    pub(crate) fn hold(&mut self, span: Span) {
        if span.is_on() {
            self.0.push(span);
        }
    }

    /// Holds `other`'s spans too, to be ended with these (commits settled together).
    pub(crate) fn absorb(&mut self, other: Committing) {
        self.0.extend(other.0);
    }

    /// When the commit starts: `None` with nothing to record.
    pub(crate) fn start(&self) -> Option<SystemTime> {
        commit_start(!self.0.is_empty())
    }

    /// The commit that started at `started` is done: a `commit` span in each held span, which
    /// then ends.
    pub(crate) fn committed(&mut self, started: Option<SystemTime>) {
        let Some(took) = commit_took(started) else { return };
        for span in self.0.drain(..) {
            span.committed(took);
        }
    }
}

/// When a commit starts, if a span is to record it.
pub(crate) fn commit_start(traced: bool) -> Option<SystemTime> {
    traced.then(SystemTime::now)
}

/// From the commit's start to now, if it was recorded.
pub(crate) fn commit_took(started: Option<SystemTime>) -> Option<(SystemTime, SystemTime)> {
    started.map(|started| (started, SystemTime::now()))
}

/// The semantic conventions' messaging attributes of a span on `subject`.
fn messaging(subject: &str, operation: &'static str, kind: &'static str) -> Vec<KeyValue> {
    vec![
        KeyValue::new("messaging.system", "nats"),
        KeyValue::new("messaging.destination.name", subject.to_owned()),
        KeyValue::new("messaging.operation.type", kind),
        KeyValue::new("messaging.operation.name", operation),
    ]
}

/// A consumer's span for one event: `consume <subject>`, kind consumer, child of the
/// `traceparent` it arrived with. `subject` is the event's (`evt.<owner>.<event>.v<N>`,
/// without a key: a span name is not per order).
pub(crate) fn consume(parent: &TraceParent, subject: &str, id: &str, consumer: &str) -> Span {
    if !enabled() {
        return Span(None);
    }
    let mut attributes = messaging(subject, "consume", "process");
    attributes.push(KeyValue::new("messaging.message.id", id.to_owned()));
    attributes.push(KeyValue::new("messaging.consumer.group.name", consumer.to_owned()));
    Span::start(parent, format!("consume {subject}"), SpanKind::Consumer, attributes)
}

/// The relay's span for one outbox entry: `publish <subject>`, kind producer, child of the
/// span the entry was staged in (its stored `traceparent`). None when that is not readable.
pub(crate) fn publish(stored: Option<&str>, subject: &str) -> Span {
    if !enabled() {
        return Span(None);
    }
    let Some(parent) = stored.and_then(|value| value.parse::<TraceParent>().ok()) else {
        return Span(None);
    };
    Span::start(
        &parent,
        format!("publish {subject}"),
        SpanKind::Producer,
        messaging(subject, "publish", "send"),
    )
}

/// A service's span for one request: `<operation>` (e.g. `orders.place`), kind server, child
/// of the request's `traceparent`.
pub(crate) fn serve(parent: &TraceParent, operation: &str, subject: &str) -> Span {
    if !enabled() {
        return Span(None);
    }
    let mut attributes = messaging(subject, "request", "process");
    attributes.push(KeyValue::new("rpc.system", "nats"));
    attributes.push(KeyValue::new("rpc.method", operation.to_owned()));
    Span::start(parent, operation.to_owned(), SpanKind::Server, attributes)
}

/// A partition's span for a request it forwards to the partition owning its key: kind
/// producer, child of the request's `traceparent` (absent or unreadable: none).
pub(crate) fn forward(received: Option<&str>, subject: &str) -> Span {
    if !enabled() {
        return Span(None);
    }
    let Some(parent) = received.and_then(|value| value.parse::<TraceParent>().ok()) else {
        return Span(None);
    };
    Span::start(
        &parent,
        format!("forward {subject}"),
        SpanKind::Producer,
        messaging(subject, "forward", "send"),
    )
}

/// An HTTP server span (the gateway's): `<METHOD> <route>`, kind server, child of the
/// request's `traceparent` header when it has a valid one, else a trace's root.
pub fn http_server(traceparent: Option<&str>, method: &str, route: &str) -> Span {
    let Some(tracer) = TRACER.get() else {
        return Span(None);
    };
    let parent = traceparent
        .and_then(|value| value.parse::<TraceParent>().ok())
        .map_or_else(Context::new, |parent| remote(&parent));
    let attributes = vec![
        KeyValue::new("http.request.method", method.to_owned()),
        KeyValue::new("http.route", route.to_owned()),
    ];
    Span::under(
        tracer,
        &parent,
        format!("{method} {route}"),
        SpanKind::Server,
        attributes,
    )
}

tokio::task_local! {
    /// The `traceparent` service calls made from inside a span carry (the gateway's request
    /// span, set by [`in_span`]).
    static CURRENT: TraceParent;
}

/// Runs `work` with `span` as the parent of the service calls it makes through `Bus`.
pub async fn in_span<F: Future>(span: &Span, work: F) -> F::Output {
    match span.traceparent() {
        Some(traceparent) => CURRENT.scope(traceparent, work).await,
        None => work.await,
    }
}

/// The `traceparent` of a service call made now: the current span's ([`in_span`]), if any.
pub(crate) fn current() -> Option<TraceParent> {
    CURRENT.try_with(TraceParent::clone).ok()
}

fn remote(parent: &TraceParent) -> Context {
    let context = SpanContext::new(
        TraceId::from_hex(&parent.trace_id).unwrap_or(TraceId::INVALID),
        SpanId::from_hex(&parent.span_id).unwrap_or(SpanId::INVALID),
        TraceFlags::new(u8::from_str_radix(&parent.flags, 16).unwrap_or(0)),
        true,
        TraceState::default(),
    );
    Context::new().with_remote_span_context(context)
}

fn traceparent(context: &SpanContext) -> TraceParent {
    TraceParent {
        trace_id: format!("{:032x}", context.trace_id()),
        span_id: format!("{:016x}", context.span_id()),
        flags: format!("{:02x}", context.trace_flags().to_u8()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_goes_through_a_span_context_unchanged() {
        let parent: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            .parse()
            .expect("valid");
        let context = remote(&parent);
        assert_eq!(traceparent(context.span().span_context()), parent);
    }

    #[test]
    fn a_span_is_one_word_when_kept() {
        assert_eq!(std::mem::size_of::<Span>(), std::mem::size_of::<usize>());
    }

    #[test]
    fn with_export_off_no_span_is_made_and_a_hop_gets_a_fresh_child_id() {
        assert!(!enabled());
        let parent = TraceParent::new_root();
        assert!(!consume(&parent, "evt.a.b.v1", "id", "c").is_on());
        assert!(!serve(&parent, "a.b", "svc.a.b.v1").is_on());
        assert!(!http_server(None, "GET", "/").is_on());
        let next = parent.next_hop();
        assert_eq!(next.trace_id, parent.trace_id);
        assert_ne!(next.span_id, parent.span_id);
    }
}
