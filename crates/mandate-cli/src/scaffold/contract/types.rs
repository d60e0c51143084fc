//! The types of one event's JSON Schema, as far as a scaffold needs them: the Rust type each
//! schema or definition is (`x-rust-type`, written by the contract's generator), the fields of
//! a struct with the kinds of their values, and a unit variant of an enum (`x-rust-variants`).
//!
//! What it reads is what schemars writes for serde types: an object with `properties` and
//! `required` for a struct, `prefixItems` for a tuple (struct), a `$ref` beside `x-rust-type`
//! for a newtype, `null` for a unit struct, `type: [T, "null"]` or `anyOf [.., null]` for an
//! `Option`, `uniqueItems` for a set and `additionalProperties` alone for a map. A `Box<T>` has
//! `T`'s schema and reads as `T`.

use serde_json::{Map, Value};

/// A struct or enum of the contract, from a schema or definition with `x-rust-type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeDef {
    /// `schemas::orders::OrderPlaced`; a generic type's arguments are dropped (a struct
    /// literal infers them).
    pub path: String,
    pub shape: Shape,
}

impl TypeDef {
    /// `OrderPlaced`
    pub fn name(&self) -> &str {
        self.path.rsplit("::").next().unwrap_or(&self.path)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// Named fields: the required ones in their declared order (`required` keeps it), then
    /// the others by name.
    Struct(Vec<Field>),
    /// A tuple struct; a newtype has one element.
    Tuple(Vec<Ty>),
    Unit,
    /// An enum, with its first unit variant's Rust name when it has one.
    Enum(Option<String>),
}

/// A named field of a struct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub ty: Ty,
    /// Not `required`: old events may lack it (`#[serde(default)]` or an `Option`).
    pub defaulted: bool,
}

/// What a value of a field is, as far as a test value needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ty {
    String,
    /// A string of exactly one character.
    Char,
    Integer,
    Number,
    Bool,
    /// `null` is allowed: an `Option`.
    Optional,
    /// An array: a `Vec`.
    List,
    /// An array of unique items: a set.
    Set,
    /// An object with no properties of its own: a map.
    Map,
    Tuple(Vec<Ty>),
    /// A definition of the same file, by its name under `$defs`.
    Named(String),
    /// Anything else, and what it is.
    Other(&'static str),
}

/// The type `schema` describes; an error says why it is not one the scaffold can name.
pub fn type_def(schema: &Value) -> Result<TypeDef, String> {
    let path = schema
        .pointer("/x-rust-type/path")
        .and_then(Value::as_str)
        .ok_or("it has no x-rust-type (the Rust type's path)")?;
    let path = path.split('<').next().unwrap_or(path).to_owned();
    let shape = if schema.get("x-rust-variants").is_some() || is_union(schema) || schema.get("enum").is_some() {
        Shape::Enum(unit_variant(schema))
    } else {
        match schema.get("type").and_then(Value::as_str) {
            Some("object") => Shape::Struct(fields(schema)),
            Some("array") if schema.get("prefixItems").is_some() => Shape::Tuple(tuple(schema)),
            Some("null") => Shape::Unit,
            // A newtype: its one field's schema is the whole schema, beside `x-rust-type`.
            _ => Shape::Tuple(vec![ty(schema)]),
        }
    };
    Ok(TypeDef { path, shape })
}

fn is_union(schema: &Value) -> bool {
    schema.get("oneOf").is_some() || schema.get("anyOf").is_some()
}

/// The Rust name of the first unit variant on the wire (`x-rust-variants` maps each wire name
/// to its variant), in the order the schema lists them: the declared order.
fn unit_variant(schema: &Value) -> Option<String> {
    let names = schema.get("x-rust-variants")?.as_object()?;
    let alternatives = ["oneOf", "anyOf"]
        .iter()
        .filter_map(|key| schema.get(*key)?.as_array())
        .flatten();
    std::iter::once(schema)
        .chain(alternatives)
        .flat_map(|alternative| {
            let one = alternative.get("const").into_iter();
            let many = alternative.get("enum").and_then(Value::as_array).into_iter().flatten();
            one.chain(many)
        })
        .filter_map(Value::as_str)
        .find_map(|wire| names.get(wire)?.as_str().map(str::to_owned))
}

/// The names an object schema lists under `required`.
pub fn required(schema: &Value) -> Vec<&str> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

fn fields(schema: &Value) -> Vec<Field> {
    let empty = Map::new();
    let properties = schema.get("properties").and_then(Value::as_object).unwrap_or(&empty);
    let mut required = required(schema);
    required.retain(|name| properties.contains_key(*name));
    let optional = properties
        .keys()
        .map(String::as_str)
        .filter(|name| !required.contains(name));
    let field = |name: &str, defaulted| Field {
        name: name.to_owned(),
        ty: ty(&properties[name]),
        defaulted,
    };
    let mut out: Vec<Field> = required.iter().map(|name| field(name, false)).collect();
    out.extend(optional.map(|name| field(name, true)));
    out
}

fn tuple(schema: &Value) -> Vec<Ty> {
    schema
        .get("prefixItems")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(ty)
        .collect()
}

