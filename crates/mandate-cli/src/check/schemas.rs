//! The contract keeps its compatibility promise (docs/design.md §5, docs/compatibility.md), judged
//! on the committed files alone: every schema under `schemas/json/` is FULL_TRANSITIVE
//! compatible with each revision kept under `schemas/history/<stem>/`, its newest revision is
//! that schema, and no message version that has a history has disappeared. The judging is
//! `mandate_compat`; `schemas/tests/json_schemas.rs` applies the same rules to the types.
//!
//! A schema is generated from a Rust type of the `schemas` crate (it names it in
//! `x-rust-type`), or written by hand by a component in another language for its own message
//! (`mandate_compat::authorship`); one written by hand for anybody else's message is refused.
//! The advice differs accordingly: a generated history is recorded by `UPDATE_SCHEMAS=1 cargo
//! test -p schemas`, a hand-written one by adding the schema as its next revision.

use std::collections::BTreeSet;
use std::path::Path;

use mandate_compat::{authorship, check_full_transitive, read_history};
use serde_json::Value;

/// Kinds of message, each a directory under both `schemas/json/` and `schemas/history/`.
const KINDS: [&str; 2] = ["events", "services"];

/// Every problem found, one line each (empty = the contract is compatible).
pub fn check_repo(repo: &Path) -> Vec<String> {
    let json = repo.join("schemas/json");
    let history = repo.join("schemas/history");
    if !json.exists() && !history.exists() {
        // A workspace that publishes no contract (a scaffolded one) has nothing to keep.
        return Vec::new();
    }
    let hand_writing = match authorship::hand_writing_owners(repo) {
        Ok(owners) => owners,
        Err(err) => return vec![format!("reading {}: {err}", repo.join("components").display())],
    };
    let mut problems = Vec::new();
    let current = match stems(&json, |name| name.strip_suffix(".json").map(str::to_owned)) {
        Ok(stems) => stems,
        Err(err) => return vec![format!("reading {}: {err}", json.display())],
    };
    let recorded = match stems(&history, |name| Some(name.to_owned())) {
        Ok(stems) => stems,
        Err(err) => return vec![format!("reading {}: {err}", history.display())],
    };

    for stem in &current {
        let schema_file = format!("schemas/json/{stem}.json");
        let schema: Value = match std::fs::read_to_string(repo.join(&schema_file))
            .map_err(|err| err.to_string())
            .and_then(|text| serde_json::from_str(&text).map_err(|err| err.to_string()))
        {
            Ok(schema) => schema,
            Err(err) => {
                problems.push(format!("{schema_file}: {err}"));
                continue;
            }
        };
        let hand_written = !authorship::names_a_rust_type(&schema);
        if hand_written && let Some(refused) = authorship::refuse_hand_written(stem, &hand_writing) {
            problems.push(refused);
        }
        let revisions = match read_history(&history.join(stem)) {
            Ok(revisions) => revisions,
            Err(err) => {
                problems.push(format!("schemas/history/{stem}: {err}"));
                continue;
            }
        };
        let next = format!("schemas/history/{stem}/{:04}.json", revisions.len() + 1);
        let record = if hand_written {
            format!("add it, the same text, as {next}")
        } else {
            "run `UPDATE_SCHEMAS=1 cargo test -p schemas` and commit it".to_owned()
        };
        match revisions.last() {
            None => problems.push(format!("{stem}: no revision under schemas/history/{stem}/ ({record})")),
            Some(newest) if newest.schema != schema => problems.push(format!(
                "{stem}: the newest revision schemas/history/{stem}/{}.json differs from {schema_file}: {record}",
                newest.label()
            )),
            Some(_) => {}
        }
        for incompatibility in check_full_transitive(&revisions, &schema) {
            problems.push(format!("{stem}: {incompatibility}"));
        }
    }

    for stem in recorded.difference(&current) {
        problems.push(format!(
            "{stem}: schemas/json/{stem}.json is gone but schemas/history/{stem}/ records it: a committed \
             version may never disappear (readers and replays need it); publish a new major version beside it"
        ));
    }
    problems
}

