//! # Schema compatibility: FULL and FULL_TRANSITIVE, judged on JSON Schema
//!
//! docs/design.md §5: within a major version a message may only change compatibly, and the rule
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
//! `deny_unknown_fields`, `default` for `#[serde(default)]`. Descriptions, titles, examples and
//! extension keywords (`x-...`, such as the contract's `x-rust-type`) are documentation and
//! never matter.
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
//! | remove an optional field | [`Change::OptionalFieldRemoved`] | old readers silently get the default instead of the data (docs/design.md §5: removing is a new major) |
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
//!
//! ## Authorship
//!
//! Who may write a committed schema — the `schemas` crate's types, or by hand a component in
//! another language for its own messages — is decided in one place, [`authorship`], for both.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

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
                "mandate-compat does not model this part of the schema, so it cannot vouch for the change; review it by hand or teach the checker"
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

pub mod authorship;
mod checker;
mod history;
mod shape;
#[cfg(test)]
mod tests;

use checker::Checker;
pub use history::{Revision, append_revision, read_history};
