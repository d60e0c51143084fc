//! Scenario 5: the storefront end to end, every component its own process (the release
//! binaries next to this executable), driven over the bus: orders placed with
//! `orders.place.v1` until `orders.completed.v1` says each one is done.
//!
//! The baselines run the same critical path — a place request, then five hops (placed →
//! reserved → captured → confirmed → dispatched → completed) — as threads of this process,
//! one current_thread runtime each (like the components' processes): (a) with async-nats
//! alone, (b) hand-written with a sled store per stage, flush + fdatasync per batch and an
//! outbox, as the kit does. The kit does more than the critical path (orders records every
//! step, notifications writes a message per event, inventory and payments re-apply their own
//! events), all of it on the same two cores; the baselines do not.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use async_nats::jetstream::{self, context::PublishAckFuture};
use async_nats::{Client, HeaderMap};
use bytes::Bytes;
use futures::StreamExt;
use mandate::Bus;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::cpu;
use super::footprint::Spawned;
use super::raw::{self, RawStore};
use super::report::{Better, Collector, Scenario, Target, human, percentile};
use super::{Bench, Which};

/// The storefront's components with a store (the gateway is not on the bus path).
pub const COMPONENTS: [&str; 6] = [
    "catalog",
    "inventory",
    "orders",
    "payments",
    "shipping",
    "notifications",
];
const SKU: &str = "bench-mug";
/// Place calls in flight at saturation.
const SATURATION_IN_FLIGHT: usize = 128;

/// The component binaries, or why they cannot be used.
pub fn binaries(bench: &Bench) -> Result<Vec<(String, PathBuf)>, String> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for name in COMPONENTS {
        let path = bench.bin_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
        if path.is_file() {
            found.push((name.to_owned(), path));
        } else {
            missing.push(name);
        }
    }
    if missing.is_empty() {
        Ok(found)
    } else {
        Err(format!(
            "component binaries {} not found in {}: build them next to this executable (`cargo build --release -p {}`) or pass --bin-dir",
            missing.join(", "),
            bench.bin_dir.display(),
            COMPONENTS.join(" -p ")
        ))
    }
}

