//! `mandate-bench` (run as `mandate bench`, which forwards to it): the kit measured against its
//! own baselines, in one run, on this machine. A development tool, like rust-analyzer's
//! `xtask`: its own crate, so the operator tool does not carry it.
//!
//! Every scenario runs the kit and two baselines on the same server, the same data and the
//! same machine state, repetition after repetition (in rotating order), and reports the
//! median of each: (a) the bare limit — async-nats or sled alone doing the same messages —
//! and (b) a minimal hand-written loop doing the same work with the same durability. The
//! ratios are what matter; absolute figures move with the machine and its load.
//!
//! The bench starts its own nats-server (a fresh one per scenario) and keeps its stores in a
//! temporary folder. The storefront scenario runs the component binaries found next to this
//! executable as processes; the footprint scenario runs this executable again in a hidden
//! child mode (`--child`).
//!
//! See docs/benchmarks.md for the method and the latest figures.

mod consume;
mod cpu;
mod footprint;
mod model;
mod outbox;
mod partitions;
mod raw;
mod report;
mod server;
mod service;
mod storefront;

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{CommandFactory, FromArgMatches, Parser};

use report::{Machine, Report, Settings};

/// Measure the kit against its baselines (bare async-nats/sled, hand-written loops); starts its own server.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "mandate-bench",
    version,
    after_help = "Starts its own nats-server (NATS_SERVER_BIN, <repo>/.tools/bin/nats-server or PATH).\nScenarios: \
                  1 consume→apply→ack, 2 outbox publish, 3 service call, 4 rebuild, 5 storefront end-to-end \
                  (component binaries next to this executable), 6 footprint, 7 partitions (2 vs 1).\nFor figures worth reading: `cargo \
                  build --release -p mandate-cli -p mandate-bench -p catalog -p inventory -p orders -p payments -p \
                  shipping -p notifications && target/release/mandate bench`."
)]
pub struct BenchArgs {
    /// Print the report as JSON on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
    /// CI mode: tiny sizes and one repetition, in seconds. Proves that every scenario runs;
    /// its figures mean nothing.
    #[arg(long)]
    pub tiny: bool,
    /// Run only these scenarios (comma-separated numbers, 1-7).
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u8).range(1..=7))]
    pub only: Vec<u8>,
    /// Repetitions per figure; the median is reported [default: 3, --tiny: 1].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub repetitions: Option<u64>,
    /// Events per run of scenarios 1, 2, 6 and 7 [default: 200000, --tiny: 2000].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub events: Option<u64>,
    /// Events the store of scenario 4 is rebuilt from [default: 1000000, --tiny: 2000].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub rebuild_events: Option<u64>,
    /// Calls per figure in scenario 3 [default: 20000, --tiny: 200].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub calls: Option<u64>,
    /// Concurrent calls for scenario 3's throughput figure.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub concurrency: u64,
    /// Orders placed at saturation in scenario 5 [default: 20000, --tiny: 100].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub orders: Option<u64>,
    /// Offered load for scenario 5's latency figures, orders/s [default: 2000, --tiny: 100].
    #[arg(long)]
    pub offered_rate: Option<f64>,
    /// How long scenario 5 offers that load, seconds [default: 10, --tiny: 1].
    #[arg(long)]
    pub offered_seconds: Option<f64>,
    /// Events fetched, applied and committed together (the kit's `MANDATE_BATCH_SIZE`, and the baselines').
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub batch_size: u32,
    /// sled's page cache of every store in the run, the kit's and the baselines', bytes
    /// [default: the kit's default, `MANDATE_CACHE_BYTES`].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub cache_bytes: Option<u64>,
    /// Size of each event's MessagePack body, bytes.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(100..=65_536))]
    pub payload_bytes: u64,
    /// Where the storefront's component binaries are [default: next to this executable].
    #[arg(long)]
    pub bin_dir: Option<PathBuf>,
    /// The repository whose components (`components/*/manifest.json`) the storefront scenario
    /// runs [default: the one this bench was built from].
    #[arg(long)]
    pub repo: Option<PathBuf>,
    /// Where stores and the server's data go while the bench runs [default: the temp folder].
    #[arg(long)]
    pub scratch: Option<PathBuf>,
    /// Run only these contenders (comma-separated: kit, a, b), e.g. to profile one of them.
    #[arg(long, value_delimiter = ',', value_enum)]
    pub contender: Vec<Which>,
    /// Also write the JSON report to this file (whatever stdout shows).
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,
    /// No progress lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// Internal: run as a footprint child process.
    #[arg(long, hide = true, value_enum)]
    pub child: Option<footprint::ChildMode>,
    /// Internal: run as a partitions child process (scenario 7; which partition comes from
    /// `MANDATE_PARTITIONS` / `MANDATE_PARTITION`).
    #[arg(long, hide = true)]
    pub partition_child: bool,
    /// Scenario 5: run the baselines' place service and stages each as a process of its own
    /// (this executable again), as the kit runs its components, instead of as threads of
    /// this one — what the process boundary costs the hand-written path.
    #[arg(long)]
    pub baseline_processes: bool,
    /// Scenario 5: run the kit as the baselines' critical path — a place command and five
    /// hops of one handler each, every component a process (this executable again) — instead
    /// of the storefront: what the kit's hop costs on the same work as (b). `split`: a
    /// component per stage, as (b); `orders`: place, confirm and complete in one component,
    /// as the storefront's orders. Pair it with --baseline-processes.
    #[arg(long, value_enum, value_name = "SHAPE", num_args = 0..=1, default_missing_value = "split")]
    pub kit_chain: Option<storefront::Shape>,
    /// Internal: run as one stage of scenario 5's baselines (`a:reserve`, `b:place`, ...) or
    /// of the kit's chain (`k:reserve`, ...).
    #[arg(long, hide = true, value_name = "CONTENDER:STAGE")]
    pub stage_child: Option<String>,
}

