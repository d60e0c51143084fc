//! The normalised shape of a schema: `$ref`s resolved, `allOf`/`oneOf`/`anyOf` flattened into
//! kinds, ranges, fields and variants, so the checker compares like with like.
//!
//! Over 600 lines on purpose: normalisation is one recursive walk whose cases share their
//! helpers; split by JSON Schema keyword only if it grows further.

use super::*;

/// How many `$ref`s may be chained before the chain is considered a loop.
pub(super) const MAX_REF_HOPS: usize = 32;

/// The JSON types a schema can accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Kind {
    Null,
    Boolean,
    Integer,
    Number,
    String,
    Array,
    Object,
}

impl Kind {
    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Boolean => "boolean",
            Kind::Integer => "integer",
            Kind::Number => "number",
            Kind::String => "string",
            Kind::Array => "array",
            Kind::Object => "object",
        }
    }

    pub(super) fn parse(name: &str) -> Option<Kind> {
        Some(match name {
            "null" => Kind::Null,
            "boolean" => Kind::Boolean,
            "integer" => Kind::Integer,
            "number" => Kind::Number,
            "string" => Kind::String,
            "array" => Kind::Array,
            "object" => Kind::Object,
            _ => return None,
        })
    }

    pub(super) fn of(value: &Value) -> Kind {
        match value {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Boolean,
            Value::Number(n) if n.is_i64() || n.is_u64() => Kind::Integer,
            Value::Number(_) => Kind::Number,
            Value::String(_) => Kind::String,
            Value::Array(_) => Kind::Array,
            Value::Object(_) => Kind::Object,
        }
    }
}

/// A schema reduced to what decides compatibility: which values it accepts, per JSON type.
/// `anyOf`/`oneOf` alternatives and `type` lists are merged into one shape.
#[derive(Debug, Default)]
pub(super) struct Shape {
    /// `true` / `{}`: any value at all.
    pub(super) any: bool,
    pub(super) null: bool,
    pub(super) boolean: Option<Scalar>,
    pub(super) integer: Option<Scalar>,
    pub(super) number: Option<Scalar>,
    pub(super) string: Option<Scalar>,
    pub(super) array: Option<ArrayShape>,
    pub(super) objects: Vec<ObjectShape>,
    /// Keywords this module does not model (`not`, `patternProperties`, ...): compared as
    /// plain JSON, and any difference is reported as [`Change::NotUnderstood`].
    pub(super) unmodeled: BTreeMap<String, Value>,
}

#[derive(Debug, Default, Clone)]
pub(super) struct Scalar {
    /// `enum`/`const`: the only values allowed, as JSON text (`"paid"`); `None`: any value.
    pub(super) values: Option<BTreeSet<String>>,
    pub(super) format: Option<String>,
    pub(super) integer_range: Range<i128>,
    pub(super) number_range: Range<f64>,
    /// Other restricting keywords: `pattern`, `minLength`, `maxLength`, a string's `format`.
    pub(super) constraints: BTreeMap<String, Value>,
}

/// Inclusive bounds; `None` is unbounded.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(super) struct Range<T> {
    pub(super) low: Option<T>,
    pub(super) high: Option<T>,
}

#[derive(Debug, Default)]
pub(super) struct ArrayShape {
    pub(super) items: Option<Value>,
    pub(super) prefix_items: Vec<Value>,
    pub(super) constraints: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Additional {
    /// No `additionalProperties`: unknown fields are skipped (serde's default).
    Open,
    /// `additionalProperties: false`: `deny_unknown_fields`.
    Closed,
    /// `additionalProperties: {schema}`: a map whose values have this schema.
    Values(Value),
}

#[derive(Debug, Clone)]
pub(super) struct ObjectShape {
    /// The `$ref` this object was reached through, to recognise recursion.
    pub(super) origin: Option<String>,
    pub(super) properties: BTreeMap<String, Value>,
    pub(super) required: BTreeSet<String>,
    pub(super) additional: Additional,
    /// How an enum variant is recognised, if this object is one.
    pub(super) tag: Option<Tag>,
    pub(super) constraints: BTreeMap<String, Value>,
}

/// How an object variant of an enum is told apart from its siblings.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Tag {
    /// Internally or adjacently tagged: a required field with a constant value.
    Field { name: String, value: String },
    /// Externally tagged: a closed object with the variant's name as its only field.
    External(String),
}

