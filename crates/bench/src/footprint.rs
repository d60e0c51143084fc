//! Scenario 6: a component process's footprint — resident memory idle and after applying
//! events, and the time from process start to ready (its status answering).
//!
//! The three contenders are this executable run again in a hidden child mode, so they share
//! one binary and one runtime flavour: the kit's sink component, a bare async-nats process,
//! and the hand-written loop with its sled store. The storefront's own binaries, when they
//! are next to this executable, are measured too.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use async_nats::Client;
use async_nats::jetstream;
use bytes::Bytes;
use futures::StreamExt;
use mandate::{Event, Options};

use super::model::{self, Happened};
use super::raw::{self, RawStore};
use super::report::{Better, Collector, Scenario, Target, human};
use super::{Bench, BenchArgs, Which, storefront};
use runner::{Output, Process, Running};

/// The kit child's component name.
const KIT: &str = "bench-foot";
const STREAM: &str = "EVT_BENCH";

/// What a footprint child process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ChildMode {
    /// The kit's sink component.
    Kit,
    /// async-nats only: a status responder and a pull consumer with ack-all, no store.
    Bare,
    /// The hand-written loop: sled store, status responder, pull → apply → fdatasync → ack.
    Hand,
}

impl ChildMode {
    fn status_subject(self) -> String {
        match self {
            ChildMode::Kit => mandate::admin::admin_subject(KIT, "status"),
            ChildMode::Bare => mandate::admin::admin_subject("bench-bare", "status"),
            ChildMode::Hand => mandate::admin::admin_subject("bench-hand", "status"),
        }
    }

    fn durable(self) -> &'static str {
        match self {
            ChildMode::Kit => KIT,
            ChildMode::Bare => "bench-bare",
            ChildMode::Hand => "bench-hand",
        }
    }

    fn of(which: Which) -> ChildMode {
        match which {
            Which::Kit => ChildMode::Kit,
            Which::A => ChildMode::Bare,
            Which::B => ChildMode::Hand,
        }
    }
}

