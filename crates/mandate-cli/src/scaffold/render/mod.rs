//! The files of a new component, as text, in the house style of `components/*`.
//!
//! What it generates, for `--subscribe orders.placed.v1 --serve count`:
//!
//! - `src/tally.rs`: the state, one `Tally` per key (counts per event type);
//! - `src/orders_placed.rs`: the handler, counting each event under a field it carries
//!   (`customer_id` when it has one);
//! - `src/contract.rs`: the component's own operations (`Count`, `CountRequest`), its contract
//!   until it moves into `schemas`; `src/queries.rs` answers them from the store;
//! - `src/lib.rs` with `component()`, `src/main.rs`, `Cargo.toml`, `manifest.json`;
//! - `tests/<name>.rs`: the component in-process against a real nats-server, fed one event of
//!   each type over the bus, asked over the bus; and the manifest check.
//!
//! Here: the naming plan (what every file calls things). `sources.rs` writes the crate's
//! sources, `test_file.rs` its test, `values.rs` the test's values of the schemas' types,
//! `text.rs` the template filling, doc-comment and `use` formatting they share. The larger
//! fixed texts are files of `../templates/` (`{{key}}` placeholders, `text::fill`); what varies
//! with the events and operations, and doc comments wrapped around names, is written here.

use std::collections::{BTreeMap, BTreeSet};

mod sources;
mod test_file;
pub(super) mod text;
mod values;

use super::contract::{EventSchema, TypeDef};
use super::names::{OpName, pascal, snake, snake_of_pascal};
use crate::subjects::EventSubject;
use text::use_line;
use values::Values;
pub use values::key_field;

/// A subscribed event, resolved in `schemas/`.
#[derive(Debug, Clone)]
pub struct Subscription {
    pub owner: String,
    pub name: String,
    pub version: u32,
    /// `OrderPlaced`
    pub type_name: String,
    /// `schemas::orders::OrderPlaced`
    pub type_path: String,
    /// The handler's module: `orders_placed` (`_v2` for later majors).
    pub module: String,
    /// The handler: `on_order_placed`.
    pub handler: String,
    /// The `String` field the handler counts by; `None`: every event counts under `"all"`.
    pub key: Option<String>,
    /// The test's value of the event, a Rust expression.
    pub test_value: String,
}

impl Subscription {
    pub fn ce_type(&self) -> String {
        format!("{}.{}.v{}", self.owner, self.name, self.version)
    }

    /// The key expression the test queries with.
    fn test_key(&self) -> &'static str {
        if self.key.is_some() { "KEY" } else { "\"all\"" }
    }
}

/// An operation the component serves, with its Rust names.
#[derive(Debug, Clone)]
pub struct Operation {
    pub op: OpName,
    /// `Count`
    pub type_name: String,
    /// `CountRequest`
    pub request: String,
    /// `count`, the query in `queries.rs`.
    pub query: String,
}

/// Everything a scaffold is made of.
#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    /// The lib crate's name: `customer_tally`.
    pub krate: String,
    pub description: String,
    /// The workspace's version (the crate inherits it; the manifest records it).
    pub version: String,
    pub subscriptions: Vec<Subscription>,
    pub operations: Vec<Operation>,
}

/// Identifiers that names derived from user input must not take.
const TAKEN_TYPES: &[&str] = &[
    "Tally",
    "Component",
    "Event",
    "Bus",
    "Options",
    "NatsServer",
    "Duration",
    "View",
];
const TAKEN_FNS: &[&str] = &["tally_key"];