impl Tag {
    pub(super) fn path(&self, path: &str) -> String {
        match self {
            // The variant's name is a real field: the field path says it.
            Tag::External(_) => path.to_owned(),
            Tag::Field { name, value } => format!("{path}({name}={value})"),
        }
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tag::Field { name, value } => write!(f, "{name}={value}"),
            Tag::External(name) => write!(f, "{name}"),
        }
    }
}

impl Shape {
    pub(super) fn kinds(&self) -> BTreeSet<Kind> {
        let mut kinds = BTreeSet::new();
        let mut add = |present: bool, kind| {
            if present {
                kinds.insert(kind);
            }
        };
        add(self.null, Kind::Null);
        add(self.boolean.is_some(), Kind::Boolean);
        add(self.integer.is_some(), Kind::Integer);
        add(self.number.is_some(), Kind::Number);
        add(self.string.is_some(), Kind::String);
        add(self.array.is_some(), Kind::Array);
        add(!self.objects.is_empty(), Kind::Object);
        kinds
    }

    pub(super) fn scalar(&self, kind: Kind) -> Option<&Scalar> {
        match kind {
            Kind::Boolean => self.boolean.as_ref(),
            Kind::Integer => self.integer.as_ref(),
            Kind::Number => self.number.as_ref(),
            Kind::String => self.string.as_ref(),
            _ => None,
        }
    }

    /// Whether this kind is present only as named enum variants (constants, tagged objects),
    /// so a change to it is a variant change rather than a type change.
    pub(super) fn is_variants(&self, kind: Kind) -> bool {
        match kind {
            Kind::Object => !self.objects.is_empty() && self.objects.iter().all(|object| object.tag.is_some()),
            kind => self.scalar(kind).is_some_and(|scalar| scalar.values.is_some()),
        }
    }

    /// A short human description, e.g. `string or null`, `integer (uint32)`.
    pub(super) fn describe(&self) -> String {
        if self.any {
            return "any value".to_owned();
        }
        let mut parts = Vec::new();
        for kind in self.kinds() {
            let text = match (kind, self.scalar(kind)) {
                (
                    _,
                    Some(Scalar {
                        values: Some(values), ..
                    }),
                ) => format!("enum {}", join_values(values)),
                (
                    Kind::Integer | Kind::Number,
                    Some(Scalar {
                        format: Some(format), ..
                    }),
                ) => {
                    format!("{} ({format})", kind.name())
                }
                (Kind::Object, _) if self.is_variants(Kind::Object) => "tagged variants".to_owned(),
                (Kind::Object, _)
                    if self
                        .objects
                        .iter()
                        .any(|o| matches!(o.additional, Additional::Values(_))) =>
                {
                    "map".to_owned()
                }
                (kind, _) => kind.name().to_owned(),
            };
            parts.push(text);
        }
        if parts.is_empty() {
            "nothing".to_owned()
        } else {
            parts.join(" or ")
        }
    }

    /// Merges an alternative of `anyOf`/`oneOf` (or of a `type` list) into this shape.
    pub(super) fn absorb(&mut self, other: Shape) {
        self.any |= other.any;
        self.null |= other.null;
        merge_scalar(&mut self.boolean, other.boolean);
        merge_scalar(&mut self.integer, other.integer);
        merge_scalar(&mut self.number, other.number);
        merge_scalar(&mut self.string, other.string);
        match (&self.array, other.array) {
            (None, array) => self.array = array,
            (Some(_), None) => {}
            (Some(_), Some(array)) => {
                // Two kinds of array in one union: not modelled; their item schemas are
                // compared as plain JSON instead.
                let items = array.items.unwrap_or(Value::Bool(true));
                self.unmodeled.insert("anyOf with a second array".to_owned(), items);
            }
        }
        self.objects.extend(other.objects);
        self.unmodeled.extend(other.unmodeled);
    }
}

/// The union of two alternatives of the same JSON type.
pub(super) fn merge_scalar(into: &mut Option<Scalar>, other: Option<Scalar>) {
    let Some(other) = other else {
        return;
    };
    let Some(existing) = into else {
        *into = Some(other);
        return;
    };
    existing.values = match (existing.values.take(), other.values) {
        (Some(mut values), Some(more)) => {
            values.extend(more);
            Some(values)
        }
        _ => None,
    };
    existing.integer_range = hull(existing.integer_range, other.integer_range);
    existing.number_range = hull(existing.number_range, other.number_range);
    if existing.format != other.format {
        existing.format = None;
    }
    existing
        .constraints
        .retain(|key, value| other.constraints.get(key) == Some(value));
}

