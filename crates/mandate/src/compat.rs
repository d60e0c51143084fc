//! # Schema compatibility: FULL and FULL_TRANSITIVE, judged on JSON Schema
//!
//! DESIGN.md §5: within a major version a message may only change compatibly, and the rule
//! is **FULL_TRANSITIVE**, because a replay hands today's consumers every event ever published
//! and a rolling deploy lets yesterday's consumers read today's events:
//!
//! - **FULL** between two revisions `old` and `new`: *old readers read new data* (forward) and
//!   *new readers read old data* (backward). [`check_full`] lists every change that breaks
//!   either direction.
//! - **FULL_TRANSITIVE**: the current schema is FULL-compatible with *every* earlier revision of
//!   the same major version, not just the previous one ([`check_full_transitive`]). A field
//!   removed in revision 2 and re-added with another type in revision 3 passes a pairwise
//!   check and breaks the replay of revision-1 events; the transitive check catches it.
//!
//! The input is what schemars 1 emits for the contract types (`schemas/json/`): `$defs` and
//! `$ref`, `properties`/`required`, `type` (a list such as `["string", "null"]` for an
//! `Option`), `format`/`minimum`/`maximum` for integer widths, `enum`/`const`/`oneOf` for enums,
//! `items`/`prefixItems` for sequences and tuples, `additionalProperties` for maps and
//! `deny_unknown_fields`, `default` for `#[serde(default)]`. Descriptions, titles and examples
//! are documentation and never matter.
//!
//! ## What a reader does (the facts the rules rest on)
//!
//! Bodies are MessagePack maps with named fields, decoded by serde:
//!
//! - **A reader ignores fields it does not know** (serde's derived `Deserialize` skips unknown
//!   keys unless the type says `#[serde(deny_unknown_fields)]`, which schemars shows as
//!   `additionalProperties: false`). That is what makes adding a field possible at all.
//! - **A missing field is an error unless the reader has a default for it** (`#[serde(default)]`
//!   or an `Option`): exactly the fields outside the schema's `required` list.
//! - **A value is decoded by the reader's type, not by the writer's**: a `u32` reads any
//!   MessagePack integer up to `u32::MAX` and fails above it; a closed enum fails on a variant
//!   it does not have; a `String` fails on `nil`.
//!
//! ## The rules (each is one [`Change`])
//!
//! | change | verdict | who breaks |
//! |---|---|---|
//! | add a field with a default (not `required`) | **compatible** | nobody: old readers skip it, new readers default it |
//! | add a required field | [`Change::RequiredFieldAdded`] | new readers, on old data without it |
//! | remove a required field | [`Change::RequiredFieldRemoved`] | old readers, on new data without it |
//! | remove an optional field | [`Change::OptionalFieldRemoved`] | old readers silently get the default instead of the data (DESIGN.md §5: removing is a new major) |
//! | rename a field | remove + add: both reported | as above |
//! | make a field required | [`Change::FieldMadeRequired`] | new readers, on old data without it |
//! | make a field optional | [`Change::FieldMadeOptional`] | old readers, when new writers leave it out (the schema no longer promises it) |
//! | add a field to a `deny_unknown_fields` object | [`Change::FieldAddedToClosedObject`] | old readers refuse the unknown field |
//! | change a default | [`Change::DefaultChanged`] | data without the field means different things to old and new readers |
//! | retype (string → integer, struct → map, int32 → uint32) | [`Change::Retyped`] | both |
//! | narrow (uint64 → uint32, nullable → non-null, string → enum, add `format`/`pattern`) | [`Change::Narrowed`] | new readers, on old values outside the new type |
//! | widen (uint32 → uint64, non-null → nullable, enum → string) | [`Change::Widened`] | old readers, on new values outside the old type |
//! | remove an enum variant | [`Change::VariantRemoved`] | new readers, on old data holding it |
//! | add an enum variant | [`Change::VariantAdded`] | old readers, on new data holding it |
//! | a schema construct this module does not model changed | [`Change::NotUnderstood`] | unknown: the check fails closed |
//!
//! Widening is as incompatible as narrowing under FULL: backward-only checkers allow it, but an
//! old reader with a `u32` cannot decode the first `u64` value above `u32::MAX`.
//!
//! ## The enum rule: adding a variant is incompatible
//!
//! A Rust enum is closed: an old reader's `Deserialize` fails on a variant it does not know, and
//! the event goes to the dead-letter queue (or, on replay, stops the rebuild). FULL means old
//! readers must read new data, so **adding a variant is an incompatible change**, just like
//! removing one (which breaks new readers on old data). The alternatives were rejected on
//! purpose: allowing additions ("backward only") makes a rolling deploy dead-letter events,
//! and there is no schema-level signal that a reader has a catch-all variant.
//!
//! A value set that must grow within a major version is modelled as an **open field**: a plain
//! `String` whose documentation lists the known values and says readers must accept others.
//! Otherwise a new value means a new major version, published alongside the old one.
//! (`docs/compatibility.md` says the same for contract authors.)
//!
//! ## Paths
//!
//! `$` is the message body; `$.lines[].sku` is the `sku` of every element of `lines`;
//! `$.stock.*` is every value of a map; `$.pair[1]` is a tuple element; `$.payment(kind="card")`
//! is the variant of an internally or adjacently tagged enum whose tag field `kind` is `"card"`
//! (an externally tagged variant is a field: `$.payment.Card`). Definitions reached through
//! `$ref` are checked where they are used, so a change in `OrderLine` is reported at
//! `$.lines[].…` (once per place that uses it).
//!
//! ## Revision history
//!
//! FULL_TRANSITIVE needs every earlier revision: they are kept append-only as
//! `<history>/<message stem>/<NNNN>.json` ([`read_history`], [`append_revision`]); the newest one
//! equals the current schema. `schemas/tests/json_schemas.rs` and `mandate check` use them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// What kind of incompatible change was found. [`Change::why`] says who breaks and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Change {
    RequiredFieldAdded,
    RequiredFieldRemoved,
    OptionalFieldRemoved,
    FieldMadeRequired,
    FieldMadeOptional,
    FieldAddedToClosedObject,
    DefaultChanged,
    Retyped,
    Narrowed,
    Widened,
    VariantAdded,
    VariantRemoved,
    /// The schemas differ in a construct this module does not model (e.g. `patternProperties`,
    /// `not`, an unresolvable `$ref`): it cannot vouch for the change, so it reports it.
    NotUnderstood,
}

