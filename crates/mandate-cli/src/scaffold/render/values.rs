//! The test's values of the schemas' types: a Rust expression that constructs every field.

use super::text::indent_continuation;
use crate::scaffold::lookup::{Schemas, Shape, Ty, TypeDef, TypeKind};

/// The field an event is counted by: `customer_id`, else the first required `..._id`, else the
/// first required `String`, else the first `String` field.
pub fn key_field(def: &TypeDef) -> Option<String> {
    let TypeKind::Struct(Shape::Named(fields)) = &def.kind else {
        return None;
    };
    let strings: Vec<_> = fields.iter().filter(|f| f.ty.is_string()).collect();
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
    pub(super) schemas: &'a Schemas,
    pub(super) warnings: &'a mut Vec<String>,
    pub(super) context: String,
}

const MAX_DEPTH: usize = 6;

impl Values<'_> {
    /// A value of the struct or enum `def`; `key` is the field that gets `KEY`.
    pub(super) fn of_def(&mut self, def: &TypeDef, key: Option<&str>, depth: usize) -> String {
        let path = def.path();
        match &def.kind {
            TypeKind::Struct(shape) => self.of_shape(&path, shape, def, key, depth),
            TypeKind::Enum(variants) => {
                // A unit variant if there is one, else the first.
                let Some((variant, shape)) = variants
                    .iter()
                    .find(|(_, shape)| *shape == Shape::Unit)
                    .or_else(|| variants.first())
                else {
                    return self.fallback(&path, "an enum without variants");
                };
                self.of_shape(&format!("{path}::{variant}"), shape, def, None, depth)
            }
        }
    }

    fn of_shape(&mut self, path: &str, shape: &Shape, def: &TypeDef, key: Option<&str>, depth: usize) -> String {
        match shape {
            Shape::Unit => path.to_owned(),
            Shape::Tuple(types) => {
                let values: Vec<String> = types.iter().map(|ty| self.of_ty(ty, def, "value", depth + 1)).collect();
                format!("{path}({})", values.join(", "))
            }
            Shape::Named(fields) => {
                let mut out = format!("{path} {{\n");
                for field in fields {
                    let value = if Some(field.name.as_str()) == key {
                        "KEY.into()".to_owned()
                    } else {
                        self.of_ty(&field.ty, def, &field.name, depth + 1)
                    };
                    out.push_str(&format!("    {}: {},\n", field.name, indent_continuation(&value, 4)));
                }
                out.push('}');
                out
            }
        }
    }

    /// A value of a field's type; `owner` is the type the field is in (for its module and
    /// generics), `field` names the value.
    fn of_ty(&mut self, ty: &Ty, owner: &TypeDef, field: &str, depth: usize) -> String {
        let Ty::Path { segments, args } = ty else {
            return match ty {
                Ty::Tuple(items) => {
                    let values: Vec<String> = items.iter().map(|t| self.of_ty(t, owner, field, depth + 1)).collect();
                    if values.len() == 1 {
                        format!("({},)", values[0])
                    } else {
                        format!("({})", values.join(", "))
                    }
                }
                _ => self.fallback(field, "a type the scaffold does not construct"),
            };
        };
        let name = segments.last().map_or("", String::as_str);
        if segments.len() == 1 && owner.generics.iter().any(|g| g == name) {
            return self.fallback(field, "a generic parameter");
        }
        match name {
            "String" => format!("{:?}.into()", format!("{}-1", field.replace('_', "-"))),
            "u8" | "u16" | "u32" | "u64" | "u128" | "usize" | "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => {
                "1".to_owned()
            }
            "f32" | "f64" => "1.0".to_owned(),
            "bool" => "false".to_owned(),
            "char" => "'x'".to_owned(),
            "Vec" => "Vec::new()".to_owned(),
            "Option" => "None".to_owned(),
            "Box" if args.len() == 1 => format!("Box::new({})", self.of_ty(&args[0], owner, field, depth + 1)),
            "BTreeMap" | "HashMap" | "BTreeSet" | "HashSet" | "VecDeque" | "ByteBuf" => "Default::default()".to_owned(),
            _ if depth >= MAX_DEPTH => self.fallback(field, "a type nested too deep"),
            _ => match self.schemas.type_def(name, &owner.module).cloned() {
                Some(def) => self.of_def(&def, None, depth),
                None => self.fallback(field, &format!("type `{name}`, not found in schemas/src")),
            },
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