/// What a bench run shares with its scenarios.
pub struct Bench {
    pub settings: Settings,
    pub bin_dir: PathBuf,
    pub repo: PathBuf,
    pub exe: PathBuf,
    quiet: bool,
    contenders: Vec<Which>,
    scratch: tempfile::TempDir,
    /// Scenario 5's baselines run as processes (`--baseline-processes`).
    pub baseline_processes: bool,
    /// Scenario 5's kit runs the critical path, not the storefront (`--kit-chain`).
    pub kit_chain: Option<storefront::Shape>,
}

impl Bench {
    /// A fresh nats-server for one scenario.
    pub fn server(&self) -> anyhow::Result<server::Server> {
        server::Server::start(self.scratch.path())
    }

    /// A kit component's options for this run: the server at `url`, its store under `dir`,
    /// the run's batch size and page cache.
    pub fn kit_options(&self, url: &str, dir: &std::path::Path) -> mandate::Options {
        let mut options = mandate::Options::new(url, dir);
        options.batch_size = self.settings.batch_size;
        options.cache_bytes = self.settings.cache_bytes;
        options
    }

    /// A fresh folder for one store.
    pub fn dir(&self, prefix: &str) -> anyhow::Result<tempfile::TempDir> {
        tempfile::Builder::new()
            .prefix(&format!("{prefix}-"))
            .tempdir_in(self.scratch.path())
            .context("creating a scratch folder")
    }

    /// The contenders of repetition `rep`, in their rotated order (see [`Which::order`]).
    pub fn order(&self, rep: usize) -> Vec<Which> {
        Which::order(rep)
            .into_iter()
            .filter(|which| self.runs(*which))
            .collect()
    }

    /// Whether `which` is measured in this run (`--contender`).
    pub fn runs(&self, which: Which) -> bool {
        self.contenders.is_empty() || self.contenders.contains(&which)
    }

    pub fn progress(&self, message: &str) {
        if !self.quiet {
            eprintln!("bench: {message}");
        }
    }
}

/// The three contenders of a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    /// The kit.
    Kit,
    /// Baseline (a), the bare limit.
    A,
    /// Baseline (b), the hand-written loop.
    B,
}

impl Which {
    /// The order of repetition `rep`: rotated, so no contender always runs first (on a cold
    /// server) or last (on a server full of the others' data).
    pub fn order(rep: usize) -> [Which; 3] {
        match rep % 3 {
            0 => [Which::Kit, Which::A, Which::B],
            1 => [Which::A, Which::B, Which::Kit],
            _ => [Which::B, Which::Kit, Which::A],
        }
    }
}

impl fmt::Display for Which {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Which::Kit => "kit",
            Which::A => "(a)",
            Which::B => "(b)",
        })
    }
}

