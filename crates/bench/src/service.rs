//! Scenario 3: a service call — a kit query through the kit's `Bus` — against a raw
//! async-nats request to a raw responder doing the same lookup (there (a) = (b)).

use std::time::Instant;

use anyhow::anyhow;
use async_nats::Client;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use mandate::Bus;

use super::Bench;
use super::model::{self, Body, Get, GetRequest, Put, PutRequest};
use super::raw::{self, RawStore};
use super::report::{Better, Collector, Scenario, Target};

const RAW_SUBJECT: &str = "bench.raw.get";

pub async fn run(bench: &Bench) -> anyhow::Result<Scenario> {
    let calls = bench.settings.calls;
    let concurrency = bench.settings.concurrency;
    let records: u64 = if bench.settings.tiny { 100 } else { 1_000 };
    let warmup = (calls / 10).max(10);
    let server = bench.server()?;
    let url = server.url();

    // The kit: a component with a query, and the kit's client.
    let dir = bench.dir("kit")?;
    let running = model::service().start(bench.kit_options(&url, dir.path())).await?;
    let bus = Bus::new(raw::connect(&url, "bench-client").await?, "bench-client");
    let all: Vec<Body> = (1..=records)
        .map(|id| Body::new(id, bench.settings.payload_bytes))
        .collect();
    for chunk in all.chunks(100) {
        bus.call::<Put>(&PutRequest {
            records: chunk.to_vec(),
        })
        .await
        .map_err(|e| anyhow!("put: {e}"))?;
    }

    // The raw side: a responder over its own sled store and connection, and a raw client.
    let raw_dir = bench.dir("raw")?;
    let store = RawStore::open(raw_dir.path(), bench.settings.cache_bytes)?;
    let mut writes = sled::Batch::default();
    for body in &all {
        writes.insert(raw::state_key(body.id), body.encode());
    }
    store.commit(writes)?;
    let responder = raw::connect(&url, "bench-raw-svc").await?;
    let mut requests = responder
        .subscribe(RAW_SUBJECT)
        .await
        .map_err(|e| anyhow!("subscribe: {e}"))?;
    raw::settle(&responder).await;
    let tree = store.tree.clone();
    let responder_task = tokio::spawn(async move {
        while let Some(message) = requests.next().await {
            let Some(reply) = message.reply else { continue };
            let value = rmp_serde::from_slice::<GetRequest>(&message.payload)
                .ok()
                .and_then(|request| tree.get(raw::state_key(request.id)).ok().flatten())
                .map(|v| Bytes::copy_from_slice(&v))
                .unwrap_or_default();
            let _ = responder.publish(reply, value).await;
        }
    });
    let raw_client = raw::connect(&url, "bench-raw-client").await?;

    let mut p50 = Collector::new("sequential p50", "µs", Better::Lower).target(Target::AtMostTimesB(1.15));
    let mut p99 = Collector::new("sequential p99", "µs", Better::Lower);
    let mut throughput = Collector::new(&format!("{concurrency}-way concurrent"), "calls/s", Better::Higher);
    let raw_runs = bench.runs(super::Which::A) || bench.runs(super::Which::B);
    let mut callers = Vec::new();
    if bench.runs(super::Which::Kit) {
        callers.push(Caller::Kit(&bus));
    }
    if raw_runs {
        callers.push(Caller::Raw(&raw_client));
    }
    for rep in 0..bench.settings.repetitions {
        if rep % 2 == 1 {
            callers.reverse();
        }
        bench.progress(&format!(
            "3 service call: repetition {}: sequential, kit and raw taking turns",
            rep + 1
        ));
        for i in 0..warmup {
            for caller in &callers {
                caller.call(1 + i % records).await?;
            }
        }
        // Sequential calls take turns, one kit call then one raw call, so that both see the
        // same moments of a shared machine: their ratio is then steadier than the ratio of
        // two runs a few seconds apart.
        let mut latencies = vec![Vec::with_capacity(calls as usize); callers.len()];
        for i in 0..calls {
            for (caller, latencies) in callers.iter().zip(latencies.iter_mut()) {
                let started = Instant::now();
                caller.call(1 + i % records).await?;
                latencies.push(started.elapsed().as_secs_f64() * 1e6);
            }
        }
        for (caller, latencies) in callers.iter().zip(&latencies) {
            bench.progress(&format!(
                "3 service call: repetition {}: {concurrency}-way concurrent, {}",
                rep + 1,
                caller.label()
            ));
            let started = Instant::now();
            futures::stream::iter(0..calls)
                .map(|i| caller.call(1 + i % records))
                .buffer_unordered(concurrency)
                .try_collect::<Vec<_>>()
                .await?;
            let rate = calls as f64 / started.elapsed().as_secs_f64();
            let (l50, l99) = (
                super::report::percentile(latencies, 50.0),
                super::report::percentile(latencies, 99.0),
            );
            match caller {
                Caller::Kit(_) => {
                    p50.runs.kit.push(l50);
                    p99.runs.kit.push(l99);
                    throughput.runs.kit.push(rate);
                }
                Caller::Raw(_) => {
                    p50.runs.a.push(l50);
                    p50.runs.b.push(l50);
                    p99.runs.a.push(l99);
                    p99.runs.b.push(l99);
                    throughput.runs.a.push(rate);
                    throughput.runs.b.push(rate);
                }
            }
        }
    }
    responder_task.abort();
    running.shutdown().await?;
    Ok(Scenario {
        id: 3,
        name: format!("service call ({} calls per figure, {records} records)", super::report::human(calls as f64)),
        kit: "a kit query (`Component::query`, reads the store) called through the kit's `Bus::call` (typed, traceparent + correlation headers, typed errors)".to_owned(),
        a: "raw async-nats `request` to a raw responder doing the same sled lookup on its own connection".to_owned(),
        b: "the same as (a)".to_owned(),
        skipped: None,
        metrics: vec![p50.finish(), p99.finish(), throughput.finish()],
        notes: vec![format!(
            "{warmup} warm-up calls first; sequential kit and raw calls take turns (one each, alternately); client and service share this process (like the baseline), each on its own connection"
        )],
    })
}

#[derive(Clone, Copy)]
enum Caller<'a> {
    Kit(&'a Bus),
    Raw(&'a Client),
}

impl Caller<'_> {
    fn label(self) -> &'static str {
        match self {
            Caller::Kit(_) => "kit",
            Caller::Raw(_) => "raw (a = b)",
        }
    }

    async fn call(self, id: u64) -> anyhow::Result<()> {
        match self {
            Caller::Kit(bus) => {
                let body = bus.call::<Get>(&GetRequest { id }).await.map_err(|e| anyhow!("{e}"))?;
                if body.id != id {
                    return Err(anyhow!("asked for {id}, got {}", body.id));
                }
            }
            Caller::Raw(client) => {
                let payload = rmp_serde::to_vec_named(&GetRequest { id })?;
                // The client's own request timeout applies (as `Bus` sets one).
                let reply = client
                    .request(RAW_SUBJECT, payload.into())
                    .await
                    .map_err(|e| anyhow!("raw request: {e}"))?;
                let body: Body = rmp_serde::from_slice(&reply.payload)?;
                if body.id != id {
                    return Err(anyhow!("asked for {id}, got {}", body.id));
                }
            }
        }
        Ok(())
    }
}
