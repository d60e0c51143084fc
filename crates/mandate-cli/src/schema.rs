//! Validation of what the tool sends against the contract's committed JSON Schemas
//! (`schemas/json/`, read as files: the tool never links the `schemas` crate).
//!
//! The schemas are found in `$MANDATE_SCHEMAS` or in `schemas/json` of the workspace around
//! the current directory. A message with no schema there is sent unchecked (the tool works
//! with any system); a body that does not match a schema is refused before anything is sent.

use std::path::PathBuf;

use serde_json::Value;

use crate::failure::usage;
use crate::subjects::EventSubject;

/// Checks `body` against the event's JSON Schema, when one is known.
pub fn validate_event_body(event: &EventSubject, body: &Value) -> anyhow::Result<()> {
    validate(&format!("events/{}.json", event.ce_type()), body)
}

/// Checks a service request against its JSON Schema, when one is known. `subject` is
/// `svc.<owner>.<operation>.v<N>`.
pub fn validate_request(subject: &str, body: &Value) -> anyhow::Result<()> {
    let operation = subject.strip_prefix("svc.").unwrap_or(subject);
    validate(&format!("services/{operation}.request.json"), body)
}

/// The field holding the event's partition key, when its schema declares one
/// (`x-mandate-key`): such an event is published on its subject plus `.<key>`.
pub fn event_key_field(event: &EventSubject) -> anyhow::Result<Option<String>> {
    let Some(path) = schemas_dir().map(|dir| dir.join(format!("events/{}.json", event.ce_type()))) else {
        return Ok(None);
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let schema: Value = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("the contract schema {} is not JSON: {e}", path.display()))?;
    Ok(schema
        .pointer("/x-mandate-key/field")
        .and_then(Value::as_str)
        .map(str::to_owned))
}

fn schemas_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("MANDATE_SCHEMAS") {
        return Some(PathBuf::from(dir));
    }
    crate::repo::current_workspace().map(|root| root.join("schemas/json"))
}

fn validate(relative: &str, body: &Value) -> anyhow::Result<()> {
    let Some(path) = schemas_dir().map(|dir| dir.join(relative)) else {
        return Ok(());
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
        tracing::debug!(path = %path.display(), "no schema known; sending unchecked");
        return Ok(());
    };
    let schema: Value = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("the contract schema {} is not JSON: {e}", path.display()))?;
    let validator = jsonschema::validator_for(&schema)
        .map_err(|e| anyhow::anyhow!("the contract schema {} is not a valid JSON Schema: {e}", path.display()))?;
    let problems: Vec<String> = validator
        .iter_errors(body)
        .map(|error| {
            let at = error.instance_path.to_string();
            format!("{}: {error}", if at.is_empty() { "(body)" } else { at.as_str() })
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(usage(format!(
            "the body does not match the contract ({}):\n  {}",
            path.display(),
            problems.join("\n  ")
        )))
    }
}
