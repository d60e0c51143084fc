//! The committed AsyncAPI document (`schemas/asyncapi.yaml`) is valid AsyncAPI 3.0.0 — by the
//! published JSON Schema of the specification, vendored in `tests/fixtures/` (see its
//! README) — holds together where that schema cannot look (every `$ref` resolves, an
//! operation's messages belong to its channel), describes the golden samples, and is what
//! `mandate asyncapi` generates today. Deliberately broken copies are rejected, so none of
//! these checks can pass vacuously.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the workspace root")
        .to_path_buf()
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// The committed document, as JSON.
fn committed() -> Value {
    let path = repo_root().join("schemas/asyncapi.yaml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()))
}

/// The validator of the AsyncAPI 3.0.0 specification.
fn specification() -> jsonschema::Validator {
    let text = std::fs::read_to_string(fixture("asyncapi-3.0.0.schema.json")).expect("the vendored schema");
    let schema: Value = serde_json::from_str(&text).expect("the vendored schema is JSON");
    assert_eq!(
        schema["title"], "AsyncAPI 3.0.0 schema.",
        "tests/fixtures/asyncapi-3.0.0.schema.json is not the AsyncAPI 3.0.0 schema"
    );
    jsonschema::validator_for(&schema).expect("the vendored schema compiles")
}

/// What the specification's schema finds wrong, one line each.
fn spec_errors(validator: &jsonschema::Validator, document: &Value) -> Vec<String> {
    validator
        .iter_errors(document)
        .map(|error| format!("{}: {error}", error.instance_path))
        .collect()
}

/// What the specification's schema cannot see: dangling internal references, and operation
/// messages that are not messages of the operation's channel (AsyncAPI 3.0 §Operation).
fn structural_errors(document: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let mut refs = Vec::new();
    collect_refs(document, "", &mut refs);
    for (at, target) in &refs {
        match target.strip_prefix('#') {
            Some(pointer) if document.pointer(pointer).is_some() => {}
            Some(_) => errors.push(format!("{at}: $ref {target} resolves to nothing")),
            None => errors.push(format!("{at}: $ref {target} is not internal")),
        }
    }
    let Some(operations) = document["operations"].as_object() else {
        return vec!["no operations".to_owned()];
    };
    for (id, operation) in operations {
        let mut pairs = vec![(&operation["channel"], &operation["messages"])];
        if let Some(reply) = operation.get("reply") {
            pairs.push((&reply["channel"], &reply["messages"]));
        }
        for (channel, messages) in pairs {
            let channel = channel["$ref"].as_str().unwrap_or_default();
            for message in messages.as_array().into_iter().flatten() {
                let message = message["$ref"].as_str().unwrap_or_default();
                if !message.starts_with(&format!("{channel}/messages/")) {
                    errors.push(format!(
                        "operations/{id}: message {message} is not a message of its channel {channel}"
                    ));
                }
            }
        }
    }
    errors
}

fn collect_refs(value: &Value, at: &str, refs: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if key == "$ref" {
                    if let Some(target) = child.as_str() {
                        refs.push((at.to_owned(), target.to_owned()));
                    }
                } else {
                    collect_refs(child, &format!("{at}/{key}"), refs);
                }
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                collect_refs(item, &format!("{at}/{index}"), refs);
            }
        }
        _ => {}
    }
}

#[test]
fn the_committed_document_is_valid_asyncapi_3() {
    let document = committed();
    assert_eq!(document["asyncapi"], "3.0.0");
    let errors = spec_errors(&specification(), &document);
    assert!(
        errors.is_empty(),
        "schemas/asyncapi.yaml is not valid AsyncAPI 3.0.0:\n{}",
        errors.join("\n")
    );
    let errors = structural_errors(&document);
    assert!(errors.is_empty(), "schemas/asyncapi.yaml:\n{}", errors.join("\n"));
}

/// A way to break a document.
type Breakage<'a> = Box<dyn Fn(&mut Value) + 'a>;

