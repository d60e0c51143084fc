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

use std::collections::{BTreeMap, BTreeSet};

use super::lookup::{Schemas, Shape, Ty, TypeDef, TypeKind};
use super::names::{OpName, pascal, snake, snake_of_pascal};

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
    /// Resolves the Rust names; `events` are the schemas' events, in the order given.
    pub fn new(
        name: &str,
        description: String,
        version: String,
        events: Vec<(String, String, u32, &TypeDef)>,
        ops: Vec<OpName>,
        schemas: &Schemas,
        warnings: &mut Vec<String>,
    ) -> Plan {
        let mut subscriptions = Vec::new();
        for (owner, event, version, def) in events {
            let mut module = format!("{}_{}", snake(&owner), snake(&event)).replace('-', "_");
            if version > 1 {
                module.push_str(&format!("_v{version}"));
            }
            let key = key_field(def);
            let test_value = {
                let mut values = Values {
                    schemas,
                    warnings: &mut *warnings,
                    context: format!("the test's {owner}.{event}.v{version}"),
                };
                values.of_def(def, key.as_deref(), 0)
            };
            subscriptions.push(Subscription {
                handler: format!("on_{}", snake_of_pascal(&def.name)),
                type_name: def.name.clone(),
                type_path: def.path(),
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

    fn cargo_toml(&self) -> anyhow::Result<String> {
        let description = serde_json::to_string(&format!("The `{}` component: {}.", self.name, self.description))?;
        let mut dev = String::from("testkit.workspace = true\ntempfile.workspace = true\n");
        if !self.subscriptions.is_empty() {
            dev.push_str("async-nats.workspace = true\n");
        }
        Ok(format!(
            r#"[package]
name = "{name}"
description = {description}
version.workspace = true
edition.workspace = true
rust-version.workspace = true
license.workspace = true
publish = false

[dependencies]
mandate.workspace = true
schemas.workspace = true
serde.workspace = true
tokio.workspace = true

[dev-dependencies]
{dev}
[lints]
workspace = true
"#,
            name = self.name,
        ))
    }

    fn lib_rs(&self) -> String {
        let mut layout = format!(
            "Scaffolded by `mandate new component`. [`component()`] is the one place that declares what it \
             subscribes to, serves and publishes; `manifest.json` is generated from it (after a change, \
             `UPDATE_MANIFESTS=1 cargo test -p {}` rewrites it).",
            self.name
        );
        if self.subscriptions.is_empty() {
            layout.push_str(" `tally.rs` is its state, which no handler writes yet.");
        } else {
            layout.push_str(
                " Each event it handles has a handler file of its own; `tally.rs` is the state they count into.",
            );
        }
        if !self.operations.is_empty() {
            layout.push_str(
                " `contract.rs` has the operations it serves (its own contract, until it moves into `schemas`) \
                 and `queries.rs` their answers.",
            );
        }
        let mut out = doc(
            "//!",
            &[
                &format!("The `{}` component: {}.", self.name, self.description),
                &layout,
            ],
        );
        out.push('\n');
        let mut modules: Vec<(String, bool)> = vec![("tally".to_owned(), true)];
        if !self.operations.is_empty() {
            modules.push(("contract".to_owned(), true));
            modules.push(("queries".to_owned(), false));
        }
        modules.extend(self.subscriptions.iter().map(|s| (s.module.clone(), false)));
        modules.sort();
        for (module, public) in modules {
            out.push_str(&format!("{}mod {module};\n", if public { "pub " } else { "" }));
        }
        out.push_str("\nuse mandate::Component;\n");
        for line in self.event_imports() {
            out.push_str(&line);
        }
        if !self.operations.is_empty() {
            let names: Vec<String> = self.operations.iter().map(|o| o.type_name.clone()).collect();
            out.push('\n');
            out.push_str(&use_line("crate::contract", &names));
        }
        out.push_str(
            "\n/// The component: everything it publishes, subscribes to and serves, in one place.\n\
             pub fn component() -> Component {\n",
        );
        out.push_str(&format!("    Component::new({:?})\n", self.name));
        out.push_str("        .version(env!(\"CARGO_PKG_VERSION\"))\n");
        out.push_str(&format!("        .description({:?})\n", self.description));
        for sub in &self.subscriptions {
            out.push_str(&format!(
                "        .on::<{}>({}::{})\n",
                self.type_ref(sub),
                sub.module,
                sub.handler
            ));
        }
        for op in &self.operations {
            out.push_str(&format!("        .query::<{}>(queries::{})\n", op.type_name, op.query));
        }
        out.push_str("}\n");
        out
    }

    fn main_rs(&self) -> String {
        format!(
            "#[tokio::main(flavor = \"current_thread\")]\n\
             async fn main() -> std::process::ExitCode {{\n    \
             {}::component().main().await\n\
             }}\n",
            self.krate
        )
    }

    fn tally_rs(&self) -> String {
        let mut out = if self.subscriptions.is_empty() {
            doc(
                "//!",
                &[
                    "The state: one tally per key, stored under `tally/<key>` in the component's store. Nothing \
                   writes tallies yet: a handler (`.on::<E>(...)` in `lib.rs`) would count events into them.",
                ],
            )
        } else {
            doc(
                "//!",
                &[
                    "The state: one tally per key, the value of the field each handler counts its events by \
                     (see the handler files). Tallies live under `tally/<key>` in the component's store.",
                    "Counting commutes, so the events of several streams may arrive in any order (docs/design.md §6) \
                     and a rebuild from the streams (`mandate replay`) writes the very same tallies.",
                ],
            )
        };
        out.push_str("\nuse std::collections::BTreeMap;\n\n");
        if !self.subscriptions.is_empty() {
            out.push_str("use mandate::{Context, HandlerResult};\n");
        }
        out.push_str("use serde::{Deserialize, Serialize};\n");
        out.push_str(&format!("\n/// What `{}` knows about one key.\n", self.name));
        out.push_str(
            "#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]\n\
             pub struct Tally {\n    \
             /// The key: the value of the field the events are counted by (e.g. a customer id).\n    \
             pub key: String,\n    \
             /// Events counted under this key, by event type (`<owner>.<event>.v<major>`).\n    \
             pub events: BTreeMap<String, u64>,\n\
             }\n\
             \n\
             /// Where the tally of `key` is stored.\n\
             pub(crate) fn tally_key(key: &str) -> String {\n    \
             format!(\"tally/{key}\")\n\
             }\n",
        );
        if !self.subscriptions.is_empty() {
            out.push_str(
                "\n/// Counts one event of `event_type` under `key`. It runs in the handler's transaction, so the\n\
                 /// count commits with the stream position: each event counts exactly once.\n\
                 pub(crate) fn count(ctx: &mut Context<'_>, key: &str, event_type: &str) -> HandlerResult {\n    \
                 let store_key = tally_key(key);\n    \
                 let mut tally = ctx.get::<Tally>(&store_key)?.unwrap_or_else(|| Tally {\n        \
                 key: key.to_owned(),\n        \
                 ..Tally::default()\n    \
                 });\n    \
                 *tally.events.entry(event_type.to_owned()).or_default() += 1;\n    \
                 ctx.put(&store_key, &tally)?;\n    \
                 Ok(())\n\
                 }\n",
            );
        }
        out
    }

    fn handler_rs(&self, sub: &Subscription) -> String {
        let ce_type = sub.ce_type();
        let (counted_by, binding, key_expr) = match &sub.key {
            Some(field) => (format!("per `{field}`"), "event", format!("&event.{field}")),
            None => (
                "under the key `all` (it has no `String` field to count by)".to_owned(),
                "_event",
                "\"all\"".to_owned(),
            ),
        };
        let module = sub.type_path.rsplit_once("::").map_or("schemas", |(m, _)| m);
        let mut out = doc(
            "//!",
            &[&format!(
                "`{ce_type}` (published by `{}`, stream `{}`): counted {counted_by}.",
                sub.owner,
                mandate::stream_name(&sub.owner)
            )],
        );
        out.push_str("\nuse mandate::{Context, Event, HandlerResult};\n");
        out.push_str(&use_line(module, std::slice::from_ref(&sub.type_name)));
        out.push_str("\nuse crate::tally;\n\n");
        let doc_key = match &sub.key {
            Some(field) => format!("its `{field}`"),
            None => "the key `all`".to_owned(),
        };
        out.push_str(&doc(
            "///",
            &[&format!(
                "Runs once per `{ce_type}` on the bus, exactly once even across crashes, redeliveries and \
                 rebuilds, and counts it under {doc_key}."
            )],
        ));
        let signature = format!(
            "pub(crate) fn {}(ctx: &mut Context<'_>, {binding}: {}) -> HandlerResult {{\n",
            sub.handler, sub.type_name
        );
        out.push_str(&signature);
        out.push_str(&format!(
            "    tally::count(ctx, {key_expr}, &{}::ce_type())\n}}\n",
            sub.type_name
        ));
        out
    }

    fn contract_rs(&self) -> String {
        let mut out = doc(
            "//!",
            &[&format!(
                "The operations `{}` serves: its own contract, which other components and clients call it by. \
                 It lives here until it moves into `schemas`, next to the contract of the other components.",
                self.name
            )],
        );
        out.push_str(
            "\nuse mandate::Operation;\n\
             use serde::{Deserialize, Serialize};\n\
             \n\
             use crate::tally::Tally;\n",
        );
        for op in &self.operations {
            let qualified = self.qualified(op);
            out.push('\n');
            out.push_str(&doc("///", &[&format!("`svc.{qualified}` request.")]));
            out.push_str(&format!(
                "#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]\n\
                 pub struct {request} {{\n    \
                 /// The key to read: the value of the field the events are counted by.\n    \
                 pub key: String,\n\
                 }}\n\n",
                request = op.request,
            ));
            out.push_str(&doc(
                "///",
                &[&format!(
                    "`svc.{qualified}`: the tally of one key. Errors: 400 (empty key)."
                )],
            ));
            out.push_str(&format!(
                "#[derive(Debug)]\n\
                 pub struct {ty};\n\
                 \n\
                 impl Operation for {ty} {{\n    \
                 const OWNER: &'static str = {owner:?};\n    \
                 const NAME: &'static str = {op_name:?};\n    \
                 const VERSION: u32 = {version};\n    \
                 type Request = {request};\n    \
                 type Response = Tally;\n\
                 }}\n",
                request = op.request,
                ty = op.type_name,
                owner = self.name,
                op_name = op.op.name,
                version = op.op.version,
            ));
        }
        out
    }

    fn queries_rs(&self) -> String {
        let requests: Vec<String> = self.operations.iter().map(|o| o.request.clone()).collect();
        let mut out = String::from(
            "//! Reads: one query per operation of `contract.rs`, answered from committed state.\n\
             \n\
             use mandate::{ServiceError, View};\n\
             \n",
        );
        out.push_str(&use_line("crate::contract", &requests));
        out.push_str("use crate::tally::{Tally, tally_key};\n");
        for op in &self.operations {
            out.push('\n');
            out.push_str(&doc(
                "///",
                &[&format!(
                    "`{}`: a key no event has carried yet has an empty tally, an answer rather than a 404.",
                    self.qualified(op)
                )],
            ));
            out.push_str(&format!(
                "pub(crate) fn {query}(view: &View, request: {request}) -> Result<Tally, ServiceError> {{\n    \
                 if request.key.is_empty() {{\n        \
                 return Err(ServiceError::bad_request(\"key is empty\"));\n    \
                 }}\n    \
                 Ok(view.get(&tally_key(&request.key))?.unwrap_or(Tally {{\n        \
                 key: request.key,\n        \
                 ..Tally::default()\n    \
                 }}))\n\
                 }}\n",
                query = op.query,
                request = op.request,
            ));
        }
        out
    }

    fn test_rs(&self) -> String {
        let name = &self.name;
        let krate = &self.krate;
        let has_events = !self.subscriptions.is_empty();
        let has_ops = !self.operations.is_empty();
        let how = match (has_events, has_ops) {
            (true, true) => {
                "the events it handles are published as their owners publish them, and it is asked \
                             what it counted as any other component would ask it"
            }
            (true, false) => {
                "the events it handles are published as their owners publish them, and its progress \
                              is read from its admin status"
            }
            _ => "it is asked as any other component would ask it",
        };
        let mut out = doc(
            "//!",
            &[&format!(
                "`{name}` against a real nats-server, over the bus only: {how}."
            )],
        );
        out.push('\n');
        if has_events {
            out.push_str("use std::time::Duration;\n\n");
        }
        let mut kit = vec!["Bus", "ConnectionOptions", "Options"];
        if has_events && has_ops {
            kit.push("Event");
        }
        kit.sort_unstable();
        let kit: Vec<String> = kit.into_iter().map(str::to_owned).collect();
        // rustfmt orders the groups' `use` lines by path: the component, mandate, schemas, testkit.
        let mut uses = Vec::new();
        if has_ops {
            let mut names = Vec::new();
            for op in &self.operations {
                names.push(op.type_name.clone());
                names.push(op.request.clone());
            }
            names.sort();
            uses.push(use_line(&format!("{krate}::contract"), &names));
        }
        uses.push(use_line("mandate", &kit));
        uses.extend(self.event_imports());
        uses.push("use testkit::NatsServer;\n".to_owned());
        uses.sort();
        for line in uses {
            out.push_str(&line);
        }
        // KEY is used by the events counted by a field, and by the calls when there are no events.
        if self.subscriptions.iter().any(|s| s.key.is_some()) || (has_ops && !has_events) {
            out.push_str(
                "\n/// The value each test event carries in the field its handler counts by.\n\
                 const KEY: &str = \"key-1\";\n",
            );
        }
        out.push_str(&format!(
            "\n#[test]\n\
             fn the_committed_manifest_is_current() {{\n    \
             {krate}::component()\n        \
             .manifest()\n        \
             .check_file(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/manifest.json\"))\n        \
             .unwrap_or_else(|stale| panic!(\"{{stale}}\"));\n\
             }}\n"
        ));
        let test_name = match (has_events, has_ops) {
            (true, true) => "every_event_is_counted_and_served",
            (true, false) => "every_event_is_counted",
            _ => "every_operation_answers",
        };
        out.push_str(&format!(
            "\n#[tokio::test]\n\
             async fn {test_name}() {{\n    \
             let server = NatsServer::start();\n    \
             let bus = Bus::connect(&ConnectionOptions::new(server.url()), \"test\")\n        \
             .await\n        \
             .expect(\"connects\");\n"
        ));
        if has_events {
            let owners: BTreeSet<&str> = self.subscriptions.iter().map(|s| s.owner.as_str()).collect();
            let owners: Vec<String> = owners.into_iter().map(|o| format!("{o:?}")).collect();
            out.push_str(&format!(
                "    // The streams of the owners, as they create them at their start-up.\n    \
                 for owner in [{}] {{\n        \
                 create_stream(&bus, owner).await;\n    \
                 }}\n",
                owners.join(", ")
            ));
        }
        out.push_str(&format!(
            "    let dir = tempfile::tempdir().expect(\"tempdir\");\n    \
             let running = {krate}::component()\n        \
             .start(Options::new(server.url(), dir.path()))\n        \
             .await\n        \
             .expect(\"the component starts\");\n"
        ));
        if has_events {
            out.push('\n');
            for sub in &self.subscriptions {
                out.push_str(&format!(
                    "    bus.publish(&{}()).await.expect(\"published\");\n",
                    sub.module
                ));
            }
            out.push_str(&format!(
                "    let status = wait_applied(&bus, {}).await;\n    \
                 assert_eq!(status.dead_letters, 0, \"every event was handled: {{status:?}}\");\n",
                self.subscriptions.len()
            ));
        }
        for op in &self.operations {
            out.push('\n');
            let ty = &op.type_name;
            let request = &op.request;
            // One call per key the events were counted under.
            let mut by_key: BTreeMap<&str, Vec<&Subscription>> = BTreeMap::new();
            for sub in &self.subscriptions {
                by_key.entry(sub.test_key()).or_default().push(sub);
            }
            if by_key.is_empty() {
                out.push_str(&format!(
                    "    let tally = bus\n        \
                     .call::<{ty}>(&{request} {{ key: KEY.into() }})\n        \
                     .await\n        \
                     .expect(\"{qualified} answers\");\n    \
                     assert_eq!(tally.key, KEY);\n    \
                     assert!(tally.events.is_empty(), \"nothing counted yet: {{tally:?}}\");\n",
                    qualified = self.qualified(op)
                ));
            }
            for (key, subs) in by_key {
                out.push_str(&format!(
                    "    let tally = bus\n        \
                     .call::<{ty}>(&{request} {{ key: {key}.into() }})\n        \
                     .await\n        \
                     .expect(\"{qualified} answers\");\n",
                    qualified = self.qualified(op)
                ));
                for sub in subs {
                    out.push_str(&format!(
                        "    assert_eq!(tally.events.get(&{}::ce_type()), Some(&1), \"{{tally:?}}\");\n",
                        self.type_ref(sub)
                    ));
                }
            }
            out.push_str(&format!(
                "    let refused = bus\n        \
                 .call::<{ty}>(&{request} {{ key: String::new() }})\n        \
                 .await\n        \
                 .expect_err(\"an empty key is refused\");\n    \
                 assert_eq!(refused.service_error().map(|e| e.code), Some(400));\n"
            ));
        }
        out.push_str("\n    running.shutdown().await.expect(\"clean shutdown\");\n}\n");
        if has_events {
            let wait_doc = doc(
                "///",
                &[&format!(
                    "Waits until `{name}` has applied `events` events, summed over its streams (each stream \
                     holds only this test's events), and returns its status."
                )],
            );
            out.push_str(&format!(
                "\n/// `EVT_<OWNER>`, as the owner creates it at its start-up.\n\
                 async fn create_stream(bus: &Bus, owner: &str) {{\n    \
                 bus.jetstream()\n        \
                 .get_or_create_stream(async_nats::jetstream::stream::Config {{\n            \
                 name: mandate::stream_name(owner),\n            \
                 subjects: vec![format!(\"evt.{{owner}}.>\")],\n            \
                 duplicate_window: Duration::from_secs(120),\n            \
                 ..Default::default()\n        \
                 }})\n        \
                 .await\n        \
                 .expect(\"stream created\");\n\
                 }}\n\
                 \n\
                 {wait_doc}\
                 async fn wait_applied(bus: &Bus, events: u64) -> mandate::admin::StatusReport {{\n    \
                 let deadline = tokio::time::Instant::now() + Duration::from_secs(10);\n    \
                 loop {{\n        \
                 if let Ok(status) = bus.status({name:?}).await {{\n            \
                 let applied: u64 = status.consumers.iter().map(|c| c.applied_sequence).sum();\n            \
                 if applied >= events {{\n                \
                 return status;\n            \
                 }}\n        \
                 }}\n        \
                 assert!(\n            \
                 tokio::time::Instant::now() < deadline,\n            \
                 \"timed out waiting for {name} to apply {{events}} events\"\n        \
                 );\n        \
                 tokio::time::sleep(Duration::from_millis(25)).await;\n    \
                 }}\n\
                 }}\n"
            ));
            for sub in &self.subscriptions {
                // The value names its own type as the rest of the file does.
                let type_ref = self.type_ref(sub);
                let value = match sub.test_value.strip_prefix(&sub.type_path) {
                    Some(rest) => format!("{type_ref}{rest}"),
                    None => sub.test_value.clone(),
                };
                out.push_str(&format!(
                    "\nfn {}() -> {type_ref} {{\n    {}\n}}\n",
                    sub.module,
                    indent_continuation(&value, 4)
                ));
            }
        }
        out
    }
}

/// Doc comment lines (`marker` is `//!` or `///`), one paragraph per item, wrapped at 100
/// columns whatever names went into them.
fn doc(marker: &str, paragraphs: &[&str]) -> String {
    let mut out = String::new();
    for (index, paragraph) in paragraphs.iter().enumerate() {
        if index > 0 {
            out.push_str(marker);
            out.push('\n');
        }
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            if !line.is_empty() && marker.len() + 1 + line.len() + 1 + word.len() > 100 {
                out.push_str(&format!("{marker} {line}\n"));
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        if !line.is_empty() {
            out.push_str(&format!("{marker} {line}\n"));
        }
    }
    out
}

/// `use module::Name;` or `use module::{A, B};`, the names in rustfmt's order.
fn use_line(module: &str, names: &[String]) -> String {
    let mut names = names.to_vec();
    names.sort_by(|a, b| version_order(a, b));
    match names.as_slice() {
        [one] => format!("use {module}::{one};\n"),
        many => format!("use {module}::{{{}}};\n", many.join(", ")),
    }
}

/// Identifiers compared as rustfmt's version sort does: runs of digits by their value.
fn version_order(a: &str, b: &str) -> std::cmp::Ordering {
    fn chunks(text: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = text.as_bytes();
        for index in 1..=bytes.len() {
            if index == bytes.len() || bytes[index].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &text[start..index]));
                start = index;
            }
        }
        out
    }
    let (a, b) = (chunks(a), chunks(b));
    for ((a_digits, a), (b_digits, b)) in a.iter().zip(&b) {
        let order = if *a_digits && *b_digits {
            a.parse::<u64>().unwrap_or(0).cmp(&b.parse::<u64>().unwrap_or(0))
        } else {
            a.cmp(b)
        };
        if order.is_ne() {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

/// Indents every line but the first by `spaces` more.
fn indent_continuation(text: &str, spaces: usize) -> String {
    let pad = " ".repeat(spaces);
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            if i == 0 {
                line.to_owned()
            } else {
                format!("{pad}{line}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

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
struct Values<'a> {
    schemas: &'a Schemas,
    warnings: &'a mut Vec<String>,
    context: String,
}

const MAX_DEPTH: usize = 6;

impl Values<'_> {
    /// A value of the struct or enum `def`; `key` is the field that gets `KEY`.
    fn of_def(&mut self, def: &TypeDef, key: Option<&str>, depth: usize) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scaffold::lookup::Schemas;

    const SOURCE: &str = r#"
pub struct Line { pub sku: String, pub quantity: u32 }
pub enum Kind { Tuple(u8), Plain }
pub struct Wrapper(pub Line);
pub struct Placed {
    pub order_id: String,
    #[serde(default)]
    pub customer_id: String,
    pub lines: Vec<Line>,
    pub first: Line,
    pub kind: Kind,
    pub wrapped: Wrapper,
    pub pair: (u32, bool),
    pub note: Option<String>,
    pub raw: &'static str,
}
impl Event for Placed { const OWNER: &'static str = "shop"; const NAME: &'static str = "placed"; const VERSION: u32 = 2; }
pub struct Tick { pub n: u64 }
impl Event for Tick { const OWNER: &'static str = "clock"; const NAME: &'static str = "tick"; const VERSION: u32 = 1; }
"#;

    fn plan(ops: &[&str]) -> (Plan, Vec<String>) {
        let mut schemas = Schemas::default();
        schemas.add_source("schemas::shop", SOURCE);
        let events = ["Placed", "Tick"]
            .iter()
            .map(|name| {
                let event = schemas.events.iter().find(|e| e.type_name == *name).expect("event");
                let def = schemas.type_def(name, "schemas::shop").expect("def");
                (event.owner.clone(), event.name.clone(), event.version, def)
            })
            .collect();
        let ops = ops
            .iter()
            .map(|op| crate::scaffold::names::parse_op("my-tally", op).expect("op"))
            .collect();
        let mut warnings = Vec::new();
        let plan = Plan::new(
            "my-tally",
            "counts".into(),
            "0.1.0".into(),
            events,
            ops,
            &schemas,
            &mut warnings,
        );
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