pub async fn run(bench: &Bench) -> anyhow::Result<Scenario> {
    let settings = &bench.settings;
    let offered = (settings.offered_rate * settings.offered_seconds).round().max(1.0) as u64;
    let mut scenario = Scenario {
        id: 5,
        name: format!(
            "storefront end to end ({} orders at saturation; {} orders/s offered for {} s)",
            human(settings.orders as f64),
            human(settings.offered_rate),
            settings.offered_seconds
        ),
        kit: format!(
            "catalog, inventory, orders, payments, shipping, notifications as processes; {SATURATION_IN_FLIGHT} `orders.place.v1` calls in flight at saturation, open-loop arrivals for the latency; place → `orders.completed.v1`"
        ),
        a: "the critical path (place request + 5 hops) with async-nats only, one thread + runtime per stage".to_owned(),
        b: "the critical path hand-written: each stage pull → sled state + outbox → flush + fdatasync → publish pipelined → delete on ack → ack-all; the place service commits each request the same way".to_owned(),
        skipped: None,
        metrics: Vec::new(),
        notes: vec![
            "sustained = completions between the 10th and 90th percentile of completion times ÷ that time; latency is from the scheduled send (open loop) to the completion event".to_owned(),
        ],
    };
    let binaries = match binaries(bench) {
        Ok(binaries) => binaries,
        Err(why) => {
            bench.progress(&format!("5 storefront: skipped: {why}"));
            scenario.skipped = Some(why);
            return Ok(scenario);
        }
    };
    let mut cpu_per_order: std::collections::BTreeMap<String, Vec<Vec<(String, f64)>>> = Default::default();
    let mut sustained =
        Collector::new("sustained at saturation", "orders/s", Better::Higher).target(Target::AtLeast(5_000.0));
    let mut p50 = Collector::new(
        &format!("p50 at {} orders/s", human(settings.offered_rate)),
        "ms",
        Better::Lower,
    );
    let mut p99 = Collector::new(
        &format!("p99 at {} orders/s", human(settings.offered_rate)),
        "ms",
        Better::Lower,
    )
    .target(Target::AtMost(50.0));
    let mut overloaded = Vec::new();
    for rep in 0..settings.repetitions {
        for which in bench.order(rep) {
            bench.progress(&format!("5 storefront: repetition {} {which}", rep + 1));
            let server = bench.server()?;
            let url = server.url();
            let mut stack = match which {
                Which::Kit => Stack::kit(bench, &url, &binaries).await?,
                Which::A | Which::B => Stack::chain(bench, &url, which == Which::B).await?,
            };
            // Where the CPU goes at saturation: per process, per order.
            let mut pids: Vec<(String, String)> = stack
                .processes
                .iter()
                .map(|(name, child, _)| (name.clone(), child.pid().to_string()))
                .collect();
            pids.push(("nats-server".to_owned(), server.pid().to_string()));
            pids.push((
                if which == Which::Kit {
                    "bench driver"
                } else {
                    "bench (driver + stages)"
                }
                .to_owned(),
                "self".to_owned(),
            ));
            let measured = async {
                let before: Vec<f64> = pids.iter().map(|(_, pid)| cpu::seconds(pid)).collect();
                let rate = stack.driver.saturation(settings.orders).await?;
                let used: Vec<f64> = pids
                    .iter()
                    .zip(&before)
                    .map(|((_, pid), was)| (cpu::seconds(pid) - was) * 1e6 / settings.orders as f64)
                    .collect();
                let latency = stack.driver.offered(settings.offered_rate, offered).await?;
                anyhow::Ok((rate, latency, used))
            }
            .await;
            let logs = stack.stop();
            let (rate, latency, used) = measured.map_err(|err| err.context(logs))?;
            let (l50, l99) = (latency.p50, latency.p99);
            if latency.timed_out > 0 {
                overloaded.push(format!(
                    "{which}, repetition {}: {} of {offered} place calls at {} orders/s timed out (offered more than it can take); each counts as its time to the timeout, so p50/p99 are lower bounds",
                    rep + 1,
                    latency.timed_out,
                    human(settings.offered_rate)
                ));
            }
            sustained.push(which, rate);
            p50.push(which, l50);
            p99.push(which, l99);
            let per_order = cpu_per_order.entry(which.to_string()).or_default();
            per_order.push(pids.iter().map(|(name, _)| name.clone()).zip(used).collect::<Vec<_>>());
            drop(server);
        }
    }
    let sustained = sustained.finish();
    for (which, rate) in [("kit", sustained.kit), ("(a)", sustained.a), ("(b)", sustained.b)] {
        if rate > 0.0 && rate < settings.offered_rate {
            scenario.notes.push(format!(
                "{which} sustains {} orders/s, less than the {} offered: its latency figures are mostly time queued (rerun with a lower --offered-rate to see its latency under a load it can take)",
                human(rate),
                human(settings.offered_rate)
            ));
        }
    }
    scenario.metrics = vec![sustained, p50.finish(), p99.finish()];
    scenario.notes.extend(overloaded);
    for (which, runs) in &cpu_per_order {
        let Some(first) = runs.first() else { continue };
        let mut parts = Vec::new();
        let mut total = 0.0;
        for (i, (name, _)) in first.iter().enumerate() {
            let median = super::report::median(
                &runs
                    .iter()
                    .filter_map(|r| r.get(i).map(|(_, v)| *v))
                    .collect::<Vec<_>>(),
            );
            total += median;
            parts.push(format!("{name} {median:.0}"));
        }
        scenario.notes.push(format!(
            "{which}: CPU µs per order at saturation (median): {}; total {total:.0} µs, so {} CPU(s) cap it near {} orders/s",
            parts.join(", "),
            bench_cpus(),
            human(bench_cpus() as f64 * 1e6 / total.max(1.0))
        ));
    }
    Ok(scenario)
}

fn bench_cpus() -> usize {
    std::thread::available_parallelism().map(usize::from).unwrap_or(1)
}

/// What the place request carries (the fields of `orders.place.v1` the bench sets).
#[derive(Debug, Serialize)]
struct PlaceRequest<'a> {
    idempotency_key: String,
    customer_id: String,
    lines: [Line<'a>; 1],
    payment_token: &'a str,
}

#[derive(Debug, Serialize)]
struct Line<'a> {
    sku: &'a str,
    quantity: u32,
}

/// What the bench reads of a placed order and of a completion.
#[derive(Debug, Deserialize)]
struct OrderId {
    order_id: String,
}

#[derive(Debug, Serialize)]
struct Product<'a> {
    sku: &'a str,
    name: &'a str,
    unit_price_minor: i64,
    currency: &'a str,
}

#[derive(Debug, Serialize)]
struct RestockRequest<'a> {
    sku: &'a str,
    quantity: u32,
    idempotency_key: &'a str,
}

/// One event of the baselines' chain: about the size of the storefront's.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ChainEvent {
    order_id: String,
    customer_id: String,
    sku: String,
    quantity: u32,
    amount_minor: i64,
    currency: String,
    step: String,
}

