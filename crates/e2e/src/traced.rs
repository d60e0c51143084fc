//! The storefront exporting its traces to a real OTLP receiver (docs/operate.md, "Traces"):
//! [`Receiver`] is an OTLP/HTTP endpoint of the test's own — `POST /v1/traces`, each body
//! decoded with the official OpenTelemetry protobuf definitions (`opentelemetry-proto`) — and
//! [`Stack::storefront_traced`] starts every process with `OTEL_EXPORTER_OTLP_ENDPOINT`
//! pointing at it. [`Trace`] is one trace's spans, with the checks of its tree.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message;

use crate::Stack;
use crate::server::{Broker, Wiring};
use crate::stack::lock;
use testkit::NatsServer;

/// One span as received, with the service that exported it.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// `service.name` of the exporting process.
    pub service: String,
    /// `mandate.partition`, for a partition (`p1of3`).
    pub partition: Option<String>,
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a trace's root.
    pub parent_span_id: String,
    pub name: String,
    /// The OTLP span kind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer.
    pub kind: i32,
    pub attributes: BTreeMap<String, String>,
}

/// An OTLP/HTTP trace receiver on a free local port, holding what it was sent; stops when
/// dropped.
#[derive(Debug)]
pub struct Receiver {
    /// The base URL, what `OTEL_EXPORTER_OTLP_ENDPOINT` is set to.
    pub endpoint: String,
    spans: Arc<Mutex<Vec<Received>>>,
    /// Bodies it could not decode: a test fails on any.
    refused: Arc<Mutex<Vec<String>>>,
    _server: tokio::task::JoinHandle<()>,
}

type Shared = (Arc<Mutex<Vec<Received>>>, Arc<Mutex<Vec<String>>>);

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("e2e: the receiver listens");
        let endpoint = format!("http://{}", listener.local_addr().expect("e2e: its address"));
        let spans = Arc::new(Mutex::new(Vec::new()));
        let refused = Arc::new(Mutex::new(Vec::new()));
        let app = axum::Router::new()
            .route("/v1/traces", axum::routing::post(receive))
            .with_state((Arc::clone(&spans), Arc::clone(&refused)));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            endpoint,
            spans,
            refused,
            _server: server,
        }
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<Received> {
        lock(&self.spans).clone()
    }

    /// Why bodies were refused, if any were.
    pub fn refused(&self) -> Vec<String> {
        lock(&self.refused).clone()
    }

    /// The spans of the trace `trace_id` received so far.
    pub fn trace(&self, trace_id: &str) -> Trace {
        Trace {
            spans: self.spans().into_iter().filter(|s| s.trace_id == trace_id).collect(),
        }
    }
}

/// `POST /v1/traces`: an `ExportTraceServiceRequest` in protobuf, answered as OTLP/HTTP asks.
async fn receive(State((spans, refused)): State<Shared>, body: Bytes) -> axum::response::Response {
    let request = match ExportTraceServiceRequest::decode(body) {
        Ok(request) => request,
        Err(err) => {
            lock(&refused).push(err.to_string());
            return StatusCode::BAD_REQUEST.into_response();
        }
    };
    let mut received = Vec::new();
    for resource_spans in request.resource_spans {
        let resource = attributes(&resource_spans.resource.map(|r| r.attributes).unwrap_or_default());
        let service = resource.get("service.name").cloned().unwrap_or_default();
        let partition = resource.get("mandate.partition").cloned();
        for span in resource_spans.scope_spans.into_iter().flat_map(|s| s.spans) {
            received.push(Received {
                service: service.clone(),
                partition: partition.clone(),
                trace_id: hex(&span.trace_id),
                span_id: hex(&span.span_id),
                parent_span_id: hex(&span.parent_span_id),
                name: span.name,
                kind: span.kind,
                attributes: attributes(&span.attributes),
            });
        }
    }
    lock(&spans).extend(received);
    let answer = ExportTraceServiceResponse::default().encode_to_vec();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-protobuf")],
        answer,
    )
        .into_response()
}

fn attributes(pairs: &[KeyValue]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|kv| (kv.key.clone(), kv.value.as_ref().map_or_else(String::new, shown)))
        .collect()
}

fn shown(value: &AnyValue) -> String {
    match &value.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The spans of one trace.
#[derive(Debug, Clone)]
pub struct Trace {
    pub spans: Vec<Received>,
}

impl Trace {
    /// The services that exported spans of it.
    pub fn services(&self) -> BTreeSet<String> {
        self.spans.iter().map(|s| s.service.clone()).collect()
    }

    /// Whether `service` exported a span whose name starts with `prefix`.
    pub fn has(&self, service: &str, prefix: &str) -> bool {
        self.spans
            .iter()
            .any(|s| s.service == service && s.name.starts_with(prefix))
    }

    /// The spans with no parent.
    pub fn roots(&self) -> Vec<&Received> {
        self.spans.iter().filter(|s| s.parent_span_id.is_empty()).collect()
    }

    /// The spans whose parent is not in the trace.
    pub fn orphans(&self) -> Vec<&Received> {
        let ids: BTreeSet<&str> = self.spans.iter().map(|s| s.span_id.as_str()).collect();
        self.spans
            .iter()
            .filter(|s| !s.parent_span_id.is_empty() && !ids.contains(s.parent_span_id.as_str()))
            .collect()
    }

    /// The tree, one span a line, indented under its parent: for failure messages.
    pub fn draw(&self) -> String {
        let mut out = String::new();
        let mut children: BTreeMap<&str, Vec<&Received>> = BTreeMap::new();
        for span in &self.spans {
            children.entry(span.parent_span_id.as_str()).or_default().push(span);
        }
        let mut stack: Vec<(&Received, usize)> =
            self.roots().into_iter().chain(self.orphans()).map(|s| (s, 0)).collect();
        while let Some((span, depth)) = stack.pop() {
            let partition = span.partition.as_deref().map(|p| format!(".{p}")).unwrap_or_default();
            out.push_str(&format!(
                "{}{} [{}{partition}] {}\n",
                "  ".repeat(depth),
                span.name,
                span.service,
                span.span_id
            ));
            for child in children.get(span.span_id.as_str()).into_iter().flatten() {
                stack.push((child, depth + 1));
            }
        }
        out
    }
}

impl Stack {
    /// The whole storefront (as [`Stack::storefront`]), every process — the gateway too once
    /// started — exporting its traces to `endpoint` (`OTEL_EXPORTER_OTLP_ENDPOINT`).
    pub async fn storefront_traced(endpoint: &str) -> Stack {
        let server = NatsServer::start();
        let url = server.url();
        let bus = mandate::Bus::connect(&mandate::ConnectionOptions::new(url.clone()), "e2e")
            .await
            .expect("e2e: connects to the test server");
        let wiring = Wiring {
            broker: Broker::Single(Box::new(server)),
            bus,
            url,
            credentials: BTreeMap::new(),
            env: vec![("OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(), endpoint.to_owned())],
        };
        Stack::start_wired(wiring, &testkit::repo_root(), &testkit::bin_dir(), None, false).await
    }
}