pub(super) fn hull<T: PartialOrd + Copy>(a: Range<T>, b: Range<T>) -> Range<T> {
    let low = match (a.low, b.low) {
        (Some(x), Some(y)) => Some(if y < x { y } else { x }),
        _ => None,
    };
    let high = match (a.high, b.high) {
        (Some(x), Some(y)) => Some(if y > x { y } else { x }),
        _ => None,
    };
    Range { low, high }
}

/// Whether every value of `inner` is in `outer`.
pub(super) fn within<T: PartialOrd>(inner: &Range<T>, outer: &Range<T>) -> bool {
    let low_ok = match (&inner.low, &outer.low) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(i), Some(o)) => i >= o,
    };
    let high_ok = match (&inner.high, &outer.high) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(i), Some(o)) => i <= o,
    };
    low_ok && high_ok
}

pub(super) fn show_range<T: fmt::Display>(range: &Range<T>) -> String {
    let show = |bound: &Option<T>| {
        bound
            .as_ref()
            .map_or_else(|| "unbounded".to_owned(), ToString::to_string)
    };
    format!("[{}, {}]", show(&range.low), show(&range.high))
}

pub(super) fn show_format(format: &Option<String>) -> &str {
    format.as_deref().unwrap_or("no format")
}

pub(super) fn join_values(values: &BTreeSet<String>) -> String {
    values.iter().map(String::as_str).collect::<Vec<_>>().join(" | ")
}

/// `$.lines` + `sku` → `$.lines.sku`; names that are not plain words are quoted.
pub(super) fn field_path(path: &str, name: &str) -> String {
    if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        format!("{path}.{name}")
    } else {
        format!("{path}[{}]", Value::String(name.to_owned()))
    }
}

/// Keywords that document and never restrict.
pub(super) const ANNOTATIONS: &[&str] = &[
    "$schema",
    "$id",
    "$comment",
    "$defs",
    "definitions",
    "title",
    "description",
    "examples",
    "default",
    "deprecated",
    "readOnly",
    "writeOnly",
    "contentEncoding",
    "contentMediaType",
];

/// An annotation: one of [`ANNOTATIONS`], or an extension keyword (`x-...`, such as typify's
/// `x-rust-type`), which belongs to no vocabulary and so restricts nothing.
pub(super) fn is_annotation(key: &str) -> bool {
    ANNOTATIONS.contains(&key) || key.starts_with("x-")
}

/// Keywords this module interprets.
pub(super) const MODELED: &[&str] = &[
    "type",
    "enum",
    "const",
    "$ref",
    "anyOf",
    "oneOf",
    "allOf",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "prefixItems",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
];

pub(super) const STRING_CONSTRAINTS: &[&str] = &["format", "pattern", "minLength", "maxLength"];
pub(super) const NUMBER_CONSTRAINTS: &[&str] = &["multipleOf"];
pub(super) const ARRAY_CONSTRAINTS: &[&str] = &["minItems", "maxItems", "uniqueItems"];
pub(super) const OBJECT_CONSTRAINTS: &[&str] = &["minProperties", "maxProperties"];

pub(super) fn pick(map: &Map<String, Value>, keys: &[&str]) -> BTreeMap<String, Value> {
    keys.iter()
        .filter_map(|key| map.get(*key).map(|value| ((*key).to_owned(), value.clone())))
        .collect()
}

/// `node` with its `$ref` and `allOf` folded in (sibling keywords apply together with the
/// referenced schema), and the `$ref` it was reached through.
pub(super) fn resolve(doc: &Value, node: &Value, hops: usize) -> Result<(Value, Option<String>), String> {
    let Value::Object(map) = node else {
        return Ok((node.clone(), None));
    };
    if hops > MAX_REF_HOPS {
        return Err(format!("more than {MAX_REF_HOPS} chained $refs"));
    }
    let mut map = map.clone();
    let mut origin = None;
    if let Some(reference) = map.remove("$ref") {
        let reference = reference.as_str().ok_or("$ref is not a string")?.to_owned();
        let target = reference
            .strip_prefix('#')
            .and_then(|pointer| doc.pointer(pointer))
            .ok_or_else(|| format!("cannot resolve $ref {reference}"))?;
        let (target, _) = resolve(doc, target, hops + 1)?;
        map = merge(as_object(target), map);
        origin = Some(reference);
    }
    if let Some(all) = map.remove("allOf") {
        let parts = all.as_array().ok_or("allOf is not a list")?;
        for part in parts {
            let (part, part_origin) = resolve(doc, part, hops + 1)?;
            map = merge(map, as_object(part));
            origin = origin.or(part_origin);
        }
    }
    Ok((Value::Object(map), origin))
}

