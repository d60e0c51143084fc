//! The payload schemas: the committed JSON Schemas under `schemas/json/`, turned into AsyncAPI
//! Schema Objects.
//!
//! The committed files are JSON Schema 2020-12 (what schemars writes). AsyncAPI 3.0 names no
//! 2020-12 schema format: its own Schema Object (the default format) is a superset of JSON
//! Schema draft-07, and `application/schema+json;version=draft-07` is the only JSON Schema
//! format every tool must read. So the document embeds each schema as an AsyncAPI Schema
//! Object rather than pointing at the 2020-12 file under a format most tools reject. What
//! schemars emits is expressible in draft-07 once three things are done, here:
//!
//! - `$schema` (2020-12) is dropped: the document's format applies;
//! - `$defs` move to `components/schemas` and every `#/$defs/<Name>` becomes
//!   `#/components/schemas/<key>` (a `$ref` resolves against the whole document, not the
//!   embedded schema). A name every file defines the same way is shared; a name defined
//!   differently somewhere (a new major version's `OrderLine`) is qualified by its message,
//!   `orders.placed.v1.OrderLine`, in every file;
//! - a `$ref` with sibling keywords (meaningful in 2020-12, ignored by draft-07) becomes
//!   `allOf: [{$ref}]` beside them.
//!
//! Keywords draft-07 does not have (`prefixItems`, `unevaluatedProperties`, `$anchor`, ...)
//! are refused with the file and path, so nothing is silently weakened.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, bail};
use serde_yaml_ng::{Mapping, Value};

/// 2020-12 keywords with no draft-07 meaning: a schema using one cannot be embedded.
const NOT_IN_DRAFT_07: &[&str] = &[
    "prefixItems",
    "unevaluatedProperties",
    "unevaluatedItems",
    "dependentRequired",
    "dependentSchemas",
    "minContains",
    "maxContains",
    "$anchor",
    "$dynamicRef",
    "$dynamicAnchor",
    "$recursiveRef",
    "$recursiveAnchor",
    "$vocabulary",
    "$id",
];

/// Keywords whose values are data (instances), not schemas: never searched for keywords.
const DATA_KEYWORDS: &[&str] = &["default", "const", "enum", "examples"];

/// One committed schema file.
#[derive(Debug, Clone)]
pub struct SchemaFile {
    /// Relative to `schemas/`, e.g. `json/events/orders.placed.v1.json`.
    pub file: String,
    /// The message it describes: `orders.placed.v1`, `orders.place.v1.request`.
    pub key: String,
    /// `title`, if any.
    pub title: Option<String>,
    /// `description`, if any.
    pub description: Option<String>,
    /// The schema without `$schema` and `$defs`, refs not yet rewritten.
    root: Value,
    /// Its `$defs`, in file order.
    defs: Vec<(String, Value)>,
}

/// Request and response schemas of one operation (either may be missing).
#[derive(Debug, Clone, Default)]
pub struct OperationFiles {
    pub request: Option<SchemaFile>,
    pub response: Option<SchemaFile>,
}

/// Everything under `schemas/json/`.
#[derive(Debug, Clone, Default)]
pub struct Contract {
    /// `<owner>.<event>.v<N>` → its schema.
    pub events: BTreeMap<String, SchemaFile>,
    /// `<owner>.<op>.v<N>` → its schemas.
    pub operations: BTreeMap<String, OperationFiles>,
}

impl Contract {
    /// Reads `schemas/json/events/*.json` and `schemas/json/services/*.{request,response}.json`.
    /// A missing directory is an empty one; a `.json` file whose name is not a message
    /// version is an error (it would otherwise be left out of the document unnoticed).
    pub fn read(repo: &Path) -> anyhow::Result<Contract> {
        let mut contract = Contract::default();
        for (file, stem) in json_files(repo, "json/events")? {
            check_type(&stem, &file)?;
            let schema = SchemaFile::read(repo, &file, stem.clone())?;
            contract.events.insert(stem, schema);
        }
        for (file, stem) in json_files(repo, "json/services")? {
            let (operation, part) = match (stem.strip_suffix(".request"), stem.strip_suffix(".response")) {
                (Some(op), _) => (op.to_owned(), "request"),
                (_, Some(op)) => (op.to_owned(), "response"),
                _ => {
                    bail!("schemas/{file}: a service schema is named <owner>.<op>.v<N>.request.json or .response.json")
                }
            };
            check_type(&operation, &file)?;
            let schema = SchemaFile::read(repo, &file, stem.clone())?;
            let entry = contract.operations.entry(operation).or_default();
            if part == "request" {
                entry.request = Some(schema);
            } else {
                entry.response = Some(schema);
            }
        }
        Ok(contract)
    }