/// How orders are placed and their completions seen.
enum Placer {
    Kit(Box<Bus>),
    Chain(Client),
}

struct Driver {
    placer: Placer,
    client: Client,
    completed_subject: &'static str,
    run: String,
    next: std::sync::atomic::AtomicU64,
}

impl Driver {
    async fn place(&self, index: u64) -> anyhow::Result<String> {
        let request = PlaceRequest {
            idempotency_key: format!("{}-{index}", self.run),
            customer_id: format!("customer-{}", index % 1_000),
            lines: [Line { sku: SKU, quantity: 1 }],
            payment_token: "tok_bench",
        };
        let payload = Bytes::from(rmp_serde::to_vec_named(&request)?);
        let reply = match &self.placer {
            Placer::Kit(bus) => bus
                .request("svc.orders.place.v1", payload)
                .await
                .map_err(|e| anyhow!("orders.place.v1: {e}"))?,
            Placer::Chain(client) => {
                client
                    .request("sfb.place", payload)
                    .await
                    .map_err(|e| anyhow!("sfb.place: {e}"))?
                    .payload
            }
        };
        Ok(rmp_serde::from_slice::<OrderId>(&reply)?.order_id)
    }

    /// Completion times by order id, collected from now on.
    async fn completions(&self) -> anyhow::Result<(Arc<Mutex<HashMap<String, Instant>>>, tokio::task::JoinHandle<()>)> {
        let mut subscription = self
            .client
            .subscribe(self.completed_subject)
            .await
            .map_err(|e| anyhow!("subscribe: {e}"))?;
        raw::settle(&self.client).await;
        let seen = Arc::new(Mutex::new(HashMap::new()));
        let sink = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            while let Some(message) = subscription.next().await {
                let at = Instant::now();
                if let Ok(OrderId { order_id }) = rmp_serde::from_slice(&message.payload) {
                    lock(&sink).insert(order_id, at);
                }
            }
        });
        Ok((seen, task))
    }

    fn indices(&self, count: u64) -> std::ops::Range<u64> {
        let first = self.next.fetch_add(count, std::sync::atomic::Ordering::Relaxed);
        first..first + count
    }

    /// Closed loop at saturation; returns the sustained completion rate.
    async fn saturation(self: &Arc<Self>, orders: u64) -> anyhow::Result<f64> {
        let (seen, task) = self.completions().await?;
        let placed: Vec<String> = futures::stream::iter(self.indices(orders))
            .map(|i| self.place(i))
            .buffer_unordered(SATURATION_IN_FLIGHT)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<anyhow::Result<_>>()?;
        let done = wait_all(&seen, &placed, Duration::from_secs(120 + orders / 200)).await;
        task.abort();
        let mut times: Vec<Instant> = done?.into_values().collect();
        times.sort();
        let (lo, hi) = (times.len() / 10, (times.len() * 9 / 10).max(1) - 1);
        let span = times[hi].saturating_duration_since(times[lo]).as_secs_f64();
        if hi <= lo || span <= 0.0 {
            // Too few orders to cut off the ramps: all of them over their whole span.
            let span = times[times.len() - 1].saturating_duration_since(times[0]).as_secs_f64();
            return Ok(times.len() as f64 / span.max(1e-3));
        }
        Ok((hi - lo) as f64 / span)
    }

    /// Open loop at `rate` orders/s for `count` orders: p50 and p99 from the scheduled send
    /// to the completion. A place call that times out (more offered than the stack takes)
    /// counts as its time to the timeout: a lower bound, and said in a note.
    async fn offered(self: &Arc<Self>, rate: f64, count: u64) -> anyhow::Result<Latency> {
        let (seen, task) = self.completions().await?;
        let scheduled = Arc::new(Mutex::new(HashMap::new()));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let start = tokio::time::Instant::now() + Duration::from_millis(20);
        let mut tasks = Vec::with_capacity(count as usize);
        for (k, index) in self.indices(count).enumerate() {
            let due = start + Duration::from_secs_f64(k as f64 / rate);
            tokio::time::sleep_until(due).await;
            let driver = Arc::clone(self);
            let scheduled = Arc::clone(&scheduled);
            let failures = Arc::clone(&failures);
            let due = due.into_std();
            tasks.push(tokio::spawn(async move {
                match driver.place(index).await {
                    Ok(order_id) => {
                        lock(&scheduled).insert(order_id, due);
                    }
                    Err(err) => lock(&failures).push((err.to_string(), due, Instant::now())),
                }
            }));
        }
        for task in tasks {
            let _ = task.await;
        }
        let failures = std::mem::take(&mut *lock(&failures));
        if let Some((first, _, _)) = failures.iter().find(|(err, _, _)| !is_timeout(err)) {
            bail!("placing at {rate} orders/s: {first}");
        }
        let scheduled = std::mem::take(&mut *lock(&scheduled));
        let ids: Vec<String> = scheduled.keys().cloned().collect();
        let done = wait_all(&seen, &ids, Duration::from_secs(120 + count / 200)).await;
        task.abort();
        let done = done?;
        let latencies: Vec<f64> = scheduled
            .iter()
            .filter_map(|(id, due)| {
                done.get(id)
                    .map(|at| at.saturating_duration_since(*due).as_secs_f64() * 1e3)
            })
            .chain(
                failures
                    .iter()
                    .map(|(_, due, at)| at.saturating_duration_since(*due).as_secs_f64() * 1e3),
            )
            .collect();
        Ok(Latency {
            p50: percentile(&latencies, 50.0),
            p99: percentile(&latencies, 99.0),
            timed_out: failures.len(),
        })
    }
}