/// A boolean schema as an object schema: `true` is `{}`, `false` is `{"not": {}}`.
pub(super) fn as_object(schema: Value) -> Map<String, Value> {
    match schema {
        Value::Object(map) => map,
        Value::Bool(false) => Map::from_iter([("not".to_owned(), Value::Object(Map::new()))]),
        _ => Map::new(),
    }
}

/// Both schemas at once: properties and required lists are united, other keywords of `top`
/// win (they are annotations in practice: a field's description beside a `$ref`).
pub(super) fn merge(mut base: Map<String, Value>, top: Map<String, Value>) -> Map<String, Value> {
    for (key, value) in top {
        match (key.as_str(), base.get_mut(&key), value) {
            ("properties", Some(Value::Object(existing)), Value::Object(more)) => existing.extend(more),
            ("required", Some(Value::Array(existing)), Value::Array(more)) => {
                for name in more {
                    if !existing.contains(&name) {
                        existing.push(name);
                    }
                }
            }
            (_, _, value) => {
                base.insert(key, value);
            }
        }
    }
    base
}

pub(super) fn flatten(doc: &Value, node: &Value) -> Result<Shape, String> {
    let (node, origin) = resolve(doc, node, 0)?;
    flatten_resolved(doc, &node, origin, 0)
}

pub(super) fn flatten_resolved(
    doc: &Value,
    node: &Value,
    origin: Option<String>,
    depth: usize,
) -> Result<Shape, String> {
    let map = match node {
        Value::Bool(true) => {
            return Ok(Shape {
                any: true,
                ..Shape::default()
            });
        }
        Value::Bool(false) => return Ok(Shape::default()),
        Value::Object(map) => map,
        other => return Err(format!("not a schema: {other}")),
    };
    if depth > MAX_REF_HOPS {
        return Err(format!("alternatives nested deeper than {MAX_REF_HOPS} levels"));
    }

    // A union: each alternative is merged with the keywords beside it, then all are united.
    let alternatives = map.get("anyOf").or_else(|| map.get("oneOf"));
    if let Some(alternatives) = alternatives {
        let alternatives = alternatives.as_array().ok_or("anyOf/oneOf is not a list")?;
        let siblings: Map<String, Value> = map
            .iter()
            .filter(|(key, _)| !matches!(key.as_str(), "anyOf" | "oneOf") && !is_annotation(key))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        let mut shape = Shape::default();
        if map.contains_key("anyOf") && map.contains_key("oneOf") {
            shape.unmodeled.insert("oneOf".to_owned(), map["oneOf"].clone());
        }
        for alternative in alternatives {
            let (alternative, alternative_origin) = resolve(doc, alternative, 0)?;
            let merged = Value::Object(merge(siblings.clone(), as_object(alternative)));
            let (merged, _) = resolve(doc, &merged, 0)?;
            let inline = alternative_origin.is_none();
            let mut alternative =
                flatten_resolved(doc, &merged, alternative_origin.or_else(|| origin.clone()), depth + 1)?;
            for object in &mut alternative.objects {
                if object.tag.is_none() {
                    object.tag = variant_tag(object, inline);
                }
            }
            shape.absorb(alternative);
        }
        return Ok(shape);
    }

    let mut shape = Shape::default();
    for (key, value) in map {
        if !MODELED.contains(&key.as_str()) && !is_annotation(key) {
            shape.unmodeled.insert(key.clone(), value.clone());
        }
    }
    let constants: Option<Vec<Value>> = match (map.get("const"), map.get("enum")) {
        (Some(value), _) => Some(vec![value.clone()]),
        (None, Some(Value::Array(values))) => Some(values.clone()),
        (None, Some(other)) => return Err(format!("enum is not a list: {other}")),
        (None, None) => None,
    };
    let kinds: BTreeSet<Kind> = match map.get("type") {
        Some(Value::String(name)) => Kind::parse(name).into_iter().collect(),
        Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).filter_map(Kind::parse).collect(),
        Some(other) => return Err(format!("type is neither a name nor a list: {other}")),
        None => infer_kinds(map, constants.as_deref()),
    };
    if kinds.is_empty() && map.get("type").is_none() && constants.is_none() {
        shape.any = true;
        return Ok(shape);
    }

    for kind in kinds {
        // With `enum`/`const`, a kind admits only the listed values of that kind.
        let values: Option<BTreeSet<String>> = constants.as_ref().map(|constants| {
            constants
                .iter()
                .filter(|value| Kind::of(value) == kind || (kind == Kind::Number && Kind::of(value) == Kind::Integer))
                .map(Value::to_string)
                .collect()
        });
        if values.as_ref().is_some_and(BTreeSet::is_empty) {
            continue;
        }
        match kind {
            Kind::Null => shape.null = true,
            Kind::Boolean => merge_scalar(
                &mut shape.boolean,
                Some(Scalar {
                    values,
                    ..Scalar::default()
                }),
            ),
            Kind::Integer => {
                let format = map.get("format").and_then(Value::as_str).map(str::to_owned);
                let scalar = Scalar {
                    values,
                    integer_range: integer_range(map, format.as_deref()),
                    format,
                    constraints: pick(map, NUMBER_CONSTRAINTS),
                    ..Scalar::default()
                };
                merge_scalar(&mut shape.integer, Some(scalar));
            }
            Kind::Number => {
                let scalar = Scalar {
                    values,
                    number_range: number_range(map),
                    format: map.get("format").and_then(Value::as_str).map(str::to_owned),
                    constraints: pick(map, NUMBER_CONSTRAINTS),
                    ..Scalar::default()
                };
                merge_scalar(&mut shape.number, Some(scalar));
            }
            Kind::String => {
                let scalar = Scalar {
                    values,
                    constraints: pick(map, STRING_CONSTRAINTS),
                    ..Scalar::default()
                };
                merge_scalar(&mut shape.string, Some(scalar));
            }
            Kind::Array => {
                if let Some(values) = values {
                    shape
                        .unmodeled
                        .insert("enum of arrays".to_owned(), Value::from_iter(values));
                }
                let prefix_items = match map.get("prefixItems") {
                    Some(Value::Array(items)) => items.clone(),
                    Some(other) => return Err(format!("prefixItems is not a list: {other}")),
                    None => Vec::new(),
                };
                let array = ArrayShape {
                    items: map.get("items").cloned(),
                    prefix_items,
                    constraints: pick(map, ARRAY_CONSTRAINTS),
                };
                shape.absorb(Shape {
                    array: Some(array),
                    ..Shape::default()
                });
            }
            Kind::Object => {
                if let Some(values) = values {
                    shape
                        .unmodeled
                        .insert("enum of objects".to_owned(), Value::from_iter(values));
                }
                shape.objects.push(object_shape(map, origin.clone())?);
            }
        }
    }
    Ok(shape)
}