impl Plan {
    /// Resolves the Rust names; `events` are the contract's events with their schemas and
    /// types, in the order given.
    pub fn new(
        name: &str,
        description: String,
        version: String,
        events: Vec<(EventSubject, EventSchema, TypeDef)>,
        ops: Vec<OpName>,
        warnings: &mut Vec<String>,
    ) -> Plan {
        let mut subscriptions = Vec::new();
        for (event, schema, def) in events {
            let EventSubject {
                owner,
                name: event,
                version,
            } = event;
            let mut module = format!("{}_{}", snake(&owner), snake(&event)).replace('-', "_");
            if version > 1 {
                module.push_str(&format!("_v{version}"));
            }
            let key = key_field(&def);
            let test_value = {
                let mut values = Values {
                    schema: &schema,
                    warnings: &mut *warnings,
                    context: format!("the test's {owner}.{event}.v{version}"),
                };
                values.of_def(&def, key.as_deref(), 0)
            };
            subscriptions.push(Subscription {
                handler: format!("on_{}", snake_of_pascal(def.name())),
                type_name: def.name().to_owned(),
                type_path: def.path.clone(),
                module,
                key,
                test_value,
                owner,
                name: event,
                version,
            });
        }
        let mut taken: BTreeSet<String> = TAKEN_TYPES.iter().map(|s| (*s).to_owned()).collect();
        taken.extend(subscriptions.iter().map(|s| s.type_name.clone()));
        let mut operations = Vec::new();
        for op in ops {
            let mut type_name = pascal(&op.name);
            let mut query = snake(&op.name);
            if op.version > 1 {
                type_name.push_str(&format!("V{}", op.version));
                query.push_str(&format!("_v{}", op.version));
            }
            if taken.contains(&type_name) || taken.contains(&format!("{type_name}Request")) {
                type_name.push_str("Op");
            }
            if TAKEN_FNS.contains(&query.as_str()) {
                query.push_str("_op");
            }
            taken.insert(type_name.clone());
            taken.insert(format!("{type_name}Request"));
            operations.push(Operation {
                request: format!("{type_name}Request"),
                type_name,
                query,
                op,
            });
        }
        Plan {
            krate: name.replace('-', "_"),
            name: name.to_owned(),
            description,
            version,
            subscriptions,
            operations,
        }
    }

    /// The manifest, exactly as `component().manifest()` of the generated crate will be.
    pub fn manifest(&self) -> mandate::Manifest {
        // The kit keys subscriptions by subject and groups them by stream in subject order.
        let mut by_subject: BTreeMap<String, &Subscription> = BTreeMap::new();
        for sub in &self.subscriptions {
            by_subject.insert(format!("evt.{}", sub.ce_type()), sub);
        }
        let mut subscribes: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for sub in by_subject.values() {
            subscribes
                .entry(mandate::stream_name(&sub.owner))
                .or_default()
                .push(sub.ce_type());
        }
        mandate::Manifest {
            name: self.name.clone(),
            version: self.version.clone(),
            description: self.description.clone(),
            publishes: Vec::new(),
            subscribes,
            serves: self
                .operations
                .iter()
                .map(|o| format!("{}.{}.v{}", self.name, o.op.name, o.op.version))
                .collect(),
            partitions: None,
        }
    }

    /// Every file, by path relative to the component's directory.
    pub fn files(&self) -> anyhow::Result<Vec<(String, String)>> {
        let mut files = vec![
            ("Cargo.toml".to_owned(), self.cargo_toml()?),
            (
                "manifest.json".to_owned(),
                serde_json::to_string_pretty(&self.manifest())? + "\n",
            ),
            ("src/lib.rs".to_owned(), self.lib_rs()),
            ("src/main.rs".to_owned(), self.main_rs()),
            ("src/tally.rs".to_owned(), self.tally_rs()),
        ];
        for sub in &self.subscriptions {
            files.push((format!("src/{}.rs", sub.module), self.handler_rs(sub)));
        }
        if !self.operations.is_empty() {
            files.push(("src/contract.rs".to_owned(), self.contract_rs()));
            files.push(("src/queries.rs".to_owned(), self.queries_rs()));
        }
        files.push((format!("tests/{}.rs", self.name), self.test_rs()));
        Ok(files)
    }

    fn qualified(&self, op: &Operation) -> String {
        format!("{}.{}.v{}", self.name, op.op.name, op.op.version)
    }

    /// How lib.rs and the test name a subscription's type: by its name when it is imported,
    /// by its path when another subscribed type has the same name.
    fn type_ref(&self, sub: &Subscription) -> String {
        let same_name = self
            .subscriptions
            .iter()
            .filter(|s| s.type_name == sub.type_name)
            .count();
        if same_name > 1 {
            sub.type_path.clone()
        } else {
            sub.type_name.clone()
        }
    }

