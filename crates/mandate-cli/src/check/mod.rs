//! `mandate check`: the checks that need no server, run on the repository's files.
//! Today: the dependency rules of the mandate, and that the committed broker configuration
//! (bus-config/) is what the component manifests generate (`crate::busconfig`). Each check is
//! its own module and returns the problems it found, so `check` can report them all at once.

pub mod dependencies;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::commands::Global;

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The repository to check (default: the workspace around the current directory).
    #[arg(long)]
    pub repo: Option<PathBuf>,
}

pub fn run(args: &CheckArgs, global: Global) -> anyhow::Result<()> {
    let repo = match &args.repo {
        Some(repo) => repo.clone(),
        None => current_workspace()?,
    };
    let problems = dependencies::check_workspace(&repo)?;
    // The committed broker configuration must be what the manifests generate.
    let bus_config = crate::busconfig::check_repo(&repo);
    if global.json {
        println!(
            "{}",
            serde_json::json!({ "dependencies": problems, "bus_config": bus_config })
        );
    } else {
        if problems.is_empty() {
            println!("dependency rules: ok");
        } else {
            for problem in &problems {
                eprintln!("dependency rules: {problem}");
            }
        }
        if bus_config.is_empty() {
            println!("bus config: ok");
        } else {
            for problem in &bus_config {
                eprintln!("bus config: {problem}");
            }
        }
    }
    let count = problems.len() + bus_config.len();
    if count > 0 {
        bail!("{count} problem(s) found");
    }
    Ok(())
}

/// The workspace around the current directory.
pub fn current_workspace() -> anyhow::Result<PathBuf> {
    workspace_root(&std::env::current_dir().context("reading the current directory")?)
}

/// The nearest directory at or above `start` whose Cargo.toml declares a `[workspace]`.
pub fn workspace_root(start: &Path) -> anyhow::Result<PathBuf> {
    for dir in start.ancestors() {
        let manifest = dir.join("Cargo.toml");
        if std::fs::read_to_string(&manifest).is_ok_and(|text| text.contains("[workspace]")) {
            return Ok(dir.to_owned());
        }
    }
    bail!(
        "no Cargo workspace at or above {}: run `mandate check` inside the repository or pass --repo",
        start.display()
    )
}
