//! One module per command. Each has its clap `Args` and a `run`.

pub mod call;
pub mod decode;
pub mod dlq;
pub mod export;
pub mod import;
pub mod publish;
pub mod replay;
pub mod status;
pub mod tail;

use crate::bus;
use crate::cli::{Cli, Command};

/// Output choices every command shares.
#[derive(Debug, Clone, Copy)]
pub struct Global {
    /// `--json`: machine-readable output.
    pub json: bool,
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let global = Global { json: cli.json };
    // The offline commands need no connection.
    match &cli.command {
        Command::Decode(args) => return decode::run(args),
        Command::Check(args) => return crate::check::run(args, global),
        Command::BusConfig(args) => return crate::busconfig::run(args, global),
        Command::AsyncApi(args) => return crate::asyncapi::run(args, global),
        Command::Dev(args) => return crate::dev::run(args, global).await,
        Command::New(command) => return crate::scaffold::run(command, global),
        Command::Bench(args) => return crate::bench::run(args, global.json).await,
        _ => {}
    }
    let bus = bus::connect(&cli.connection).await?;
    match cli.command {
        Command::Decode(_)
        | Command::Check(_)
        | Command::Dev(_)
        | Command::New(_)
        | Command::Bench(_)
        | Command::BusConfig(_)
        | Command::AsyncApi(_) => unreachable!("handled above"),
        Command::Tail(args) => tail::run(&bus, &args, global).await,
        Command::Publish(args) => publish::run(&bus, &args, global).await,
        Command::Call(args) => call::run(&bus, &args, global).await,
        Command::Status(args) => status::run(&bus, &args, global).await,
        Command::Replay(args) => replay::run(&bus, &args, global).await,
        Command::Export(args) => export::run(&bus, &args, global).await,
        Command::Import(args) => import::run(&bus, &args, global).await,
        Command::Dlq(command) => dlq::run(&bus, &command, global).await,
    }
}
