//! The bench's own tiny contract: events and operations of made-up owners (`bench`,
//! `bench-out`, `bench-svc`), so the kit scenarios need no `schemas` crate, and the kit
//! components built from them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use mandate::{Component, Event, Key, Operation, ServiceError};
use serde::{Deserialize, Serialize};

/// The body of every bench event: a MessagePack map of about `payload_bytes` bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Body {
    pub id: u64,
    pub customer: String,
    pub sku: String,
    pub amount_minor: i64,
    pub currency: String,
    pub note: String,
}

impl Body {
    /// Body number `id`, padded so that its named MessagePack encoding is `bytes` long
    /// (give or take a byte).
    pub fn new(id: u64, bytes: usize) -> Body {
        let mut body = Body {
            id,
            customer: format!("customer-{:06}", id % 1000),
            sku: format!("sku-{:04}", id % 97),
            amount_minor: 1_000 + (id % 5_000) as i64,
            currency: "EUR".to_owned(),
            note: String::new(),
        };
        let bare = body.encode().len();
        // A str8 header takes 2 bytes once the note is longer than 31 characters.
        let pad = bytes.saturating_sub(bare + 2);
        body.note = "x".repeat(pad);
        body
    }

    pub fn encode(&self) -> Vec<u8> {
        rmp_serde::to_vec_named(self).unwrap_or_default()
    }

    /// The state key the handlers write (without the kit's `s/` prefix).
    pub fn key(id: u64) -> String {
        format!("event/{id:012}")
    }
}

/// `evt.bench.happened.v1`: what the driver publishes for the consume and rebuild scenarios.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Happened(pub Body);

impl Event for Happened {
    const OWNER: &'static str = "bench";
    const NAME: &'static str = "happened";
    const VERSION: u32 = 1;
}

/// `evt.bench.keyed.v1.<id>`: the event of the partitions scenario, keyed by its `id` (an
/// `item`), so that each partition of its subscriber receives the ids it owns.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Keyed(pub Body);

impl Event for Keyed {
    const OWNER: &'static str = "bench";
    const NAME: &'static str = "keyed";
    const VERSION: u32 = 1;
    const KEY: Option<Key> = Some(Key {
        entity: "item",
        field: "id",
    });
}

/// `evt.bench-out.emitted.v1`: what the outbox scenario's command emits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Emitted(pub Body);

impl Event for Emitted {
    const OWNER: &'static str = OUT_COMPONENT;
    const NAME: &'static str = "emitted";
    const VERSION: u32 = 1;
}

pub const OUT_COMPONENT: &str = "bench-out";
pub const SVC_COMPONENT: &str = "bench-svc";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmitRequest {
    pub first: u64,
    pub count: u32,
    pub payload_bytes: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmitResponse {
    pub emitted: u32,
}

/// `svc.bench-out.emit.v1`: emits `count` events in one transaction.
pub struct Emit;

impl Operation for Emit {
    const OWNER: &'static str = OUT_COMPONENT;
    const NAME: &'static str = "emit";
    const VERSION: u32 = 1;
    type Request = EmitRequest;
    type Response = EmitResponse;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PutRequest {
    pub records: Vec<Body>,
}

/// `svc.bench-svc.put.v1`: stores records (to set up the query scenario).
pub struct Put;

impl Operation for Put {
    const OWNER: &'static str = SVC_COMPONENT;
    const NAME: &'static str = "put";
    const VERSION: u32 = 1;
    type Request = PutRequest;
    type Response = u32;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GetRequest {
    pub id: u64,
}

/// `svc.bench-svc.get.v1`: one record by id (the query scenario).
pub struct Get;

impl Operation for Get {
    const OWNER: &'static str = SVC_COMPONENT;
    const NAME: &'static str = "get";
    const VERSION: u32 = 1;
    type Request = GetRequest;
    type Response = Body;
}

/// A component that writes one key per `bench.happened.v1` and counts what it applied.
pub fn sink(name: &str, applied: Arc<AtomicU64>) -> Component {
    Component::new(name)
        .description("bench: one key per event")
        .on::<Happened>(move |ctx, Happened(body)| {
            ctx.put(&Body::key(body.id), &body)?;
            applied.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })
}

/// The sink of [`sink`], on [`Keyed`] events, declared as partitioned by their item key (as
/// `count` partitions; the process's own `--partitions` decides what it runs as).
pub fn keyed_sink(name: &str, count: u32) -> Component {
    Component::new(name)
        .description("bench: one key per keyed event")
        .partitioned_by("item", count)
        .on::<Keyed>(move |ctx, Keyed(body)| {
            ctx.put(&Body::key(body.id), &body)?;
            Ok(())
        })
}

/// A component whose one command emits a batch of events through the outbox.
pub fn emitter() -> Component {
    Component::new(OUT_COMPONENT)
        .description("bench: emits events through the outbox")
        .publishes::<Emitted>()
        .command::<Emit>(|ctx, request: EmitRequest| {
            for i in 0..u64::from(request.count) {
                let body = Body::new(request.first + i, request.payload_bytes as usize);
                ctx.emit(&Emitted(body))
                    .map_err(|e| ServiceError::internal(e.to_string()))?;
            }
            Ok(EmitResponse { emitted: request.count })
        })
}

/// A component with a query over records a command stored.
pub fn service() -> Component {
    Component::new(SVC_COMPONENT)
        .description("bench: a query")
        .command::<Put>(|ctx, request: PutRequest| {
            for body in &request.records {
                ctx.put(&Body::key(body.id), body)?;
            }
            Ok(request.records.len() as u32)
        })
        .query::<Get>(|view, request: GetRequest| {
            view.get::<Body>(&Body::key(request.id))?
                .ok_or_else(|| ServiceError::not_found(format!("no record {}", request.id)))
        })
}