/// The JSON types of a schema without `type`: from its constants, or from the keywords it uses.
pub(super) fn infer_kinds(map: &Map<String, Value>, constants: Option<&[Value]>) -> BTreeSet<Kind> {
    if let Some(constants) = constants {
        return constants.iter().map(Kind::of).collect();
    }
    let uses = |keys: &[&str]| keys.iter().any(|key| map.contains_key(*key));
    let mut kinds = BTreeSet::new();
    if uses(&[
        "properties",
        "required",
        "additionalProperties",
        "minProperties",
        "maxProperties",
    ]) {
        kinds.insert(Kind::Object);
    }
    if uses(&["items", "prefixItems", "minItems", "maxItems", "uniqueItems"]) {
        kinds.insert(Kind::Array);
    }
    if uses(&["pattern", "minLength", "maxLength"]) {
        kinds.insert(Kind::String);
    }
    if uses(&[
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
    ]) {
        kinds.insert(Kind::Number);
    }
    kinds
}

pub(super) fn object_shape(map: &Map<String, Value>, origin: Option<String>) -> Result<ObjectShape, String> {
    let properties: BTreeMap<String, Value> = match map.get("properties") {
        Some(Value::Object(properties)) => properties.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Some(other) => return Err(format!("properties is not an object: {other}")),
        None => BTreeMap::new(),
    };
    let required: BTreeSet<String> = match map.get("required") {
        Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        Some(other) => return Err(format!("required is not a list: {other}")),
        None => BTreeSet::new(),
    };
    let additional = match map.get("additionalProperties") {
        None | Some(Value::Bool(true)) => Additional::Open,
        Some(Value::Bool(false)) => Additional::Closed,
        Some(schema) => Additional::Values(schema.clone()),
    };
    Ok(ObjectShape {
        origin,
        properties,
        required,
        additional,
        tag: None,
        constraints: pick(map, OBJECT_CONSTRAINTS),
    })
}