pub async fn run(bench: &Bench) -> anyhow::Result<Scenario> {
    let n = bench.settings.events;
    let server = bench.server()?;
    let url = server.url();
    let client = raw::connect(&url, "bench-driver").await?;
    let js = jetstream::new(client.clone());
    let mut idle = Collector::new("idle RSS", "MB", Better::Lower).target(Target::AtMost(20.0));
    let mut loaded = Collector::new(
        &format!("RSS after {} events", super::report::human(n as f64)),
        "MB",
        Better::Lower,
    );
    let mut ready = Collector::new("start → ready", "ms", Better::Lower).target(Target::AtMost(200.0));
    for rep in 0..bench.settings.repetitions {
        for which in bench.order(rep) {
            bench.progress(&format!("6 footprint: repetition {} {which}", rep + 1));
            raw::fresh_stream(&js, STREAM, &["evt.bench.>"]).await?;
            let mode = ChildMode::of(which);
            let dir = bench.dir("foot")?;
            let mut child = Spawned::start(
                Process::new("footprint child", &bench.exe).args([
                    "--child".to_owned(),
                    match mode {
                        ChildMode::Kit => "kit",
                        ChildMode::Bare => "bare",
                        ChildMode::Hand => "hand",
                    }
                    .to_owned(),
                    "--batch-size".to_owned(),
                    bench.settings.batch_size.to_string(),
                    "--cache-bytes".to_owned(),
                    bench.settings.cache_bytes.to_string(),
                ]),
                bench,
                &url,
                dir.path(),
            )?;
            let ready_ms = child.wait_ready(&client, &mode.status_subject()).await? * 1e3;
            tokio::time::sleep(Duration::from_secs(1)).await;
            let idle_mb = child.rss_mb()?;
            raw::publish_pipelined(
                &js,
                raw::events(
                    &Happened::subject(),
                    &Happened::ce_type(),
                    n,
                    bench.settings.payload_bytes,
                ),
                raw::WINDOW,
            )
            .await?;
            raw::wait_ack_floor(&js, STREAM, mode.durable(), n).await?;
            tokio::time::sleep(Duration::from_millis(200)).await;
            let loaded_mb = child.rss_mb()?;
            child.stop();
            for (metric, value) in [(&mut idle, idle_mb), (&mut loaded, loaded_mb), (&mut ready, ready_ms)] {
                match which {
                    Which::Kit => metric.runs.kit.push(value),
                    Which::A => metric.runs.a.push(value),
                    Which::B => metric.runs.b.push(value),
                }
            }
        }
    }
    let mut metrics = vec![idle.clone().finish(), loaded.finish(), ready.clone().finish()];
    let mut notes = vec![
        "RSS is VmRSS from /proc/<pid>/status, 1 s after ready (idle) and 200 ms after the last event's ack; ready is from spawn to the first status reply".to_owned(),
    ];

    // The storefront's binaries: each started alone (on a fresh server), idle.
    match storefront::processes(bench) {
        Ok(_) if !bench.runs(Which::Kit) => {}
        Ok(binaries) => {
            let mut sf_idle =
                Collector::new("storefront idle RSS (largest)", "MB", Better::Lower).target(Target::AtMost(20.0));
            let mut sf_ready =
                Collector::new("storefront start → ready (slowest)", "ms", Better::Lower).target(Target::AtMost(200.0));
            sf_idle.runs.a = idle.runs.a.clone();
            sf_idle.runs.b = idle.runs.b.clone();
            sf_ready.runs.a = ready.runs.a.clone();
            sf_ready.runs.b = ready.runs.b.clone();
            let mut per_component = Vec::new();
            for rep in 0..bench.settings.repetitions {
                bench.progress(&format!("6 footprint: repetition {} storefront binaries", rep + 1));
                let server = bench.server()?;
                let url = server.url();
                let client = raw::connect(&url, "bench-driver").await?;
                let (mut worst_rss, mut worst_ready) = (0.0f64, 0.0f64);
                for (name, process) in &binaries {
                    let dir = bench.dir(name)?;
                    let mut child = Spawned::start(process.clone(), bench, &url, dir.path())?;
                    let ready_ms = child
                        .wait_ready(&client, &mandate::admin::admin_subject(name, "status"))
                        .await?
                        * 1e3;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    let rss = child.rss_mb()?;
                    child.stop();
                    if rep == 0 {
                        per_component.push(format!("{name} {rss:.1} MB / {ready_ms:.0} ms"));
                    }
                    worst_rss = worst_rss.max(rss);
                    worst_ready = worst_ready.max(ready_ms);
                }
                sf_idle.runs.kit.push(worst_rss);
                sf_ready.runs.kit.push(worst_ready);
            }
            metrics.push(sf_idle.finish());
            metrics.push(sf_ready.finish());
            notes.push(format!(
                "storefront binaries, each alone, first repetition: {}; (a) and (b) repeat the bench children's figures",
                per_component.join(", ")
            ));
        }
        Err(why) => notes.push(format!("storefront binaries not measured: {why}")),
    }
    Ok(Scenario {
        id: 6,
        name: "footprint (a component process)".to_owned(),
        kit: format!(
            "this executable running the scenario-1 sink as a kit component (current_thread runtime, batch {}, sled cache {} MiB)",
            bench.settings.batch_size,
            human(bench.settings.cache_bytes as f64 / f64::from(1 << 20))
        ),
        a: "this executable running async-nats alone: a status responder and a pull consumer with ack-all, no store"
            .to_owned(),
        b: format!(
            "this executable running the hand-written loop: sled store (cache {} MiB), status responder, pull → apply → fdatasync → ack",
            human(bench.settings.cache_bytes as f64 / f64::from(1 << 20))
        ),
        skipped: None,
        metrics,
        notes,
    })
}

/// A child process under measurement, killed on drop.
pub struct Spawned {
    process: Option<Running>,
    started: Instant,
}

impl Spawned {
    /// Starts `process` with the bus and data folder in its environment; its output goes to
    /// a log file in `dir`.
    pub fn start(process: Process, bench: &Bench, url: &str, dir: &Path) -> anyhow::Result<Spawned> {
        let started = Instant::now();
        let child = process
            .env("NATS_URL", url)
            .env("MANDATE_DATA_DIR", dir.join("data"))
            .env("MANDATE_BATCH_SIZE", bench.settings.batch_size.to_string())
            .env("MANDATE_CACHE_BYTES", bench.settings.cache_bytes.to_string())
            .env("RUST_LOG", "warn")
            .output(Output::File(dir.join("process.log")))
            .spawn()?;
        Ok(Spawned {
            process: Some(child),
            started,
        })
    }

