//! JSON Schema validation whose findings say what to fix: each names the JSON path, what is
//! there, and what belongs there — the schema's own description and first example of the
//! nearest property that has them. So a schema written for outsiders (the manifest format,
//! the admin protocol) is also the tool's error text, and the two cannot drift apart.
//!
//! ```text
//! /subscribes is a list; expected a map. Each stream it consumes from, with the event types
//! it handles from that stream. For example: {"EVT_ORDERS":["orders.placed.v1"]}
//! ```

use jsonschema::ValidationError;
use jsonschema::error::{TypeKind, ValidationErrorKind};
use serde_json::Value;

/// Every way `instance` breaks `schema`, one line each (empty: it is valid); `root` names the
/// whole of it ("the manifest"). A schema that does not compile is one finding too: it is
/// this tool's bug, said plainly.
pub fn problems(schema: &Value, instance: &Value, root: &str) -> Vec<String> {
    let validator = match jsonschema::validator_for(schema) {
        Ok(validator) => validator,
        Err(err) => return vec![format!("the schema itself is invalid ({err}): please report this")],
    };
    let mut found: Vec<String> = validator
        .iter_errors(instance)
        .flat_map(|error| finding(schema, &error, root))
        .collect();
    found.sort();
    found.dedup();
    found
}

/// `/a/b~1c` → `["a", "b/c"]`.
fn tokens(pointer: &str) -> Vec<String> {
    pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect()
}

fn pointer(tokens: &[String]) -> String {
    tokens
        .iter()
        .map(|t| format!("/{}", t.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// What one error says; for a value that is none of a `oneOf`'s forms but has the shape of
/// one of them (its errors all lie deeper, as `{"command": []}` for `start`), what is wrong
/// inside that one.
fn finding(schema: &Value, error: &ValidationError<'_>, root: &str) -> Vec<String> {
    let at = tokens(error.instance_path.as_str());
    if let ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } = &error.kind {
        let depth = |e: &ValidationError<'_>| tokens(e.instance_path.as_str()).len();
        let nearest = context
            .iter()
            .filter(|errors| !errors.is_empty() && errors.iter().all(|e| depth(e) > at.len()))
            .max_by_key(|errors| errors.iter().map(depth).min());
        if let Some(errors) = nearest {
            return errors.iter().flat_map(|e| finding(schema, e, root)).collect();
        }
    }
    let place = if at.is_empty() { root.to_owned() } else { pointer(&at) };
    let text = describe(schema, &at, &place, &error.kind, &error.instance)
        .unwrap_or_else(|| format!("{place}: {error}{}", hint(schema, &at)));
    vec![text]
}

/// One finding in our own words: where, what is wrong, and what belongs there (`None`: a kind
/// the validator's own text says well enough).
fn describe(
    schema: &Value,
    at: &[String],
    place: &str,
    kind: &ValidationErrorKind,
    instance: &Value,
) -> Option<String> {
    let text = match kind {
        ValidationErrorKind::Required { property } => {
            let property = property.as_str().unwrap_or_default().to_owned();
            let mut field = at.to_vec();
            field.push(property.clone());
            format!("{place} has no `{property}`{}", hint(schema, &field))
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let known = known_properties(schema, at);
            let unknown: Vec<String> = unexpected
                .iter()
                .map(|name| match closest(name, &known) {
                    Some(near) => format!("`{name}` (did you mean `{near}`?)"),
                    None => format!("`{name}`"),
                })
                .collect();
            format!(
                "{place} has unknown field{} {}: the fields are {} (an unknown field is refused, not ignored: a misspelt \
                 one would silently leave out what it declares)",
                if unknown.len() == 1 { "" } else { "s" },
                unknown.join(", "),
                known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
            )
        }
        ValidationErrorKind::Type { kind } => {
            format!(
                "{place} is {}; expected {}{}",
                what(instance),
                expected(kind),
                hint(schema, at)
            )
        }
        ValidationErrorKind::Pattern { .. } => {
            format!(
                "{place} is {}, which is not of the expected form{}",
                what(instance),
                hint(schema, at)
            )
        }
        ValidationErrorKind::MinItems { .. } | ValidationErrorKind::MinLength { .. } => {
            format!("{place} is empty{}", hint(schema, at))
        }
        ValidationErrorKind::OneOfNotValid { .. } | ValidationErrorKind::AnyOf { .. } => {
            format!(
                "{place} is {}, which is none of the allowed forms{}",
                what(instance),
                hint(schema, at)
            )
        }
        _ => return None,
    };
    Some(text)
}

/// How a person would name what is there.
fn what(instance: &Value) -> String {
    match instance {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "a map".to_owned(),
    }
}

fn expected(kind: &TypeKind) -> String {
    let name = |t: &jsonschema::JsonType| match t.to_string().as_str() {
        "object" => "a map".to_owned(),
        "array" => "a list".to_owned(),
        "string" => "a string".to_owned(),
        "integer" => "an integer".to_owned(),
        "number" => "a number".to_owned(),
        "boolean" => "a boolean".to_owned(),
        other => other.to_owned(),
    };
    match kind {
        TypeKind::Single(t) => name(t),
        TypeKind::Multiple(types) => types.iter().map(|t| name(&t)).collect::<Vec<_>>().join(" or "),
    }
}

/// ". <description> For example: <example>" of the deepest schema along `at` that has a
/// description (and the first example of that one, or of the deepest that has one).
fn hint(schema: &Value, at: &[String]) -> String {
    let mut description = None;
    let mut example = None;
    for node in path_schemas(schema, at) {
        if let Some(text) = node.get("description").and_then(Value::as_str) {
            description = Some(text);
        }
        if let Some(first) = node.get("examples").and_then(Value::as_array).and_then(|e| e.first()) {
            example = Some(first);
        }
    }
    let mut text = String::new();
    if let Some(description) = description {
        text.push_str(". ");
        let description = description.split_whitespace().collect::<Vec<_>>().join(" ");
        text.push_str(description.trim_end_matches('.'));
        text.push('.');
    }
    if let Some(example) = example {
        text.push_str(&format!(" For example: {example}"));
    }
    text
}

/// The schemas met walking `at` from the root: through `$ref` (to `#/$defs/...`),
/// `properties`, `additionalProperties` and `items`. It stops where the walk is ambiguous.
fn path_schemas<'a>(root: &'a Value, at: &[String]) -> Vec<&'a Value> {
    let mut met = vec![root];
    let mut node = root;
    for token in at {
        node = resolve(root, node);
        let next = child(node, token).or_else(|| {
            // The alternative of a `oneOf` that has this property (`start`'s `command`): its
            // description says more than the property's.
            let (alternative, property) = ["oneOf", "anyOf"]
                .iter()
                .filter_map(|k| node.get(*k).and_then(Value::as_array))
                .flatten()
                .map(|alternative| resolve(root, alternative))
                .find_map(|alternative| Some((alternative, alternative.get("properties")?.get(token.as_str())?)))?;
            met.push(alternative);
            Some(property)
        });
        match next {
            Some(next) => {
                met.push(next);
                node = next;
            }
            None => break,
        }
    }
    if let Some(last) = met.last().copied() {
        let resolved = resolve(root, last);
        if !std::ptr::eq(resolved, last) {
            met.push(resolved);
        }
    }
    met
}

