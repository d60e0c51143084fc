//! The protocol's schemas as outsiders read them: the manifest format and the admin protocol,
//! committed under `schemas/json/` (docs/contract.md). The tool validates with the schemas
//! generated from its own types (`repo::manifest::schema`, `admin::schemas`); this test keeps
//! the committed copies equal to them. After an intended change,
//! `UPDATE_SCHEMAS=1 cargo test -p mandate-cli --bin mandate published` rewrites them.

use std::path::{Path, PathBuf};

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every published schema: its path in the repository and its text.
fn documents() -> Vec<(String, String)> {
    let mut documents = vec![(
        crate::repo::manifest::SCHEMA_FILE.to_owned(),
        crate::repo::manifest::schema(),
    )];
    documents.extend(crate::admin::schemas());
    documents
        .into_iter()
        .map(|(path, schema): (String, Value)| {
            // As a `Schema`, it is written with `$schema`, `title`, `description` first.
            let schema = schemars::Schema::try_from(schema).expect("a schema is an object");
            let text = serde_json::to_string_pretty(&schema).expect("a schema is JSON") + "\n";
            (path, text)
        })
        .collect()
}

#[test]
fn the_committed_protocol_schemas_are_what_the_tool_validates_with() {
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
    let mut stale = Vec::new();
    for (path, text) in documents() {
        let file = repo().join(&path);
        if update {
            std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
            std::fs::write(&file, &text).expect("write");
        }
        if std::fs::read_to_string(&file).ok().as_deref() != Some(text.as_str()) {
            stale.push(path);
        }
    }
    assert!(
        stale.is_empty(),
        "{stale:?} differ from what the tool validates with: if the change is intended, run \
         `UPDATE_SCHEMAS=1 cargo test -p mandate-cli --bin mandate published` and commit them"
    );
}

#[test]
fn every_protocol_schema_is_a_valid_json_schema_with_a_description() {
    for (path, text) in documents() {
        let schema: Value = serde_json::from_str(&text).expect("JSON");
        jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(
            schema
                .get("description")
                .and_then(Value::as_str)
                .is_some_and(|d| !d.is_empty()),
            "{path} says nothing about itself"
        );
    }
}

/// Every JSON example docs/contract.md marks with `<!-- schema: <file> -->` follows
/// `schemas/json/<file>`: the documentation shows what the schemas accept.
#[test]
fn the_examples_in_the_contract_follow_the_schemas() {
    let doc = std::fs::read_to_string(repo().join("docs/contract.md")).expect("docs/contract.md");
    let mut checked = 0;
    for (marker, rest) in doc
        .split("<!-- schema: ")
        .skip(1)
        .map(|part| part.split_once(" -->").expect("-->"))
    {
        let block = rest
            .trim_start()
            .strip_prefix("```json\n")
            .and_then(|block| block.split_once("\n```"))
            .unwrap_or_else(|| panic!("no ```json block after the {marker} marker"))
            .0;
        let example: Value = serde_json::from_str(block).unwrap_or_else(|e| panic!("{marker} example: {e}"));
        let schema: Value = serde_json::from_str(
            &std::fs::read_to_string(repo().join("schemas/json").join(marker)).expect("schema committed"),
        )
        .expect("JSON");
        assert_eq!(
            crate::validation::problems(&schema, &example, "the example"),
            Vec::<String>::new(),
            "the {marker} example in docs/contract.md:\n{block}"
        );
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} marked examples");
}