impl Change {
    /// A short name, e.g. `required field added`.
    pub fn label(self) -> &'static str {
        match self {
            Change::RequiredFieldAdded => "required field added",
            Change::RequiredFieldRemoved => "required field removed",
            Change::OptionalFieldRemoved => "field removed",
            Change::FieldMadeRequired => "field made required",
            Change::FieldMadeOptional => "field made optional",
            Change::FieldAddedToClosedObject => "field added to an object that refuses unknown fields",
            Change::DefaultChanged => "default changed",
            Change::Retyped => "type changed",
            Change::Narrowed => "type narrowed",
            Change::Widened => "type widened",
            Change::VariantAdded => "enum variant added",
            Change::VariantRemoved => "enum variant removed",
            Change::NotUnderstood => "change the checker cannot judge",
        }
    }

    /// Why it breaks FULL compatibility: which readers fail on which data.
    pub fn why(self) -> &'static str {
        match self {
            Change::RequiredFieldAdded => {
                "readers of the new version fail on old messages that lack it (and a replay hands them every old event)"
            }
            Change::RequiredFieldRemoved => "readers of the old version fail on new messages that lack it",
            Change::OptionalFieldRemoved => {
                "readers of the old version silently get its default instead of the data; removing a field needs a new major version"
            }
            Change::FieldMadeRequired => "readers of the new version fail on old messages that left it out",
            Change::FieldMadeOptional => {
                "new writers may leave it out, and readers of the old version, which require it, fail"
            }
            Change::FieldAddedToClosedObject => {
                "the old version refuses unknown fields (additionalProperties: false, serde deny_unknown_fields), so its readers fail on new messages"
            }
            Change::DefaultChanged => {
                "a message without the field means one thing to old readers and another to new readers"
            }
            Change::Retyped => "readers of each version fail on values the other version writes",
            Change::Narrowed => "readers of the new version fail on old messages holding values the new type refuses",
            Change::Widened => {
                "readers of the old version fail on new messages holding values the old type cannot hold"
            }
            Change::VariantAdded => {
                "readers of the old version cannot decode the new value (a Rust enum is closed); use a new major version, or a string field documented as open"
            }
            Change::VariantRemoved => "readers of the new version fail on old messages holding it",
            Change::NotUnderstood => {
                "mandate::compat does not model this part of the schema, so it cannot vouch for the change; review it by hand or teach the checker"
            }
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One incompatible change: where, what kind, and the specifics (e.g. `uint32 → uint64`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Incompatibility {
    /// Where in the message: `$.currency`, `$.lines[].sku`.
    pub path: String,
    pub change: Change,
    /// What exactly changed; empty when the path and kind say it all.
    pub detail: String,
}

impl Incompatibility {
    pub fn why(&self) -> &'static str {
        self.change.why()
    }
}

impl fmt::Display for Incompatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.change)?;
        if !self.detail.is_empty() {
            write!(f, " ({})", self.detail)?;
        }
        write!(f, ": {}", self.why())
    }
}

/// Every change from `old` to `new` that breaks FULL compatibility (old readers read new
/// data and new readers read old data). Empty means compatible.
pub fn check_full(old: &Value, new: &Value) -> Vec<Incompatibility> {
    let mut checker = Checker {
        old_doc: old,
        new_doc: new,
        found: Vec::new(),
        open_pairs: Vec::new(),
        depth: 0,
    };
    // The root through a `$ref` to itself, so a recursive type that refers back to the root
    // (`children: Vec<Self>`) is recognised as recursion like any other definition.
    let root = Value::Object(Map::from_iter([("$ref".to_owned(), Value::String("#".to_owned()))]));
    checker.compare(&root, &root, "$");
    let mut seen = BTreeSet::new();
    checker.found.retain(|found| seen.insert(found.clone()));
    checker.found
}

/// One committed revision of a message version's schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    /// 1 for `0001.json`.
    pub number: u32,
    pub schema: Value,
}

impl Revision {
    /// `0001`, as the file is named.
    pub fn label(&self) -> String {
        format!("{:04}", self.number)
    }
}

/// An incompatibility of the current schema with one or more earlier revisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransitiveIncompatibility {
    pub incompatibility: Incompatibility,
    /// The revisions it is incompatible with (`0001`, ...), oldest first.
    pub revisions: Vec<String>,
}

impl fmt::Display for TransitiveIncompatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.revisions.len() == 1 { "" } else { "s" };
        write!(
            f,
            "{} [against revision{plural} {}]",
            self.incompatibility,
            self.revisions.join(", ")
        )
    }
}

/// FULL_TRANSITIVE: every incompatibility of `current` with any of `revisions`, each listed
/// once with the revisions it breaks. Empty means `current` may be published.
pub fn check_full_transitive(revisions: &[Revision], current: &Value) -> Vec<TransitiveIncompatibility> {
    let mut merged: Vec<TransitiveIncompatibility> = Vec::new();
    for revision in revisions {
        for incompatibility in check_full(&revision.schema, current) {
            match merged.iter_mut().find(|known| known.incompatibility == incompatibility) {
                Some(known) => known.revisions.push(revision.label()),
                None => merged.push(TransitiveIncompatibility {
                    incompatibility,
                    revisions: vec![revision.label()],
                }),
            }
        }
    }
    merged
}

