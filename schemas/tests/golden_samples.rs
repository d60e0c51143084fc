//! Golden samples: one committed body per message version, as JSON (for people) and as
//! MessagePack (as it travels). Today's types must decode every one — that is what a replay
//! does to old events. Samples are history: once committed they are never regenerated.
//! `UPDATE_SAMPLES=1 cargo test -p schemas --test golden_samples` writes the missing ones,
//! filled in from the schema.

use std::path::{Path, PathBuf};

use schemars::Schema;
use schemas::registry::messages;
use serde_json::{Map, Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_owned()
}

#[test]
fn every_golden_sample_decodes_with_todays_types() {
    let update = std::env::var_os("UPDATE_SAMPLES").is_some();
    let mut problems = Vec::new();
    for message in messages() {
        let stem = root().join(message.sample_path()).display().to_string();
        let (json_path, msgpack_path) = (
            PathBuf::from(format!("{stem}.json")),
            PathBuf::from(format!("{stem}.msgpack")),
        );
        if !json_path.exists() && update {
            let sample = example(message.schema.as_value(), message.schema.as_value(), 0);
            std::fs::create_dir_all(json_path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&json_path, serde_json::to_string_pretty(&sample).expect("json") + "\n").expect("write");
            std::fs::write(&msgpack_path, rmp_serde::to_vec_named(&sample).expect("msgpack")).expect("write");
        }
        let (Ok(json), Ok(bytes)) = (std::fs::read_to_string(&json_path), std::fs::read(&msgpack_path)) else {
            problems.push(format!(
                "{}: no golden sample (run UPDATE_SAMPLES=1 ...)",
                message.sample_path()
            ));
            continue;
        };
        let value: Value = serde_json::from_str(&json).expect("sample JSON parses");
        if rmp_serde::to_vec_named(&value).expect("encodes") != bytes {
            problems.push(format!(
                "{}: the .json and .msgpack forms differ",
                message.sample_path()
            ));
        }
        if let Err(err) = (message.decode)(&bytes) {
            problems.push(format!("{}: today's type cannot read it: {err}", message.sample_path()));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A plausible value for a JSON Schema: every property present (optional ones too, so the
/// sample exercises them), one item per array, the first variant of an enum.
fn example(node: &Value, root: &Value, depth: usize) -> Value {
    assert!(depth < 20, "schema too deep for a sample");
    if let Some(reference) = node.get("$ref").and_then(Value::as_str) {
        let name = reference.trim_start_matches("#/$defs/");
        return example(&root["$defs"][name], root, depth + 1);
    }
    if let Some(variants) = node.get("enum").and_then(Value::as_array) {
        return variants[0].clone();
    }
    if let Some(constant) = node.get("const") {
        return constant.clone();
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = node.get(key).and_then(Value::as_array) {
            let chosen = options
                .iter()
                .find(|o| o.get("type") != Some(&json!("null")))
                .unwrap_or(&options[0]);
            return example(chosen, root, depth + 1);
        }
    }
    let kind = match node.get("type") {
        Some(Value::Array(kinds)) => kinds.iter().find(|k| *k != "null").cloned().unwrap_or(Value::Null),
        Some(kind) => kind.clone(),
        None => Value::Null,
    };
    match kind.as_str() {
        Some("object") => {
            let mut object = Map::new();
            if let Some(properties) = node.get("properties").and_then(Value::as_object) {
                for (name, property) in properties {
                    object.insert(name.clone(), example(property, root, depth + 1));
                }
            }
            Value::Object(object)
        }
        Some("array") => json!([example(&node["items"], root, depth + 1)]),
        Some("string") => json!("sample"),
        Some("integer") => json!(1),
        Some("number") => json!(1.5),
        Some("boolean") => json!(true),
        _ => Value::Null,
    }
}

#[test]
fn the_sample_maker_fills_every_kind() {
    let schema: Schema = schemars::schema_for!(schemas::orders::OrderView);
    let sample = example(schema.as_value(), schema.as_value(), 0);
    assert_eq!(sample["status"], "placed");
    assert_eq!(sample["lines"][0]["quantity"], 1);
    let decoded: schemas::orders::OrderView = serde_json::from_value(sample).expect("a valid OrderView");
    assert_eq!(decoded.history.len(), 1);
}
