//! The baselines' building blocks: plain async-nats and plain sled, configured as the kit
//! configures them (stream, consumer, store) but with none of the kit's code in the way.

use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::context::PublishAckFuture;
use async_nats::jetstream::{self, stream};
use async_nats::{Client, HeaderMap};
use bytes::Bytes;
use futures::StreamExt;

use super::model::Body;

/// How many publishes the pipelined baselines keep in flight (the kit's relay window).
pub const WINDOW: usize = 1024;

pub async fn connect(url: &str, name: &str) -> anyhow::Result<Client> {
    async_nats::ConnectOptions::new()
        .name(name)
        .connect(url)
        .await
        .with_context(|| format!("connecting to {url}"))
}

/// Returns once the server has processed everything `client` sent before, subscriptions
/// included: a flush only writes them to the socket. A request nobody serves makes the round
/// trip (the server answers "no responders" after the subscriptions ahead of it).
pub async fn settle(client: &Client) {
    let _ = client.request("_bench.settle", Bytes::new()).await;
}

/// Deletes `name` if it exists and creates it afresh, configured as the kit configures an
/// owner's stream (file storage, 2-minute duplicate window, direct get).
pub async fn fresh_stream(js: &jetstream::Context, name: &str, subjects: &[&str]) -> anyhow::Result<stream::Stream> {
    let _ = js.delete_stream(name).await;
    js.create_stream(stream::Config {
        name: name.to_owned(),
        subjects: subjects.iter().map(|s| (*s).to_owned()).collect(),
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        duplicate_window: Duration::from_secs(120),
        allow_direct: true,
        ..Default::default()
    })
    .await
    .map_err(|e| anyhow!("creating stream {name}: {e}"))
}

/// Deletes a stream if it exists (the kit creates its own stream at start).
pub async fn drop_stream(js: &jetstream::Context, name: &str) {
    let _ = js.delete_stream(name).await;
}

/// One message to publish.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub subject: String,
    pub headers: HeaderMap,
    pub payload: Bytes,
}

/// Publishes everything `messages` yields to JetStream, keeping up to `window` acks
/// outstanding (a sliding window).
pub async fn publish_pipelined(
    js: &jetstream::Context,
    messages: impl IntoIterator<Item = Outgoing>,
    window: usize,
) -> anyhow::Result<u64> {
    let mut in_flight: std::collections::VecDeque<PublishAckFuture> = std::collections::VecDeque::new();
    let mut sent = 0u64;
    for message in messages {
        if in_flight.len() >= window {
            if let Some(ack) = in_flight.pop_front() {
                ack.await.map_err(|e| anyhow!("publish ack: {e}"))?;
            }
        }
        // The envelope's headers carry `Nats-Msg-Id` already (`Meta::to_headers`).
        let publish = jetstream::message::PublishMessage::build()
            .payload(message.payload)
            .headers(message.headers);
        let ack = js
            .send_publish(message.subject, publish)
            .await
            .map_err(|e| anyhow!("publish: {e}"))?;
        in_flight.push_back(ack);
        sent += 1;
    }
    for ack in in_flight {
        ack.await.map_err(|e| anyhow!("publish ack: {e}"))?;
    }
    Ok(sent)
}

/// `n` events of `subject` with the full envelope, built lazily.
pub fn events<'a>(
    subject: &'a str,
    kind: &'a str,
    n: u64,
    payload_bytes: usize,
) -> impl Iterator<Item = Outgoing> + 'a {
    (1..=n).map(move |id| Outgoing {
        subject: subject.to_owned(),
        headers: mandate::envelope::Meta::originate("bench", kind.to_owned()).to_headers(),
        payload: Body::new(id, payload_bytes).encode().into(),
    })
}

/// A durable pull consumer configured as the kit configures its own: ack-all, a high
/// `max_ack_pending`, from the beginning.
pub async fn pull_consumer(stream: &stream::Stream, durable: &str, filter: &str) -> anyhow::Result<PullConsumer> {
    let _ = stream.delete_consumer(durable).await;
    stream
        .create_consumer(pull::Config {
            durable_name: Some(durable.to_owned()),
            deliver_policy: DeliverPolicy::All,
            ack_policy: AckPolicy::All,
            ack_wait: Duration::from_secs(30),
            max_deliver: -1,
            filter_subject: filter.to_owned(),
            max_ack_pending: 20_000,
            ..Default::default()
        })
        .await
        .map_err(|e| anyhow!("creating consumer {durable}: {e}"))
}

