//! Scenario 7 (partitions): the consume → apply → ack sink of scenario 1, on events keyed by
//! item, run as 2 partitions (two processes, each its own store and durable consumer, the
//! server sending each only the slots it owns) against the same component as 1 process.
//!
//! Both contenders are this executable run again as children (`--partition-child`), so each
//! process's CPU time can be read from /proc and the two sides pay the same start-up. On a
//! 2-core machine that also runs the nats-server and the bench, two partitions cannot be
//! twice as fast: the figure to read is the CPU per event and how evenly it splits
//! (docs/benchmarks.md, "Partitions").

use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use async_nats::jetstream::{self, consumer::PullConsumer, stream};
use mandate::envelope::Meta;
use mandate::{Event, Options};
use runner::Process;

use super::cpu;
use super::footprint::Spawned;
use super::model::{self, Body, Keyed};
use super::raw::{self, Outgoing};
use super::report::{Better, Collector, Scenario, Target, human};
use super::{Bench, BenchArgs, Which};

const STREAM: &str = "EVT_BENCH";
/// The component both contenders run.
const COMPONENT: &str = "bench-part";
/// How many partitions the kit side runs.
const PARTITIONS: u32 = 2;

pub async fn run(bench: &Bench) -> anyhow::Result<Scenario> {
    let n = bench.settings.events;
    let server = bench.server()?;
    let url = server.url();
    let client = raw::connect(&url, "bench-driver").await?;
    let js = jetstream::new(client);
    let mut rate =
        Collector::new("applied (all partitions)", "events/s", Better::Higher).target(Target::AtLeastTimesB(0.9));
    let mut processes = Collector::new("CPU per event, component processes (sum)", "µs", Better::Lower);
    let mut nats = Collector::new("CPU per event, nats-server", "µs", Better::Lower);
    let mut splits = Vec::new();
    for rep in 0..bench.settings.repetitions {
        preload(bench, &js, n).await?;
        for which in bench.order(rep) {
            let count = match which {
                Which::Kit => PARTITIONS,
                Which::B => 1,
                Which::A => continue,
            };
            bench.progress(&format!("7 partitions: repetition {} {which}", rep + 1));
            let server_cpu = cpu::seconds(&server.pid().to_string());
            let started = Instant::now();
            let children = spawn(bench, &url, count)?;
            wait_drained(&js, count).await?;
            let secs = started.elapsed().as_secs_f64();
            let used: Vec<f64> = children.iter().map(|c| cpu::seconds(&c.pid().to_string())).collect();
            let per_event = |seconds: f64| seconds * 1e6 / n as f64;
            rate.push(which, n as f64 / secs);
            processes.push(which, per_event(used.iter().sum()));
            nats.push(which, per_event(cpu::seconds(&server.pid().to_string()) - server_cpu));
            if which == Which::Kit {
                splits.push(split(&used));
            }
            drop(children);
            drop_consumers(&js, count).await;
        }
    }
    let mut metrics = vec![rate.finish()];
    if !bench.settings.tiny {
        metrics.push(processes.finish());
        metrics.push(nats.finish());
    }
    Ok(Scenario {
        id: 7,
        name: format!(
            "partitions: consume → apply → ack as {PARTITIONS} partitions vs 1 ({} keyed events)",
            human(n as f64)
        ),
        kit: format!(
            "the scenario-1 sink on events keyed by item, as {PARTITIONS} partition processes (each its own store and durable consumer filtered to its slots), batch {}",
            bench.settings.batch_size
        ),
        a: "not measured: this scenario compares the kit with itself".to_owned(),
        b: "the same component as 1 process reading every keyed event".to_owned(),
        skipped: None,
        metrics,
        notes: vec![
            "each run is timed from spawning the processes to every consumer having nothing pending or unacknowledged; a process's CPU includes its start-up".to_owned(),
            format!("CPU per partition process, seconds, per repetition: {}", splits.join("; ")),
        ],
    })
}

