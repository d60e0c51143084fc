//! The test of a new component: it in-process against a real nats-server, fed one event of
//! each type over the bus, asked over the bus; and the manifest check.

use std::collections::{BTreeMap, BTreeSet};

use super::text::{doc, fill, indent_continuation, use_line};
use super::{Plan, Subscription};

const MANIFEST_TEST: &str = include_str!("../templates/manifest_test.rs.tmpl");
const TEST_START: &str = include_str!("../templates/test_start.rs.tmpl");
const TEST_SUPPORT: &str = include_str!("../templates/test_support.rs.tmpl");

impl Plan {
    pub(super) fn test_rs(&self) -> String {
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
        out.push_str(&fill(MANIFEST_TEST, &[("krate", krate)]));
        let test_name = match (has_events, has_ops) {
            (true, true) => "every_event_is_counted_and_served",
            (true, false) => "every_event_is_counted",
            _ => "every_operation_answers",
        };
        let mut streams = String::new();
        if has_events {
            let owners: BTreeSet<&str> = self.subscriptions.iter().map(|s| s.owner.as_str()).collect();
            let owners: Vec<String> = owners.into_iter().map(|o| format!("{o:?}")).collect();
            streams = format!(
                "    // The streams of the owners, as they create them at their start-up.\n    \
                 for owner in [{}] {{\n        \
                 create_stream(&bus, owner).await;\n    \
                 }}\n",
                owners.join(", ")
            );
        }
        out.push_str(&fill(
            TEST_START,
            &[("test_name", test_name), ("streams", &streams), ("krate", krate)],
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
            out.push_str(&fill(TEST_SUPPORT, &[("wait_doc", &wait_doc), ("name", name)]));
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
