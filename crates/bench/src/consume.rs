//! Scenarios 1 (consume → apply → ack) and 4 (rebuild): a backlog of events in a stream,
//! applied into a store by the kit and by the baselines, each through its own durable
//! consumer on the same stream.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use async_nats::jetstream;
use bytes::Bytes;
use mandate::admin::RebuildRequest;
use mandate::{Bus, Event};

use super::cpu::Meter;
use super::model::{self, Body, Happened};
use super::raw::{self, RawStore};
use super::report::{Better, Collector, Cpu, Scenario, Target};
use super::{Bench, Which};

const STREAM: &str = "EVT_BENCH";

/// Scenario 1.
pub async fn apply(bench: &Bench) -> anyhow::Result<Scenario> {
    let n = bench.settings.events;
    let server = bench.server()?;
    let url = server.url();
    let client = raw::connect(&url, "bench-driver").await?;
    let js = jetstream::new(client);
    let mut rate = Collector::new("applied", "events/s", Better::Higher)
        .target(Target::AtLeastTimesB(0.9))
        .target(Target::AtLeast(120_000.0));
    let mut cpu = Cpu::new();
    for rep in 0..bench.settings.repetitions {
        preload(bench, &js, n).await?;
        for which in bench.order(rep) {
            bench.progress(&format!("1 consume→apply→ack: repetition {} {which}", rep + 1));
            let meter = Meter::start(server.pid());
            match which {
                Which::Kit => {
                    let (secs, running) = kit_apply(bench, &url, &js, "bench-sink", n).await?;
                    rate.push(which, n as f64 / secs);
                    cpu.push(which, n, meter.read());
                    running.shutdown().await?;
                }
                Which::A => {
                    let a = bare(bench, &url, n, &mut rate).await?;
                    rate.push(which, a);
                    cpu.push(which, n, meter.read());
                }
                Which::B => {
                    let dir = bench.dir("b")?;
                    let started = Instant::now();
                    let (store, _) = handwritten(bench, &url, &js, dir.path(), n).await?;
                    rate.push(which, n as f64 / started.elapsed().as_secs_f64());
                    cpu.push(which, n, meter.read());
                    drop(store);
                }
            }
        }
    }
    Ok(Scenario {
        id: 1,
        name: format!("consume → apply → ack ({} events in the stream)", super::report::human(n as f64)),
        kit: format!(
            "a kit component, one handler writing one key per event; exactly-once watermark, flush + fdatasync per transaction (a batch of {}, plus what arrived while the previous one committed), ack-all",
            bench.settings.batch_size
        ),
        a: "bare limits: async-nats pull with ack-all per batch (no store), then sled decode + insert per batch (no flush); (a) = their serial sum".to_owned(),
        b: "hand-written loop: pull batch → decode → insert state + watermark → apply_batch + flush + fdatasync → ack-all".to_owned(),
        skipped: None,
        metrics: [vec![rate.finish()], cpu.finish(bench.settings.tiny)].concat(),
        notes: vec![
            "each run starts from connect / store open and ends when the server's ack floor reaches the last event".to_owned(),
        ],
    })
}

