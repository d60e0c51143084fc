//! The command tree and its one dispatch: every subcommand's flags and `run` live in its own
//! file here (`tail.rs`, `check.rs`, `dev.rs`, ...); larger engines they drive have their own
//! module at the crate's top (`scaffold/`, `dev/`, the generators over `repo/`); `bench` runs the
//! `mandate-bench` executable (`crates/bench`).
//! Commands that talk to a running system connect first; the others need no server.

pub mod asyncapi;
pub mod bench;
pub mod bus_config;
pub mod call;
pub mod check;
pub mod console;
pub mod decode;
pub mod dev;
pub mod dlq;
pub mod export;
pub mod import;
pub mod journey;
pub mod new;
pub mod prometheus_config;
pub mod publish;
pub mod redrive;
pub mod replay;
pub mod status;
pub mod tail;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use mandate::ConnectionOptions;

use crate::bus;

/// Output choices every command shares.
#[derive(Debug, Clone, Copy)]
pub struct Global {
    /// `--json`: machine-readable output.
    pub json: bool,
}

/// The operator tool of a mandate system: watch, call, inspect and repair it over NATS.
///
/// Every command talks to the bus only (never to a component's store or files). The
/// connection flags are the ones of every component and of the `nats` CLI (NATS_URL, ...).
#[derive(Debug, Parser)]
#[command(
    name = "mandate",
    version,
    propagate_version = true,
    arg_required_else_help = true,
    after_help = "Exit codes: 0 ok, 1 failure, 2 usage error.\nLogs go to stderr; set RUST_LOG (default `warn`) for more."
)]
pub struct Cli {
    #[command(flatten)]
    pub connection: ConnectionOptions,

    /// Print machine-readable JSON on stdout instead of tables and sentences.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// MessagePack on stdin → JSON on stdout (for `nats sub 'evt.>' --translate 'mandate decode'`).
    Decode(decode::DecodeArgs),
    /// Follow events live, one line each, optionally replaying history from the streams first.
    Tail(tail::TailArgs),
    /// Publish one event (JSON → MessagePack with the full envelope) to JetStream.
    Publish(publish::PublishArgs),
    /// Call a service operation (JSON request → MessagePack; the reply is printed as JSON).
    Call(call::CallArgs),
    /// Every running component (NATS services API + each one's admin status) and every stream.
    Status(status::StatusArgs),
    /// Ask a component to wipe its store and rebuild it from the streams; follow its progress.
    Replay(replay::ReplayArgs),
    /// Write a stream's messages to a JSON Lines file (headers and bodies intact).
    Export(export::ExportArgs),
    /// Republish the messages of an export file, skipping those the target stream already holds.
    Import(import::ImportArgs),
    /// The system in a browser: a live map, each component's page, dead letters, replay.
    Console(console::ConsoleArgs),
    /// Inspect and repair dead letters (the `DLQ` stream).
    #[command(subcommand)]
    Dlq(dlq::DlqCommand),
    /// Every event and dead letter one order (or correlation id) caused, in time order.
    Journey(journey::JourneyArgs),
    /// The checks that need no server: the dependency rules of the mandate, a current bus-config.
    Check(check::CheckArgs),
    /// The broker configuration generated from the component manifests (bus-config/): check it, or --write it.
    BusConfig(bus_config::BusConfigArgs),
    /// The AsyncAPI 3.0 document of the whole system (schemas/asyncapi.yaml), from schemas/json and the manifests.
    #[command(name = "asyncapi")]
    AsyncApi(asyncapi::AsyncApiArgs),
    /// A Prometheus scrape configuration for every component that serves /metrics, from the manifests.
    PrometheusConfig(prometheus_config::PrometheusConfigArgs),
    /// Measure the kit against its baselines (bare async-nats/sled, hand-written loops): runs `mandate-bench`.
    Bench(bench::BenchArgs),
    /// Run the whole system locally: nats-server and every component, restarted if they die.
    Dev(dev::DevArgs),
    /// Scaffold a new part of the system: `mandate new component NAME` (needs no server).
    #[command(subcommand)]
    New(new::NewCommand),
}