    fn files(&self) -> impl Iterator<Item = &SchemaFile> {
        self.events.values().chain(
            self.operations
                .values()
                .flat_map(|op| op.request.iter().chain(op.response.iter())),
        )
    }
}

/// `(path relative to schemas/, file stem)` of every `.json` file in `schemas/<dir>`, sorted.
fn json_files(repo: &Path, dir: &str) -> anyhow::Result<Vec<(String, String)>> {
    let path = repo.join("schemas").join(dir);
    let entries = match std::fs::read_dir(&path) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", path.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".json") {
            files.push((format!("{dir}/{name}"), stem.to_owned()));
        }
    }
    files.sort();
    Ok(files)
}

fn check_type(kind: &str, file: &str) -> anyhow::Result<()> {
    crate::repo::manifest::split_type(kind)
        .map(|_| ())
        .map_err(|e| anyhow::anyhow!("schemas/{file}: the file name is not a message version: {e}"))
}

impl SchemaFile {
    fn read(repo: &Path, file: &str, key: String) -> anyhow::Result<SchemaFile> {
        let path = repo.join("schemas").join(file);
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        // serde_json for a clear error on a broken file; the YAML parser (JSON is YAML) for
        // the value itself, because it keeps the file's key order whatever serde_json's
        // features are in this build.
        serde_json::from_str::<serde_json::Value>(&text).with_context(|| format!("schemas/{file} is not JSON"))?;
        let value: Value =
            serde_yaml_ng::from_str(&text).with_context(|| format!("schemas/{file} cannot be read as a value"))?;
        let Value::Mapping(mut root) = value else {
            bail!("schemas/{file} is not a JSON Schema object");
        };
        root.shift_remove("$schema");
        let mut defs = Vec::new();
        if let Some(found) = root.shift_remove("$defs") {
            let Value::Mapping(found) = found else {
                bail!("schemas/{file}: $defs is not an object");
            };
            for (name, def) in found {
                let Value::String(name) = name else {
                    bail!("schemas/{file}: a $defs key is not a string");
                };
                if !valid_component_key(&name) {
                    bail!(
                        "schemas/{file}: $defs/{name}: the name cannot be an AsyncAPI component key (letters, digits, `.`, `-`, `_`)"
                    );
                }
                defs.push((name, def));
            }
        }
        let text_of = |key: &str| root.get(key).and_then(Value::as_str).map(str::to_owned);
        let schema = SchemaFile {
            file: file.to_owned(),
            key,
            title: text_of("title"),
            description: text_of("description"),
            root: Value::Mapping(root),
            defs,
        };
        let mut problems = Vec::new();
        refuse_unsupported(&schema.root, "", &mut problems);
        for (name, def) in &schema.defs {
            refuse_unsupported(def, &format!("/$defs/{name}"), &mut problems);
        }
        if !problems.is_empty() {
            bail!(
                "schemas/{file} uses what an AsyncAPI Schema Object (JSON Schema draft-07) cannot express: {}",
                problems.join(", ")
            );
        }
        Ok(schema)
    }
}

/// AsyncAPI component keys: `^[\w\d\.\-_]+$`.
pub fn valid_component_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

