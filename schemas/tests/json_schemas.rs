//! The committed JSON Schemas under `schemas/json/` are what the Rust types generate; every
//! revision ever committed of each is kept under `schemas/history/<stem>/<NNNN>.json`; the types
//! are FULL_TRANSITIVE compatible with all of them (docs/design.md §5, docs/compatibility.md); and no
//! committed version ever disappears. The one schema no type generates that may stay is one a
//! component in another language wrote by hand for its own message (`mandate_compat::authorship`;
//! `mandate check` holds it to its history and FULL_TRANSITIVE).
//!
//! After an intended change, `UPDATE_SCHEMAS=1 cargo test -p schemas` rewrites `schemas/json/`
//! and appends the new schema to its history. An incompatible schema is never appended: the
//! test fails and names each field path and why; the fix is to make the change compatible (an
//! optional field with a default) or to publish it as a new major version beside this one.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use mandate_compat::{Change, append_revision, authorship, check_full, check_full_transitive, read_history};
use schemas::registry::{Message, messages};
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_owned()
}

/// `events/orders.placed.v1`: the name shared by `json/<stem>.json` and `history/<stem>/`.
fn stem(message: &Message) -> String {
    let path = message.path();
    path.strip_prefix("json/")
        .and_then(|rest| rest.strip_suffix(".json"))
        .unwrap_or_else(|| panic!("unexpected schema path {path}"))
        .to_owned()
}

fn history_dir(stem: &str) -> PathBuf {
    root().join("history").join(stem)
}

/// The schema as committed: pretty JSON and a final newline (history revisions are the same text).
fn generated_text(message: &Message) -> String {
    serde_json::to_string_pretty(&message.schema).expect("schema serializes") + "\n"
}

fn generated_value(message: &Message) -> Value {
    serde_json::to_value(&message.schema).expect("schema is JSON")
}

/// `<schemas>/<dir>/{events,services}/<name>` → `events/<name>`, with `.json` dropped (for
/// `json/`).
fn stems_under(schemas: &Path, dir: &str) -> BTreeSet<String> {
    let mut stems = BTreeSet::new();
    for kind in ["events", "services"] {
        if let Ok(entries) = std::fs::read_dir(schemas.join(dir).join(kind)) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                stems.insert(format!("{kind}/{}", name.strip_suffix(".json").unwrap_or(&name)));
            }
        }
    }
    stems
}

/// Also the only test that writes (with `UPDATE_SCHEMAS`): the schema file and its history are
/// written and then checked here, in one place, so no other test reads them half-updated.
#[test]
fn committed_schemas_and_their_history_match_the_types() {
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
    let mut problems = Vec::new();
    for message in messages() {
        let stem = stem(&message);
        let path = root().join(message.path());
        let text = generated_text(&message);
        let value = generated_value(&message);
        let history = history_dir(&stem);
        if update {
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, &text).expect("write");
            let revisions = read_history(&history).unwrap_or_else(|err| panic!("{err}"));
            let newest_differs = revisions.last().is_none_or(|newest| newest.schema != value);
            if newest_differs && check_full_transitive(&revisions, &value).is_empty() {
                append_revision(&history, &text).unwrap_or_else(|err| panic!("{}: {err}", history.display()));
            }
        }

        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            problems.push(format!("{}: differs from what the types generate", message.path()));
        }
        match read_history(&history) {
            Err(err) => problems.push(format!("history/{stem}: {err}")),
            Ok(revisions) => match revisions.last() {
                None => problems.push(format!(
                    "history/{stem}/ has no revision: a new message version gets its first one from \
                     `UPDATE_SCHEMAS=1 cargo test -p schemas`"
                )),
                Some(newest) if newest.schema != value && update => problems.push(format!(
                    "history/{stem}/: not recorded as revision {:04}, because it is incompatible with \
                     earlier revisions (see the_types_are_compatible_with_every_committed_revision)",
                    newest.number + 1
                )),
                Some(newest) if newest.schema != value => problems.push(format!(
                    "history/{stem}/{}.json (the newest revision) differs from what the types generate",
                    newest.label()
                )),
                Some(_) => {}
            },
        }
    }
    assert!(
        problems.is_empty(),
        "{}\nif the change is intended (and compatible), run `UPDATE_SCHEMAS=1 cargo test -p schemas` \
         and commit schemas/json and schemas/history",
        problems.join("\n")
    );
}