/// How an object alternative of a union is recognised as an enum variant: by a required field
/// with a constant value (internally or adjacently tagged), or, for an alternative written
/// inline rather than `$ref`'d, as a closed object whose only field is the variant's name
/// (externally tagged). Outside a union there is nothing to tell apart, so a closed struct
/// with one field is not mistaken for a variant.
pub(super) fn variant_tag(object: &ObjectShape, inline: bool) -> Option<Tag> {
    let by_field = object.required.iter().find_map(|name| {
        let schema = object.properties.get(name)?;
        let value = schema.get("const").or_else(|| match schema.get("enum") {
            Some(Value::Array(values)) if values.len() == 1 => values.first(),
            _ => None,
        })?;
        Some(Tag::Field {
            name: name.clone(),
            value: value.to_string(),
        })
    });
    by_field.or_else(|| {
        let only = object.required.iter().next()?;
        let external = inline
            && object.additional == Additional::Closed
            && object.required.len() == 1
            && object.properties.len() == 1
            && object.properties.contains_key(only);
        external.then(|| Tag::External(only.clone()))
    })
}

/// The integers a schema admits: its `format`'s width, narrowed by `minimum`/`maximum`.
pub(super) fn integer_range(map: &Map<String, Value>, format: Option<&str>) -> Range<i128> {
    let width = |bits: u32, signed: bool| {
        if signed {
            Range {
                low: Some(-(1i128 << (bits - 1))),
                high: Some((1i128 << (bits - 1)) - 1),
            }
        } else if bits >= 128 {
            // u128::MAX does not fit in i128; the difference to int128 is the low bound.
            Range {
                low: Some(0),
                high: Some(i128::MAX),
            }
        } else {
            Range {
                low: Some(0),
                high: Some((1i128 << bits) - 1),
            }
        }
    };
    let mut range = match format {
        Some("int8") => width(8, true),
        Some("int16") => width(16, true),
        Some("int32") => width(32, true),
        Some("int64" | "int") => width(64, true),
        Some("int128") => width(128, true),
        Some("uint8") => width(8, false),
        Some("uint16") => width(16, false),
        Some("uint32") => width(32, false),
        Some("uint64" | "uint") => width(64, false),
        Some("uint128") => width(128, false),
        _ => Range::default(),
    };
    let bound = |key: &str| map.get(key).and_then(Value::as_f64);
    let raise = |low: &mut Option<i128>, candidate: i128| {
        if low.is_none_or(|low| candidate > low) {
            *low = Some(candidate);
        }
    };
    let lower = |high: &mut Option<i128>, candidate: i128| {
        if high.is_none_or(|high| candidate < high) {
            *high = Some(candidate);
        }
    };
    // Exact integers first (f64 cannot hold every i64), fractional bounds rounded inwards.
    let exact = |key: &str| {
        map.get(key)
            .and_then(|v| v.as_i64().map(i128::from).or_else(|| v.as_u64().map(i128::from)))
    };
    if let Some(minimum) = exact("minimum").or_else(|| bound("minimum").map(|b| b.ceil() as i128)) {
        raise(&mut range.low, minimum);
    }
    if let Some(minimum) = exact("exclusiveMinimum")
        .map(|b| b + 1)
        .or_else(|| bound("exclusiveMinimum").map(|b| b.floor() as i128 + 1))
    {
        raise(&mut range.low, minimum);
    }
    if let Some(maximum) = exact("maximum").or_else(|| bound("maximum").map(|b| b.floor() as i128)) {
        lower(&mut range.high, maximum);
    }
    if let Some(maximum) = exact("exclusiveMaximum")
        .map(|b| b - 1)
        .or_else(|| bound("exclusiveMaximum").map(|b| b.ceil() as i128 - 1))
    {
        lower(&mut range.high, maximum);
    }
    range
}

/// The numbers a schema admits by `minimum`/`maximum` (exclusive bounds are treated as
/// inclusive: only a change of bound matters here, not the open/closed end).
pub(super) fn number_range(map: &Map<String, Value>) -> Range<f64> {
    let bound = |keys: [&str; 2]| keys.iter().find_map(|key| map.get(*key).and_then(Value::as_f64));
    Range {
        low: bound(["minimum", "exclusiveMinimum"]),
        high: bound(["maximum", "exclusiveMaximum"]),
    }
}
