//! The baselines' critical path: a place service and five hops, each a thread with its own
//! current_thread runtime — (a) async-nats alone, (b) hand-written with a sled store, flush +
//! fdatasync per batch and an outbox, as the kit does.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, anyhow};
use async_nats::HeaderMap;
use async_nats::jetstream::{self, context::PublishAckFuture};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::SKU;
use crate::raw::{self, RawStore};

/// One event of the baselines' chain: about the size of the storefront's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ChainEvent {
    pub(super) order_id: String,
    pub(super) customer_id: String,
    pub(super) sku: String,
    pub(super) quantity: u32,
    pub(super) amount_minor: i64,
    pub(super) currency: String,
    pub(super) step: String,
}

/// The five hops of the baselines' critical path: stage, the subject it reads, the one it
/// writes.
pub(super) const HOPS: [(&str, &str, &str); 5] = [
    ("reserve", "sfb.evt.placed", "sfb.evt.reserved"),
    ("capture", "sfb.evt.reserved", "sfb.evt.captured"),
    // Orders confirms what was paid; shipping dispatches only confirmed orders.
    ("confirm", "sfb.evt.captured", "sfb.evt.confirmed"),
    ("dispatch", "sfb.evt.confirmed", "sfb.evt.dispatched"),
    ("complete", "sfb.evt.dispatched", "sfb.evt.completed"),
];

/// `--stage-child a:reserve` (or `b:place`, ...): one stage of a baseline (`contender` a or b)
/// as a process of its own, until it is killed — the bus from `NATS_URL`, (b)'s store in
/// `MANDATE_DATA_DIR`, the batch size and cache from `MANDATE_BATCH_SIZE` and
/// `MANDATE_CACHE_BYTES`, as `footprint::Spawned` sets them.
pub(super) async fn stage_child(contender: &str, name: &str) -> anyhow::Result<()> {
    let spec = format!("{contender}:{name}");
    let env = |key: &str| std::env::var(key).with_context(|| format!("--stage-child needs {key}"));
    let url = env("NATS_URL")?;
    let cache: u64 = env("MANDATE_CACHE_BYTES")?.parse().context("MANDATE_CACHE_BYTES")?;
    let batch: usize = env("MANDATE_BATCH_SIZE")?.parse().context("MANDATE_BATCH_SIZE")?;
    let store = match contender {
        "a" => None,
        "b" => Some((PathBuf::from(env("MANDATE_DATA_DIR")?), cache)),
        other => return Err(anyhow!("--stage-child {spec}: no contender {other:?} (a, b or k)")),
    };
    // Never sent: the stage runs until the bench kills it.
    let (_stop, stop) = oneshot::channel();
    if name == "place" {
        let (ready, _) = oneshot::channel();
        return place_service(&url, store, ready, stop).await;
    }
    let (_, input, output) = HOPS
        .into_iter()
        .find(|(hop, _, _)| *hop == name)
        .ok_or_else(|| anyhow!("--stage-child {spec}: no stage {name:?}"))?;
    stage(&url, name, input, output, store, batch, stop).await
}

pub(super) type StageHandle = (oneshot::Sender<()>, std::thread::JoinHandle<anyhow::Result<()>>);

/// Runs `body` on its own thread with its own current_thread runtime until `stop` fires.
pub(super) fn spawn_stage<F, Fut>(body: F) -> anyhow::Result<StageHandle>
where
    F: FnOnce(oneshot::Receiver<()>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let (stop_tx, stop_rx) = oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("bench-stage".to_owned())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(body(stop_rx))
        })
        .context("starting a stage thread")?;
    Ok((stop_tx, thread))
}

pub(super) fn chain_headers() -> HeaderMap {
    mandate::envelope::Meta::originate("bench-chain", "bench-chain.step.v1".to_owned()).to_headers()
}

pub(super) fn next_event(input: &ChainEvent, step: &str) -> ChainEvent {
    ChainEvent {
        step: step.to_owned(),
        ..input.clone()
    }
}