/// Waits until the server's ack floor of `durable` on `stream` reaches `sequence`: the end
/// of every consume measurement, kit and baselines alike.
pub async fn wait_ack_floor(js: &jetstream::Context, stream: &str, durable: &str, sequence: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let mut consumer: PullConsumer = js
            .get_consumer_from_stream(durable, stream)
            .await
            .map_err(|e| anyhow!("looking up consumer {durable}: {e}"))?;
        let info = consumer.info().await.map_err(|e| anyhow!("consumer info: {e}"))?;
        if info.ack_floor.stream_sequence >= sequence {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!(
                "consumer {durable} stuck at {} of {sequence}",
                info.ack_floor.stream_sequence
            );
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// `consumer`'s messages in batches of up to `batch`: what one pull delivered and is ready.
pub async fn batches(
    consumer: &PullConsumer,
    batch: usize,
) -> anyhow::Result<futures::stream::ReadyChunks<pull::Stream>> {
    Ok(consumer
        .stream()
        .max_messages_per_batch(batch)
        .messages()
        .await
        .map_err(|e| anyhow!("pull: {e}"))?
        .ready_chunks(batch))
}

/// Baseline (a), the NATS half: pull `n` messages, ack-all once per batch, nothing else.
/// `progress` (if any) counts what was acknowledged.
pub async fn consume_ack_all(
    consumer: &PullConsumer,
    n: u64,
    batch: usize,
    progress: Option<&AtomicU64>,
) -> anyhow::Result<()> {
    let mut chunks = batches(consumer, batch).await?;
    let mut got = 0;
    while got < n {
        let chunk = chunks.next().await.ok_or_else(|| anyhow!("the pull stream ended"))?;
        let mut last = None;
        for message in chunk.into_iter().flatten() {
            got += 1;
            last = Some(message);
        }
        if let Some(last) = last {
            last.ack().await.map_err(|e| anyhow!("ack: {e}"))?;
            if let Some(progress) = progress {
                progress.store(got, Ordering::Relaxed);
            }
        }
    }
    Ok(())
}

/// The component store as the kit opens it, without the kit: one tree, a data file handle to
/// fdatasync after sled's flush.
pub struct RawStore {
    pub db: sled::Db,
    pub tree: sled::Tree,
    data_file: File,
}

impl RawStore {
    /// Opens the store with a page cache of `cache_bytes` (the run's `--cache-bytes`, as the
    /// kit's store gets).
    pub fn open(dir: &Path, cache_bytes: u64) -> anyhow::Result<RawStore> {
        std::fs::create_dir_all(dir)?;
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .mode(sled::Mode::HighThroughput)
            .open()
            .with_context(|| format!("opening sled at {}", dir.display()))?;
        let tree = db.open_tree("mandate")?;
        let data_file = File::open(dir.join("db"))?;
        Ok(RawStore { db, tree, data_file })
    }

    /// One atomic batch, made durable: `apply_batch`, flush, fdatasync.
    pub fn commit(&self, batch: sled::Batch) -> anyhow::Result<()> {
        self.tree.apply_batch(batch)?;
        self.db.flush()?;
        self.data_file.sync_data()?;
        Ok(())
    }

    pub fn read_u64(&self, key: &[u8]) -> anyhow::Result<u64> {
        Ok(self
            .tree
            .get(key)?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0))
    }
}

/// The state key of body `id` as the kit spells it (`s/` + the handler's key).
pub fn state_key(id: u64) -> Vec<u8> {
    format!("s/{}", Body::key(id)).into_bytes()
}

/// Baseline (a), the sled half: decode and insert `payloads` in batches of `batch`, no
/// flush per batch (one at the end).
pub fn sled_only(store: &RawStore, payloads: &[Bytes], batch: usize) -> anyhow::Result<()> {
    for chunk in payloads.chunks(batch) {
        let mut writes = sled::Batch::default();
        for payload in chunk {
            let body: Body = rmp_serde::from_slice(payload)?;
            writes.insert(state_key(body.id), payload.as_ref());
        }
        store.tree.apply_batch(writes)?;
    }
    store.db.flush()?;
    Ok(())
}

/// Baseline (b): the hand-written consume loop with the kit's guarantees — fetch a batch,
/// skip what the watermark says is applied, decode, insert state and watermark in one
/// batch, flush + fdatasync, then one ack-all. Runs until the watermark reaches `last`.
pub async fn handwritten_apply(
    consumer: &PullConsumer,
    store: &RawStore,
    watermark_key: &[u8],
    last: u64,
    batch: usize,
) -> anyhow::Result<()> {
    let mut watermark = store.read_u64(watermark_key)?;
    let mut chunks = batches(consumer, batch).await?;
    while watermark < last {
        let chunk = chunks.next().await.ok_or_else(|| anyhow!("the pull stream ended"))?;
        let mut writes = sled::Batch::default();
        let mut newest = None;
        for message in chunk.into_iter().flatten() {
            let sequence = message.info().map_err(|e| anyhow!("{e}"))?.stream_sequence;
            if sequence > watermark {
                let body: Body = rmp_serde::from_slice(&message.payload)?;
                writes.insert(state_key(body.id), message.payload.as_ref());
                watermark = sequence;
            }
            newest = Some(message);
        }
        writes.insert(watermark_key, &watermark.to_be_bytes());
        store.commit(writes)?;
        if let Some(message) = newest {
            message.ack().await.map_err(|e| anyhow!("ack: {e}"))?;
        }
    }
    Ok(())
}

/// Removes every key under the prefixes in one batch and syncs (the rebuild's wipe).
pub fn wipe(store: &RawStore, prefixes: &[&[u8]]) -> anyhow::Result<u64> {
    let mut batch = sled::Batch::default();
    let mut removed = 0;
    for prefix in prefixes {
        for entry in store.tree.scan_prefix(prefix) {
            let (key, _) = entry?;
            batch.remove(key);
            removed += 1;
        }
    }
    store.commit(batch)?;
    Ok(removed)
}
