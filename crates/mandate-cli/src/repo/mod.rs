//! The repository the offline commands read and write: where it is ([`discover`]), its
//! component manifests (`manifest.rs`), and the cycle every generator shares (`generated.rs`):
//! generate a file from the committed sources, compare it with the committed one, and
//! `--write` it or show how it differs (`diff.rs`).
//!
//! The generators (`busconfig/`, `asyncapi/`, `compose/`), `check/`, `scaffold/` and `dev/`
//! depend on this module and not on each other's internals.

pub mod diff;
pub mod generated;
pub mod manifest;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The repository a command works on: `explicit` (its `--repo`), else the workspace around the
/// current directory. `command` names the command for the error message.
pub fn discover(explicit: Option<&Path>, command: &str) -> anyhow::Result<PathBuf> {
    match explicit {
        Some(repo) => Ok(repo.to_owned()),
        None => workspace_root(
            &std::env::current_dir().context("reading the current directory")?,
            command,
        ),
    }
}

/// The workspace around the current directory, when there is one.
pub fn current_workspace() -> Option<PathBuf> {
    discover(None, "mandate").ok()
}

/// The nearest directory at or above `start` whose Cargo.toml declares a `[workspace]`.
pub fn workspace_root(start: &Path, command: &str) -> anyhow::Result<PathBuf> {
    for dir in start.ancestors() {
        let manifest = dir.join("Cargo.toml");
        if std::fs::read_to_string(&manifest).is_ok_and(|text| text.contains("[workspace]")) {
            return Ok(dir.to_owned());
        }
    }
    bail!(
        "no Cargo workspace at or above {}: run `{command}` inside the repository or pass --repo",
        start.display()
    )
}