/// One hop: consume `input`, produce `output`. With a store, the hand-written loop of the
/// kit's guarantees; without, async-nats alone.
pub(super) async fn stage(
    url: &str,
    name: &str,
    input: &str,
    output: &str,
    store: Option<(PathBuf, u64)>,
    batch: usize,
    mut stop: oneshot::Receiver<()>,
) -> anyhow::Result<()> {
    let client = raw::connect(url, &format!("bench-{name}")).await?;
    let js = jetstream::new(client);
    let stream = js.get_stream("SFB").await.map_err(|e| anyhow!("{e}"))?;
    let consumer = raw::pull_consumer(&stream, name, input).await?;
    let store = store.map(|(dir, cache)| RawStore::open(&dir, cache)).transpose()?;
    let mut chunks = raw::batches(&consumer, batch).await?;
    let mut outbox_id = 0u64;
    let watermark_key = b"w/SFB";
    let mut watermark = match &store {
        Some(store) => store.read_u64(watermark_key)?,
        None => 0,
    };
    loop {
        let chunk = tokio::select! {
            _ = &mut stop => return Ok(()),
            chunk = chunks.next() => chunk.ok_or_else(|| anyhow!("{name}: the pull stream ended"))?,
        };
        let mut out = Vec::with_capacity(chunk.len());
        let mut writes = sled::Batch::default();
        let mut last = None;
        for message in chunk.into_iter().flatten() {
            let sequence = message.info().map_err(|e| anyhow!("{e}"))?.stream_sequence;
            if sequence > watermark {
                let event: ChainEvent = rmp_serde::from_slice(&message.payload)?;
                let next = next_event(&event, name);
                let payload = rmp_serde::to_vec_named(&next)?;
                let headers = chain_headers();
                if store.is_some() {
                    writes.insert(format!("s/{}", event.order_id).into_bytes(), message.payload.as_ref());
                    outbox_id += 1;
                    let key = [b"o/".as_slice(), &outbox_id.to_be_bytes()].concat();
                    writes.insert(key.as_slice(), payload.as_slice());
                    out.push((Some(key), headers, payload));
                } else {
                    out.push((None, headers, payload));
                }
                watermark = sequence;
            }
            last = Some(message);
        }
        if let Some(store) = &store {
            writes.insert(watermark_key.as_slice(), &watermark.to_be_bytes());
            store.commit(writes)?;
        }
        let mut acks: Vec<(Option<Vec<u8>>, PublishAckFuture)> = Vec::with_capacity(out.len());
        for (key, headers, payload) in out {
            let publish = jetstream::message::PublishMessage::build()
                .payload(payload.into())
                .headers(headers);
            acks.push((
                key,
                js.send_publish(output.to_owned(), publish)
                    .await
                    .map_err(|e| anyhow!("publish: {e}"))?,
            ));
        }
        let mut removes = sled::Batch::default();
        for (key, ack) in acks {
            ack.await.map_err(|e| anyhow!("publish ack: {e}"))?;
            if let Some(key) = key {
                removes.remove(key);
            }
        }
        if let Some(store) = &store {
            store.tree.apply_batch(removes)?;
        }
        if let Some(last) = last {
            last.ack().await.map_err(|e| anyhow!("ack: {e}"))?;
        }
    }
}

/// The place service of the baselines: answers each request with an order id and publishes
/// `placed`. With a store, each request is committed (state + outbox, flush + fdatasync)
/// before the reply, and its outbox entry deleted once JetStream acknowledged the event.
pub(super) async fn place_service(
    url: &str,
    store: Option<(PathBuf, u64)>,
    ready: oneshot::Sender<()>,
    mut stop: oneshot::Receiver<()>,
) -> anyhow::Result<()> {
    let client = raw::connect(url, "bench-place").await?;
    let js = jetstream::new(client.clone());
    let store = store
        .map(|(dir, cache)| RawStore::open(&dir, cache))
        .transpose()?
        .map(Arc::new);
    let mut requests = client
        .subscribe("sfb.place")
        .await
        .map_err(|e| anyhow!("subscribe: {e}"))?;
    raw::settle(&client).await;
    let _ = ready.send(());
    let mut counter = 0u64;
    loop {
        let request = tokio::select! {
            _ = &mut stop => return Ok(()),
            request = requests.next() => request.ok_or_else(|| anyhow!("place: subscription ended"))?,
        };
        let Some(reply) = request.reply else { continue };
        counter += 1;
        let order_id = format!("order-{counter:012}");
        let event = ChainEvent {
            order_id: order_id.clone(),
            customer_id: format!("customer-{}", counter % 1_000),
            sku: SKU.to_owned(),
            quantity: 1,
            amount_minor: 1_000,
            currency: "EUR".to_owned(),
            step: "placed".to_owned(),
        };
        let payload = rmp_serde::to_vec_named(&event)?;
        let key = [b"o/".as_slice(), &counter.to_be_bytes()].concat();
        if let Some(store) = &store {
            let mut writes = sled::Batch::default();
            writes.insert(format!("s/{order_id}").into_bytes(), request.payload.as_ref());
            writes.insert(key.as_slice(), payload.as_slice());
            store.commit(writes)?;
        }
        let response = rmp_serde::to_vec_named(&serde_json::json!({ "order_id": order_id }))?;
        client
            .publish(reply, response.into())
            .await
            .map_err(|e| anyhow!("reply: {e}"))?;
        let publish = jetstream::message::PublishMessage::build()
            .payload(payload.into())
            .headers(chain_headers());
        let ack = js
            .send_publish("sfb.evt.placed", publish)
            .await
            .map_err(|e| anyhow!("publish: {e}"))?;
        // Pipelined like the kit's relay: the ack is awaited (and the entry deleted) aside.
        let store = store.clone();
        tokio::spawn(async move {
            if ack.await.is_ok() {
                if let Some(store) = store {
                    let _ = store.tree.remove(key);
                }
            }
        });
    }
}