/// FULL_TRANSITIVE within a major version: what the types generate today must be readable by
/// the readers of every earlier revision, and must read every earlier revision's data.
#[test]
fn the_types_are_compatible_with_every_committed_revision() {
    let mut report = Vec::new();
    for message in messages() {
        let stem = stem(&message);
        // A missing or unreadable history is the other test's finding.
        let Ok(revisions) = read_history(&history_dir(&stem)) else {
            continue;
        };
        let found = check_full_transitive(&revisions, &generated_value(&message));
        if !found.is_empty() {
            report.push(format!("{} ({stem}):", message.name));
            report.extend(found.iter().map(|incompatibility| format!("  {incompatibility}")));
        }
    }
    assert!(
        report.is_empty(),
        "incompatible with committed revisions of the same major version (docs/design.md §5):\n{}\n\
         Within a major version only add fields with a default. Anything else is a new major \
         version (`v2` on a new subject) published alongside this one; see docs/compatibility.md",
        report.join("\n")
    );
}

#[test]
fn no_committed_version_disappears() {
    let generated: BTreeSet<String> = messages().iter().map(stem).collect();
    let gone = not_generated(&root(), &generated);
    assert!(
        gone.is_empty(),
        "committed schema versions no type generates any more:\n{}\nA committed version may never disappear \
         (readers and replays need it): keep its type, or publish a new major version beside it",
        gone.join("\n")
    );
}

