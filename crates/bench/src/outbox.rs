//! Scenario 2: events committed to an outbox and published by its relay.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use async_nats::jetstream::{self, context::PublishAckFuture};
use futures::{StreamExt, TryStreamExt};
use mandate::{Bus, Event};
use serde::Serialize;

use super::cpu::Meter;
use super::model::{self, Body, Emit, EmitRequest, Emitted, OUT_COMPONENT};
use super::raw::{self, Outgoing, RawStore};
use super::report::{Better, Collector, Cpu, Scenario, Target};
use super::{Bench, Which};

/// Commands in flight at once against the kit component: enough to hide the request's
/// round trip, so the figure is the outbox's, not the caller's.
const CALLS_IN_FLIGHT: usize = 4;

pub async fn run(bench: &Bench) -> anyhow::Result<Scenario> {
    let n = bench.settings.events;
    let batch = u64::from(bench.settings.batch_size);
    let server = bench.server()?;
    let url = server.url();
    let client = raw::connect(&url, "bench-driver").await?;
    let js = jetstream::new(client.clone());
    let bus = Bus::new(client, "bench").with_timeout(Duration::from_secs(60));
    let mut rate = Collector::new("published", "events/s", Better::Higher).target(Target::AtLeastTimesB(0.9));
    let mut cpu = Cpu::new();
    for rep in 0..bench.settings.repetitions {
        for which in bench.order(rep) {
            bench.progress(&format!("2 outbox: repetition {} {which}", rep + 1));
            let (secs, used) = match which {
                Which::Kit => kit(bench, &url, &js, &bus, n, batch, server.pid()).await?,
                Which::A => bare(bench, &js, n, server.pid()).await?,
                Which::B => handwritten(bench, &js, n, batch, server.pid()).await?,
            };
            rate.push(which, n as f64 / secs);
            cpu.push(which, n, used);
        }
    }
    Ok(Scenario {
        id: 2,
        name: format!("outbox publish ({} events)", super::report::human(n as f64)),
        kit: format!(
            "a kit command emitting {batch} events per call ({CALLS_IN_FLIGHT} calls in flight): staged in the outbox in its transaction (flush + fdatasync), published by the relay (window {}), deleted on ack; ends when the stream holds them all and the outbox is empty",
            raw::WINDOW
        ),
        a: format!(
            "bare limit: async-nats JetStream publish of the same messages (envelope + Nats-Msg-Id), pipelined, window {}",
            raw::WINDOW
        ),
        b: format!(
            "hand-written loop: {batch} messages per sled batch (flush + fdatasync) × {} → publish the window pipelined → await acks → delete them",
            raw::WINDOW as u64 / batch.max(1)
        ),
        skipped: None,
        metrics: [vec![rate.finish()], cpu.finish(bench.settings.tiny)].concat(),
        notes: vec!["timed from a started component / open store and connected client".to_owned()],
    })
}