/// `events/<name>` for every entry of `<dir>/{events,services}/` that `name_of` accepts.
fn stems(dir: &Path, name_of: impl Fn(&str) -> Option<String>) -> std::io::Result<BTreeSet<String>> {
    let mut stems = BTreeSet::new();
    for kind in KINDS {
        let entries = match std::fs::read_dir(dir.join(kind)) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => return Err(err),
        };
        for entry in entries {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if let Some(name) = name_of(&name) {
                stems.insert(format!("{kind}/{name}"));
            }
        }
    }
    Ok(stems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, path: &str, text: &str) {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    // Generated from a Rust type (they name one).
    const V1: &str = r#"{"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"], "x-rust-type": {"path": "schemas::a::A"}}"#;
    const V1_WITH_REQUIRED_NOTE: &str = r#"{"type": "object", "properties": {"id": {"type": "string"}, "note": {"type": "string"}}, "required": ["id", "note"], "x-rust-type": {"path": "schemas::a::A"}}"#;
    // Written by hand (they name none).
    const HAND_WRITTEN: &str = r#"{"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}"#;
    const HAND_WRITTEN_WITH_NOTE: &str = r#"{"type": "object", "properties": {"id": {"type": "string"}, "note": {"type": "string"}}, "required": ["id"]}"#;

    #[test]
    fn a_repository_without_a_contract_has_nothing_to_check() {
        let repo = tempfile::tempdir().expect("tempdir");
        assert_eq!(check_repo(repo.path()), Vec::<String>::new());
    }

    #[test]
    fn each_rule_is_reported_with_the_message_version() {
        let repo = tempfile::tempdir().expect("tempdir");
        let root = repo.path();
        // Compatible and recorded.
        write(root, "schemas/json/events/a.ok.v1.json", V1);
        write(root, "schemas/history/events/a.ok.v1/0001.json", V1);
        // Incompatible with its revision (and the revision is not the current schema).
        write(root, "schemas/json/events/b.bad.v1.json", V1_WITH_REQUIRED_NOTE);
        write(root, "schemas/history/events/b.bad.v1/0001.json", V1);
        // New, without history.
        write(root, "schemas/json/services/c.new.v1.request.json", V1);
        // Gone.
        write(root, "schemas/history/events/d.gone.v1/0001.json", V1);

        let problems = check_repo(root);
        assert_eq!(problems.len(), 4, "{problems:#?}");
        assert!(
            problems[0].starts_with("events/b.bad.v1: the newest revision"),
            "{}",
            problems[0]
        );
        assert!(
            problems[1].starts_with("events/b.bad.v1: $.note: required field added: ")
                && problems[1].ends_with("[against revision 0001]"),
            "{}",
            problems[1]
        );
        assert!(
            problems[2].starts_with("services/c.new.v1.request: no revision"),
            "{}",
            problems[2]
        );
        assert!(
            problems[3].starts_with("events/d.gone.v1: schemas/json/events/d.gone.v1.json is gone"),
            "{}",
            problems[3]
        );
    }

    #[test]
    fn a_component_in_another_language_records_its_hand_written_schemas_itself() {
        let repo = tempfile::tempdir().expect("tempdir");
        let root = repo.path();
        write(
            root,
            "components/tally/manifest.json",
            r#"{"name": "tally", "start": {"command": ["node", "main.js"]}}"#,
        );
        write(root, "components/orders/manifest.json", r#"{"name": "orders"}"#);
        // Recorded: passes.
        write(root, "schemas/json/events/tally.counted.v1.json", HAND_WRITTEN);
        write(root, "schemas/history/events/tally.counted.v1/0001.json", HAND_WRITTEN);
        assert_eq!(check_repo(root), Vec::<String>::new());

        // A compatible change not recorded yet; a new message version without history; a
        // hand-written schema for a Rust component's message.
        write(
            root,
            "schemas/json/events/tally.counted.v1.json",
            HAND_WRITTEN_WITH_NOTE,
        );
        write(root, "schemas/json/events/tally.reset.v1.json", HAND_WRITTEN);
        write(root, "schemas/json/events/orders.extra.v1.json", HAND_WRITTEN);
        write(root, "schemas/history/events/orders.extra.v1/0001.json", HAND_WRITTEN);
        assert_eq!(
            check_repo(root),
            [
                "events/orders.extra.v1: written by hand (it names no x-rust-type), but orders is not a component \
                 in another language (no components/orders/manifest.json that `start`s a command): its message types \
                 are Rust types in the schemas crate, which generates their schemas (`UPDATE_SCHEMAS=1 cargo test -p \
                 schemas`); only a component in another language writes its own by hand",
                "events/tally.counted.v1: the newest revision schemas/history/events/tally.counted.v1/0001.json differs \
                 from schemas/json/events/tally.counted.v1.json: add it, the same text, as \
                 schemas/history/events/tally.counted.v1/0002.json",
                "events/tally.reset.v1: no revision under schemas/history/events/tally.reset.v1/ (add it, the same \
                 text, as schemas/history/events/tally.reset.v1/0001.json)",
            ]
        );
    }
}
