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
//!
//! `driver.rs` places orders and times them, `stack.rs` starts what is measured,
//! `baselines.rs` is the baselines' critical path.

mod baselines;
mod driver;
mod kit_chain;
mod stack;

use runner::{Kind, Process, Settings};

use super::cpu;
use super::report::{Better, Collector, Scenario, Target, human};
use super::{Bench, Which};
pub use kit_chain::Shape;
use stack::Stack;

const SKU: &str = "bench-mug";
/// Place calls in flight at saturation.
const SATURATION_IN_FLIGHT: usize = 128;

/// The processes of the repository's components built on this kit (the gateway is not on the
/// bus path; a component in another language, such as loyalty in Python, measures its own
/// kit, not this one), from their manifests, or why they cannot be run.
pub fn processes(bench: &Bench) -> Result<Vec<(String, Process)>, String> {
    let components = runner::components(&bench.repo).map_err(|e| format!("{e:#}"))?;
    let settings = Settings {
        bin_dir: bench.bin_dir.clone(),
        ..Settings::default()
    };
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for component in components.iter().filter(|c| c.kind == Kind::Component && c.is_cargo()) {
        match component.process(&settings) {
            Ok(process) => found.push((component.name.clone(), process)),
            Err(_) => missing.push(component.name.as_str()),
        }
    }
    if missing.is_empty() {
        Ok(found)
    } else {
        Err(format!(
            "component binaries {} not found in {}: build them next to this executable (`cargo build --release -p {}`) or pass --bin-dir",
            missing.join(", "),
            bench.bin_dir.display(),
            missing.join(" -p ")
        ))
    }
}

/// `--stage-child CONTENDER:STAGE`: one stage of scenario 5 as a process of its own, until it
/// is killed — of a baseline (`a:reserve`, `b:place`, ...) or of the kit's chain
/// (`k:reserve`, ..., in `shape`).
pub async fn stage_child(spec: &str, shape: Shape) -> anyhow::Result<()> {
    match spec.split_once(':') {
        Some(("k", stage)) => kit_chain::stage_child(shape, stage).await,
        Some((contender, stage)) => baselines::stage_child(contender, stage).await,
        None => Err(anyhow::anyhow!(
            "--stage-child {spec}: expected CONTENDER:STAGE, e.g. b:reserve"
        )),
    }
}

/// How the baselines' stages run: threads of the bench, or processes (`--baseline-processes`).
fn stages_run_as(bench: &Bench) -> &'static str {
    match bench.baseline_processes {
        true => "each stage a process of its own with one thread + runtime",
        false => "one thread + runtime per stage",
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
        kit: match bench.kit_chain {
            Some(Shape::Split) => format!(
                "the critical path on the kit (--kit-chain split): a place command and 5 hops of one handler each (state write + event), a component per stage, each a process; {SATURATION_IN_FLIGHT} place calls in flight at saturation, open-loop arrivals for the latency"
            ),
            Some(Shape::Orders) => format!(
                "the critical path on the kit (--kit-chain orders): a place command and 5 hops of one handler each (state write + event); place, confirm and complete in one component as the storefront's orders, each component a process; {SATURATION_IN_FLIGHT} place calls in flight at saturation, open-loop arrivals for the latency"
            ),
            None => format!(
                "catalog, inventory, orders, payments, shipping, notifications as processes; {SATURATION_IN_FLIGHT} `orders.place.v1` calls in flight at saturation, open-loop arrivals for the latency; place → `orders.completed.v1`"
            ),
        },
        a: format!(
            "the critical path (place request + 5 hops) with async-nats only, {}",
            stages_run_as(bench)
        ),
        b: format!(
            "the critical path hand-written: each stage pull → sled state + outbox → flush + fdatasync → publish pipelined → delete on ack → ack-all; the place service commits each request the same way; {}",
            stages_run_as(bench)
        ),
        skipped: None,
        metrics: Vec::new(),
        notes: vec![
            "sustained = completions between the 10th and 90th percentile of completion times ÷ that time; latency is from the scheduled send (open loop) to the completion event".to_owned(),
        ],
    };
    let binaries = match processes(bench) {
        Ok(binaries) => binaries,
        // The chain is this executable: the storefront's binaries are not needed.
        Err(_) if bench.kit_chain.is_some() => Vec::new(),
        Err(why) => {
            bench.progress(&format!("5 storefront: skipped: {why}"));
            scenario.skipped = Some(why);
            return Ok(scenario);
        }
    };
    let mut cpu_per_order: std::collections::BTreeMap<String, Vec<Vec<(String, f64)>>> = Default::default();
    let mut sustained =
        Collector::new("sustained at saturation", "orders/s", Better::Higher).target(Target::AtLeast(5_000.0));
    let latency_at = |which: &str| {
        Collector::new(
            &format!("{which} at {} orders/s", human(settings.offered_rate)),
            "ms",
            Better::Lower,
        )
    };
    let (mut p50, mut p90, mut max) = (latency_at("p50"), latency_at("p90"), latency_at("max"));
    let mut p99 = latency_at("p99").target(Target::AtMost(50.0));
    let mut overloaded = Vec::new();
    for rep in 0..settings.repetitions {
        for which in bench.order(rep) {
            bench.progress(&format!("5 storefront: repetition {} {which}", rep + 1));
            let server = bench.server()?;
            let url = server.url();
            let mut stack = match which {
                Which::Kit => match bench.kit_chain {
                    Some(shape) => Stack::kit_chain(bench, &url, shape).await?,
                    None => Stack::kit(bench, &url, &binaries).await?,
                },
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
                if which == Which::Kit || bench.baseline_processes {
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
            if latency.timed_out > 0 {
                overloaded.push(format!(
                    "{which}, repetition {}: {} of {offered} place calls at {} orders/s timed out (offered more than it can take); each counts as its time to the timeout, so p50/p99 are lower bounds",
                    rep + 1,
                    latency.timed_out,
                    human(settings.offered_rate)
                ));
            }
            sustained.push(which, rate);
            p50.push(which, latency.p50);
            p90.push(which, latency.p90);
            p99.push(which, latency.p99);
            max.push(which, latency.max);
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
    scenario.metrics = vec![sustained, p50.finish(), p90.finish(), p99.finish(), max.finish()];
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