async fn kit(
    bench: &Bench,
    url: &str,
    js: &jetstream::Context,
    bus: &Bus,
    n: u64,
    batch: u64,
    server: u32,
) -> anyhow::Result<(f64, (f64, f64))> {
    let stream_name = mandate::stream_name(OUT_COMPONENT);
    raw::drop_stream(js, &stream_name).await;
    let dir = bench.dir("kit")?;
    let running = model::emitter().start(bench.kit_options(url, dir.path())).await?;
    let mut stream = js.get_stream(&stream_name).await.map_err(|e| anyhow!("{e}"))?;
    let payload_bytes = bench.settings.payload_bytes as u32;
    let meter = Meter::start(server);
    let started = Instant::now();
    let calls = (0..n.div_ceil(batch)).map(|i| {
        let first = i * batch + 1;
        let count = batch.min(n + 1 - first) as u32;
        EmitRequest {
            first,
            count,
            payload_bytes,
        }
    });
    futures::stream::iter(calls)
        .map(|request| async move { bus.call::<Emit>(&request).await })
        .buffer_unordered(CALLS_IN_FLIGHT)
        .try_collect::<Vec<_>>()
        .await
        .map_err(|e| anyhow!("emit: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let info = stream.info().await.map_err(|e| anyhow!("{e}"))?;
        if info.state.messages >= n {
            break;
        }
        if Instant::now() > deadline {
            bail!("the relay published {} of {n}", info.state.messages);
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    loop {
        let status = bus.status(OUT_COMPONENT).await.map_err(|e| anyhow!("status: {e}"))?;
        if status.outbox_depth == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let secs = started.elapsed().as_secs_f64();
    let used = meter.read();
    running.shutdown().await?;
    Ok((secs, used))
}

async fn bare(bench: &Bench, js: &jetstream::Context, n: u64, server: u32) -> anyhow::Result<(f64, (f64, f64))> {
    raw::fresh_stream(js, "BENCH_A_OUT", &["bench.a-out.>"]).await?;
    let kind = Emitted::ce_type();
    let messages: Vec<Outgoing> =
        raw::events("bench.a-out.emitted.v1", &kind, n, bench.settings.payload_bytes).collect();
    let meter = Meter::start(server);
    let started = Instant::now();
    raw::publish_pipelined(js, messages, raw::WINDOW).await?;
    Ok((started.elapsed().as_secs_f64(), meter.read()))
}

/// What the hand-written loop keeps in its outbox: subject, headers and body, as a
/// MessagePack map (the shape any outbox needs to republish after a crash).
#[derive(Serialize)]
struct OutRecord<'a> {
    subject: &'a str,
    headers: Vec<(String, String)>,
    #[serde(with = "serde_bytes")]
    payload: &'a [u8],
}

async fn handwritten(
    bench: &Bench,
    js: &jetstream::Context,
    n: u64,
    batch: u64,
    server: u32,
) -> anyhow::Result<(f64, (f64, f64))> {
    raw::fresh_stream(js, "BENCH_B_OUT", &["bench.b-out.>"]).await?;
    let dir = bench.dir("b")?;
    let store = RawStore::open(dir.path(), bench.settings.cache_bytes)?;
    let subject = "bench.b-out.emitted.v1";
    let kind = Emitted::ce_type();
    let window = raw::WINDOW as u64;
    let meter = Meter::start(server);
    let started = Instant::now();
    let mut first = 1;
    while first <= n {
        let last = (first + window - 1).min(n);
        // Commit the window's messages to the outbox, `batch` per durable sled batch.
        let mut staged = Vec::with_capacity(window as usize);
        let mut id = first;
        while id <= last {
            let upto = (id + batch - 1).min(last);
            let mut writes = sled::Batch::default();
            for id in id..=upto {
                let payload = Body::new(id, bench.settings.payload_bytes).encode();
                let headers = mandate::envelope::Meta::originate("bench-b", kind.clone()).to_headers();
                let pairs = headers
                    .iter()
                    .flat_map(|(name, values)| values.iter().map(move |v| (name.to_string(), v.as_str().to_owned())))
                    .collect();
                let record = rmp_serde::to_vec_named(&OutRecord {
                    subject,
                    headers: pairs,
                    payload: &payload,
                })?;
                let key = [b"o/".as_slice(), &id.to_be_bytes()].concat();
                writes.insert(key.as_slice(), record);
                staged.push((key, headers, payload));
            }
            store.commit(writes)?;
            id = upto + 1;
        }
        // Publish them pipelined, then delete what JetStream acknowledged.
        let mut acks: Vec<(Vec<u8>, PublishAckFuture)> = Vec::with_capacity(staged.len());
        for (key, headers, payload) in staged {
            let publish = jetstream::message::PublishMessage::build()
                .payload(payload.into())
                .headers(headers);
            let ack = js
                .send_publish(subject, publish)
                .await
                .map_err(|e| anyhow!("publish: {e}"))?;
            acks.push((key, ack));
        }
        let mut removes = sled::Batch::default();
        for (key, ack) in acks {
            ack.await.map_err(|e| anyhow!("publish ack: {e}"))?;
            removes.remove(key);
        }
        store.tree.apply_batch(removes)?;
        first = last + 1;
    }
    Ok((started.elapsed().as_secs_f64(), meter.read()))
}
