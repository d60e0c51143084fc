//! Who writes a committed schema. Most are generated from the `schemas` crate's Rust types
//! (each names its type in `x-rust-type`); a component in another language — one whose
//! manifest `start`s a command — may instead write the schemas of its own messages by hand
//! (docs/contract.md, "Commit your schemas"). Either way the same rules hold afterwards
//! (history, FULL_TRANSITIVE, never disappearing); only "must be what a type generates" is
//! waived for the hand-written ones, and only for their owner's own messages, so that nobody
//! can shadow or extend a Rust component's contract by hand.
//!
//! The `schemas` crate's tests and `mandate check` both ask these questions, so the answers
//! live here, beside the rest of what they share.

use std::collections::BTreeSet;
use std::io;
use std::path::Path;

use serde_json::Value;

/// The extension keyword every generated schema carries (`schemas/src/rust_type.rs`).
pub const RUST_TYPE: &str = "x-rust-type";

/// The owner of a message version from its stem, `events/orders.placed.v1` → `orders` (the
/// component whose subject, stream and service the message belongs to).
pub fn owner(stem: &str) -> &str {
    let name = stem.rsplit('/').next().unwrap_or(stem);
    name.split('.').next().unwrap_or(name)
}

/// Whether a schema was generated from a Rust type: it names one.
pub fn names_a_rust_type(schema: &Value) -> bool {
    schema.get(RUST_TYPE).is_some()
}

/// The components of `repo` whose manifest `start`s a command (a component in another
/// language): the owners that may write their own schemas by hand. Manifests that cannot be
/// read are skipped here; `mandate check` reports them.
pub fn hand_writing_owners(repo: &Path) -> io::Result<BTreeSet<String>> {
    let entries = match std::fs::read_dir(repo.join("components")) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(err) => return Err(err),
    };
    let mut owners = BTreeSet::new();
    for entry in entries {
        let manifest = entry?.path().join("manifest.json");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let Ok(manifest) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        if let (Some(name), Some(_)) = (
            manifest.get("name").and_then(Value::as_str),
            manifest.pointer("/start/command"),
        ) {
            owners.insert(name.to_owned());
        }
    }
    Ok(owners)
}

/// Why a schema written by hand (it names no Rust type) is refused, if it is: its owner is not
/// a component in another language of `repo`. `None`: it may be written by hand.
pub fn refuse_hand_written(stem: &str, hand_writing: &BTreeSet<String>) -> Option<String> {
    let owner = owner(stem);
    (!hand_writing.contains(owner)).then(|| {
        format!(
            "{stem}: written by hand (it names no {RUST_TYPE}), but {owner} is not a component in another language \
             (no components/{owner}/manifest.json that `start`s a command): its message types are Rust types in \
             the schemas crate, which generates their schemas (`UPDATE_SCHEMAS=1 cargo test -p schemas`); only a \
             component in another language writes its own by hand"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_is_the_first_word_of_the_message_name() {
        assert_eq!(owner("events/orders.placed.v1"), "orders");
        assert_eq!(owner("services/repeat-customers.count.v1.request"), "repeat-customers");
    }

    #[test]
    fn only_components_that_start_a_command_write_their_schemas_by_hand() {
        let repo = tempfile::tempdir().expect("tempdir");
        for (name, manifest) in [
            (
                "tally",
                r#"{"name": "tally", "start": {"command": ["node", "main.js"]}}"#,
            ),
            ("orders", r#"{"name": "orders", "publishes": ["orders.placed.v1"]}"#),
            ("billing", r#"{"name": "billing", "start": {"cargo": {}}}"#),
            ("broken", "not JSON"),
        ] {
            let dir = repo.path().join("components").join(name);
            std::fs::create_dir_all(&dir).expect("mkdir");
            std::fs::write(dir.join("manifest.json"), manifest).expect("write");
        }
        let owners = hand_writing_owners(repo.path()).expect("read");
        assert_eq!(owners, BTreeSet::from(["tally".to_owned()]));
        assert_eq!(refuse_hand_written("services/tally.count.v1.request", &owners), None);
        let refused = refuse_hand_written("events/orders.extra.v1", &owners).expect("refused");
        assert!(
            refused.starts_with("events/orders.extra.v1: written by hand")
                && refused.contains("orders is not a component in another language"),
            "{refused}"
        );
    }
}
