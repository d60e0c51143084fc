//! `mandate check`: the checks that need no server, run on the repository's files.
//! Today: the dependency rules of the mandate, and that the committed broker configuration
//! (bus-config/) is what the component manifests generate (`crate::busconfig`). Each check is
//! its own module and returns the problems it found, so `check` can report them all at once.

pub mod dependencies;
pub mod schemas;

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
    // Each check: a name, a JSON key, and the problems it found (empty = ok).
    let sections: Vec<(&str, &str, Vec<String>)> = vec![
        (
            "dependency rules",
            "dependencies",
            dependencies::check_workspace(&repo)?
                .iter()
                .map(ToString::to_string)
                .collect(),
        ),
        // The committed broker configuration must be what the manifests generate.
        ("bus config", "bus_config", crate::busconfig::check_repo(&repo)),
        // Every component runs in the compose stack, as its own user with its own volume.
        ("compose", "compose", crate::compose::check_repo(&repo)),
        // The committed AsyncAPI document must be what schemas/json and the manifests generate.
        ("asyncapi", "asyncapi", crate::asyncapi::check_repo(&repo)),
        // Every committed schema stays FULL_TRANSITIVE compatible with its history (docs/design.md §5).
        (
            "schema compatibility",
            "schema_compatibility",
            schemas::check_repo(&repo),
        ),
    ];
    if global.json {
        let report: serde_json::Map<String, serde_json::Value> = sections
            .iter()
            .map(|(_, key, problems)| ((*key).to_owned(), serde_json::json!(problems)))
            .collect();
        println!("{}", serde_json::Value::Object(report));
    } else {
        for (name, _, problems) in &sections {
            if problems.is_empty() {
                println!("{name}: ok");
            }
            for problem in problems {
                eprintln!("{name}: {problem}");
            }
        }
    }
    let count: usize = sections.iter().map(|(_, _, problems)| problems.len()).sum();
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