/// The revisions kept in `dir` (`0001.json`, `0002.json`, ...), oldest first; none if the
/// directory does not exist. Fails on a file that is not JSON and on a gap in the numbering
/// (history is append-only: a missing number means a revision was deleted).
pub fn read_history(dir: &Path) -> io::Result<Vec<Revision>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    let mut revisions = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let Some(number) = revision_number(&path) else {
            continue;
        };
        let text = std::fs::read_to_string(&path)?;
        let schema = serde_json::from_str(&text).map_err(|err| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is not JSON: {err}", path.display()),
            )
        })?;
        revisions.push(Revision { number, schema });
    }
    revisions.sort_by_key(|revision| revision.number);
    for (expected, revision) in (1..).zip(&revisions) {
        if revision.number != expected {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: revision {expected:04} is missing (history is append-only: restore it from version control)",
                    dir.display()
                ),
            ));
        }
    }
    Ok(revisions)
}

/// Appends `schema_text` (a JSON Schema, written as given) as the next revision in `dir` and
/// returns its path. The file appears atomically (written aside, then renamed), so a reader
/// running at the same time never sees half a revision.
pub fn append_revision(dir: &Path, schema_text: &str) -> io::Result<PathBuf> {
    serde_json::from_str::<Value>(schema_text)
        .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, format!("not JSON: {err}")))?;
    std::fs::create_dir_all(dir)?;
    let next = read_history(dir)?.last().map_or(1, |newest| newest.number + 1);
    let path = dir.join(format!("{next:04}.json"));
    let aside = dir.join(format!(".{next:04}.json.partial"));
    std::fs::write(&aside, schema_text)?;
    std::fs::rename(&aside, &path)?;
    Ok(path)
}

/// `NNNN.json` → NNNN; anything else (a partial write, a README) is not a revision.
fn revision_number(path: &Path) -> Option<u32> {
    let stem = path.file_name()?.to_str()?.strip_suffix(".json")?;
    if stem.len() >= 4 && stem.bytes().all(|b| b.is_ascii_digit()) {
        stem.parse().ok().filter(|&number| number > 0)
    } else {
        None
    }
}

// ---- the checker ----------------------------------------------------------------------------

/// Recursion deeper than this is reported rather than followed (schemars output of real
/// contracts is a few levels deep; this only guards against pathological input).
const MAX_DEPTH: usize = 128;

/// How many `$ref`s may be chained before the chain is considered a loop.
const MAX_REF_HOPS: usize = 32;

struct Checker<'a> {
    old_doc: &'a Value,
    new_doc: &'a Value,
    found: Vec<Incompatibility>,
    /// Pairs of (old, new) definitions being compared further up: a recursive type (a tree)
    /// reaches itself again, and is assumed compatible there (co-induction) so the walk ends.
    open_pairs: Vec<(String, String, String)>,
    depth: usize,
}