fn child<'a>(node: &'a Value, token: &str) -> Option<&'a Value> {
    node.get("properties")
        .and_then(|p| p.get(token))
        .or_else(|| node.get("additionalProperties").filter(|a| a.is_object()))
        .or_else(|| node.get("items").filter(|_| token.parse::<usize>().is_ok()))
}

fn resolve<'a>(root: &'a Value, node: &'a Value) -> &'a Value {
    node.get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'))
        .and_then(|p| root.pointer(p))
        .unwrap_or(node)
}

/// The property names the schema allows at `at`.
fn known_properties(schema: &Value, at: &[String]) -> Vec<String> {
    let node = path_schemas(schema, at).last().copied().unwrap_or(schema);
    resolve(schema, node)
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// The known name a typo most likely meant: within two edits, or one a prefix of the other.
fn closest<'a>(name: &str, known: &'a [String]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edits(name, k), k))
        .filter(|(d, k)| *d <= 2 || k.starts_with(name) || name.starts_with(k.as_str()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.as_str())
}

/// Levenshtein distance.
fn edits(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn schema() -> Value {
        json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "description": "Who it is", "examples": ["orders"]},
                "subscribes": {
                    "type": "object",
                    "description": "Each stream it consumes from, with its event types",
                    "examples": [{"EVT_ORDERS": ["orders.placed.v1"]}],
                    "additionalProperties": {"type": "array", "items": {"type": "string", "pattern": "^[a-z]+\\.v[0-9]+$"}}
                },
                "start": {"$ref": "#/$defs/Start", "description": "How it starts"}
            },
            "$defs": {"Start": {"oneOf": [{"type": "object", "required": ["command"]}], "examples": [{"command": ["x"]}]}}
        })
    }

    #[test]
    fn each_finding_names_the_path_what_is_there_and_what_belongs_there() {
        let found = problems(
            &schema(),
            &json!({"subscribe": {}, "subscribes": ["orders.placed.v1"], "start": "python3 main.py"}),
            "the document",
        );
        assert_eq!(
            found,
            [
                "/start is the string \"python3 main.py\", which is none of the allowed forms. How it starts. For \
                 example: {\"command\":[\"x\"]}",
                "/subscribes is a list; expected a map. Each stream it consumes from, with its event types. For \
                 example: {\"EVT_ORDERS\":[\"orders.placed.v1\"]}",
                "the document has no `name`. Who it is. For example: \"orders\"",
                "the document has unknown field `subscribe` (did you mean `subscribes`?): the fields are `name`, \
                 `start`, `subscribes` (an unknown field is refused, not ignored: a misspelt one would silently leave \
                 out what it declares)",
            ]
        );
        let found = problems(
            &schema(),
            &json!({"name": "x", "subscribes": {"EVT_X": ["x.v1", "nope"]}}),
            "the document",
        );
        assert_eq!(
            found,
            [
                "/subscribes/EVT_X/1 is the string \"nope\", which is not of the expected form. Each stream it consumes \
                 from, with its event types. For example: {\"EVT_ORDERS\":[\"orders.placed.v1\"]}"
            ]
        );
        assert_eq!(
            problems(&schema(), &json!({"name": "x"}), "the document"),
            Vec::<String>::new()
        );
    }
}
