//! The comparison: two schemas walked side by side, every breaking change recorded with its
//! path.

use super::shape::*;
use super::*;

/// Recursion deeper than this is reported rather than followed (schemars output of real
/// contracts is a few levels deep; this only guards against pathological input).
pub(super) const MAX_DEPTH: usize = 128;

pub(super) struct Checker<'a> {
    pub(super) old_doc: &'a Value,
    pub(super) new_doc: &'a Value,
    pub(super) found: Vec<Incompatibility>,
    /// Pairs of (old, new) definitions being compared further up: a recursive type (a tree)
    /// reaches itself again, and is assumed compatible there (co-induction) so the walk ends.
    pub(super) open_pairs: Vec<(String, String, String)>,
    pub(super) depth: usize,
}

impl Checker<'_> {
    pub(super) fn report(&mut self, path: &str, change: Change, detail: impl Into<String>) {
        self.found.push(Incompatibility {
            path: path.to_owned(),
            change,
            detail: detail.into(),
        });
    }

    pub(super) fn compare(&mut self, old: &Value, new: &Value, path: &str) {
        if self.depth >= MAX_DEPTH {
            self.report(
                path,
                Change::NotUnderstood,
                format!("nested deeper than {MAX_DEPTH} levels"),
            );
            return;
        }
        let shapes = flatten(self.old_doc, old).and_then(|o| Ok((o, flatten(self.new_doc, new)?)));
        let (old, new) = match shapes {
            Ok(shapes) => shapes,
            Err(problem) => {
                self.report(path, Change::NotUnderstood, problem);
                return;
            }
        };
        self.depth += 1;
        self.compare_shapes(&old, &new, path);
        self.depth -= 1;
    }

    pub(super) fn compare_shapes(&mut self, old: &Shape, new: &Shape, path: &str) {
        match (old.any, new.any) {
            (true, true) => return,
            (true, false) => {
                self.report(path, Change::Narrowed, format!("any value → {}", new.describe()));
                return;
            }
            (false, true) => {
                self.report(path, Change::Widened, format!("{} → any value", old.describe()));
                return;
            }
            (false, false) => {}
        }
        if old.unmodeled != new.unmodeled {
            let keys: BTreeSet<&String> = old.unmodeled.keys().chain(new.unmodeled.keys()).collect();
            let changed: Vec<&str> = keys
                .into_iter()
                .filter(|key| old.unmodeled.get(*key) != new.unmodeled.get(*key))
                .map(String::as_str)
                .collect();
            self.report(path, Change::NotUnderstood, format!("changed: {}", changed.join(", ")));
        }

        let old_kinds = old.kinds();
        let new_kinds = new.kinds();
        let mut removed: BTreeSet<Kind> = old_kinds.difference(&new_kinds).copied().collect();
        let mut added: BTreeSet<Kind> = new_kinds.difference(&old_kinds).copied().collect();
        // Every integer is a number: integer → number widens, number → integer narrows, and
        // an integer alternative beside a number one changes nothing.
        if removed.contains(&Kind::Integer) && new_kinds.contains(&Kind::Number) {
            removed.remove(&Kind::Integer);
            if added.remove(&Kind::Number) {
                self.report(path, Change::Widened, "integer → number");
            }
        }
        if added.contains(&Kind::Integer) && old_kinds.contains(&Kind::Number) {
            added.remove(&Kind::Integer);
            if removed.remove(&Kind::Number) {
                self.report(path, Change::Narrowed, "number → integer");
            }
        }
        // A kind given up for another (string → integer) is one retype, not a narrowing plus a
        // widening; enum variants traded for others are reported variant by variant.
        let plain = |kinds: &BTreeSet<Kind>, shape: &Shape| kinds.iter().any(|kind| !shape.is_variants(*kind));
        let retyped = !removed.is_empty() && !added.is_empty() && (plain(&removed, old) || plain(&added, new));
        if retyped {
            self.report(
                path,
                Change::Retyped,
                format!("{} → {}", old.describe(), new.describe()),
            );
        } else {
            for kind in &removed {
                self.kind_changed(*kind, old, path, Direction::Removed);
            }
            for kind in &added {
                self.kind_changed(*kind, new, path, Direction::Added);
            }
        }

        for kind in old_kinds.intersection(&new_kinds) {
            match kind {
                Kind::Null => {}
                Kind::Boolean => self.compare_scalars(*kind, &old.boolean, &new.boolean, path),
                Kind::Integer => self.compare_scalars(*kind, &old.integer, &new.integer, path),
                Kind::Number => self.compare_scalars(*kind, &old.number, &new.number, path),
                Kind::String => self.compare_scalars(*kind, &old.string, &new.string, path),
                Kind::Array => {
                    if let (Some(old), Some(new)) = (&old.array, &new.array) {
                        self.compare_arrays(old, new, path);
                    }
                }
                Kind::Object => self.compare_object_alternatives(&old.objects, &new.objects, path),
            }
        }
        // Tagged object variants added or removed where the other side had no objects.
        if retyped {
            return;
        }
        if removed.contains(&Kind::Object) && old.is_variants(Kind::Object) && !new_kinds.contains(&Kind::Object) {
            self.compare_object_alternatives(&old.objects, &[], path);
        }
        if added.contains(&Kind::Object) && new.is_variants(Kind::Object) && !old_kinds.contains(&Kind::Object) {
            self.compare_object_alternatives(&[], &new.objects, path);
        }
    }

    /// A kind of value that one side accepts and the other does not.
    pub(super) fn kind_changed(&mut self, kind: Kind, shape: &Shape, path: &str, direction: Direction) {
        let (narrow_or_widen, variant) = match direction {
            Direction::Removed => (Change::Narrowed, Change::VariantRemoved),
            Direction::Added => (Change::Widened, Change::VariantAdded),
        };
        if kind == Kind::Object && shape.is_variants(kind) {
            return; // reported variant by variant by compare_object_alternatives
        }
        if let Some(values) = shape.scalar(kind).and_then(|scalar| scalar.values.as_ref()) {
            for value in values {
                self.report(path, variant, value.clone());
            }
            return;
        }
        let detail = match (kind, direction) {
            (Kind::Null, Direction::Removed) => "nullable → non-null".to_owned(),
            (Kind::Null, Direction::Added) => "non-null → nullable".to_owned(),
            (kind, Direction::Removed) => format!("no longer accepts {}", kind.name()),
            (kind, Direction::Added) => format!("now also accepts {}", kind.name()),
        };
        self.report(path, narrow_or_widen, detail);
    }

    pub(super) fn compare_scalars(&mut self, kind: Kind, old: &Option<Scalar>, new: &Option<Scalar>, path: &str) {
        let (Some(old), Some(new)) = (old, new) else {
            return;
        };
        match (&old.values, &new.values) {
            (Some(old_values), Some(new_values)) => {
                for value in old_values.difference(new_values) {
                    self.report(path, Change::VariantRemoved, value.clone());
                }
                for value in new_values.difference(old_values) {
                    self.report(path, Change::VariantAdded, value.clone());
                }
            }
            (None, Some(values)) => self.report(
                path,
                Change::Narrowed,
                format!("{} → enum {}", kind.name(), join_values(values)),
            ),
            (Some(values), None) => self.report(
                path,
                Change::Widened,
                format!("enum {} → {}", join_values(values), kind.name()),
            ),
            (None, None) => {
                match kind {
                    Kind::Integer => self.compare_integer_ranges(old, new, path),
                    Kind::Number => self.compare_number_ranges(old, new, path),
                    _ => {}
                }
                self.compare_constraints(&old.constraints, &new.constraints, path);
            }
        }
    }

    pub(super) fn compare_integer_ranges(&mut self, old: &Scalar, new: &Scalar, path: &str) {
        let (old_range, new_range) = (old.integer_range, new.integer_range);
        let verdict = match (within(&new_range, &old_range), within(&old_range, &new_range)) {
            (true, true) => return,
            (true, false) => Change::Narrowed,
            (false, true) => Change::Widened,
            (false, false) => Change::Retyped,
        };
        let detail = match (&old.format, &new.format) {
            (Some(old_format), Some(new_format)) if old_format != new_format => format!(
                "{old_format} → {new_format}: {} → {}",
                show_range(&old_range),
                show_range(&new_range)
            ),
            _ => format!("{} → {}", show_range(&old_range), show_range(&new_range)),
        };
        self.report(path, verdict, detail);
    }

    pub(super) fn compare_number_ranges(&mut self, old: &Scalar, new: &Scalar, path: &str) {
        let (old_range, new_range) = (old.number_range, new.number_range);
        let verdict = match (within(&new_range, &old_range), within(&old_range, &new_range)) {
            (true, true) => None,
            (true, false) => Some(Change::Narrowed),
            (false, true) => Some(Change::Widened),
            (false, false) => Some(Change::Retyped),
        };
        if let Some(verdict) = verdict {
            let detail = format!("{} → {}", show_range(&old_range), show_range(&new_range));
            self.report(path, verdict, detail);
        }
        // `float` holds fewer values than `double` (and than an unconstrained number).
        let rank = |format: &Option<String>| match format.as_deref() {
            Some("float") => 0,
            Some("double") => 1,
            _ => 2,
        };
        if old.format != new.format {
            let detail = format!("{} → {}", show_format(&old.format), show_format(&new.format));
            let change = match rank(&new.format).cmp(&rank(&old.format)) {
                std::cmp::Ordering::Less => Change::Narrowed,
                std::cmp::Ordering::Greater => Change::Widened,
                std::cmp::Ordering::Equal => Change::Retyped,
            };
            self.report(path, change, detail);
        }
    }

    /// Restricting keywords such as `pattern`, `minLength`, `maxItems`, `format` (of a string).
    pub(super) fn compare_constraints(
        &mut self,
        old: &BTreeMap<String, Value>,
        new: &BTreeMap<String, Value>,
        path: &str,
    ) {
        let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
        for key in keys {
            let change = match (old.get(key), new.get(key)) {
                (Some(o), Some(n)) if o == n => continue,
                (None, Some(Value::Bool(false))) | (Some(Value::Bool(false)), None) => continue,
                (None, Some(_)) => Change::Narrowed,
                (Some(_), None) => Change::Widened,
                (Some(o), Some(n)) => match (key.starts_with("min"), key.starts_with("max"), o.as_f64(), n.as_f64()) {
                    (true, _, Some(o), Some(n)) if n > o => Change::Narrowed,
                    (true, _, Some(_), Some(_)) => Change::Widened,
                    (_, true, Some(o), Some(n)) if n < o => Change::Narrowed,
                    (_, true, Some(_), Some(_)) => Change::Widened,
                    _ => Change::Retyped,
                },
                (None, None) => continue,
            };
            let show = |value: Option<&Value>| value.map_or_else(|| "none".to_owned(), Value::to_string);
            self.report(
                path,
                change,
                format!("{key} {} → {}", show(old.get(key)), show(new.get(key))),
            );
        }
    }

    pub(super) fn compare_arrays(&mut self, old: &ArrayShape, new: &ArrayShape, path: &str) {
        let items_path = format!("{path}[]");
        match (&old.items, &new.items) {
            (Some(old_items), Some(new_items)) => self.compare(old_items, new_items, &items_path),
            (None, None) => {}
            (None, Some(new_items)) => {
                let any = Value::Bool(true);
                self.compare(&any, new_items, &items_path);
            }
            (Some(old_items), None) => {
                let any = Value::Bool(true);
                self.compare(old_items, &any, &items_path);
            }
        }
        for (index, (old_item, new_item)) in old.prefix_items.iter().zip(&new.prefix_items).enumerate() {
            self.compare(old_item, new_item, &format!("{path}[{index}]"));
        }
        if old.prefix_items.len() != new.prefix_items.len() {
            self.report(
                path,
                Change::Retyped,
                format!(
                    "tuple of {} → {} elements",
                    old.prefix_items.len(),
                    new.prefix_items.len()
                ),
            );
        }
        self.compare_constraints(&old.constraints, &new.constraints, path);
    }

    /// The object alternatives of a value: one struct, or the object variants of an enum,
    /// matched by their tag.
    pub(super) fn compare_object_alternatives(&mut self, old: &[ObjectShape], new: &[ObjectShape], path: &str) {
        let tagged = |shapes: &[ObjectShape]| -> BTreeMap<Tag, usize> {
            shapes
                .iter()
                .enumerate()
                .filter_map(|(index, shape)| shape.tag.clone().map(|tag| (tag, index)))
                .collect()
        };
        let (old_tagged, new_tagged) = (tagged(old), tagged(new));
        let tags: BTreeSet<&Tag> = old_tagged.keys().chain(new_tagged.keys()).collect();
        for tag in tags {
            match (old_tagged.get(tag), new_tagged.get(tag)) {
                (Some(&o), Some(&n)) => self.compare_objects(&old[o], &new[n], &tag.path(path)),
                (Some(_), None) => self.report(path, Change::VariantRemoved, tag.to_string()),
                (None, Some(_)) => self.report(path, Change::VariantAdded, tag.to_string()),
                (None, None) => {}
            }
        }
        let untagged = |shapes: &[ObjectShape]| -> Vec<usize> {
            shapes
                .iter()
                .enumerate()
                .filter(|(_, shape)| shape.tag.is_none())
                .map(|(index, _)| index)
                .collect()
        };
        let (old_untagged, new_untagged) = (untagged(old), untagged(new));
        match (old_untagged.len(), new_untagged.len()) {
            (0, 0) => {}
            (0, _) => self.report(path, Change::Widened, "now also accepts an untagged object"),
            (_, 0) => self.report(path, Change::Narrowed, "no longer accepts an untagged object"),
            (o, n) if o == n => {
                // Untagged alternatives carry no name to match them by: they are paired in
                // order, which is how schemars lists them (declaration order).
                for (&o, &n) in old_untagged.iter().zip(&new_untagged) {
                    self.compare_objects(&old[o], &new[n], path);
                }
            }
            (o, n) => self.report(
                path,
                Change::NotUnderstood,
                format!("{o} → {n} untagged object alternatives"),
            ),
        }
    }

    pub(super) fn compare_objects(&mut self, old: &ObjectShape, new: &ObjectShape, path: &str) {
        let pair = match (&old.origin, &new.origin) {
            (Some(o), Some(n)) => Some((
                o.clone(),
                n.clone(),
                old.tag.as_ref().map(Tag::to_string).unwrap_or_default(),
            )),
            _ => None,
        };
        if let Some(pair) = &pair {
            if self.open_pairs.contains(pair) {
                return;
            }
            self.open_pairs.push(pair.clone());
        }

        let any = Value::Bool(true);
        let names: BTreeSet<&String> = old
            .properties
            .keys()
            .chain(new.properties.keys())
            .chain(&old.required)
            .chain(&new.required)
            .collect();
        for name in names {
            let field = field_path(path, name);
            let (old_required, new_required) = (old.required.contains(name), new.required.contains(name));
            let old_schema = old.properties.get(name).or(old.required.contains(name).then_some(&any));
            let new_schema = new.properties.get(name).or(new.required.contains(name).then_some(&any));
            match (old_schema, new_schema) {
                (Some(old_schema), Some(new_schema)) => {
                    match (old_required, new_required) {
                        (false, true) => self.report(&field, Change::FieldMadeRequired, ""),
                        (true, false) => self.report(&field, Change::FieldMadeOptional, ""),
                        (false, false) => self.compare_defaults(old_schema, new_schema, &field),
                        (true, true) => {}
                    }
                    self.compare(old_schema, new_schema, &field);
                }
                (Some(_), None) if old_required => self.report(&field, Change::RequiredFieldRemoved, ""),
                (Some(_), None) => self.report(&field, Change::OptionalFieldRemoved, ""),
                (None, Some(_)) if new_required => self.report(&field, Change::RequiredFieldAdded, ""),
                (None, Some(_)) if old.additional == Additional::Closed => {
                    self.report(&field, Change::FieldAddedToClosedObject, "");
                }
                (None, Some(_)) | (None, None) => {}
            }
        }

        match (&old.additional, &new.additional) {
            (Additional::Values(old_values), Additional::Values(new_values)) => {
                self.compare(old_values, new_values, &format!("{path}.*"));
            }
            (Additional::Values(_), _) => self.report(path, Change::Retyped, "map → object with named fields"),
            (_, Additional::Values(_)) => self.report(path, Change::Retyped, "object with named fields → map"),
            _ => {}
        }
        self.compare_constraints(&old.constraints, &new.constraints, path);

        if pair.is_some() {
            self.open_pairs.pop();
        }
    }

    /// What a reader fills in for an absent optional field must not change.
    pub(super) fn compare_defaults(&mut self, old: &Value, new: &Value, path: &str) {
        let (old_default, new_default) = (self.default_of(self.old_doc, old), self.default_of(self.new_doc, new));
        if let (Some(old_default), Some(new_default)) = (old_default, new_default) {
            if old_default != new_default {
                self.report(path, Change::DefaultChanged, format!("{old_default} → {new_default}"));
            }
        }
    }

    /// The value a reader uses when the field is absent: its `default`, else `null` for an
    /// `Option` (serde's `None`); `None` when the schema does not say.
    pub(super) fn default_of(&self, doc: &Value, schema: &Value) -> Option<Value> {
        if let Some(default) = schema.get("default") {
            return Some(default.clone());
        }
        let (resolved, _) = resolve(doc, schema, 0).ok()?;
        if let Some(default) = resolved.get("default") {
            return Some(default.clone());
        }
        flatten(doc, schema)
            .ok()
            .filter(|shape| shape.null)
            .map(|_| Value::Null)
    }
}

#[derive(Clone, Copy)]
pub(super) enum Direction {
    Removed,
    Added,
}