fn settings(args: &BenchArgs) -> Settings {
    let tiny = args.tiny;
    let pick = |value: Option<u64>, full: u64, small: u64| value.unwrap_or(if tiny { small } else { full });
    Settings {
        tiny,
        repetitions: pick(args.repetitions, 3, 1) as usize,
        events: pick(args.events, 200_000, 2_000),
        rebuild_events: pick(args.rebuild_events, 1_000_000, 2_000),
        calls: pick(args.calls, 20_000, 200),
        concurrency: args.concurrency as usize,
        orders: pick(args.orders, 20_000, 100),
        offered_rate: args.offered_rate.unwrap_or(if tiny { 100.0 } else { 2_000.0 }),
        offered_seconds: args.offered_seconds.unwrap_or(if tiny { 1.0 } else { 10.0 }),
        batch_size: args.batch_size,
        cache_bytes: args
            .cache_bytes
            .unwrap_or_else(|| mandate::Options::new("", "").cache_bytes),
        payload_bytes: args.payload_bytes as usize,
    }
}

// The runtime of `mandate`, where the bench ran before it had its own crate: the figures (and
// the footprint children, which are this executable) stay comparable.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut command = BenchArgs::command();
    let args = BenchArgs::from_arg_matches(&command.get_matches_mut()).unwrap_or_else(|err| err.exit());
    if !(args.offered_rate.unwrap_or(1.0) > 0.0 && args.offered_seconds.unwrap_or(1.0) > 0.0) {
        command
            .error(
                clap::error::ErrorKind::ValueValidation,
                "--offered-rate and --offered-seconds must be positive",
            )
            .exit();
    }
    init_logging();
    // The kit in this process exports its spans when OTEL_EXPORTER_OTLP_ENDPOINT is set: what
    // traces cost (docs/operate.md, "What traces cost").
    let telemetry = mandate::telemetry::init("mandate-bench", None);
    let ran = run(&args).await;
    if let Some(telemetry) = telemetry {
        telemetry.shutdown().await;
    }
    match ran {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr; the level comes from `RUST_LOG` (default `warn`, and the kit's
/// "cannot connect yet, retrying" lines only when asked for), as in `mandate`.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn,mandate::connect=error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal: piped into a file or `docker compose logs` they are
        // noise around every field.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

async fn run(args: &BenchArgs) -> anyhow::Result<()> {
    if let Some(mode) = args.child {
        return footprint::child(mode, args).await;
    }
    if args.partition_child {
        return partitions::child(args).await;
    }
    if let Some(stage) = &args.stage_child {
        return storefront::stage_child(stage, args.kit_chain.unwrap_or(storefront::Shape::Split)).await;
    }
    let exe = std::env::current_exe().context("finding this executable")?;
    let bin_dir = match &args.bin_dir {
        Some(dir) => dir.clone(),
        None => exe.parent().map(PathBuf::from).unwrap_or_default(),
    };
    let scratch = match &args.scratch {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            tempfile::Builder::new().prefix("mandate-bench-").tempdir_in(dir)
        }
        None => tempfile::Builder::new().prefix("mandate-bench-").tempdir(),
    }
    .context("creating the scratch folder")?;
    let repo = args
        .repo
        .clone()
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."));
    let bench = Bench {
        settings: settings(args),
        bin_dir,
        repo,
        exe,
        quiet: args.quiet,
        contenders: args.contender.clone(),
        scratch,
        baseline_processes: args.baseline_processes,
        kit_chain: args.kit_chain,
    };
    let version = bench.server()?.version.clone();
    let mut machine = Machine::probe(version);
    let mut scenarios = Vec::new();
    for id in 1..=7u8 {
        if !args.only.is_empty() && !args.only.contains(&id) {
            continue;
        }
        let scenario = match id {
            1 => consume::apply(&bench).await,
            2 => outbox::run(&bench).await,
            3 => service::run(&bench).await,
            4 => consume::rebuild(&bench).await,
            5 => storefront::run(&bench).await,
            6 => footprint::run(&bench).await,
            _ => partitions::run(&bench).await,
        }
        .with_context(|| format!("bench scenario {id}"))?;
        scenarios.push(scenario);
    }
    machine.load_end = report::loadavg();
    let report = Report {
        machine,
        settings: bench.settings.clone(),
        scenarios,
    };
    if let Some(path) = &args.save {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.table());
    }
    Ok(())
}