#[test]
fn broken_documents_are_rejected() {
    let validator = specification();
    let valid = committed();
    let first_operation = valid["operations"]
        .as_object()
        .and_then(|ops| ops.keys().next().cloned())
        .expect("an operation");
    let first_message = valid["components"]["messages"]
        .as_object()
        .and_then(|m| m.keys().next().cloned())
        .expect("a message");
    let breakages: Vec<(&str, Breakage<'_>)> = vec![
        (
            "another specification version",
            Box::new(|d| d["asyncapi"] = json!("3.1.0")),
        ),
        ("no info", Box::new(|d| _ = d.as_object_mut().map(|m| m.remove("info")))),
        (
            "an operation without a channel",
            Box::new(|d| {
                d["operations"][&first_operation]
                    .as_object_mut()
                    .map(|op| op.remove("channel"));
            }),
        ),
        (
            "AsyncAPI 2's `publish` as an action",
            Box::new(|d| d["operations"][&first_operation]["action"] = json!("publish")),
        ),
        (
            "an unknown field in a message",
            Box::new(|d| d["components"]["messages"][&first_message]["payloadd"] = json!({})),
        ),
        (
            "a payload schema that is not a schema",
            Box::new(|d| {
                let schemas = d["components"]["schemas"].as_object_mut().expect("schemas");
                let first = schemas.values_mut().next().expect("a schema");
                first["type"] = json!(42);
            }),
        ),
        (
            "a server without a protocol",
            Box::new(|d| {
                d["servers"]
                    .as_object_mut()
                    .and_then(|s| s.values_mut().next())
                    .and_then(Value::as_object_mut)
                    .map(|server| server.remove("protocol"));
            }),
        ),
    ];
    for (what, breakage) in breakages {
        let mut broken = valid.clone();
        breakage(&mut broken);
        assert_ne!(broken, valid, "{what}: the breakage changed nothing");
        assert!(
            !spec_errors(&validator, &broken).is_empty(),
            "{what}: accepted by the AsyncAPI schema"
        );
    }

    // What only the structural check sees.
    let mut dangling = valid.clone();
    dangling["operations"][&first_operation]["channel"] = json!({"$ref": "#/channels/evt.nobody.nothing.v1"});
    assert!(
        spec_errors(&validator, &dangling).is_empty(),
        "a dangling $ref is valid by the schema"
    );
    let errors = structural_errors(&dangling);
    assert!(errors.iter().any(|e| e.contains("resolves to nothing")), "{errors:?}");

    let mut foreign = valid.clone();
    let other_channel = valid["channels"]
        .as_object()
        .and_then(|c| c.keys().next_back().cloned())
        .expect("a channel");
    foreign["operations"][&first_operation]["channel"] = json!({ "$ref": format!("#/channels/{other_channel}") });
    let errors = structural_errors(&foreign);
    assert!(
        errors.iter().any(|e| e.contains("is not a message of its channel")),
        "{errors:?}"
    );
}

/// The golden samples (JSON form) are valid against the payload schemas as the document
/// embeds them: the conversion from the committed JSON Schemas kept their meaning.
#[test]
fn the_golden_samples_match_the_documents_payload_schemas() {
    let document = committed();
    let mut checked = 0;
    for dir in ["events", "services"] {
        let samples = repo_root().join("schemas/samples").join(dir);
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&samples)
            .unwrap_or_else(|e| panic!("{}: {e}", samples.display()))
            .map(|entry| entry.expect("entry").path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
            .collect();
        entries.sort();
        for path in entries {
            let key = path.file_stem().and_then(|s| s.to_str()).expect("a file name");
            assert!(
                document["components"]["schemas"].get(key).is_some(),
                "schemas/asyncapi.yaml has no payload schema for the sample {}",
                path.display()
            );
            // The whole document as the root, so `#/components/schemas/...` resolves.
            let mut schema = document.clone();
            schema["$schema"] = json!("http://json-schema.org/draft-07/schema#");
            schema["$ref"] = json!(format!("#/components/schemas/{key}"));
            let validator = jsonschema::validator_for(&schema).expect("the payload schema compiles");
            let sample: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).expect("sample")).expect("sample is JSON");
            let errors: Vec<String> = validator
                .iter_errors(&sample)
                .map(|e| format!("{}: {e}", e.instance_path))
                .collect();
            assert!(errors.is_empty(), "{}:\n{}", path.display(), errors.join("\n"));
            // And the check is not vacuous: a sample missing its required fields fails.
            if schema_requires_something(&document, key) {
                assert!(!validator.is_valid(&json!({})), "{key}: an empty body is accepted");
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} samples found");
}

fn schema_requires_something(document: &Value, key: &str) -> bool {
    document["components"]["schemas"][key]["required"]
        .as_array()
        .is_some_and(|r| !r.is_empty())
}

#[test]
fn the_committed_document_is_what_mandate_asyncapi_generates() {
    let out = Command::new(env!("CARGO_BIN_EXE_mandate"))
        .args(["asyncapi", "--check", "--repo"])
        .arg(repo_root())
        .env_remove("RUST_LOG")
        .output()
        .expect("mandate runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
