//! `mandate new component NAME`: scaffolds a component under `components/NAME` in the house
//! style (`scaffold/`) and wires it into the deployment, then says what was made and what to
//! run next.

use std::path::PathBuf;

use super::Global;
use crate::scaffold;
use crate::subjects::EventSubject;

#[derive(Debug, clap::Subcommand)]
pub enum NewCommand {
    /// A component under components/NAME: handlers, queries, a test against a real
    /// nats-server and its manifest, ready for `cargo test -p NAME` (or, with --lang python,
    /// `scripts/python-component NAME --unit-tests`).
    #[command(after_help = "Example:\n  mandate new component customer-tally \\\n      \
        --subscribe orders.placed.v1 --subscribe payments.captured.v1 --serve count\n\n  \
        mandate new component points --lang python --subscribe orders.completed.v1 --serve count")]
    Component(ComponentArgs),
}

#[derive(Debug, clap::Args)]
pub struct ComponentArgs {
    /// The component's name: lower-case letters, digits and dashes, starting with a letter. Its
    /// subjects, stream, consumers, broker user and store folder are named after it.
    pub name: String,

    /// An event to handle, <owner>.<event>.v<major> as declared in schemas/ (e.g.
    /// orders.placed.v1). Each gets a handler file that counts it. Repeat for more.
    #[arg(long = "subscribe", value_name = "TYPE", value_parser = scaffold::parse_event_type)]
    pub subscribe: Vec<EventSubject>,

    /// An operation to serve: <op>, <op>.v<major> or NAME.<op>.v<major> (v1 when no version;
    /// a component serves only its own operations). Each gets a query. Repeat for more.
    #[arg(long = "serve", value_name = "OP")]
    pub serve: Vec<String>,

    /// One line saying what the component does (its `--help`, `nats micro info`, manifest).
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,

    /// The repository (default: the workspace around the current directory).
    #[arg(long, value_name = "DIR")]
    pub repo: Option<PathBuf>,

    /// The language: a crate on the Rust kit, or a package on the Python kit (kits/python)
    /// started by its `./run` and built by its own Dockerfile.
    #[arg(long, value_enum, default_value_t = scaffold::Lang::Rust)]
    pub lang: scaffold::Lang,
}

pub fn run(command: &NewCommand, global: Global) -> anyhow::Result<()> {
    match command {
        NewCommand::Component(args) => new_component(args, global),
    }
}

fn new_component(args: &ComponentArgs, global: Global) -> anyhow::Result<()> {
    let name = args.name.as_str();
    let made = scaffold::new_component(&scaffold::Request {
        lang: args.lang,
        name,
        subscribe: &args.subscribe,
        serve: &args.serve,
        description: args.description.as_deref(),
        repo: args.repo.as_deref(),
    })?;
    for warning in &made.warnings {
        eprintln!("warning: {warning}");
    }
    if global.json {
        println!(
            "{}",
            serde_json::json!({
                "component": name,
                "dir": format!("components/{name}"),
                "files": made.files,
                "changed": made.changed,
                "next": made.next,
                "warnings": made.warnings,
            })
        );
    } else {
        println!("created components/{name}:");
        for file in &made.files {
            println!("  {file}");
        }
        if !made.changed.is_empty() {
            println!("\nwired into the deployment:");
            for file in &made.changed {
                println!("  {file}");
            }
        }
        println!("\nnext:");
        let width = made.next.iter().map(|s| s.command.len()).max().unwrap_or(0);
        for step in &made.next {
            println!("  {:width$}   # {}", step.command, step.why);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, FromArgMatches};

    use super::*;
    use crate::commands::{Cli, Command};

    #[test]
    fn the_command_parses() {
        let matches = Cli::command()
            .try_get_matches_from([
                "mandate",
                "new",
                "component",
                "tally",
                "--subscribe",
                "orders.placed.v1",
                "--subscribe",
                "evt.payments.captured.v1",
                "--serve",
                "count",
                "--repo",
                "/tmp/x",
                "--json",
            ])
            .expect("parses");
        let cli = Cli::from_arg_matches(&matches).expect("parses");
        let Command::New(NewCommand::Component(args)) = cli.command else {
            panic!("{:?}", cli.command)
        };
        assert_eq!(args.name, "tally");
        let types: Vec<String> = args.subscribe.iter().map(EventSubject::ce_type).collect();
        assert_eq!(types, vec!["orders.placed.v1", "payments.captured.v1"]);
        assert_eq!(args.serve, vec!["count"]);
        assert!(cli.json);
        assert_eq!(args.lang, scaffold::Lang::Rust, "rust unless asked");

        let matches = Cli::command()
            .try_get_matches_from([
                "mandate",
                "new",
                "component",
                "x",
                "--serve",
                "count",
                "--lang",
                "python",
            ])
            .expect("parses");
        let cli = Cli::from_arg_matches(&matches).expect("parses");
        let Command::New(NewCommand::Component(args)) = cli.command else {
            panic!("{:?}", cli.command)
        };
        assert_eq!(args.lang, scaffold::Lang::Python);

        let err = Cli::command()
            .try_get_matches_from(["mandate", "new", "component", "x", "--subscribe", "orders.placed"])
            .expect_err("refused");
        assert!(err.to_string().contains("<owner>.<event>.v<major>"), "{err}");
    }
}
