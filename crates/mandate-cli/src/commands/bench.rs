//! `mandate bench ARGS`: runs the `mandate-bench` executable found next to this one with ARGS
//! and ends with its exit code, as cargo runs its external subcommands. The benchmark is a
//! development tool with a crate of its own (`crates/bench`); the operator tool does not link it.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context as _, bail};

use super::Global;

/// The bench's name, next to this executable.
const BENCH: &str = "mandate-bench";

/// Everything after `bench`, handed over as it is (`--help` too: the bench's own help).
#[derive(Debug, clap::Args)]
#[command(disable_help_flag = true, disable_version_flag = true)]
pub struct BenchArgs {
    /// The bench's flags: `mandate bench --help` lists them.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, value_name = "ARGS")]
    pub args: Vec<OsString>,
}

pub fn run(args: &BenchArgs, global: Global) -> anyhow::Result<()> {
    let bench = sibling()?;
    let mut command = Command::new(&bench);
    // `mandate --json bench` is the tool's global flag; the bench has its own.
    if global.json && !args.args.iter().any(|arg| arg == "--json") {
        command.arg("--json");
    }
    command.args(&args.args);
    hand_over(command).with_context(|| format!("running {}", bench.display()))
}

/// `mandate-bench` next to this executable, or an error saying how to build it.
fn sibling() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("finding this executable")?;
    let dir = exe.parent().context("this executable has no folder")?;
    let bench = dir.join(format!("{BENCH}{}", std::env::consts::EXE_SUFFIX));
    if !bench.is_file() {
        bail!(
            "`mandate bench` runs {BENCH}, which is not built next to this executable ({}): build it \
             with `cargo build --release -p {BENCH}` (or `cargo build -p {BENCH}` for a debug `mandate`)",
            dir.display()
        );
    }
    Ok(bench)
}

/// Becomes the bench (exec): its exit code, signals and output are the command's own.
#[cfg(unix)]
fn hand_over(mut command: Command) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt as _;
    // Its help and usage lines then say `mandate bench`, the name it was run by.
    Err(command.arg0("mandate bench").exec().into())
}

/// Runs the bench and exits with its exit code.
#[cfg(not(unix))]
fn hand_over(mut command: Command) -> anyhow::Result<()> {
    let status = command.status()?;
    std::process::exit(status.code().unwrap_or(1))
}
