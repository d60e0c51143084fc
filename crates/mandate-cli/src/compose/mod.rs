//! docker-compose.yml against the component manifests: every component has its service,
//! its own data volume and its bus user's password from the environment, and nothing runs a
//! component that does not exist (`check`, run by `mandate check`). `mandate new component`
//! adds a new component's service, volume and password to the file (`edit`).
//!
//! The file stays hand-written — comments, anchors, the gateway's port and the cluster
//! profile are an operator's to shape — so the tool edits it as text in the house layout and
//! then reads the result back through the same check before writing it.

mod check;
mod edit;

use std::path::Path;

use anyhow::{Context, bail};

pub use check::{Deployed, problems};

/// The compose file, relative to the repository.
pub const COMPOSE_FILE: &str = "docker-compose.yml";

/// The problems `mandate check` reports for `repo`'s compose file (none when it has none:
/// a repository may deploy another way).
pub fn check_repo(repo: &Path) -> Vec<String> {
    let path = repo.join(COMPOSE_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(err) => return vec![format!("reading {}: {err}", path.display())],
    };
    let components = match deployed(repo) {
        Ok(components) => components,
        Err(err) => return vec![format!("cannot read components/*/manifest.json: {err:#}")],
    };
    let mut found = problems(&text, &components);
    found.extend(repository_dockerfile_problems(repo));
    found
}

/// The repository's Dockerfile (the Rust components' image) under the same rule as a
/// component's own: nothing that needs Docker Hub before the build starts.
fn repository_dockerfile_problems(repo: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(repo.join("Dockerfile")) else {
        return Vec::new();
    };
    check::frontend_directive(&text)
        .map(|directive| format!("Dockerfile: {}", check::fetches_a_frontend(directive)))
        .into_iter()
        .collect()
}

/// Every component of `repo` (from its manifests) and how its image is built.
pub fn deployed(repo: &Path) -> anyhow::Result<Vec<Deployed>> {
    Ok(crate::repo::manifest::read_all(repo)?
        .into_iter()
        .map(|m| Deployed::in_repo(repo, &m))
        .collect())
}

/// Adds `name`'s service, data volume and password variable to `repo`'s compose file.
/// Returns false when the repository has no compose file, and leaves the file untouched
/// when the component is already in it.
pub fn add_component(repo: &Path, name: &str) -> anyhow::Result<bool> {
    let path = repo.join(COMPOSE_FILE);
    if !path.is_file() {
        return Ok(false);
    }
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut components = deployed(repo).unwrap_or_default();
    if !components.iter().any(|c| c.name == name) {
        components.push(Deployed::workspace(name));
    }
    // Built as its manifest says: a crate by the repository's Dockerfile, anything else by
    // its own.
    let own = components
        .iter()
        .any(|c| c.name == name && matches!(c.build, check::Build::Own(_)));
    let Some(edited) = edit::add_component(&text, name, own).map_err(|e| anyhow::anyhow!("{COMPOSE_FILE}: {e}"))?
    else {
        return Ok(true);
    };
    // The edit must not add a problem the check can see (the ones already there are the
    // operator's, and `mandate check` reports them).
    let before = problems(&text, &components);
    let added: Vec<String> = problems(&edited, &components)
        .into_iter()
        .filter(|problem| !before.contains(problem))
        .collect();
    if !added.is_empty() {
        bail!(
            "adding {name} to {COMPOSE_FILE} would leave it inconsistent ({}); add the service by hand, like the other components'",
            added.join("; ")
        );
    }
    std::fs::write(&path, edited).with_context(|| format!("writing {}", path.display()))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::repository_dockerfile_problems;

    #[test]
    fn the_repository_dockerfile_needs_nothing_from_docker_hub_before_it_builds() {
        let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        assert_eq!(repository_dockerfile_problems(&repo), Vec::<String>::new());

        let dir = tempfile::tempdir().expect("a folder");
        std::fs::write(dir.path().join("Dockerfile"), "# syntax=docker/dockerfile:1\nFROM x\n").expect("written");
        let found = repository_dockerfile_problems(dir.path());
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("Dockerfile: `# syntax=docker/dockerfile:1`"),
            "{found:?}"
        );
    }
}
