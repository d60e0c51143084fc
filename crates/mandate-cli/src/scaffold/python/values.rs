//! The Python test's value of an event: a literal that the kit's strict reading accepts for
//! the event's JSON Schema — every required field (and the key field) with a value of its
//! kind, nothing else — written from the schema itself, so wire names are what it uses.

use serde_json::{Map, Value};

const MAX_DEPTH: usize = 8;

/// A value of `schema` (an event's whole schema, whose `$defs` its fields refer to); `key`
/// is the field that gets the test's `KEY`. `None`, with a warning, when no value can be made.
pub fn of_event(schema: &Value, key: Option<&str>, context: &str, warnings: &mut Vec<String>) -> Value {
    let mut values = Values {
        root: schema,
        warnings,
        context,
    };
    values.of(schema, "value", key, 0)
}

struct Values<'a> {
    root: &'a Value,
    warnings: &'a mut Vec<String>,
    context: &'a str,
}

/// What the rendered literal writes as the test's `KEY` (see [`literal`]).
const KEY_MARKER: &str = "\u{0}KEY";

impl Values<'_> {
    fn of(&mut self, schema: &Value, field: &str, key: Option<&str>, depth: usize) -> Value {
        if depth > MAX_DEPTH {
            return self.fallback(field, "nested too deep");
        }
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let name = reference.trim_start_matches("#/$defs/");
            return match self.root.get("$defs").and_then(|defs| defs.get(name)) {
                Some(def) => self.of(def, field, key, depth + 1),
                None => self.fallback(
                    field,
                    &format!("a reference to {reference}, which the schema does not define"),
                ),
            };
        }
        if let Some(value) = schema.get("const") {
            return value.clone();
        }
        if let Some(first) = schema.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
            return first.clone();
        }
        for union in ["oneOf", "anyOf"] {
            if let Some(alternatives) = schema.get(union).and_then(Value::as_array) {
                // `null` first when allowed (an optional field), else the first alternative.
                if alternatives.iter().any(|a| a.get("type") == Some(&Value::from("null"))) {
                    return Value::Null;
                }
                if let Some(first) = alternatives.first() {
                    return self.of(first, field, key, depth + 1);
                }
            }
        }
        let types: Vec<&str> = match schema.get("type") {
            Some(Value::String(one)) => vec![one.as_str()],
            Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if types.contains(&"null") {
            return Value::Null;
        }
        match types.first().copied() {
            Some("string") => Value::from(format!("{}-1", field.replace('_', "-"))),
            Some("integer") => Value::from(1),
            Some("number") => Value::from(1.5),
            Some("boolean") => Value::from(false),
            Some("array") => match schema.get("prefixItems").and_then(Value::as_array) {
                Some(items) => Value::Array(items.iter().map(|item| self.of(item, field, None, depth + 1)).collect()),
                None => Value::Array(Vec::new()),
            },
            Some("object") => self.object(schema, key, depth),
            _ => self.fallback(field, "of no type the scaffold knows"),
        }
    }

    fn object(&mut self, schema: &Value, key: Option<&str>, depth: usize) -> Value {
        let empty = Map::new();
        let properties = schema.get("properties").and_then(Value::as_object).unwrap_or(&empty);
        let required = crate::scaffold::contract::types::required(schema);
        let mut out = Map::new();
        for (name, property) in properties {
            if Some(name.as_str()) == key {
                out.insert(name.clone(), Value::from(KEY_MARKER));
            } else if required.contains(&name.as_str()) {
                out.insert(name.clone(), self.of(property, name, None, depth + 1));
            }
        }
        Value::Object(out)
    }

    fn fallback(&mut self, field: &str, why: &str) -> Value {
        self.warnings.push(format!(
            "{}: `{field}` is {why}; the test gives it None (edit it if the event is refused)",
            self.context
        ));
        Value::Null
    }
}

/// `value` as a Python literal, its continuation lines indented by `indent` spaces; the key
/// field's value is the test's `KEY`.
pub fn literal(value: &Value, indent: usize) -> String {
    let pad = " ".repeat(indent + 4);
    let close = " ".repeat(indent);
    match value {
        Value::Null => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Number(number) => number.to_string(),
        Value::String(text) if text == KEY_MARKER => "KEY".to_owned(),
        Value::String(text) => serde_json::to_string(text).unwrap_or_default(),
        Value::Array(items) if items.is_empty() => "[]".to_owned(),
        Value::Array(items) => {
            let items: Vec<String> = items
                .iter()
                .map(|item| format!("{pad}{},\n", literal(item, indent + 4)))
                .collect();
            format!("[\n{}{close}]", items.concat())
        }
        Value::Object(fields) if fields.is_empty() => "{}".to_owned(),
        Value::Object(fields) => {
            let fields: Vec<String> = fields
                .iter()
                .map(|(name, item)| {
                    format!(
                        "{pad}{}: {},\n",
                        serde_json::to_string(name).unwrap_or_default(),
                        literal(item, indent + 4)
                    )
                })
                .collect();
            format!("{{\n{}{close}}}", fields.concat())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn required_fields_and_the_key_get_values_of_their_kind() {
        let schema = json!({
            "type": "object",
            "properties": {
                "customer_id": {"type": "string", "default": ""},
                "lines": {"type": "array", "items": {"$ref": "#/$defs/Line"}},
                "first": {"$ref": "#/$defs/Line"},
                "kind": {"oneOf": [{"type": "string", "const": "Plain"}]},
                "note": {"type": ["string", "null"]},
                "optional": {"type": "integer"},
                "pair": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "boolean"}]}
            },
            "required": ["lines", "first", "kind", "note", "pair"],
            "$defs": {"Line": {"type": "object", "properties": {"sku": {"type": "string"}, "n": {"type": "integer"}}, "required": ["sku", "n"]}}
        });
        let mut warnings = Vec::new();
        let value = of_event(&schema, Some("customer_id"), "test", &mut warnings);
        assert_eq!(
            literal(&value, 0),
            "{\n    \"customer_id\": KEY,\n    \"first\": {\n        \"n\": 1,\n        \"sku\": \"sku-1\",\n    },\n    \
             \"kind\": \"Plain\",\n    \"lines\": [],\n    \"note\": None,\n    \"pair\": [\n        1,\n        False,\n    ],\n}"
        );
        assert!(warnings.is_empty(), "{warnings:?}");
    }

    #[test]
    fn what_it_cannot_make_is_none_with_a_warning() {
        let mut warnings = Vec::new();
        let schema = json!({"type": "object", "properties": {"raw": {}}, "required": ["raw"]});
        let value = of_event(&schema, None, "the test's x.y.v1", &mut warnings);
        assert_eq!(value, json!({"raw": null}));
        assert!(warnings[0].contains("`raw`"), "{warnings:?}");
    }
}