/// Scenario 4.
pub async fn rebuild(bench: &Bench) -> anyhow::Result<Scenario> {
    let n = bench.settings.rebuild_events;
    let server = bench.server()?;
    let url = server.url();
    let client = raw::connect(&url, "bench-driver").await?;
    let js = jetstream::new(client.clone());
    let bus = Bus::new(client, "bench").with_timeout(Duration::from_secs(600));
    let mut rate = Collector::new("rebuilt", "events/s", Better::Higher).target(Target::AtLeastTimesB(0.9));
    let mut cpu = Cpu::new();
    let mut wipe_a = Vec::new();
    for rep in 0..bench.settings.repetitions {
        preload(bench, &js, n).await?;
        for which in bench.order(rep) {
            bench.progress(&format!("4 rebuild: repetition {} {which}", rep + 1));
            match which {
                Which::Kit => {
                    let name = "bench-rebuild";
                    // First the component applies the history (not timed), then it is asked
                    // to wipe and rebuild it over its admin service.
                    let (_, running) = kit_apply(bench, &url, &js, name, n).await?;
                    let applied = kit_counter(&running);
                    let meter = Meter::start(server.pid());
                    let started = Instant::now();
                    let report = bus
                        .rebuild(name, &RebuildRequest::default())
                        .await
                        .map_err(|e| anyhow!("rebuild: {e}"))?;
                    wipe_a.push(started.elapsed().as_secs_f64());
                    if !report.started {
                        bail!("the rebuild did not start");
                    }
                    wait_count(&applied, 2 * n).await?;
                    loop {
                        let status = bus.status(name).await.map_err(|e| anyhow!("status: {e}"))?;
                        if !status.rebuilding && status.consumers.iter().all(|c| c.applied_sequence >= n) {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                    raw::wait_ack_floor(&js, STREAM, name, n).await?;
                    rate.push(which, n as f64 / started.elapsed().as_secs_f64());
                    cpu.push(which, n, meter.read());
                    running.shutdown().await?;
                }
                Which::A => {
                    let meter = Meter::start(server.pid());
                    let a = bare(bench, &url, n, &mut rate).await?;
                    rate.push(which, a);
                    cpu.push(which, n, meter.read());
                }
                Which::B => {
                    let dir = bench.dir("b")?;
                    let (store, client) = handwritten(bench, &url, &js, dir.path(), n).await?;
                    let js = jetstream::new(client);
                    let meter = Meter::start(server.pid());
                    let started = Instant::now();
                    raw::wipe(&store, &[b"s/", b"w/"])?;
                    let stream = js.get_stream(STREAM).await.map_err(|e| anyhow!("{e}"))?;
                    let consumer = raw::pull_consumer(&stream, "bench-b", &Happened::subject()).await?;
                    let batch = bench.settings.batch_size as usize;
                    raw::handwritten_apply(&consumer, &store, b"w/EVT_BENCH", n, batch).await?;
                    raw::wait_ack_floor(&js, STREAM, "bench-b", n).await?;
                    rate.push(which, n as f64 / started.elapsed().as_secs_f64());
                    cpu.push(which, n, meter.read());
                }
            }
        }
    }
    let wipe = super::report::median(&wipe_a);
    Ok(Scenario {
        id: 4,
        name: format!("rebuild ({} events)", super::report::human(n as f64)),
        kit: "the scenario-1 component, holding every event, asked to rebuild over its admin service (`mandate replay`): drain outbox, replay marks, wipe, re-consume from the start".to_owned(),
        a: "bare limits as in 1: pull with ack-all per batch, then sled decode + insert; their serial sum".to_owned(),
        b: "the hand-written loop of 1, holding every event: wipe its keys (one batch, synced), recreate its consumer, re-apply".to_owned(),
        skipped: None,
        metrics: [vec![rate.finish()], cpu.finish(bench.settings.tiny)].concat(),
        notes: vec![format!(
            "time from the rebuild request to its reply (drain, marks, wipe): {:.3} s (median)",
            wipe
        )],
    })
}

/// A fresh `EVT_BENCH` holding `n` events with the full envelope (not timed).
async fn preload(bench: &Bench, js: &jetstream::Context, n: u64) -> anyhow::Result<()> {
    bench.progress(&format!("publishing {n} events"));
    raw::fresh_stream(js, STREAM, &["evt.bench.>"]).await?;
    let subject = Happened::subject();
    let kind = Happened::ce_type();
    raw::publish_pipelined(
        js,
        raw::events(&subject, &kind, n, bench.settings.payload_bytes),
        raw::WINDOW,
    )
    .await?;
    Ok(())
}

/// Starts the sink component `name` on the preloaded stream and returns once it has applied
/// (and acknowledged) all `n` events: the seconds that took from `start`, and the component.
async fn kit_apply(
    bench: &Bench,
    url: &str,
    js: &jetstream::Context,
    name: &str,
    n: u64,
) -> anyhow::Result<(f64, KitRunning)> {
    let dir = bench.dir("kit")?;
    let applied = Arc::new(AtomicU64::new(0));
    let options = bench.kit_options(url, dir.path());
    let started = Instant::now();
    let running = model::sink(name, Arc::clone(&applied))
        .start(options)
        .await
        .context("starting the kit component")?;
    wait_count(&applied, n).await?;
    raw::wait_ack_floor(js, STREAM, name, n).await?;
    let secs = started.elapsed().as_secs_f64();
    Ok((
        secs,
        KitRunning {
            running,
            applied,
            _dir: dir,
        },
    ))
}

/// A kit component and what it needs to stay alive.
struct KitRunning {
    running: mandate::Running,
    applied: Arc<AtomicU64>,
    _dir: tempfile::TempDir,
}

impl KitRunning {
    async fn shutdown(self) -> anyhow::Result<()> {
        self.running.shutdown().await?;
        Ok(())
    }
}

fn kit_counter(running: &KitRunning) -> Arc<AtomicU64> {
    Arc::clone(&running.applied)
}

async fn wait_count(counter: &AtomicU64, n: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(900);
    while counter.load(Ordering::Relaxed) < n {
        if Instant::now() > deadline {
            bail!("stuck at {} of {n} events", counter.load(Ordering::Relaxed));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(())
}

/// Baseline (a): the NATS part and the sled part measured apart; returns their serial sum
/// as events/s and records the parts.
async fn bare(bench: &Bench, url: &str, n: u64, metric: &mut Collector) -> anyhow::Result<f64> {
    let batch = bench.settings.batch_size as usize;
    let started = Instant::now();
    let client = raw::connect(url, "bench-a").await?;
    let js = jetstream::new(client);
    let stream = js.get_stream(STREAM).await.map_err(|e| anyhow!("{e}"))?;
    let consumer = raw::pull_consumer(&stream, "bench-a", &Happened::subject()).await?;
    raw::consume_ack_all(&consumer, n, batch, None).await?;
    raw::wait_ack_floor(&js, STREAM, "bench-a", n).await?;
    let nats = started.elapsed().as_secs_f64();

    let payloads: Vec<Bytes> = (1..=n)
        .map(|id| Bytes::from(Body::new(id, bench.settings.payload_bytes).encode()))
        .collect();
    let dir = bench.dir("a")?;
    let started = Instant::now();
    let store = RawStore::open(dir.path(), bench.settings.cache_bytes)?;
    raw::sled_only(&store, &payloads, batch)?;
    let sled = started.elapsed().as_secs_f64();
    drop(store);

    metric.part("NATS pull + ack-all only", n as f64 / nats);
    metric.part("sled decode + insert only", n as f64 / sled);
    Ok(n as f64 / (nats + sled))
}

/// Baseline (b) from connect to the last ack; returns the store and connection for more.
async fn handwritten(
    bench: &Bench,
    url: &str,
    js: &jetstream::Context,
    dir: &std::path::Path,
    n: u64,
) -> anyhow::Result<(RawStore, async_nats::Client)> {
    let client = raw::connect(url, "bench-b").await?;
    let own = jetstream::new(client.clone());
    let stream = own.get_stream(STREAM).await.map_err(|e| anyhow!("{e}"))?;
    let consumer = raw::pull_consumer(&stream, "bench-b", &Happened::subject()).await?;
    let store = RawStore::open(dir, bench.settings.cache_bytes)?;
    let batch = bench.settings.batch_size as usize;
    raw::handwritten_apply(&consumer, &store, b"w/EVT_BENCH", n, batch).await?;
    raw::wait_ack_floor(js, STREAM, "bench-b", n).await?;
    Ok((store, client))
}