fn refuse_unsupported(value: &Value, at: &str, problems: &mut Vec<String>) {
    match value {
        Value::Mapping(map) => {
            for (key, child) in map {
                let key = key.as_str().unwrap_or_default();
                if NOT_IN_DRAFT_07.contains(&key) {
                    problems.push(format!("{key} at {}", if at.is_empty() { "/" } else { at }));
                }
                if key == "$ref" && !child.as_str().is_some_and(|r| r.starts_with("#/$defs/")) {
                    problems.push(format!(
                        "$ref {:?} at {} (only #/$defs/<Name> is supported)",
                        child.as_str().unwrap_or_default(),
                        if at.is_empty() { "/" } else { at }
                    ));
                }
                // Property names are data, not keywords; so are defaults and examples.
                if DATA_KEYWORDS.contains(&key) {
                    continue;
                }
                if key != "properties" {
                    refuse_unsupported(child, &format!("{at}/{key}"), problems);
                } else if let Value::Mapping(properties) = child {
                    for (name, property) in properties {
                        let name = name.as_str().unwrap_or_default();
                        refuse_unsupported(property, &format!("{at}/properties/{name}"), problems);
                    }
                }
            }
        }
        Value::Sequence(items) => {
            for (index, item) in items.iter().enumerate() {
                refuse_unsupported(item, &format!("{at}/{index}"), problems);
            }
        }
        _ => {}
    }
}

/// The schemas of `components/schemas`: each message's payload under its key, then the
/// hoisted `$defs`, sorted by key.
#[derive(Debug, Clone, Default)]
pub struct Hoisted {
    /// Message key → payload schema.
    pub payloads: BTreeMap<String, Value>,
    /// Component key → shared definition.
    pub defs: BTreeMap<String, Value>,
}

/// Moves every file's `$defs` to `components/schemas` and rewrites the references.
pub fn hoist(contract: &Contract) -> anyhow::Result<Hoisted> {
    let files: Vec<&SchemaFile> = contract.files().collect();
    // A name is shared when every file that defines it defines it identically and everything
    // it refers to is shared too; otherwise every file gets its own qualified copy.
    let mut variants: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for file in &files {
        for (name, def) in &file.defs {
            variants.entry(name.as_str()).or_default().push(def);
        }
    }
    let mut qualified: BTreeSet<&str> = variants
        .iter()
        .filter(|(_, defs)| defs.windows(2).any(|pair| pair[0] != pair[1]))
        .map(|(name, _)| *name)
        .collect();
    loop {
        let mut grew = false;
        for file in &files {
            for (name, def) in &file.defs {
                if !qualified.contains(name.as_str()) && refers_to_any(def, &qualified) {
                    qualified.insert(name.as_str());
                    grew = true;
                }
            }
        }
        if !grew {
            break;
        }
    }

    let mut hoisted = Hoisted::default();
    let payload_keys: BTreeSet<&str> = files.iter().map(|f| f.key.as_str()).collect();
    for file in &files {
        let key_of = |name: &str| {
            if qualified.contains(name) {
                format!("{}.{name}", file.key)
            } else {
                name.to_owned()
            }
        };
        let known: BTreeSet<&str> = file.defs.iter().map(|(name, _)| name.as_str()).collect();
        let mut root = file.root.clone();
        rewrite(&mut root, &known, &key_of).map_err(|e| anyhow::anyhow!("schemas/{}: {e}", file.file))?;
        hoisted.payloads.insert(file.key.clone(), root);
        for (name, def) in &file.defs {
            let key = key_of(name);
            if payload_keys.contains(key.as_str()) {
                bail!(
                    "schemas/{}: $defs/{name} would be the component schema {key}, which is already a message's payload",
                    file.file
                );
            }
            let mut def = def.clone();
            rewrite(&mut def, &known, &key_of)
                .map_err(|e| anyhow::anyhow!("schemas/{}: $defs/{name}: {e}", file.file))?;
            hoisted.defs.entry(key).or_insert(def);
        }
    }
    Ok(hoisted)
}

fn refers_to_any(value: &Value, names: &BTreeSet<&str>) -> bool {
    match value {
        Value::Mapping(map) => map.iter().any(|(key, child)| {
            let key = key.as_str().unwrap_or_default();
            if DATA_KEYWORDS.contains(&key) {
                return false;
            }
            (key == "$ref"
                && child
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/$defs/"))
                    .is_some_and(|name| names.contains(name)))
                || refers_to_any(child, names)
        }),
        Value::Sequence(items) => items.iter().any(|item| refers_to_any(item, names)),
        _ => false,
    }
}