/// The committed schemas and histories under `schemas` (the folder; the repository is its
/// parent) that no type generates, each with why that is refused. A schema written by hand by
/// a component in another language for its own message is not refused: `mandate check` holds
/// it to the rest (history, FULL_TRANSITIVE; docs/contract.md, "Commit your schemas").
fn not_generated(schemas: &Path, generated: &BTreeSet<String>) -> Vec<String> {
    let repo = schemas.parent().expect("schemas/ is in the repository");
    let hand_writing = authorship::hand_writing_owners(repo).expect("components/ is readable");
    let mut refused = Vec::new();
    for stem in stems_under(schemas, "json").difference(generated) {
        let path = format!("json/{stem}.json");
        let text = std::fs::read_to_string(schemas.join(&path)).expect("a listed schema reads");
        let schema: Value = serde_json::from_str(&text).unwrap_or_else(|err| panic!("{path}: {err}"));
        if authorship::names_a_rust_type(&schema) {
            refused.push(format!(
                "{path}: names a Rust type ({}), but no type generates it",
                schema[authorship::RUST_TYPE]
            ));
        } else if let Some(why) = authorship::refuse_hand_written(stem, &hand_writing) {
            refused.push(format!("{path}: {why}"));
        }
    }
    let committed = stems_under(schemas, "json");
    for stem in stems_under(schemas, "history").difference(generated) {
        if !committed.contains(stem) {
            refused.push(format!("history/{stem}/: its schema json/{stem}.json is gone"));
        }
    }
    refused
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

/// Every schema and every definition names its Rust type (`x-rust-type`, `src/rust_type.rs`):
/// what `mandate new` reads to name the types in the code it writes. A type without the
/// `#[schemars(transform = ...)]` line would leave the scaffold guessing.
#[test]
fn every_schema_names_its_rust_type() {
    let mut wrong = Vec::new();
    let mut check = |at: String, name: Option<&str>, schema: &Value| {
        let path = schema.pointer("/x-rust-type/path").and_then(Value::as_str);
        // `schemas::paging::Page<schemas::orders::OrderView>` is named `Page`.
        let last = path.and_then(|path| path.split('<').next()?.rsplit("::").next());
        if !path.is_some_and(|path| path.starts_with("schemas::")) || last != name {
            wrong.push(format!("{at}: x-rust-type {path:?}, named {name:?}"));
        }
    };
    for message in messages() {
        let schema = generated_value(&message);
        check(message.path(), schema.get("title").and_then(Value::as_str), &schema);
        for (name, def) in schema.get("$defs").and_then(Value::as_object).into_iter().flatten() {
            check(format!("{}#/$defs/{name}", message.path()), Some(name), def);
        }
    }
    assert!(
        wrong.is_empty(),
        "without (or with a wrong) x-rust-type: add `#[schemars(transform = crate::rust_type::of::<Self>)]` \
         (`enum_of` for an enum) to the type:\n{}",
        wrong.join("\n")
    );
}

// ---- the checker on the real contract (moved from mandate-compat, which knows no contract) ----

#[test]
fn every_contract_schema_is_compatible_with_itself() {
    // No false alarms on what schemars really emits for the storefront.
    for message in messages() {
        let schema = serde_json::to_value(&message.schema).expect("JSON");
        assert_eq!(check_full(&schema, &schema), [], "{}", message.name);
    }
}

#[test]
fn a_field_removed_from_order_lines_of_orders_placed_is_reported_with_its_path() {
    let placed = messages()
        .into_iter()
        .find(|message| message.name == "orders.placed.v1")
        .expect("orders.placed.v1 is in the registry");
    let old = serde_json::to_value(&placed.schema).expect("JSON");
    let mut new = old.clone();
    let line = new.pointer_mut("/$defs/OrderLine").expect("OrderLine is a definition");
    line["properties"].as_object_mut().expect("properties").remove("sku");
    line["required"]
        .as_array_mut()
        .expect("required")
        .retain(|name| name != "sku");

    let found = check_full(&old, &new);
    assert_eq!(
        found.iter().map(|i| (i.path.as_str(), i.change)).collect::<Vec<_>>(),
        [("$.lines[].sku", Change::RequiredFieldRemoved)]
    );
    assert_eq!(
        found[0].to_string(),
        "$.lines[].sku: required field removed: readers of the old version fail on new messages that lack it"
    );
}

// ---- schemas written by hand (docs/contract.md, "Commit your schemas") ----

/// A repository with a component in another language (`tally`, started by a command) and a
/// Rust one (`orders`), and the given files under `schemas/`.
fn repository_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let repo = tempfile::tempdir().expect("tempdir");
    let mut all = vec![
        (
            "components/tally/manifest.json",
            r#"{"name": "tally", "start": {"command": ["node", "main.js"]}}"#,
        ),
        (
            "components/orders/manifest.json",
            r#"{"name": "orders", "publishes": ["orders.placed.v1"]}"#,
        ),
    ];
    all.extend_from_slice(files);
    for (path, text) in all {
        let path = repo.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    repo
}

const HAND_WRITTEN: &str =
    r#"{"type": "object", "properties": {"customer_id": {"type": "string"}}, "required": ["customer_id"]}"#;

#[test]
fn a_component_in_another_language_publishes_its_own_schemas_written_by_hand() {
    let repo = repository_with(&[
        ("schemas/json/services/tally.count.v1.request.json", HAND_WRITTEN),
        (
            "schemas/history/services/tally.count.v1.request/0001.json",
            HAND_WRITTEN,
        ),
        ("schemas/json/events/tally.counted.v1.json", HAND_WRITTEN),
        ("schemas/history/events/tally.counted.v1/0001.json", HAND_WRITTEN),
    ]);
    assert_eq!(
        not_generated(&repo.path().join("schemas"), &BTreeSet::new()),
        Vec::<String>::new()
    );
}

#[test]
fn a_schema_written_by_hand_for_a_rust_components_message_is_refused() {
    let repo = repository_with(&[
        ("schemas/json/events/orders.extra.v1.json", HAND_WRITTEN),
        ("schemas/history/events/orders.extra.v1/0001.json", HAND_WRITTEN),
        // Nor may anyone add messages for an owner that is no component at all.
        ("schemas/json/events/nobody.said.v1.json", HAND_WRITTEN),
    ]);
    let refused = not_generated(&repo.path().join("schemas"), &BTreeSet::new());
    assert_eq!(refused.len(), 2, "{refused:#?}");
    assert!(
        refused[0].starts_with("json/events/nobody.said.v1.json: events/nobody.said.v1: written by hand")
            && refused[1].starts_with("json/events/orders.extra.v1.json: events/orders.extra.v1: written by hand")
            && refused[1].contains("orders is not a component in another language"),
        "{refused:#?}"
    );
}

#[test]
fn a_hand_written_schema_that_claims_a_rust_type_or_lost_its_schema_is_refused() {
    let claims = r#"{"type": "object", "x-rust-type": {"path": "schemas::tally::Counted"}}"#;
    let repo = repository_with(&[
        ("schemas/json/events/tally.counted.v1.json", claims),
        ("schemas/history/events/tally.gone.v1/0001.json", HAND_WRITTEN),
    ]);
    let refused = not_generated(&repo.path().join("schemas"), &BTreeSet::new());
    assert_eq!(refused.len(), 2, "{refused:#?}");
    assert!(
        refused[0].starts_with("json/events/tally.counted.v1.json: names a Rust type"),
        "{}",
        refused[0]
    );
    assert_eq!(
        refused[1],
        "history/events/tally.gone.v1/: its schema json/events/tally.gone.v1.json is gone"
    );
}
