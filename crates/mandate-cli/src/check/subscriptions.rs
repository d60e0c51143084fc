//! Every event a component consumes is described: each event type a manifest `subscribes` to,
//! and each subject it `listens` to, names an event whose JSON Schema is committed under
//! `schemas/json/events/`. The broker and the generators accept any well-formed name, so a
//! subscription to a version nobody publishes (`orders.placed.v9`) would otherwise pass every
//! check and give a consumer that never receives anything.

use std::collections::BTreeSet;
use std::path::Path;

use crate::repo::manifest::{self, ComponentManifest};

/// Where the event schemas are, relative to the repository.
const EVENTS: &str = "schemas/json/events";

/// Every subscription or listen that no committed event schema describes, one line each
/// (empty: all described). A workspace without `schemas/json/` publishes no contract and has
/// nothing to check.
pub fn check_repo(repo: &Path) -> Vec<String> {
    if !repo.join("schemas/json").exists() {
        return Vec::new();
    }
    let described = match described_events(&repo.join(EVENTS)) {
        Ok(described) => described,
        Err(err) => return vec![format!("reading {EVENTS}: {err}")],
    };
    match manifest::read_all(repo) {
        Ok(manifests) => manifests.iter().flat_map(|m| undescribed(m, &described)).collect(),
        Err(err) => vec![format!("{err:#}")],
    }
}

/// `orders.placed.v1` for every `schemas/json/events/orders.placed.v1.json`.
fn described_events(dir: &Path) -> std::io::Result<BTreeSet<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(err) => return Err(err),
    };
    let mut described = BTreeSet::new();
    for entry in entries {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(kind) = name.strip_suffix(".json") {
            described.insert(kind.to_owned());
        }
    }
    Ok(described)
}

/// One manifest's subscriptions and listens that name no described event.
fn undescribed(manifest: &ComponentManifest, described: &BTreeSet<String>) -> Vec<String> {
    let file = format!("components/{}/manifest.json", manifest.name);
    let mut problems = Vec::new();
    for (stream, kinds) in &manifest.subscribes {
        for kind in kinds.iter().filter(|kind| !described.contains(*kind)) {
            problems.push(format!(
                "{file}: /subscribes/{stream}: {kind} is an event no schema describes (no {EVENTS}/{kind}.json): \
                 {}",
                what_exists(kind, described)
            ));
        }
    }
    for subject in &manifest.listens {
        if !described.iter().any(|kind| matches(subject, &format!("evt.{kind}"))) {
            let owner = subject.split('.').nth(1).unwrap_or_default();
            problems.push(format!(
                "{file}: /listens: {subject} matches no event a schema describes (under {EVENTS}/): {}",
                what_exists(owner, described)
            ));
        }
    }
    problems
}

/// What is described near `kind` (`orders.placed.v9`, or an owner alone): the versions of the
/// same event, else the owner's events, else that the owner describes none.
fn what_exists(kind: &str, described: &BTreeSet<String>) -> String {
    let mut parts = kind.split('.');
    let owner = parts.next().unwrap_or_default();
    let event = parts.next();
    let versions: Vec<&str> = described
        .iter()
        .filter(|d| event.is_some_and(|event| d.starts_with(&format!("{owner}.{event}.v"))))
        .map(String::as_str)
        .collect();
    if !versions.is_empty() {
        return format!("the versions described are {}", versions.join(", "));
    }
    let owned: Vec<&str> = described
        .iter()
        .filter(|d| d.starts_with(&format!("{owner}.")))
        .map(String::as_str)
        .collect();
    if owned.is_empty() {
        format!("{owner} has no event described; subscribe only to events whose schema is committed")
    } else {
        format!("the events of {owner} described are {}", owned.join(", "))
    }
}

/// NATS subject matching: `*` is one token, a final `>` one or more.
fn matches(pattern: &str, subject: &str) -> bool {
    let mut subject = subject.split('.');
    for token in pattern.split('.') {
        match (token, subject.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (token, Some(s)) if token == s => {}
            _ => return false,
        }
    }
    subject.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, path: &str, text: &str) {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    fn repo_with(manifest: &str) -> tempfile::TempDir {
        let repo = tempfile::tempdir().expect("tempdir");
        for kind in ["orders.placed.v1", "orders.placed.v2", "orders.completed.v1"] {
            write(repo.path(), &format!("{EVENTS}/{kind}.json"), "{}");
        }
        write(repo.path(), "components/tally/manifest.json", manifest);
        repo
    }

    #[test]
    fn a_subscription_to_an_event_no_schema_describes_is_refused_naming_the_versions_that_exist() {
        let repo = repo_with(
            r#"{"name": "tally", "subscribes": {"EVT_ORDERS": ["orders.placed.v9", "orders.completed.v1"],
                "EVT_BILLING": ["billing.paid.v1"]}, "start": {"command": ["node", "main.js"]}}"#,
        );
        assert_eq!(
            check_repo(repo.path()),
            [
                "components/tally/manifest.json: /subscribes/EVT_BILLING: billing.paid.v1 is an event no schema \
                 describes (no schemas/json/events/billing.paid.v1.json): billing has no event described; subscribe \
                 only to events whose schema is committed",
                "components/tally/manifest.json: /subscribes/EVT_ORDERS: orders.placed.v9 is an event no schema \
                 describes (no schemas/json/events/orders.placed.v9.json): the versions described are \
                 orders.placed.v1, orders.placed.v2",
            ]
        );
    }

    #[test]
    fn a_listen_matching_no_described_event_is_refused_and_wildcards_that_match_pass() {
        let repo = repo_with(
            r#"{"name": "tally", "listens": ["evt.>", "evt.orders.*.v1", "evt.orders.placed.v9"],
                "start": {"command": ["node", "main.js"]}}"#,
        );
        assert_eq!(
            check_repo(repo.path()),
            [
                "components/tally/manifest.json: /listens: evt.orders.placed.v9 matches no event a schema describes \
                 (under schemas/json/events/): the events of orders described are orders.completed.v1, \
                 orders.placed.v1, orders.placed.v2"
            ]
        );
    }

    #[test]
    fn described_subscriptions_pass_and_a_workspace_without_a_contract_has_nothing_to_check() {
        let repo = repo_with(
            r#"{"name": "tally", "subscribes": {"EVT_ORDERS": ["orders.placed.v2"]}, "listens": ["evt.orders.>"],
                "start": {"command": ["node", "main.js"]}}"#,
        );
        assert_eq!(check_repo(repo.path()), Vec::<String>::new());
        std::fs::remove_dir_all(repo.path().join("schemas")).expect("rm");
        assert_eq!(check_repo(repo.path()), Vec::<String>::new());
    }

    #[test]
    fn this_repository_subscribes_only_to_described_events() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        assert_eq!(check_repo(&repo), Vec::<String>::new());
    }
}
