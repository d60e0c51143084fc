//! The sources of a new component: `Cargo.toml`, `lib.rs`, `main.rs`, the state, one handler
//! per subscribed event, the contract of its operations and the queries that answer them.

use super::text::{doc, fill, use_line};
use super::{Plan, Subscription};

const CARGO_TOML: &str = include_str!("../templates/Cargo.toml.tmpl");
const MAIN_RS: &str = include_str!("../templates/main.rs.tmpl");
const TALLY_RS: &str = include_str!("../templates/tally.rs.tmpl");
const COUNT_RS: &str = include_str!("../templates/count.rs.tmpl");
const OPERATION_RS: &str = include_str!("../templates/operation.rs.tmpl");
const QUERY_RS: &str = include_str!("../templates/query.rs.tmpl");

impl Plan {
    pub(super) fn cargo_toml(&self) -> anyhow::Result<String> {
        let description = serde_json::to_string(&format!("The `{}` component: {}.", self.name, self.description))?;
        let mut dev = String::from("testkit.workspace = true\ntempfile.workspace = true\n");
        if !self.subscriptions.is_empty() {
            dev.push_str("async-nats.workspace = true\n");
        }
        Ok(fill(
            CARGO_TOML,
            &[
                ("name", &self.name),
                ("description", &description),
                ("dev_dependencies", &dev),
            ],
        ))
    }

    pub(super) fn lib_rs(&self) -> String {
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

    pub(super) fn main_rs(&self) -> String {
        fill(MAIN_RS, &[("krate", &self.krate)])
    }

    pub(super) fn tally_rs(&self) -> String {
        let doc = if self.subscriptions.is_empty() {
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
        let mut uses = String::new();
        if !self.subscriptions.is_empty() {
            uses.push_str("use mandate::{Context, HandlerResult};\n");
        }
        uses.push_str("use serde::{Deserialize, Serialize};\n");
        let mut out = fill(TALLY_RS, &[("doc", &doc), ("uses", &uses), ("name", &self.name)]);
        if !self.subscriptions.is_empty() {
            out.push_str(COUNT_RS);
        }
        out
    }

    pub(super) fn handler_rs(&self, sub: &Subscription) -> String {
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

    pub(super) fn contract_rs(&self) -> String {
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
            let version = op.op.version.to_string();
            out.push_str(&fill(
                OPERATION_RS,
                &[
                    ("request_doc", &doc("///", &[&format!("`svc.{qualified}` request.")])),
                    ("request", &op.request),
                    (
                        "doc",
                        &doc(
                            "///",
                            &[&format!(
                                "`svc.{qualified}`: the tally of one key. Errors: 400 (empty key)."
                            )],
                        ),
                    ),
                    ("type", &op.type_name),
                    ("owner", &self.name),
                    ("op", &op.op.name),
                    ("version", &version),
                ],
            ));
        }
        out
    }

    pub(super) fn queries_rs(&self) -> String {
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
            let doc = doc(
                "///",
                &[&format!(
                    "`{}`: a key no event has carried yet has an empty tally, an answer rather than a 404.",
                    self.qualified(op)
                )],
            );
            out.push_str(&fill(
                QUERY_RS,
                &[("doc", &doc), ("query", &op.query), ("request", &op.request)],
            ));
        }
        out
    }
}