    pub fn pid(&self) -> u32 {
        self.process.as_ref().map(Running::pid).unwrap_or_default()
    }

    /// Waits until `subject` answers; returns the seconds since spawn.
    pub async fn wait_ready(&mut self, client: &Client, subject: &str) -> anyhow::Result<f64> {
        let deadline = self.started + Duration::from_secs(30);
        loop {
            if client.request(subject.to_owned(), Bytes::new()).await.is_ok() {
                return Ok(self.started.elapsed().as_secs_f64());
            }
            if let Some(status) = self.process.as_mut().and_then(Running::exited) {
                bail!("{subject}: the process exited with {status} before it was ready");
            }
            if Instant::now() > deadline {
                bail!("{subject} did not answer within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// How it exited, if it has.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.process.as_mut().and_then(Running::exited)
    }

    pub fn rss_mb(&self) -> anyhow::Result<f64> {
        rss_mb(self.pid())
    }

    pub fn stop(&mut self) {
        if let Some(process) = self.process.take() {
            process.kill();
        }
    }
}

/// VmRSS of `pid`, in MB (10^6 bytes).
pub fn rss_mb(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
        .ok_or_else(|| anyhow!("no VmRSS for {pid}"))?;
    Ok(kb * 1024.0 / 1e6)
}

/// The child side: runs until killed.
pub async fn child(mode: ChildMode, args: &BenchArgs) -> anyhow::Result<()> {
    let url = std::env::var("NATS_URL").context("NATS_URL")?;
    let dir = std::path::PathBuf::from(std::env::var_os("MANDATE_DATA_DIR").context("MANDATE_DATA_DIR")?);
    let batch = args.batch_size as usize;
    match mode {
        ChildMode::Kit => {
            let mut options = Options::new(url, dir);
            options.batch_size = args.batch_size;
            options.cache_bytes = super::settings(args).cache_bytes;
            let _running = model::sink(KIT, Arc::new(AtomicU64::new(0))).start(options).await?;
            std::future::pending::<()>().await;
        }
        ChildMode::Bare => {
            let client = raw::connect(&url, "bench-bare").await?;
            let js = jetstream::new(client.clone());
            let stream = js.get_stream(STREAM).await.map_err(|e| anyhow!("{e}"))?;
            let consumer = raw::pull_consumer(&stream, mode.durable(), &Happened::subject()).await?;
            let applied = Arc::new(AtomicU64::new(0));
            serve_status(&client, mode, Arc::clone(&applied)).await?;
            raw::consume_ack_all(&consumer, u64::MAX, batch, Some(&applied)).await?;
        }
        ChildMode::Hand => {
            let client = raw::connect(&url, "bench-hand").await?;
            let js = jetstream::new(client.clone());
            let store = RawStore::open(&dir.join("bench-hand"), super::settings(args).cache_bytes)?;
            let stream = js.get_stream(STREAM).await.map_err(|e| anyhow!("{e}"))?;
            let consumer = raw::pull_consumer(&stream, mode.durable(), &Happened::subject()).await?;
            serve_status(&client, mode, Arc::new(AtomicU64::new(0))).await?;
            raw::handwritten_apply(&consumer, &store, b"w/EVT_BENCH", u64::MAX, batch).await?;
        }
    }
    Ok(())
}

/// Answers the child's status subject with what it applied (a round trip proves it is up).
async fn serve_status(client: &Client, mode: ChildMode, applied: Arc<AtomicU64>) -> anyhow::Result<()> {
    let mut requests = client
        .subscribe(mode.status_subject())
        .await
        .map_err(|e| anyhow!("subscribe: {e}"))?;
    raw::settle(client).await;
    let client = client.clone();
    tokio::spawn(async move {
        while let Some(request) = requests.next().await {
            if let Some(reply) = request.reply {
                let body = format!("{{\"applied\":{}}}", applied.load(Ordering::Relaxed));
                let _ = client.publish(reply, body.into()).await;
            }
        }
    });
    Ok(())
}