/// What the open-loop run measured.
struct Latency {
    p50: f64,
    p99: f64,
    /// Place calls that timed out.
    timed_out: usize,
}

/// Whether a place call failed by timing out (the kit's `Bus` and async-nats say so).
fn is_timeout(error: &str) -> bool {
    let error = error.to_ascii_lowercase();
    error.contains("timed out") || error.contains("did not answer") || error.contains("timeout")
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Waits until every id in `ids` has completed; returns their completion times.
async fn wait_all(
    seen: &Mutex<HashMap<String, Instant>>,
    ids: &[String],
    timeout: Duration,
) -> anyhow::Result<HashMap<String, Instant>> {
    let deadline = Instant::now() + timeout;
    let wanted: HashSet<&String> = ids.iter().collect();
    loop {
        {
            let seen = lock(seen);
            let missing = wanted.iter().filter(|id| !seen.contains_key(**id)).count();
            if missing == 0 {
                return Ok(wanted
                    .iter()
                    .filter_map(|id| seen.get(*id).map(|at| ((*id).clone(), *at)))
                    .collect());
            }
            if Instant::now() > deadline {
                bail!("{missing} of {} orders did not complete within {timeout:?}", ids.len());
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A running storefront (kit processes or baseline threads) and its driver.
struct Stack {
    driver: Arc<Driver>,
    processes: Vec<(String, Spawned, tempfile::TempDir)>,
    stages: Vec<(oneshot::Sender<()>, std::thread::JoinHandle<anyhow::Result<()>>)>,
    _dirs: Vec<tempfile::TempDir>,
}

impl Stack {
    async fn kit(bench: &Bench, url: &str, binaries: &[(String, PathBuf)]) -> anyhow::Result<Stack> {
        let mut processes = Vec::new();
        for (name, path) in binaries {
            let dir = bench.dir(name)?;
            let child = Spawned::start(&mut std::process::Command::new(path), bench, url, dir.path())?;
            processes.push((name.clone(), child, dir));
        }
        let client = raw::connect(url, "bench-driver").await?;
        let bus = Bus::new(client.clone(), "bench").with_timeout(Duration::from_secs(30));
        let mut stack = Stack {
            driver: Arc::new(Driver {
                placer: Placer::Kit(Box::new(bus.clone())),
                client,
                completed_subject: "evt.orders.completed.v1",
                run: format!("bench-{}", uuid_like()),
                next: 0.into(),
            }),
            processes,
            stages: Vec::new(),
            _dirs: Vec::new(),
        };
        let ready = async {
            for (name, child, _) in &mut stack.processes {
                child
                    .wait_ready(bus.client(), &mandate::admin::admin_subject(name, "status"))
                    .await?;
            }
            seed(&bus).await?;
            // Orders prices from its own copy of the catalog: wait until it can price.
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                match stack.driver.place(u64::MAX).await {
                    Ok(_) => break,
                    Err(err) if Instant::now() > deadline => {
                        return Err(err.context("orders cannot price the bench sku"));
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
            anyhow::Ok(())
        }
        .await;
        if let Err(err) = ready {
            let logs = stack.stop();
            return Err(err.context(logs));
        }
        Ok(stack)
    }

    async fn chain(bench: &Bench, url: &str, durable: bool) -> anyhow::Result<Stack> {
        let client = raw::connect(url, "bench-driver").await?;
        let js = jetstream::new(client.clone());
        raw::fresh_stream(&js, "SFB", &["sfb.evt.>"]).await?;
        let mut stages = Vec::new();
        let mut dirs = Vec::new();
        let hops = [
            ("reserve", "sfb.evt.placed", "sfb.evt.reserved"),
            ("capture", "sfb.evt.reserved", "sfb.evt.captured"),
            // Orders confirms what was paid; shipping dispatches only confirmed orders.
            ("confirm", "sfb.evt.captured", "sfb.evt.confirmed"),
            ("dispatch", "sfb.evt.confirmed", "sfb.evt.dispatched"),
            ("complete", "sfb.evt.dispatched", "sfb.evt.completed"),
        ];
        let batch = bench.settings.batch_size as usize;
        let cache = bench.settings.cache_bytes;
        for (name, input, output) in hops {
            let dir = bench.dir(name)?;
            let store = durable.then(|| (dir.path().to_path_buf(), cache));
            let url = url.to_owned();
            stages.push(spawn_stage(move |stop| async move {
                stage(&url, name, input, output, store, batch, stop).await
            })?);
            dirs.push(dir);
        }
        let dir = bench.dir("place")?;
        let store = durable.then(|| (dir.path().to_path_buf(), cache));
        let url_owned = url.to_owned();
        let (ready_tx, ready_rx) = oneshot::channel();
        stages.push(spawn_stage(move |stop| async move {
            place_service(&url_owned, store, ready_tx, stop).await
        })?);
        dirs.push(dir);
        ready_rx.await.map_err(|_| anyhow!("the place service did not start"))?;
        Ok(Stack {
            driver: Arc::new(Driver {
                placer: Placer::Chain(client.clone()),
                client,
                completed_subject: "sfb.evt.completed",
                run: format!("bench-{}", uuid_like()),
                next: 0.into(),
            }),
            processes: Vec::new(),
            stages,
            _dirs: dirs,
        })
    }

    /// Stops everything; returns the tail of every process's log (for an error message).
    fn stop(&mut self) -> String {
        let mut logs = String::new();
        for (name, mut child, dir) in self.processes.drain(..) {
            child.stop();
            let log = std::fs::read_to_string(dir.path().join("process.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(5).collect();
            if !tail.is_empty() {
                logs.push_str(&format!(
                    "--- {name} (last lines) ---\n{}\n",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                ));
            }
        }
        for (stop, thread) in self.stages.drain(..) {
            let _ = stop.send(());
            match thread.join() {
                Ok(Err(err)) => logs.push_str(&format!("stage failed: {err:#}\n")),
                Err(_) => logs.push_str("a stage panicked\n"),
                Ok(Ok(())) => {}
            }
        }
        if logs.is_empty() {
            "the storefront run failed".to_owned()
        } else {
            logs
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

fn uuid_like() -> String {
    mandate::envelope::Meta::originate("bench", String::new()).id
}

/// A product and plenty of stock for it.
async fn seed(bus: &Bus) -> anyhow::Result<()> {
    let product = Product {
        sku: SKU,
        name: "Bench mug",
        unit_price_minor: 1_000,
        currency: "EUR",
    };
    bus.request(
        "svc.catalog.upsert-product.v1",
        rmp_serde::to_vec_named(&product)?.into(),
    )
    .await
    .map_err(|e| anyhow!("catalog.upsert-product.v1: {e}"))?;
    let restock = RestockRequest {
        sku: SKU,
        quantity: 2_000_000_000,
        idempotency_key: "bench-restock",
    };
    bus.request("svc.inventory.restock.v1", rmp_serde::to_vec_named(&restock)?.into())
        .await
        .map_err(|e| anyhow!("inventory.restock.v1: {e}"))?;
    Ok(())
}

type StageHandle = (oneshot::Sender<()>, std::thread::JoinHandle<anyhow::Result<()>>);

/// Runs `body` on its own thread with its own current_thread runtime until `stop` fires.
fn spawn_stage<F, Fut>(body: F) -> anyhow::Result<StageHandle>
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

fn chain_headers() -> HeaderMap {
    mandate::envelope::Meta::originate("bench-chain", "bench-chain.step.v1".to_owned()).to_headers()
}

fn next_event(input: &ChainEvent, step: &str) -> ChainEvent {
    ChainEvent {
        step: step.to_owned(),
        ..input.clone()
    }
}

/// One hop: consume `input`, produce `output`. With a store, the hand-written loop of the
/// kit's guarantees; without, async-nats alone.
async fn stage(
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
async fn place_service(
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