/// Points every `#/$defs/<Name>` at `#/components/schemas/<key>` and wraps a `$ref` that has
/// siblings in `allOf`, so draft-07 readers do not ignore the siblings.
fn rewrite(value: &mut Value, known: &BTreeSet<&str>, key_of: &dyn Fn(&str) -> String) -> Result<(), String> {
    match value {
        Value::Mapping(map) => {
            let target = map.get("$ref").and_then(Value::as_str).map(str::to_owned);
            // (An already rewritten one, `#/components/...`, is left alone.)
            if let Some(target) = target.filter(|t| t.starts_with("#/$defs/")) {
                let name = target.strip_prefix("#/$defs/").unwrap_or_default();
                if !known.contains(name) {
                    return Err(format!("$ref {target:?} names no definition of this file"));
                }
                let pointer = Value::String(format!("#/components/schemas/{}", key_of(name)));
                if map.len() == 1 {
                    map.insert(Value::from("$ref"), pointer);
                } else {
                    // `allOf: [{$ref}, ...]` where the `$ref` was, the siblings in place.
                    let mut reference = Mapping::new();
                    reference.insert(Value::from("$ref"), pointer);
                    let mut all = vec![Value::Mapping(reference)];
                    if let Some(Value::Sequence(existing)) = map.shift_remove("allOf") {
                        all.extend(existing);
                    }
                    let entries = std::mem::take(map);
                    for (key, child) in entries {
                        if key.as_str() == Some("$ref") {
                            map.insert(Value::from("allOf"), Value::Sequence(std::mem::take(&mut all)));
                        } else {
                            map.insert(key, child);
                        }
                    }
                }
            }
            for (key, child) in map.iter_mut() {
                let key = key.as_str().unwrap_or_default();
                if (key == "$ref" && child.is_string()) || DATA_KEYWORDS.contains(&key) {
                    continue;
                }
                rewrite(child, known, key_of)?;
            }
            Ok(())
        }
        Value::Sequence(items) => items.iter_mut().try_for_each(|item| rewrite(item, known, key_of)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for (path, text) in files {
            let path = dir.path().join("schemas").join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
        dir
    }

    fn yaml(value: &Value) -> String {
        serde_yaml_ng::to_string(value).expect("serializes")
    }

    const LINE_V1: &str = r##"{"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Placed",
        "type": "object", "properties": {"lines": {"type": "array", "items": {"$ref": "#/$defs/Line"}},
        "status": {"description": "where it stands", "$ref": "#/$defs/Status"}},
        "$defs": {"Line": {"type": "object", "properties": {"sku": {"type": "string"}}},
                  "Status": {"type": "string", "enum": ["a", "b"]}}}"##;
    const LINE_V2: &str = r##"{"title": "PlacedV2", "type": "object",
        "properties": {"lines": {"type": "array", "items": {"$ref": "#/$defs/Line"}}},
        "$defs": {"Line": {"type": "object", "properties": {"sku": {"type": "string"}, "currency": {"type": "string"}},
                           "required": ["currency"]}}}"##;
    const VIEW: &str = r##"{"title": "View", "type": "object",
        "properties": {"status": {"$ref": "#/$defs/Status"}},
        "$defs": {"Status": {"type": "string", "enum": ["a", "b"]}}}"##;

    #[test]
    fn shared_definitions_are_hoisted_once_and_conflicting_ones_qualified() {
        let repo = repo_with(&[
            ("json/events/orders.placed.v1.json", LINE_V1),
            ("json/events/orders.placed.v2.json", LINE_V2),
            ("json/services/orders.get.v1.response.json", VIEW),
        ]);
        let contract = Contract::read(repo.path()).expect("reads");
        assert_eq!(
            contract.operations["orders.get.v1"]
                .response
                .as_ref()
                .map(|f| f.file.as_str()),
            Some("json/services/orders.get.v1.response.json")
        );
        assert!(contract.operations["orders.get.v1"].request.is_none());
        let hoisted = hoist(&contract).expect("hoists");
        let keys: Vec<&str> = hoisted.defs.keys().map(String::as_str).collect();
        assert_eq!(keys, ["Status", "orders.placed.v1.Line", "orders.placed.v2.Line"]);
        let v1 = yaml(&hoisted.payloads["orders.placed.v1"]);
        assert!(!v1.contains("$schema") && !v1.contains("$defs"), "{v1}");
        assert!(
            v1.contains("$ref: '#/components/schemas/orders.placed.v1.Line'"),
            "{v1}"
        );
        // A $ref with a sibling keyword keeps the sibling's meaning under draft-07.
        assert!(
            v1.contains(
                "status:\n    description: where it stands\n    allOf:\n    - $ref: '#/components/schemas/Status'"
            ),
            "{v1}"
        );
        let view = yaml(&hoisted.payloads["orders.get.v1.response"]);
        assert!(view.contains("$ref: '#/components/schemas/Status'"), "{view}");
    }

    #[test]
    fn a_definition_referring_to_a_qualified_one_is_qualified_too() {
        let outer = |line: &str| {
            format!(
                r##"{{"type": "object", "properties": {{"x": {{"$ref": "#/$defs/Outer"}}}},
                "$defs": {{"Outer": {{"type": "array", "items": {{"$ref": "#/$defs/Line"}}}}, "Line": {line}}}}}"##
            )
        };
        let repo = repo_with(&[
            ("json/events/a.x.v1.json", &outer(r#"{"type": "string"}"#)),
            ("json/events/a.x.v2.json", &outer(r#"{"type": "integer"}"#)),
        ]);
        let hoisted = hoist(&Contract::read(repo.path()).expect("reads")).expect("hoists");
        let keys: Vec<&str> = hoisted.defs.keys().map(String::as_str).collect();
        assert_eq!(keys, ["a.x.v1.Line", "a.x.v1.Outer", "a.x.v2.Line", "a.x.v2.Outer"]);
        assert!(yaml(&hoisted.defs["a.x.v2.Outer"]).contains("#/components/schemas/a.x.v2.Line"));
    }

    #[test]
    fn what_draft_07_cannot_say_is_refused_with_its_place() {
        let repo = repo_with(&[(
            "json/events/a.x.v1.json",
            r#"{"type": "object", "properties": {"pair": {"type": "array", "prefixItems": [{"type": "string"}]}}}"#,
        )]);
        let err = Contract::read(repo.path()).expect_err("refused").to_string();
        assert!(err.contains("prefixItems at /properties/pair"), "{err}");

        let repo = repo_with(&[(
            "json/events/a.x.v1.json",
            r#"{"type": "object", "properties": {"other": {"$ref": "other.json"}}}"#,
        )]);
        let err = Contract::read(repo.path()).expect_err("refused").to_string();
        assert!(err.contains("only #/$defs/<Name>"), "{err}");

        // A property may be called like a keyword.
        let repo = repo_with(&[(
            "json/events/a.x.v1.json",
            r#"{"type": "object", "properties": {"$id": {"type": "string"}}}"#,
        )]);
        Contract::read(repo.path()).expect("a property named $id is data");
    }

    #[test]
    fn files_that_are_not_message_versions_are_refused() {
        let repo = repo_with(&[("json/events/orders.placed.json", "{}")]);
        let err = Contract::read(repo.path()).expect_err("refused").to_string();
        assert!(err.contains("schemas/json/events/orders.placed.json"), "{err}");
        let repo = repo_with(&[("json/services/orders.get.v1.json", "{}")]);
        let err = Contract::read(repo.path()).expect_err("refused").to_string();
        assert!(err.contains(".request.json or .response.json"), "{err}");
        let repo = repo_with(&[("json/events/a.x.v1.json", "{ not json")]);
        let err = format!("{:#}", Contract::read(repo.path()).expect_err("refused"));
        assert!(err.contains("is not JSON"), "{err}");
    }
}