/// Runs the command: the one dispatch of the tool.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let global = Global { json: cli.json };
    let connection = &cli.connection;
    match cli.command {
        // Offline: the repository's files, or processes the command starts itself.
        Command::Decode(args) => decode::run(&args),
        Command::Check(args) => check::run(&args, global),
        Command::BusConfig(args) => bus_config::run(&args, global),
        Command::AsyncApi(args) => asyncapi::run(&args, global),
        Command::PrometheusConfig(args) => prometheus_config::run(&args, global),
        Command::New(command) => new::run(&command, global),
        Command::Dev(args) => dev::run(&args, global).await,
        Command::Bench(args) => bench::run(&args, global),
        // Online: over a connection to the running system.
        Command::Tail(args) => tail::run(&bus::connect(connection).await?, &args, global).await,
        Command::Publish(args) => publish::run(&bus::connect(connection).await?, &args, global).await,
        Command::Call(args) => call::run(&bus::connect(connection).await?, &args, global).await,
        Command::Status(args) => status::run(&bus::connect(connection).await?, &args, global).await,
        Command::Replay(args) => replay::run(&bus::connect(connection).await?, &args, global).await,
        Command::Export(args) => export::run(&bus::connect(connection).await?, &args, global).await,
        Command::Import(args) => import::run(&bus::connect(connection).await?, &args, global).await,
        Command::Console(args) => console::run(bus::connect(connection).await?, &args, global).await,
        Command::Dlq(command) => dlq::run(&bus::connect(connection).await?, &command, global).await,
        Command::Journey(args) => journey::run(&bus::connect(connection).await?, &args, global).await,
    }
}

/// Parses the command line, exiting with code 2 (or 0 for `--help`/`--version`) when it is
/// not a valid invocation.
pub fn parse() -> Cli {
    let command = with_global_connection_flags(Cli::command());
    let matches = command.get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|err| err.exit())
}

/// The kit's connection flags, made global (so `mandate tail --server ...` works as well as
/// `mandate --server ... tail`), grouped under one heading, and with a short connect timeout:
/// a tool should say "cannot connect" in seconds, not retry for a minute like a component.
fn with_global_connection_flags(mut command: clap::Command) -> clap::Command {
    let probe = ConnectionOptions::augment_args(clap::Command::new("probe"));
    for arg in probe.get_arguments() {
        let id = arg.get_id().clone();
        let is_timeout = id.as_str() == "connect_timeout";
        command = command.mut_arg(id, |arg| {
            let arg = arg.global(true).help_heading("Connection");
            if is_timeout { arg.default_value("3s") } else { arg }
        });
    }
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_tree_is_consistent() {
        with_global_connection_flags(Cli::command()).debug_assert();
    }

    #[test]
    fn every_command_parses_into_its_arguments() {
        // Catches id clashes between global and command flags, which clap only finds when
        // the matches are read back.
        for args in [
            &["mandate", "decode", "--pretty"][..],
            &[
                "mandate",
                "publish",
                "evt.orders.placed.v1",
                "{}",
                "--json",
                "--id",
                "x",
            ],
            &["mandate", "call", "orders.get.v1", "{}", "--json", "--timeout", "1s"],
            &[
                "mandate",
                "tail",
                "evt.orders.>",
                "--since",
                "10m",
                "--no-follow",
                "--json",
            ],
            &["mandate", "status", "--json", "--wait", "1s"],
            &["mandate", "replay", "orders", "--from-seq", "3", "--no-wait", "--json"],
            &["mandate", "export", "EVT_ORDERS", "-o", "x.jsonl", "--json"],
            &[
                "mandate",
                "import",
                "x.jsonl",
                "--stream",
                "EVT_ORDERS",
                "--dry-run",
                "--json",
            ],
            &["mandate", "dlq", "list", "--component", "orders", "--json"],
            &["mandate", "dlq", "show", "3", "--json"],
            &["mandate", "dlq", "retry", "3"],
            &[
                "mandate",
                "dlq",
                "retry",
                "--component",
                "orders",
                "--reason-prefix",
                "does not",
                "--rate",
                "2.5",
                "--canary",
                "2",
                "--yes",
                "--json",
            ],
            &["mandate", "dlq", "list", "--group", "--kind", "undecodable", "--json"],
            &["mandate", "journey", "an-order", "--since", "2h", "--json"],
            &["mandate", "dlq", "purge", "--yes"],
            &["mandate", "console", "--listen", "127.0.0.1:0", "--every", "2s"],
            &["mandate", "asyncapi", "--check", "--repo", "."],
            &["mandate", "asyncapi", "-o", "-", "--json"],
        ] {
            let matches = with_global_connection_flags(Cli::command())
                .try_get_matches_from(args)
                .unwrap_or_else(|e| panic!("{args:?}: {e}"));
            Cli::from_arg_matches(&matches).unwrap_or_else(|e| panic!("{args:?}: {e}"));
        }
    }

    #[test]
    fn connection_flags_work_after_the_subcommand() {
        let matches = with_global_connection_flags(Cli::command())
            .try_get_matches_from(["mandate", "status", "--server", "nats://example:4222"])
            .expect("parses");
        let cli = Cli::from_arg_matches(&matches).expect("parses");
        assert_eq!(cli.connection.url, "nats://example:4222");
        assert_eq!(cli.connection.connect_timeout, std::time::Duration::from_secs(3));
    }
}
