//! Where each schema's Rust type is, written into the schema itself: `x-rust-type`, in the
//! form of typify's extension (`{"crate", "version", "path"}`), so a Rust code generator uses
//! the contract's own type rather than generating a copy, and `mandate new` names the types
//! it subscribes to from `schemas/json` alone. An enum also gets `x-rust-variants`: the Rust
//! name of each unit variant, by its name on the wire (serde may rename them).
//!
//! Both are annotations: `x-` keywords, which no JSON Schema validator reads and the
//! compatibility rule ignores. Each type opts in with `#[schemars(transform =
//! crate::rust_type::of::<Self>)]` (`enum_of` for an enum); the schemas' test checks that
//! every committed schema and definition carries one.

use std::fmt::Debug;

use schemars::{JsonSchema, Schema};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

/// Adds `x-rust-type`. The path is the type's schemars id, `module_path!()` and the name
/// (`schemas::orders::OrderPlaced`; with its arguments for a generic type). Its version is
/// `*`: the path holds for every version, and a release must not rewrite every schema.
pub fn of<T: JsonSchema + ?Sized>(schema: &mut Schema) {
    let path = T::schema_id();
    let krate = path.split("::").next().unwrap_or_default().to_owned();
    schema.insert(
        "x-rust-type".into(),
        json!({"crate": krate, "version": "*", "path": path}),
    );
}

/// [`of`] and `x-rust-variants` for an enum: every string value the schema allows that
/// decodes to a variant, with the name `Debug` prints for it (the variant's, when derived).
pub fn enum_of<T: JsonSchema + DeserializeOwned + Debug>(schema: &mut Schema) {
    of::<T>(schema);
    let mut variants = Map::new();
    for wire in string_values(schema.as_value()) {
        let Ok(value) = serde_json::from_value::<T>(Value::String(wire.clone())) else {
            continue;
        };
        let name = format!("{value:?}");
        if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            variants.insert(wire, Value::String(name));
        }
    }
    if !variants.is_empty() {
        schema.insert("x-rust-variants".into(), Value::Object(variants));
    }
}

/// The strings of `enum` and `const`, at the top and in each `oneOf`/`anyOf` alternative (how
/// schemars writes unit variants, with and without doc comments).
fn string_values(schema: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let mut collect = |schema: &Value| {
        if let Some(Value::String(one)) = schema.get("const") {
            found.push(one.clone());
        }
        if let Some(Value::Array(values)) = schema.get("enum") {
            found.extend(values.iter().filter_map(Value::as_str).map(str::to_owned));
        }
    };
    collect(schema);
    for key in ["oneOf", "anyOf"] {
        if let Some(Value::Array(alternatives)) = schema.get(key) {
            alternatives.iter().for_each(&mut collect);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use schemars::schema_for;
    use serde::Deserialize;

    /// Renamed, documented and undocumented unit variants, and one that carries data.
    #[derive(Debug, Deserialize, schemars::JsonSchema)]
    #[serde(rename_all = "kebab-case")]
    #[schemars(transform = super::enum_of::<Self>)]
    #[allow(dead_code)]
    enum Mixed {
        PaymentDeclined,
        /// Documented: schemars writes it as a `const` of its own.
        Held,
        Data(u8),
    }

    #[test]
    fn an_enum_names_its_type_and_its_unit_variants() {
        let schema = schema_for!(Mixed);
        assert_eq!(
            schema.get("x-rust-type"),
            Some(&serde_json::json!({
                "crate": "schemas",
                "version": "*",
                "path": "schemas::rust_type::tests::Mixed"
            }))
        );
        assert_eq!(
            schema.get("x-rust-variants"),
            Some(&serde_json::json!({"payment-declined": "PaymentDeclined", "held": "Held"}))
        );
    }
}