    /// `use` lines for the subscribed types that are imported, sorted and grouped per module.
    fn event_imports(&self) -> Vec<String> {
        let mut by_module: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for sub in &self.subscriptions {
            if self.type_ref(sub) == sub.type_name {
                let module = sub.type_path.rsplit_once("::").map_or("schemas", |(m, _)| m);
                by_module
                    .entry(module.to_owned())
                    .or_default()
                    .insert(sub.type_name.clone());
            }
        }
        by_module
            .into_iter()
            .map(|(module, names)| use_line(&module, &names.into_iter().collect::<Vec<_>>()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn rust_type(path: &str) -> Value {
        json!({"crate": "schemas", "version": "*", "path": path})
    }

    /// `shop.placed.v2`: a field of each kind, and one (`raw`, any value) the scaffold cannot
    /// construct.
    fn placed() -> Value {
        json!({
            "title": "Placed",
            "type": "object",
            "properties": {
                "customer_id": {"type": "string", "default": ""},
                "first": {"$ref": "#/$defs/Line"},
                "kind": {"$ref": "#/$defs/Kind"},
                "lines": {"type": "array", "items": {"$ref": "#/$defs/Line"}},
                "note": {"type": ["string", "null"]},
                "order_id": {"type": "string"},
                "pair": {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "boolean"}]},
                "raw": {},
                "wrapped": {"$ref": "#/$defs/Wrapper"}
            },
            "required": ["order_id", "lines", "first", "kind", "wrapped", "pair", "raw"],
            "x-rust-type": rust_type("schemas::shop::Placed"),
            "$defs": {
                "Kind": {
                    "oneOf": [
                        {"type": "object", "properties": {"Tuple": {"type": "integer"}}, "required": ["Tuple"]},
                        {"type": "string", "const": "Plain"}
                    ],
                    "x-rust-type": rust_type("schemas::shop::Kind"),
                    "x-rust-variants": {"Plain": "Plain"}
                },
                "Line": {
                    "type": "object",
                    "properties": {"quantity": {"type": "integer"}, "sku": {"type": "string"}},
                    "required": ["sku", "quantity"],
                    "x-rust-type": rust_type("schemas::shop::Line")
                },
                "Wrapper": {"$ref": "#/$defs/Line", "x-rust-type": rust_type("schemas::shop::Wrapper")}
            }
        })
    }

    /// `clock.tick.v1`: no `String` field to count by.
    fn tick() -> Value {
        json!({
            "type": "object",
            "properties": {"n": {"type": "integer", "format": "uint64"}},
            "required": ["n"],
            "x-rust-type": rust_type("schemas::shop::Tick")
        })
    }

    fn plan(ops: &[&str]) -> (Plan, Vec<String>) {
        let events = [("shop.placed.v2", placed()), ("clock.tick.v1", tick())]
            .into_iter()
            .map(|(event, schema)| {
                let schema = EventSchema::new(format!("schemas/json/events/{event}.json"), schema);
                let def = schema.event_type().expect("named");
                (crate::scaffold::parse_event_type(event).expect("event"), schema, def)
            })
            .collect();
        let ops = ops
            .iter()
            .map(|op| crate::scaffold::names::parse_op("my-tally", op).expect("op"))
            .collect();
        let mut warnings = Vec::new();
        let plan = Plan::new("my-tally", "counts".into(), "0.1.0".into(), events, ops, &mut warnings);
        (plan, warnings)
    }

    #[test]
    fn names_are_derived_and_clashes_avoided() {
        let (plan, _) = plan(&["count", "count.v2", "tally", "placed"]);
        assert_eq!(plan.krate, "my_tally");
        let subs: Vec<(&str, &str)> = plan
            .subscriptions
            .iter()
            .map(|s| (s.module.as_str(), s.handler.as_str()))
            .collect();
        assert_eq!(subs, vec![("shop_placed_v2", "on_placed"), ("clock_tick", "on_tick")]);
        assert_eq!(plan.subscriptions[0].key.as_deref(), Some("customer_id"));
        assert_eq!(plan.subscriptions[1].key, None, "no String field");
        let ops: Vec<(&str, &str, &str)> = plan
            .operations
            .iter()
            .map(|o| (o.type_name.as_str(), o.request.as_str(), o.query.as_str()))
            .collect();
        assert_eq!(
            ops,
            vec![
                ("Count", "CountRequest", "count"),
                ("CountV2", "CountV2Request", "count_v2"),
                ("TallyOp", "TallyOpRequest", "tally"),
                ("PlacedOp", "PlacedOpRequest", "placed"),
            ]
        );
    }

    #[test]
    fn the_manifest_groups_subscriptions_by_stream_like_the_kit() {
        let (plan, _) = plan(&["count"]);
        let json = serde_json::to_value(plan.manifest()).expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "name": "my-tally",
                "version": "0.1.0",
                "description": "counts",
                "publishes": [],
                "subscribes": {"EVT_CLOCK": ["clock.tick.v1"], "EVT_SHOP": ["shop.placed.v2"]},
                "serves": ["my-tally.count.v1"],
            })
        );
    }

    #[test]
    fn test_values_construct_every_field() {
        let (plan, warnings) = plan(&[]);
        let value = &plan.subscriptions[0].test_value;
        for expected in [
            "schemas::shop::Placed {",
            "order_id: \"order-id-1\".into(),",
            "customer_id: KEY.into(),",
            "lines: Vec::new(),",
            "first: schemas::shop::Line {",
            "        sku: \"sku-1\".into(),",
            "kind: schemas::shop::Kind::Plain,",
            "wrapped: schemas::shop::Wrapper(schemas::shop::Line {",
            "pair: (1, false),",
            "note: None,",
            "raw: Default::default(),",
        ] {
            assert!(value.contains(expected), "{expected:?} not in\n{value}");
        }
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("`raw`"), "{warnings:?}");
    }

    #[test]
    fn imports_are_in_rustfmt_order() {
        let names = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            use_line(
                "crate::contract",
                &names(&["LookupV10", "LookupV2", "Count", "Tally", "tally_key"])
            ),
            "use crate::contract::{Count, LookupV2, LookupV10, Tally, tally_key};\n"
        );
        assert_eq!(
            use_line("schemas::orders", &names(&["OrderPlaced"])),
            "use schemas::orders::OrderPlaced;\n"
        );
    }

    #[test]
    fn doc_comments_are_wrapped_whatever_the_names() {
        let (mut plan, _) = plan(&["count-everything-that-was-ever-placed-or-ticked"]);
        plan.description = "counts every order placed and every tick of the clock, per customer, forever".into();
        for (path, text) in plan.files().expect("files") {
            for line in text.lines().filter(|l| l.trim_start().starts_with("//")) {
                assert!(
                    line.len() <= 100,
                    "{path}: a comment line of {} columns:\n{line}",
                    line.len()
                );
            }
        }
    }

    #[test]
    fn every_template_is_filled_whatever_the_component_does() {
        let (with_events, _) = plan(&["count"]);
        let (events_only, _) = plan(&[]);
        let ops = vec![crate::scaffold::names::parse_op("my-tally", "count").expect("op")];
        let ops_only = Plan::new(
            "my-tally",
            "{{name}}".into(),
            "0.1.0".into(),
            Vec::new(),
            ops,
            &mut Vec::new(),
        );
        for plan in [with_events, events_only, ops_only] {
            for (path, text) in plan.files().expect("files") {
                let left = text.replace("{{name}}", "");
                assert!(!left.contains("{{"), "{path}: a placeholder left:\n{text}");
            }
        }
    }

    #[test]
    fn an_event_without_a_string_field_counts_under_all() {
        let (plan, _) = plan(&["count"]);
        let handler = plan.handler_rs(&plan.subscriptions[1]);
        assert!(handler.contains("_event: Tick"), "{handler}");
        assert!(
            handler.contains("tally::count(ctx, \"all\", &Tick::ce_type())"),
            "{handler}"
        );
        let test = plan.test_rs();
        assert!(test.contains("key: \"all\".into()"), "{test}");
        assert!(test.contains("key: KEY.into()"), "{test}");
    }
}