impl Checker<'_> {
    fn report(&mut self, path: &str, change: Change, detail: impl Into<String>) {
        self.found.push(Incompatibility {
            path: path.to_owned(),
            change,
            detail: detail.into(),
        });
    }

    fn compare(&mut self, old: &Value, new: &Value, path: &str) {
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

    fn compare_shapes(&mut self, old: &Shape, new: &Shape, path: &str) {
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
    fn kind_changed(&mut self, kind: Kind, shape: &Shape, path: &str, direction: Direction) {
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

    fn compare_scalars(&mut self, kind: Kind, old: &Option<Scalar>, new: &Option<Scalar>, path: &str) {
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

    fn compare_integer_ranges(&mut self, old: &Scalar, new: &Scalar, path: &str) {
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

    fn compare_number_ranges(&mut self, old: &Scalar, new: &Scalar, path: &str) {
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
    fn compare_constraints(&mut self, old: &BTreeMap<String, Value>, new: &BTreeMap<String, Value>, path: &str) {
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

    fn compare_arrays(&mut self, old: &ArrayShape, new: &ArrayShape, path: &str) {
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
    fn compare_object_alternatives(&mut self, old: &[ObjectShape], new: &[ObjectShape], path: &str) {
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

    fn compare_objects(&mut self, old: &ObjectShape, new: &ObjectShape, path: &str) {
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
    fn compare_defaults(&mut self, old: &Value, new: &Value, path: &str) {
        let (old_default, new_default) = (self.default_of(self.old_doc, old), self.default_of(self.new_doc, new));
        if let (Some(old_default), Some(new_default)) = (old_default, new_default) {
            if old_default != new_default {
                self.report(path, Change::DefaultChanged, format!("{old_default} → {new_default}"));
            }
        }
    }

    /// The value a reader uses when the field is absent: its `default`, else `null` for an
    /// `Option` (serde's `None`); `None` when the schema does not say.
    fn default_of(&self, doc: &Value, schema: &Value) -> Option<Value> {
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
enum Direction {
    Removed,
    Added,
}

// ---- the normalised shape of a schema ------------------------------------------------------

/// The JSON types a schema can accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Null,
    Boolean,
    Integer,
    Number,
    String,
    Array,
    Object,
}

impl Kind {
    fn name(self) -> &'static str {
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

    fn parse(name: &str) -> Option<Kind> {
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

    fn of(value: &Value) -> Kind {
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
struct Shape {
    /// `true` / `{}`: any value at all.
    any: bool,
    null: bool,
    boolean: Option<Scalar>,
    integer: Option<Scalar>,
    number: Option<Scalar>,
    string: Option<Scalar>,
    array: Option<ArrayShape>,
    objects: Vec<ObjectShape>,
    /// Keywords this module does not model (`not`, `patternProperties`, ...): compared as
    /// plain JSON, and any difference is reported as [`Change::NotUnderstood`].
    unmodeled: BTreeMap<String, Value>,
}

#[derive(Debug, Default, Clone)]
struct Scalar {
    /// `enum`/`const`: the only values allowed, as JSON text (`"paid"`); `None`: any value.
    values: Option<BTreeSet<String>>,
    format: Option<String>,
    integer_range: Range<i128>,
    number_range: Range<f64>,
    /// Other restricting keywords: `pattern`, `minLength`, `maxLength`, a string's `format`.
    constraints: BTreeMap<String, Value>,
}

/// Inclusive bounds; `None` is unbounded.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Range<T> {
    low: Option<T>,
    high: Option<T>,
}

#[derive(Debug, Default)]
struct ArrayShape {
    items: Option<Value>,
    prefix_items: Vec<Value>,
    constraints: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, PartialEq)]
enum Additional {
    /// No `additionalProperties`: unknown fields are skipped (serde's default).
    Open,
    /// `additionalProperties: false`: `deny_unknown_fields`.
    Closed,
    /// `additionalProperties: {schema}`: a map whose values have this schema.
    Values(Value),
}

#[derive(Debug, Clone)]
struct ObjectShape {
    /// The `$ref` this object was reached through, to recognise recursion.
    origin: Option<String>,
    properties: BTreeMap<String, Value>,
    required: BTreeSet<String>,
    additional: Additional,
    /// How an enum variant is recognised, if this object is one.
    tag: Option<Tag>,
    constraints: BTreeMap<String, Value>,
}

/// How an object variant of an enum is told apart from its siblings.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Tag {
    /// Internally or adjacently tagged: a required field with a constant value.
    Field { name: String, value: String },
    /// Externally tagged: a closed object with the variant's name as its only field.
    External(String),
}

impl Tag {
    fn path(&self, path: &str) -> String {
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
    fn kinds(&self) -> BTreeSet<Kind> {
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

    fn scalar(&self, kind: Kind) -> Option<&Scalar> {
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
    fn is_variants(&self, kind: Kind) -> bool {
        match kind {
            Kind::Object => !self.objects.is_empty() && self.objects.iter().all(|object| object.tag.is_some()),
            kind => self.scalar(kind).is_some_and(|scalar| scalar.values.is_some()),
        }
    }

    /// A short human description, e.g. `string or null`, `integer (uint32)`.
    fn describe(&self) -> String {
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
    fn absorb(&mut self, other: Shape) {
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
fn merge_scalar(into: &mut Option<Scalar>, other: Option<Scalar>) {
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

fn hull<T: PartialOrd + Copy>(a: Range<T>, b: Range<T>) -> Range<T> {
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
fn within<T: PartialOrd>(inner: &Range<T>, outer: &Range<T>) -> bool {
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

fn show_range<T: fmt::Display>(range: &Range<T>) -> String {
    let show = |bound: &Option<T>| {
        bound
            .as_ref()
            .map_or_else(|| "unbounded".to_owned(), ToString::to_string)
    };
    format!("[{}, {}]", show(&range.low), show(&range.high))
}

fn show_format(format: &Option<String>) -> &str {
    format.as_deref().unwrap_or("no format")
}

fn join_values(values: &BTreeSet<String>) -> String {
    values.iter().map(String::as_str).collect::<Vec<_>>().join(" | ")
}

/// `$.lines` + `sku` → `$.lines.sku`; names that are not plain words are quoted.
fn field_path(path: &str, name: &str) -> String {
    if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        format!("{path}.{name}")
    } else {
        format!("{path}[{}]", Value::String(name.to_owned()))
    }
}

/// Keywords that document and never restrict.
const ANNOTATIONS: &[&str] = &[
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

/// Keywords this module interprets.
const MODELED: &[&str] = &[
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

const STRING_CONSTRAINTS: &[&str] = &["format", "pattern", "minLength", "maxLength"];
const NUMBER_CONSTRAINTS: &[&str] = &["multipleOf"];
const ARRAY_CONSTRAINTS: &[&str] = &["minItems", "maxItems", "uniqueItems"];
const OBJECT_CONSTRAINTS: &[&str] = &["minProperties", "maxProperties"];

fn pick(map: &Map<String, Value>, keys: &[&str]) -> BTreeMap<String, Value> {
    keys.iter()
        .filter_map(|key| map.get(*key).map(|value| ((*key).to_owned(), value.clone())))
        .collect()
}

/// `node` with its `$ref` and `allOf` folded in (sibling keywords apply together with the
/// referenced schema), and the `$ref` it was reached through.
fn resolve(doc: &Value, node: &Value, hops: usize) -> Result<(Value, Option<String>), String> {
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
fn as_object(schema: Value) -> Map<String, Value> {
    match schema {
        Value::Object(map) => map,
        Value::Bool(false) => Map::from_iter([("not".to_owned(), Value::Object(Map::new()))]),
        _ => Map::new(),
    }
}

/// Both schemas at once: properties and required lists are united, other keywords of `top`
/// win (they are annotations in practice: a field's description beside a `$ref`).
fn merge(mut base: Map<String, Value>, top: Map<String, Value>) -> Map<String, Value> {
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

fn flatten(doc: &Value, node: &Value) -> Result<Shape, String> {
    let (node, origin) = resolve(doc, node, 0)?;
    flatten_resolved(doc, &node, origin, 0)
}

fn flatten_resolved(doc: &Value, node: &Value, origin: Option<String>, depth: usize) -> Result<Shape, String> {
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
            .filter(|(key, _)| !matches!(key.as_str(), "anyOf" | "oneOf") && !ANNOTATIONS.contains(&key.as_str()))
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
        if !MODELED.contains(&key.as_str()) && !ANNOTATIONS.contains(&key.as_str()) {
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
fn infer_kinds(map: &Map<String, Value>, constants: Option<&[Value]>) -> BTreeSet<Kind> {
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

fn object_shape(map: &Map<String, Value>, origin: Option<String>) -> Result<ObjectShape, String> {
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
fn variant_tag(object: &ObjectShape, inline: bool) -> Option<Tag> {
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
fn integer_range(map: &Map<String, Value>, format: Option<&str>) -> Range<i128> {
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
fn number_range(map: &Map<String, Value>) -> Range<f64> {
    let bound = |keys: [&str; 2]| keys.iter().find_map(|key| map.get(*key).and_then(Value::as_f64));
    Range {
        low: bound(["minimum", "exclusiveMinimum"]),
        high: bound(["maximum", "exclusiveMaximum"]),
    }
}

#[cfg(test)]
mod tests {
    //! A corpus of changes, each a `Message` type before and after, judged on the schema
    //! schemars generates for it (as the contract crate does). Each test asserts the exact
    //! list of (path, change) found, so a rule that stops firing, or fires somewhere else,
    //! fails. Some also decode real MessagePack across the change, to show the rule is what
    //! serde does.

    use super::*;
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize, de::DeserializeOwned};
    use serde_json::json;

    fn schema<T: JsonSchema>() -> Value {
        serde_json::to_value(schemars::schema_for!(T)).expect("a schema is JSON")
    }

    /// The FULL verdict on `before::Message` → `after::Message`, defined in the braces.
    macro_rules! change {
        (before: { $($before:tt)* } after: { $($after:tt)* }) => {{
            #[allow(dead_code)]
            mod before {
                use super::*;
                $($before)*
            }
            #[allow(dead_code)]
            mod after {
                use super::*;
                $($after)*
            }
            check_full(&schema::<before::Message>(), &schema::<after::Message>())
        }};
    }

    /// (path, change) of each finding, in the order found.
    fn where_and_what(incompatibilities: &[Incompatibility]) -> Vec<(&str, Change)> {
        incompatibilities.iter().map(|i| (i.path.as_str(), i.change)).collect()
    }

    fn encode<T: Serialize>(value: &T) -> Vec<u8> {
        rmp_serde::to_vec_named(value).expect("encodes")
    }

    fn decodes<T: DeserializeOwned>(bytes: &[u8]) -> bool {
        rmp_serde::from_slice::<T>(bytes).is_ok()
    }

    // ---- fields ------------------------------------------------------------------------

    #[derive(Serialize, Deserialize, JsonSchema)]
    struct OldOrder {
        order_id: String,
    }

    #[derive(Serialize, Deserialize, JsonSchema)]
    struct OrderWithOptionalChannel {
        order_id: String,
        #[serde(default)]
        channel: String,
        note: Option<String>,
    }

    #[derive(Serialize, Deserialize, JsonSchema)]
    struct OrderWithRequiredChannel {
        order_id: String,
        channel: String,
    }

    #[test]
    fn adding_an_optional_field_is_compatible_and_serde_agrees() {
        let found = check_full(&schema::<OldOrder>(), &schema::<OrderWithOptionalChannel>());
        assert_eq!(found, []);
        // Old readers skip the unknown fields; new readers default the missing ones.
        let new = encode(&OrderWithOptionalChannel {
            order_id: "o1".into(),
            channel: "web".into(),
            note: Some("gift".into()),
        });
        assert!(decodes::<OldOrder>(&new));
        assert!(decodes::<OrderWithOptionalChannel>(&encode(&OldOrder {
            order_id: "o1".into()
        })));
    }

    #[test]
    fn adding_a_required_field_breaks_new_readers_of_old_data() {
        let found = check_full(&schema::<OldOrder>(), &schema::<OrderWithRequiredChannel>());
        assert_eq!(where_and_what(&found), [("$.channel", Change::RequiredFieldAdded)]);
        assert!(!decodes::<OrderWithRequiredChannel>(&encode(&OldOrder {
            order_id: "o1".into()
        })));
    }

    #[test]
    fn removing_a_required_field_breaks_old_readers_of_new_data() {
        let found = check_full(&schema::<OrderWithRequiredChannel>(), &schema::<OldOrder>());
        assert_eq!(where_and_what(&found), [("$.channel", Change::RequiredFieldRemoved)]);
        assert!(!decodes::<OrderWithRequiredChannel>(&encode(&OldOrder {
            order_id: "o1".into()
        })));
    }

    #[test]
    fn removing_an_optional_field_is_reported() {
        let found = check_full(&schema::<OrderWithOptionalChannel>(), &schema::<OldOrder>());
        assert_eq!(
            where_and_what(&found),
            [
                ("$.channel", Change::OptionalFieldRemoved),
                ("$.note", Change::OptionalFieldRemoved)
            ]
        );
    }

    #[test]
    fn renaming_a_field_is_a_removal_and_an_addition() {
        let found = change! {
            before: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub customer: String } }
            after: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub customer_id: String } }
        };
        assert_eq!(
            where_and_what(&found),
            [
                ("$.customer", Change::RequiredFieldRemoved),
                ("$.customer_id", Change::RequiredFieldAdded)
            ]
        );
    }

    #[test]
    fn making_a_field_required_or_optional_is_reported() {
        let found = change! {
            before: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { #[serde(default)] pub channel: String } }
            after: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub channel: String } }
        };
        assert_eq!(where_and_what(&found), [("$.channel", Change::FieldMadeRequired)]);

        let found = change! {
            before: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub channel: String } }
            after: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { #[serde(default)] pub channel: String } }
        };
        assert_eq!(where_and_what(&found), [("$.channel", Change::FieldMadeOptional)]);
    }

    #[test]
    fn changing_a_default_is_reported() {
        let found = change! {
            before: {
                #[derive(Serialize, Deserialize, JsonSchema)]
                pub struct Message { #[serde(default = "seven")] pub limit: u32 }
                fn seven() -> u32 { 7 }
            }
            after: {
                #[derive(Serialize, Deserialize, JsonSchema)]
                pub struct Message { #[serde(default = "eight")] pub limit: u32 }
                fn eight() -> u32 { 8 }
            }
        };
        assert_eq!(where_and_what(&found), [("$.limit", Change::DefaultChanged)]);
        assert_eq!(found[0].detail, "7 → 8");
    }

    #[test]
    fn a_field_added_to_an_object_that_denies_unknown_fields_is_reported() {
        let found = change! {
            before: {
                #[derive(Serialize, Deserialize, JsonSchema)]
                #[serde(deny_unknown_fields)]
                pub struct Message { pub id: String }
            }
            after: {
                #[derive(Serialize, Deserialize, JsonSchema)]
                #[serde(deny_unknown_fields)]
                pub struct Message { pub id: String, #[serde(default)] pub channel: String }
            }
        };
        assert_eq!(
            where_and_what(&found),
            [("$.channel", Change::FieldAddedToClosedObject)]
        );
    }

    #[test]
    fn documentation_changes_are_compatible() {
        let found = change! {
            before: {
                #[derive(Serialize, Deserialize, JsonSchema)]
                pub struct Message { pub id: String }
            }
            after: {
                /// Now documented.
                #[derive(Serialize, Deserialize, JsonSchema)]
                #[schemars(title = "Renamed title")]
                pub struct Message {
                    /// The id.
                    pub id: String,
                }
            }
        };
        assert_eq!(found, []);
    }

    // ---- types -------------------------------------------------------------------------

    #[test]
    fn retyping_a_field_is_reported_with_both_types() {
        let found = change! {
            before: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub total: String } }
            after: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub total: u64 } }
        };
        assert_eq!(where_and_what(&found), [("$.total", Change::Retyped)]);
        assert_eq!(found[0].detail, "string → integer (uint64)");
    }

    #[derive(Serialize, Deserialize, JsonSchema)]
    struct Quantity32 {
        quantity: u32,
    }

    #[derive(Serialize, Deserialize, JsonSchema)]
    struct Quantity64 {
        quantity: u64,
    }

    #[test]
    fn narrowing_an_integer_breaks_new_readers_and_widening_breaks_old_ones() {
        let narrowed = check_full(&schema::<Quantity64>(), &schema::<Quantity32>());
        assert_eq!(where_and_what(&narrowed), [("$.quantity", Change::Narrowed)]);
        assert!(
            narrowed[0].detail.starts_with("uint64 → uint32"),
            "{}",
            narrowed[0].detail
        );
        let widened = check_full(&schema::<Quantity32>(), &schema::<Quantity64>());
        assert_eq!(where_and_what(&widened), [("$.quantity", Change::Widened)]);

        // What serde does with a value only the wider type holds: the narrower reader fails,
        // whichever side it is on.
        let big = encode(&Quantity64 {
            quantity: u64::from(u32::MAX) + 1,
        });
        assert!(!decodes::<Quantity32>(&big));
    }

    #[test]
    fn a_signedness_change_is_a_retype_and_a_range_attribute_narrows() {
        let found = change! {
            before: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub delta: i32 } }
            after: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub delta: u32 } }
        };
        assert_eq!(where_and_what(&found), [("$.delta", Change::Retyped)]);

        let found = change! {
            before: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub limit: u32 } }
            after: {
                #[derive(Serialize, Deserialize, JsonSchema)]
                pub struct Message { #[schemars(range(min = 1, max = 100))] pub limit: u32 }
            }
        };
        assert_eq!(where_and_what(&found), [("$.limit", Change::Narrowed)]);
        assert_eq!(found[0].detail, "[0, 4294967295] → [1, 100]");
    }

    #[test]
    fn integer_to_float_widens() {
        let found = change! {
            before: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub amount: u32 } }
            after: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub amount: f64 } }
        };
        assert_eq!(where_and_what(&found), [("$.amount", Change::Widened)]);
        assert_eq!(found[0].detail, "integer → number");
    }

    #[test]
    fn nullable_to_non_null_narrows_and_back_widens() {
        let found = change! {
            before: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub notes: Vec<Option<String>> } }
            after: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub notes: Vec<String> } }
        };
        assert_eq!(where_and_what(&found), [("$.notes[]", Change::Narrowed)]);
        assert_eq!(found[0].detail, "nullable → non-null");

        let found = change! {
            before: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub notes: Vec<String> } }
            after: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub notes: Vec<Option<String>> } }
        };
        assert_eq!(where_and_what(&found), [("$.notes[]", Change::Widened)]);
        assert_eq!(found[0].detail, "non-null → nullable");
    }

    #[test]
    fn an_option_field_made_plain_is_both_required_and_non_null() {
        let found = change! {
            before: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub note: Option<String> } }
            after: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub note: String } }
        };
        assert_eq!(
            where_and_what(&found),
            [("$.note", Change::FieldMadeRequired), ("$.note", Change::Narrowed)]
        );
    }

    #[test]
    fn string_to_enum_narrows_and_enum_to_string_widens() {
        let found = change! {
            before: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub status: String } }
            after: {
                #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub status: Status }
                #[derive(Serialize, Deserialize, JsonSchema)] #[serde(rename_all = "kebab-case")] pub enum Status { Placed, Paid }
            }
        };
        assert_eq!(where_and_what(&found), [("$.status", Change::Narrowed)]);
        assert_eq!(found[0].detail, r#"string → enum "paid" | "placed""#);

        let found = change! {
            before: {
                #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub status: Status }
                #[derive(Serialize, Deserialize, JsonSchema)] #[serde(rename_all = "kebab-case")] pub enum Status { Placed, Paid }
            }
            after: { #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub status: String } }
        };
        assert_eq!(where_and_what(&found), [("$.status", Change::Widened)]);
    }

    #[test]
    fn a_string_format_added_narrows() {
        let old = json!({"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]});
        let new =
            json!({"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}}, "required": ["id"]});
        assert_eq!(where_and_what(&check_full(&old, &new)), [("$.id", Change::Narrowed)]);
        assert_eq!(where_and_what(&check_full(&new, &old)), [("$.id", Change::Widened)]);
    }

    // ---- enums -------------------------------------------------------------------------

    #[derive(Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "kebab-case")]
    enum TwoStatuses {
        Placed,
        Paid,
    }

    #[derive(Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "kebab-case")]
    enum ThreeStatuses {
        Placed,
        Paid,
        Refunded,
    }

    #[test]
    fn adding_an_enum_variant_is_incompatible_because_old_readers_cannot_decode_it() {
        let found = check_full(&schema::<TwoStatuses>(), &schema::<ThreeStatuses>());
        assert_eq!(where_and_what(&found), [("$", Change::VariantAdded)]);
        assert_eq!(found[0].detail, r#""refunded""#);
        assert!(!decodes::<TwoStatuses>(&encode(&ThreeStatuses::Refunded)));
    }

    #[test]
    fn removing_an_enum_variant_is_incompatible_because_new_readers_cannot_decode_old_data() {
        let found = check_full(&schema::<ThreeStatuses>(), &schema::<TwoStatuses>());
        assert_eq!(where_and_what(&found), [("$", Change::VariantRemoved)]);
        assert_eq!(found[0].detail, r#""refunded""#);
    }

    #[test]
    fn documented_variants_are_compared_as_one_enum() {
        // With doc comments schemars emits `oneOf` of an `enum` and one `const` per variant
        // (as for `OrderStatus` in the contract): still one set of values.
        let found = change! {
            before: {
                #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub history: Vec<Status> }
                #[derive(Serialize, Deserialize, JsonSchema)]
                #[serde(rename_all = "kebab-case")]
                pub enum Status { Placed, /// Terminal.
                    Cancelled }
            }
            after: {
                #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub history: Vec<Status> }
                #[derive(Serialize, Deserialize, JsonSchema)]
                #[serde(rename_all = "kebab-case")]
                pub enum Status { /// First.
                    Placed, Cancelled, /// Terminal too.
                    Completed }
            }
        };
        assert_eq!(where_and_what(&found), [("$.history[]", Change::VariantAdded)]);
        assert_eq!(found[0].detail, r#""completed""#);
    }

    #[test]
    fn externally_tagged_variants_are_matched_by_name() {
        let found = change! {
            before: {
                #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub payment: Payment }
                #[derive(Serialize, Deserialize, JsonSchema)]
                pub enum Payment { Free, Card { last4: String }, Voucher(u32) }
            }
            after: {
                #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub payment: Payment }
                #[derive(Serialize, Deserialize, JsonSchema)]
                pub enum Payment { Free, Card { last4: u16 }, Invoice { due_days: u8 } }
            }
        };
        assert_eq!(
            where_and_what(&found),
            [
                ("$.payment.Card.last4", Change::Retyped),
                ("$.payment", Change::VariantAdded),
                ("$.payment", Change::VariantRemoved),
            ]
        );
        assert_eq!(found[1].detail, "Invoice");
        assert_eq!(found[2].detail, "Voucher");
    }

    #[test]
    fn internally_tagged_variants_are_matched_by_their_tag() {
        let found = change! {
            before: {
                #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub payment: Payment }
                #[derive(Serialize, Deserialize, JsonSchema)]
                #[serde(tag = "kind", rename_all = "snake_case")]
                pub enum Payment { Free, Card { last4: String } }
            }
            after: {
                #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub payment: Payment }
                #[derive(Serialize, Deserialize, JsonSchema)]
                #[serde(tag = "kind", rename_all = "snake_case")]
                pub enum Payment { Free, Card { last4: String, holder: String }, Invoice { due_days: u8 } }
            }
        };
        assert_eq!(
            where_and_what(&found),
            [
                (r#"$.payment(kind="card").holder"#, Change::RequiredFieldAdded),
                ("$.payment", Change::VariantAdded),
            ]
        );
        assert_eq!(found[1].detail, r#"kind="invoice""#);
    }

    #[test]
    fn a_data_variant_added_to_a_unit_only_enum_is_a_variant_change() {
        let found = change! {
            before: {
                #[derive(Serialize, Deserialize, JsonSchema)] pub enum Message { Free }
            }
            after: {
                #[derive(Serialize, Deserialize, JsonSchema)] pub enum Message { Free, Voucher(u32) }
            }
        };
        assert_eq!(where_and_what(&found), [("$", Change::VariantAdded)]);
        assert_eq!(found[0].detail, "Voucher");
    }

    // ---- nesting -----------------------------------------------------------------------

    #[test]
    fn a_change_in_a_referenced_definition_is_reported_where_it_is_used() {
        let found = change! {
            before: {
                #[derive(Serialize, Deserialize, JsonSchema)]
                pub struct Message { pub lines: Vec<Line>, pub returned: Option<Line> }
                #[derive(Serialize, Deserialize, JsonSchema)]
                pub struct Line { pub sku: String, pub quantity: u32 }
            }
            after: {
                #[derive(Serialize, Deserialize, JsonSchema)]
                pub struct Message { pub lines: Vec<Line>, pub returned: Option<Line> }
                #[derive(Serialize, Deserialize, JsonSchema)]
                pub struct Line { pub sku: u64, pub quantity: u32, pub currency: String }
            }
        };
        assert_eq!(
            where_and_what(&found),
            [
                ("$.lines[].currency", Change::RequiredFieldAdded),
                ("$.lines[].sku", Change::Retyped),
                ("$.returned.currency", Change::RequiredFieldAdded),
                ("$.returned.sku", Change::Retyped),
            ]
        );
    }

    #[test]
    fn map_values_and_tuple_elements_have_their_own_paths() {
        let found = change! {
            before: {
                #[derive(Serialize, Deserialize, JsonSchema)]
                pub struct Message { pub stock: std::collections::BTreeMap<String, u32>, pub pair: (u8, String) }
            }
            after: {
                #[derive(Serialize, Deserialize, JsonSchema)]
                pub struct Message { pub stock: std::collections::BTreeMap<String, String>, pub pair: (u8, u32) }
            }
        };
        assert_eq!(
            where_and_what(&found),
            [("$.pair[1]", Change::Retyped), ("$.stock.*", Change::Retyped)]
        );
    }

    #[test]
    fn a_struct_turned_into_a_map_is_a_retype() {
        let found = change! {
            before: {
                #[derive(Serialize, Deserialize, JsonSchema)] pub struct Message { pub stock: Stock }
                #[derive(Serialize, Deserialize, JsonSchema)] pub struct Stock { pub available: u32 }
            }
            after: {
                #[derive(Serialize, Deserialize, JsonSchema)]
                pub struct Message { pub stock: std::collections::BTreeMap<String, u32> }
            }
        };
        assert_eq!(
            where_and_what(&found),
            [
                ("$.stock.available", Change::RequiredFieldRemoved),
                ("$.stock", Change::Retyped)
            ]
        );
    }

    #[test]
    fn recursive_types_are_walked_once() {
        let found = change! {
            before: {
                #[derive(Serialize, Deserialize, JsonSchema)]
                pub struct Message { pub label: String, pub children: Vec<Message>, pub parent: Option<Box<Message>> }
            }
            after: {
                #[derive(Serialize, Deserialize, JsonSchema)]
                pub struct Message { pub label: u32, pub children: Vec<Message>, pub parent: Option<Box<Message>> }
            }
        };
        assert_eq!(where_and_what(&found), [("$.label", Change::Retyped)]);
    }

    // ---- what the checker does not model -----------------------------------------------

    #[test]
    fn a_change_in_an_unmodelled_keyword_fails_closed() {
        let old = json!({"type": "object", "patternProperties": {"^x-": {"type": "string"}}});
        let new = json!({"type": "object", "patternProperties": {"^x-": {"type": "integer"}}});
        assert_eq!(where_and_what(&check_full(&old, &new)), [("$", Change::NotUnderstood)]);
        assert_eq!(check_full(&old, &old), []);
    }

    #[test]
    fn an_unresolvable_reference_fails_closed() {
        let old = json!({"type": "object", "properties": {"a": {"$ref": "#/$defs/Missing"}}});
        let found = check_full(&old, &old);
        assert_eq!(where_and_what(&found), [("$.a", Change::NotUnderstood)]);
        assert!(found[0].detail.contains("#/$defs/Missing"), "{}", found[0].detail);
    }

    // ---- the real contract -------------------------------------------------------------

    #[test]
    fn every_contract_schema_is_compatible_with_itself() {
        // No false alarms on what schemars really emits for the storefront.
        for message in schemas::registry::messages() {
            let schema = serde_json::to_value(&message.schema).expect("JSON");
            assert_eq!(check_full(&schema, &schema), [], "{}", message.name);
        }
    }

    #[test]
    fn a_field_removed_from_order_lines_of_orders_placed_is_reported_with_its_path() {
        let placed = schemas::registry::messages()
            .into_iter()
            .find(|message| message.name == "orders.placed.v1")
            .expect("orders.placed.v1 is in the registry");
        let old = serde_json::to_value(&placed.schema).expect("JSON");
        let mut new = old.clone();
        let line = new.pointer_mut("/$defs/OrderLine").expect("OrderLine is a definition");
        line["properties"].as_object_mut().expect("properties").remove("sku");
        line["required"]
            .as_array_mut()
            .expect("required")
            .retain(|name| name != "sku");

        let found = check_full(&old, &new);
        assert_eq!(
            where_and_what(&found),
            [("$.lines[].sku", Change::RequiredFieldRemoved)]
        );
        assert_eq!(
            found[0].to_string(),
            "$.lines[].sku: required field removed: readers of the old version fail on new messages that lack it"
        );
    }

    // ---- FULL_TRANSITIVE and the history -------------------------------------------------

    #[test]
    fn transitive_checks_catch_what_a_pairwise_check_misses() {
        // Revision 1 had `code: String`; revision 2 dropped it; the current one re-adds
        // `code` as a number. Pairwise (2 → current) that is an optional field added; against
        // revision 1 it is a retype, and replaying revision-1 events would fail.
        let first = json!({"type": "object", "properties": {"id": {"type": "string"}, "code": {"type": "string", "default": ""}}, "required": ["id"]});
        let second = json!({"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]});
        let current = json!({"type": "object", "properties": {"id": {"type": "string"}, "code": {"type": "integer", "format": "uint32", "minimum": 0, "default": 0}}, "required": ["id"]});
        assert_eq!(check_full(&second, &current), []);

        let revisions = [
            Revision {
                number: 1,
                schema: first,
            },
            Revision {
                number: 2,
                schema: second,
            },
        ];
        let found = check_full_transitive(&revisions, &current);
        let summary: Vec<_> = found
            .iter()
            .map(|f| {
                (
                    f.incompatibility.path.as_str(),
                    f.incompatibility.change,
                    f.revisions.clone(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("$.code", Change::DefaultChanged, vec!["0001".to_owned()]),
                ("$.code", Change::Retyped, vec!["0001".to_owned()]),
            ]
        );
    }

    #[test]
    fn the_same_change_against_several_revisions_is_listed_once() {
        let old = json!({"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]});
        let doc_only = json!({"type": "object", "description": "docs", "properties": {"id": {"type": "string"}}, "required": ["id"]});
        let current = json!({"type": "object", "properties": {"id": {"type": "string"}, "x": {"type": "string"}}, "required": ["id", "x"]});
        let revisions = [
            Revision { number: 1, schema: old },
            Revision {
                number: 2,
                schema: doc_only,
            },
        ];
        let found = check_full_transitive(&revisions, &current);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].revisions, ["0001", "0002"]);
        assert!(
            found[0].to_string().starts_with("$.x: required field added: ")
                && found[0].to_string().ends_with(" [against revisions 0001, 0002]"),
            "{}",
            found[0]
        );
    }

    #[test]
    fn history_is_numbered_appended_and_checked_for_gaps() {
        let dir = tempfile::tempdir().expect("tempdir");
        let history = dir.path().join("events/orders.placed.v1");
        assert_eq!(read_history(&history).expect("a missing history is empty"), []);

        let first = append_revision(&history, "{\"type\": \"object\"}\n").expect("appends");
        let second = append_revision(&history, "{\"type\": \"string\"}\n").expect("appends");
        assert_eq!(first, history.join("0001.json"));
        assert_eq!(second, history.join("0002.json"));
        assert!(append_revision(&history, "not json").is_err(), "only JSON is kept");
        std::fs::write(history.join("README.md"), "not a revision").expect("write");

        let revisions = read_history(&history).expect("reads");
        let labels: Vec<String> = revisions.iter().map(Revision::label).collect();
        assert_eq!(labels, ["0001", "0002"]);
        assert_eq!(revisions[1].schema, json!({"type": "string"}));

        std::fs::remove_file(&first).expect("remove");
        let err = read_history(&history).expect_err("a gap is refused");
        assert!(err.to_string().contains("revision 0001 is missing"), "{err}");
    }
}