/// The kind of value `schema` allows.
pub fn ty(schema: &Value) -> Ty {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        return match reference.strip_prefix("#/$defs/") {
            Some(name) => Ty::Named(name.to_owned()),
            None => Ty::Other("a reference outside the file's $defs"),
        };
    }
    let is_null = |alternative: &Value| alternative.get("type").and_then(Value::as_str) == Some("null");
    let alternatives = ["anyOf", "oneOf"]
        .iter()
        .filter_map(|key| schema.get(*key)?.as_array())
        .flatten();
    let mut types: Vec<&str> = match schema.get("type") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if alternatives.clone().any(is_null) || (types.len() > 1 && types.contains(&"null")) {
        return Ty::Optional;
    }
    if is_union(schema) || schema.get("enum").is_some() || schema.get("const").is_some() {
        return Ty::Other("an enum without a name of its own");
    }
    match types.pop() {
        Some("string") if schema.get("maxLength") == Some(&Value::from(1)) => Ty::Char,
        Some("string") => Ty::String,
        Some("integer") => Ty::Integer,
        Some("number") => Ty::Number,
        Some("boolean") => Ty::Bool,
        Some("array") if schema.get("prefixItems").is_some() => Ty::Tuple(tuple(schema)),
        Some("array") if schema.get("uniqueItems") == Some(&Value::Bool(true)) => Ty::Set,
        Some("array") => Ty::List,
        Some("object") if schema.get("properties").is_none() => Ty::Map,
        Some("object") => Ty::Other("an object without a type of its own"),
        _ => Ty::Other("a schema the scaffold does not read"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rust_type(path: &str) -> Value {
        json!({"crate": "schemas", "version": "*", "path": path})
    }

    #[test]
    fn a_struct_has_its_required_fields_in_order_then_the_others() {
        let schema = json!({
            "type": "object",
            "x-rust-type": rust_type("schemas::shop::Placed"),
            "properties": {
                "a_note": {"type": ["string", "null"]},
                "customer_id": {"type": "string", "default": ""},
                "lines": {"type": "array", "items": {"$ref": "#/$defs/Line"}},
                "order_id": {"type": "string"},
                "first": {"description": "a doc beside the ref", "$ref": "#/$defs/Line"},
                "pair": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "boolean"}]},
                "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": true},
                "totals": {"type": "object", "additionalProperties": {"type": "integer"}},
                "line": {"anyOf": [{"$ref": "#/$defs/Line"}, {"type": "null"}]},
                "initial": {"type": "string", "minLength": 1, "maxLength": 1},
                "ratio": {"type": "number"},
                "kind": {"type": "string", "enum": ["a", "b"]}
            },
            "required": ["order_id", "lines", "first", "pair", "tags", "totals", "initial", "ratio", "kind"]
        });
        let def = type_def(&schema).expect("a type");
        assert_eq!((def.path.as_str(), def.name()), ("schemas::shop::Placed", "Placed"));
        let Shape::Struct(fields) = def.shape else {
            panic!("{:?}", def.shape)
        };
        let got: Vec<(&str, &Ty, bool)> = fields.iter().map(|f| (f.name.as_str(), &f.ty, f.defaulted)).collect();
        let line = Ty::Named("Line".into());
        assert_eq!(
            got,
            vec![
                ("order_id", &Ty::String, false),
                ("lines", &Ty::List, false),
                ("first", &line, false),
                ("pair", &Ty::Tuple(vec![Ty::Integer, Ty::Bool]), false),
                ("tags", &Ty::Set, false),
                ("totals", &Ty::Map, false),
                ("initial", &Ty::Char, false),
                ("ratio", &Ty::Number, false),
                ("kind", &Ty::Other("an enum without a name of its own"), false),
                ("a_note", &Ty::Optional, true),
                ("customer_id", &Ty::String, true),
                ("line", &Ty::Optional, true),
            ]
        );
    }

    #[test]
    fn enums_tuples_newtypes_and_units_are_told_apart() {
        let kind = json!({
            "oneOf": [
                {"type": "object", "properties": {"Tuple": {"type": "integer"}}, "required": ["Tuple"]},
                {"type": "string", "enum": ["placed", "paid"]},
                {"description": "documented", "type": "string", "const": "payment-declined"}
            ],
            "x-rust-type": rust_type("schemas::shop::Kind"),
            "x-rust-variants": {"paid": "Paid", "payment-declined": "PaymentDeclined", "placed": "Placed"}
        });
        assert_eq!(type_def(&kind).expect("enum").shape, Shape::Enum(Some("Placed".into())));
        let data_only = json!({"oneOf": [{"type": "object"}], "x-rust-type": rust_type("schemas::shop::Data")});
        assert_eq!(type_def(&data_only).expect("enum").shape, Shape::Enum(None));

        let wrapper = json!({"$ref": "#/$defs/Line", "x-rust-type": rust_type("schemas::shop::Wrapper")});
        assert_eq!(
            type_def(&wrapper).expect("newtype").shape,
            Shape::Tuple(vec![Ty::Named("Line".into())])
        );
        let pair = json!({"type": "array", "prefixItems": [{"type": "string"}], "x-rust-type": rust_type("schemas::shop::Pair")});
        assert_eq!(type_def(&pair).expect("tuple").shape, Shape::Tuple(vec![Ty::String]));
        let unit = json!({"type": "null", "x-rust-type": rust_type("schemas::shop::Nothing")});
        assert_eq!(type_def(&unit).expect("unit").shape, Shape::Unit);

        let page = json!({"type": "object", "properties": {}, "x-rust-type": rust_type("schemas::paging::Page<schemas::shop::Line>")});
        assert_eq!(type_def(&page).expect("generic").path, "schemas::paging::Page");
        let unnamed = json!({"type": "object", "properties": {}});
        assert!(type_def(&unnamed).expect_err("no path").contains("x-rust-type"));
    }
}
