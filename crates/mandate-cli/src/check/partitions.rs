//! A component's partitions split its events by an entity's key: `partitions.by` in a
//! manifest must be an entity that events it subscribes to are keyed by (their schemas'
//! `x-mandate-key`). Otherwise no event would be split — every partition would receive
//! everything and apply it, each in its own store, and a key's state would be spread over
//! all of them — while the broker, the stack and compose would run them without a word.

use std::collections::BTreeSet;
use std::path::Path;

use crate::repo::manifest::{self, ComponentManifest};

/// Where the event schemas are, relative to the repository.
const EVENTS: &str = "schemas/json/events";

/// Every manifest partitioned by an entity none of its subscribed events is keyed by, one
/// line each (empty: all fine).
pub fn check_repo(repo: &Path) -> Vec<String> {
    match manifest::read_all(repo) {
        Ok(manifests) => manifests.iter().filter_map(|m| unsplit(repo, m)).collect(),
        Err(err) => vec![format!("{err:#}")],
    }
}

/// The problem of `m`'s partitions, if its events are not keyed by its entity.
fn unsplit(repo: &Path, m: &ComponentManifest) -> Option<String> {
    let partitions = m.partitions.as_ref()?;
    let keyed = keyed_entities(repo, m);
    if keyed.contains(partitions.by.as_str()) {
        return None;
    }
    let known = if keyed.is_empty() {
        "none of the events it subscribes to is keyed (x-mandate-key in its schema)".to_owned()
    } else {
        format!(
            "the events it subscribes to are keyed by {}",
            keyed.into_iter().collect::<Vec<_>>().join(", ")
        )
    };
    Some(format!(
        "components/{}/manifest.json: /partitions/by: {:?} splits none of its events: {known}; \
         partition by one of those, or run it as one process (remove `partitions`)",
        m.name, partitions.by
    ))
}

/// The entities the events `m` subscribes to are keyed by, from their committed schemas.
fn keyed_entities(repo: &Path, m: &ComponentManifest) -> BTreeSet<String> {
    m.subscribes
        .values()
        .flatten()
        .filter_map(|kind| {
            let text = std::fs::read_to_string(repo.join(EVENTS).join(format!("{kind}.json"))).ok()?;
            let schema: serde_json::Value = serde_json::from_str(&text).ok()?;
            Some(schema.pointer("/x-mandate-key/entity")?.as_str()?.to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, path: &str, text: &str) {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    fn repo_with(partitions: &str) -> tempfile::TempDir {
        let repo = tempfile::tempdir().expect("tempdir");
        write(
            repo.path(),
            &format!("{EVENTS}/orders.placed.v1.json"),
            r#"{"x-mandate-key": {"entity": "order", "field": "order_id"}}"#,
        );
        write(repo.path(), &format!("{EVENTS}/catalog.upserted.v1.json"), "{}");
        write(
            repo.path(),
            "components/tally/manifest.json",
            &format!(
                r#"{{"name": "tally", "subscribes": {{"EVT_ORDERS": ["orders.placed.v1"],
                    "EVT_CATALOG": ["catalog.upserted.v1"]}}, "partitions": {partitions}}}"#
            ),
        );
        repo
    }

    #[test]
    fn partitions_by_an_entity_no_subscribed_event_is_keyed_by_are_refused_naming_the_keyed_ones() {
        let repo = repo_with(r#"{"by": "customer", "count": 3}"#);
        assert_eq!(
            check_repo(repo.path()),
            [
                "components/tally/manifest.json: /partitions/by: \"customer\" splits none of its events: the events \
              it subscribes to are keyed by order; partition by one of those, or run it as one process (remove \
              `partitions`)"
            ]
        );
        let repo = repo_with(r#"{"by": "order", "count": 3}"#);
        assert_eq!(check_repo(repo.path()), Vec::<String>::new());
    }

    #[test]
    fn this_repository_partitions_only_by_keyed_entities() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        assert_eq!(check_repo(&repo), Vec::<String>::new());
    }
}
