//! A running storefront for one repetition: the kit's component processes (seeded with a
//! product and its stock), or the baselines' stages as threads, with the driver that feeds it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use async_nats::jetstream;
use mandate::Bus;
use runner::Process;
use serde::Serialize;
use tokio::sync::oneshot;

use super::baselines::{HOPS, place_service, spawn_stage, stage};
use super::driver::{Driver, Placer};
use super::{SKU, Shape};
use crate::Bench;
use crate::footprint::Spawned;
use crate::raw;

/// A running storefront (kit processes or baseline threads) and its driver.
pub(super) struct Stack {
    pub(super) driver: Arc<Driver>,
    pub(super) processes: Vec<(String, Spawned, tempfile::TempDir)>,
    pub(super) stages: Vec<(oneshot::Sender<()>, std::thread::JoinHandle<anyhow::Result<()>>)>,
    pub(super) _dirs: Vec<tempfile::TempDir>,
}

impl Stack {
    pub(super) async fn kit(bench: &Bench, url: &str, components: &[(String, Process)]) -> anyhow::Result<Stack> {
        let mut processes = Vec::new();
        for (name, process) in components {
            let dir = bench.dir(name)?;
            let child = Spawned::start(process.clone(), bench, url, dir.path())?;
            processes.push((name.clone(), child, dir));
        }
        let client = raw::connect(url, "bench-driver").await?;
        let bus = Bus::new(client.clone(), "bench").with_timeout(Duration::from_secs(30));
        let completed = &["evt.orders.completed.v1", "evt.orders.completed.v1.>"];
        let placer = Placer::Kit(Box::new(bus.clone()), "svc.orders.place.v1");
        let mut stack = Stack::of_processes(driver(placer, client, completed), processes);
        let ready = async {
            for (name, child, _) in &mut stack.processes {
                child
                    .wait_ready(bus.client(), &mandate::admin::admin_subject(name, "status"))
                    .await?;
            }
            seed(&bus).await?;
            // Orders prices from its own copy of the catalog: wait until it can price.
            stack.first_order("orders cannot price the bench sku").await
        }
        .await;
        if let Err(err) = ready {
            let logs = stack.stop();
            return Err(err.context(logs));
        }
        Ok(stack)
    }

    /// The critical path on the kit (`--kit-chain`, `kit_chain.rs`): each component a process
    /// of this executable.
    pub(super) async fn kit_chain(bench: &Bench, url: &str, shape: Shape) -> anyhow::Result<Stack> {
        let mut processes = Vec::new();
        for (name, stage) in shape.stages() {
            let dir = bench.dir(name)?;
            let process = Process::new(name, &bench.exe).args(shape.child_args(stage));
            let child = Spawned::start(process, bench, url, dir.path())?;
            processes.push(((*name).to_owned(), child, dir));
        }
        let client = raw::connect(url, "bench-driver").await?;
        let bus = Bus::new(client.clone(), "bench").with_timeout(Duration::from_secs(30));
        let placer = Placer::Kit(Box::new(bus.clone()), shape.place_subject());
        let mut stack = Stack::of_processes(driver(placer, client, shape.completed()), processes);
        let ready = async {
            for (name, child, _) in &mut stack.processes {
                child
                    .wait_ready(bus.client(), &mandate::admin::admin_subject(name, "status"))
                    .await?;
            }
            stack.first_order("the chain's place command did not answer").await
        }
        .await;
        if let Err(err) = ready {
            let logs = stack.stop();
            return Err(err.context(logs));
        }
        Ok(stack)
    }

    pub(super) async fn chain(bench: &Bench, url: &str, durable: bool) -> anyhow::Result<Stack> {
        let client = raw::connect(url, "bench-driver").await?;
        let js = jetstream::new(client.clone());
        raw::fresh_stream(&js, "SFB", &["sfb.evt.>"]).await?;
        if bench.baseline_processes {
            return Stack::chain_processes(bench, url, durable, client).await;
        }
        let mut stages = Vec::new();
        let mut dirs = Vec::new();
        let batch = bench.settings.batch_size as usize;
        let cache = bench.settings.cache_bytes;
        for (name, input, output) in HOPS {
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
            driver: driver(Placer::Chain(client.clone()), client, &["sfb.evt.completed"]),
            processes: Vec::new(),
            stages,
            _dirs: dirs,
        })
    }

    /// The baselines' place service and stages as processes of their own (this executable,
    /// `--stage-child`), as the kit runs its components (`--baseline-processes`).
    async fn chain_processes(
        bench: &Bench,
        url: &str,
        durable: bool,
        client: async_nats::Client,
    ) -> anyhow::Result<Stack> {
        let contender = if durable { "b" } else { "a" };
        let mut processes = Vec::new();
        for name in HOPS.iter().map(|(name, _, _)| *name).chain(["place"]) {
            let dir = bench.dir(name)?;
            let process = Process::new(&format!("stage {name}"), &bench.exe)
                .args(["--stage-child", &format!("{contender}:{name}")]);
            let child = Spawned::start(process, bench, url, dir.path())?;
            processes.push((format!("stage {name}"), child, dir));
        }
        let mut stack = Stack::of_processes(
            driver(Placer::Chain(client.clone()), client.clone(), &["sfb.evt.completed"]),
            processes,
        );
        let ready = async {
            let js = jetstream::new(client);
            let deadline = Instant::now() + Duration::from_secs(30);
            for (name, _, _) in HOPS {
                while js
                    .get_consumer_from_stream::<async_nats::jetstream::consumer::pull::Config, _, _>(name, "SFB")
                    .await
                    .is_err()
                {
                    anyhow::ensure!(Instant::now() < deadline, "stage {name} did not create its consumer");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            stack.first_order("the place service did not answer").await
        }
        .await;
        if let Err(err) = ready {
            let logs = stack.stop();
            return Err(err.context(logs));
        }
        Ok(stack)
    }

    fn of_processes(driver: Arc<Driver>, processes: Vec<(String, Spawned, tempfile::TempDir)>) -> Stack {
        Stack {
            driver,
            processes,
            stages: Vec::new(),
            _dirs: Vec::new(),
        }
    }

    /// Places a first order until one is answered, for 30 s at most (else `why`).
    async fn first_order(&self, why: &'static str) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self.driver.place(u64::MAX).await {
                Ok(_) => return Ok(()),
                Err(err) if Instant::now() > deadline => return Err(err.context(why)),
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }

    /// Stops everything; returns the tail of every process's log (for an error message).
    pub(super) fn stop(&mut self) -> String {
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

/// A driver placing through `placer` and counting the completions on `completed_subjects`.
fn driver(placer: Placer, client: async_nats::Client, completed_subjects: &'static [&'static str]) -> Arc<Driver> {
    Arc::new(Driver {
        placer,
        client,
        completed_subjects,
        run: format!("bench-{}", uuid_like()),
        next: 0.into(),
    })
}

pub(super) fn uuid_like() -> String {
    mandate::envelope::Meta::originate("bench", String::new()).id
}

/// A product and plenty of stock for it.
pub(super) async fn seed(bus: &Bus) -> anyhow::Result<()> {
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

#[derive(Debug, Serialize)]
pub(super) struct Product<'a> {
    pub(super) sku: &'a str,
    pub(super) name: &'a str,
    pub(super) unit_price_minor: i64,
    pub(super) currency: &'a str,
}

#[derive(Debug, Serialize)]
pub(super) struct RestockRequest<'a> {
    pub(super) sku: &'a str,
    pub(super) quantity: u32,
    pub(super) idempotency_key: &'a str,
}