/// A fresh `EVT_BENCH` with the slot transform every owner's stream has, holding `n` keyed
/// events (not timed).
async fn preload(bench: &Bench, js: &jetstream::Context, n: u64) -> anyhow::Result<()> {
    bench.progress(&format!("publishing {n} keyed events"));
    let _ = js.delete_stream(STREAM).await;
    let (source, destination) = mandate::partition::stream_transform(Keyed::OWNER);
    js.create_stream(stream::Config {
        name: STREAM.to_owned(),
        subjects: vec![format!("evt.{}.>", Keyed::OWNER)],
        storage: stream::StorageType::File,
        allow_direct: true,
        subject_transform: Some(stream::SubjectTransform { source, destination }),
        ..Default::default()
    })
    .await
    .map_err(|e| anyhow!("creating stream {STREAM}: {e}"))?;
    let kind = Keyed::ce_type();
    let events = (1..=n).map(|id| Outgoing {
        subject: format!("{}.{id}", Keyed::subject()),
        headers: Meta::originate("bench", kind.clone()).to_headers(),
        payload: Body::new(id, bench.settings.payload_bytes).encode().into(),
    });
    raw::publish_pipelined(js, events, raw::WINDOW).await?;
    Ok(())
}

/// Starts the component as `count` processes (1: unpartitioned).
fn spawn(bench: &Bench, url: &str, count: u32) -> anyhow::Result<Vec<Spawned>> {
    (0..count)
        .map(|partition| {
            let dir = bench.dir("part")?;
            let process = Process::new("partition child", &bench.exe)
                .args(["--partition-child"])
                .env("MANDATE_PARTITIONS", count.to_string())
                .env("MANDATE_PARTITION", partition.to_string());
            Spawned::start(process, bench, url, dir.path())
        })
        .collect()
}

/// The durable consumer names of `count` partitions, as the kit names them.
fn durables(count: u32) -> Vec<String> {
    if count == 1 {
        return vec![COMPONENT.to_owned()];
    }
    (0..count).map(|p| format!("{COMPONENT}-p{p}of{count}")).collect()
}

/// Waits until every partition's consumer exists and has nothing pending or unacknowledged.
async fn wait_drained(js: &jetstream::Context, count: u32) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(900);
    for durable in durables(count) {
        loop {
            if drained(js, &durable).await {
                break;
            }
            if Instant::now() > deadline {
                bail!("consumer {durable} did not drain {STREAM} within 900 s");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    Ok(())
}

async fn drained(js: &jetstream::Context, durable: &str) -> bool {
    let Ok(mut consumer): Result<PullConsumer, _> = js.get_consumer_from_stream(durable, STREAM).await else {
        return false;
    };
    match consumer.info().await {
        Ok(info) => info.delivered.stream_sequence > 0 && info.num_pending == 0 && info.num_ack_pending == 0,
        Err(_) => false,
    }
}

async fn drop_consumers(js: &jetstream::Context, count: u32) {
    if let Ok(stream) = js.get_stream(STREAM).await {
        for durable in durables(count) {
            let _ = stream.delete_consumer(&durable).await;
        }
    }
}

/// `p0of2 1.23 s, p1of2 1.19 s`.
fn split(used: &[f64]) -> String {
    let count = used.len();
    used.iter()
        .enumerate()
        .map(|(p, seconds)| format!("p{p}of{count} {seconds:.2} s"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The child side: one partition (or the whole component), until killed.
pub async fn child(args: &BenchArgs) -> anyhow::Result<()> {
    let url = std::env::var("NATS_URL").context("NATS_URL")?;
    let dir = std::path::PathBuf::from(std::env::var_os("MANDATE_DATA_DIR").context("MANDATE_DATA_DIR")?);
    let number = |name: &str| -> anyhow::Result<u32> {
        std::env::var(name)
            .with_context(|| name.to_owned())?
            .parse()
            .with_context(|| format!("{name} is not a number"))
    };
    let mut options = Options::new(url, dir);
    options.batch_size = args.batch_size;
    options.cache_bytes = super::settings(args).cache_bytes;
    options.partitions = number("MANDATE_PARTITIONS")?;
    options.partition = number("MANDATE_PARTITION")?;
    let _running = model::keyed_sink(COMPONENT, PARTITIONS).start(options).await?;
    std::future::pending::<()>().await;
    Ok(())
}
