//! `mandate check`: the checks that need no server, run on the repository's files — every
//! manifest against the published manifest format, the dependency rules of the mandate, and
//! that every generated file (bus-config, the compose file, the AsyncAPI document) is what the
//! committed sources generate. Each check returns the problems it found, so `check` can report
//! them all at once.

use std::path::{Path, PathBuf};

use anyhow::bail;

use super::Global;
use crate::check::{dependencies, partitions, python, schemas, subscriptions};
use crate::repo;

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The repository to check (default: the workspace around the current directory).
    #[arg(long)]
    pub repo: Option<PathBuf>,
}

pub fn run(args: &CheckArgs, global: Global) -> anyhow::Result<()> {
    let repo = repo::discover(args.repo.as_deref(), "mandate check")?;
    // Every manifest against schemas/json/manifest.json, each problem with its path and fix.
    let manifests = repo::manifest::check_repo(&repo);
    // What is generated from the manifests is judged once they are valid (until then each
    // would only repeat their first problem).
    let from_manifests = |check: fn(&Path) -> Vec<String>| {
        if manifests.is_empty() {
            check(&repo)
        } else {
            vec!["not checked until components/*/manifest.json are valid (see manifests)".to_owned()]
        }
    };
    // Each check: a name, a JSON key, and the problems it found (empty = ok).
    let sections: Vec<(&str, &str, Vec<String>)> = vec![
        ("manifests", "manifests", manifests.clone()),
        (
            "dependency rules",
            "dependencies",
            dependencies::check_workspace(&repo)?
                .iter()
                .map(ToString::to_string)
                .chain(python::check_repo(&repo))
                .collect(),
        ),
        // Every event a manifest subscribes or listens to has a committed schema.
        (
            "subscriptions",
            "subscriptions",
            from_manifests(subscriptions::check_repo),
        ),
        // A partitioned component splits events its subscriptions are keyed by.
        ("partitions", "partitions", from_manifests(partitions::check_repo)),
        // The committed broker configuration must be what the manifests generate.
        ("bus config", "bus_config", from_manifests(crate::busconfig::check_repo)),
        // Every component runs in the compose stack, as its own user with its own volume.
        ("compose", "compose", from_manifests(crate::compose::check_repo)),
        // The committed AsyncAPI document must be what schemas/json and the manifests generate.
        ("asyncapi", "asyncapi", from_manifests(crate::asyncapi::check_repo)),
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
