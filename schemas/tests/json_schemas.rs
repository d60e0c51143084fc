//! The committed JSON Schemas under `schemas/json/` are what the Rust types generate, and
//! no committed version ever disappears. `UPDATE_SCHEMAS=1 cargo test -p schemas` rewrites
//! them after an intended change (the compatibility check then judges that change).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use schemas::registry::messages;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_owned()
}

fn committed() -> BTreeSet<String> {
    let mut files = BTreeSet::new();
    for dir in ["json/events", "json/services"] {
        if let Ok(entries) = std::fs::read_dir(root().join(dir)) {
            for entry in entries.flatten() {
                files.insert(format!("{dir}/{}", entry.file_name().to_string_lossy()));
            }
        }
    }
    files
}

#[test]
fn committed_schemas_match_the_types() {
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
    let mut stale = Vec::new();
    for message in messages() {
        let path = root().join(message.path());
        let json = serde_json::to_string_pretty(&message.schema).expect("schema serializes") + "\n";
        if update {
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, &json).expect("write");
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(json.as_str()) {
            stale.push(message.path());
        }
    }
    assert!(
        stale.is_empty(),
        "these committed schemas differ from the types: {stale:?}\nif the change is intended, run \
         `UPDATE_SCHEMAS=1 cargo test -p schemas` and commit the result"
    );
}

#[test]
fn no_committed_version_disappears() {
    let generated: BTreeSet<String> = messages().iter().map(|m| m.path()).collect();
    let gone: Vec<_> = committed().difference(&generated).cloned().collect();
    assert!(
        gone.is_empty(),
        "committed schema versions no type generates any more: {gone:?}. A published version stays \
         (readers and replays need it): keep its type, or publish a new major version beside it"
    );
}

#[test]
fn every_event_and_operation_is_registered() {
    let mut declared = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("src")).expect("src") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("read");
        for line in text.lines() {
            for marker in ["impl Event for ", "impl Operation for "] {
                if let Some(rest) = line.trim().strip_prefix(marker) {
                    declared.insert(rest.trim_end_matches(" {").to_owned());
                }
            }
        }
    }
    let registry = std::fs::read_to_string(root().join("src/registry.rs")).expect("registry");
    let missing: Vec<_> = declared
        .iter()
        .filter(|name| !registry.contains(&format!("::{name}>()")))
        .collect();
    assert!(missing.is_empty(), "not listed in schemas/src/registry.rs: {missing:?}");
}
