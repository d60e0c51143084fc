//! The test's values of the schemas' types: a Rust expression that constructs every field.

use super::text::indent_continuation;
use crate::scaffold::contract::{EventSchema, Shape, Ty, TypeDef};

/// The field an event is counted by: `customer_id`, else the first required `..._id`, else the
/// first required `String`, else the first `String` field.
pub fn key_field(def: &TypeDef) -> Option<String> {
    let Shape::Struct(fields) = &def.shape else {
        return None;
    };
    let strings: Vec<_> = fields.iter().filter(|f| f.ty == Ty::String).collect();
    strings
        .iter()
        .find(|f| f.name == "customer_id")
        .or_else(|| strings.iter().find(|f| !f.defaulted && f.name.ends_with("_id")))
        .or_else(|| strings.iter().find(|f| !f.defaulted))
        .or_else(|| strings.first())
        .map(|f| f.name.clone())
}

/// Writes Rust expressions for test values of schemas types.
pub(super) struct Values<'a> {
    /// The event's schema, whose definitions the fields refer to.
    pub(super) schema: &'a EventSchema,
    pub(super) warnings: &'a mut Vec<String>,
    pub(super) context: String,
}

const MAX_DEPTH: usize = 6;

impl Values<'_> {
    /// A value of the struct or enum `def`; `key` is the field that gets `KEY`.
    pub(super) fn of_def(&mut self, def: &TypeDef, key: Option<&str>, depth: usize) -> String {
        let path = &def.path;
        match &def.shape {
            Shape::Unit => path.clone(),
            Shape::Enum(Some(variant)) => format!("{path}::{variant}"),
            Shape::Enum(None) => self.fallback(path, "an enum without a unit variant"),
            Shape::Tuple(types) => {
                let values: Vec<String> = types.iter().map(|ty| self.of_ty(ty, "value", depth + 1)).collect();
                format!("{path}({})", values.join(", "))
            }
            Shape::Struct(fields) => {
                let mut out = format!("{path} {{\n");
                for field in fields {
                    let value = if Some(field.name.as_str()) == key {
                        "KEY.into()".to_owned()
                    } else {
                        self.of_ty(&field.ty, &field.name, depth + 1)
                    };
                    out.push_str(&format!("    {}: {},\n", field.name, indent_continuation(&value, 4)));
                }
                out.push('}');
                out
            }
        }
    }

    /// A value of a field's type; `field` names the value.
    fn of_ty(&mut self, ty: &Ty, field: &str, depth: usize) -> String {
        match ty {
            Ty::String => format!("{:?}.into()", format!("{}-1", field.replace('_', "-"))),
            Ty::Char => "'x'".to_owned(),
            Ty::Integer => "1".to_owned(),
            Ty::Number => "1.0".to_owned(),
            Ty::Bool => "false".to_owned(),
            Ty::Optional => "None".to_owned(),
            Ty::List => "Vec::new()".to_owned(),
            Ty::Set | Ty::Map => "Default::default()".to_owned(),
            Ty::Tuple(items) => {
                let values: Vec<String> = items.iter().map(|t| self.of_ty(t, field, depth + 1)).collect();
                if values.len() == 1 {
                    format!("({},)", values[0])
                } else {
                    format!("({})", values.join(", "))
                }
            }
            Ty::Named(_) if depth >= MAX_DEPTH => self.fallback(field, "a type nested too deep"),
            Ty::Named(name) => match self.schema.def(name) {
                Ok(def) => self.of_def(&def, None, depth),
                Err(why) => self.fallback(field, &format!("of type {why}")),
            },
            Ty::Other(what) => self.fallback(field, what),
        }
    }

    /// `Default::default()`, with a warning: the generated test may need an edit.
    fn fallback(&mut self, field: &str, why: &str) -> String {
        self.warnings.push(format!(
            "{}: `{field}` is {why}; the test uses `Default::default()` for it (edit it if it does not compile)",
            self.context
        ));
        "Default::default()".to_owned()
    }
}
