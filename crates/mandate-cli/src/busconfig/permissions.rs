//! Who may publish and subscribe to what: one bus user per component, derived from its
//! manifest, plus the `operator` (the `mandate` tool) and the read-only `observer`.
//!
//! Every subject below is one the kit, async-nats 0.51 or the tool actually uses; the
//! security tests (`tests/busconfig/`) run real components under exactly these permissions
//! and prove both that they work and that nothing else is allowed. Where a subject has a
//! reason worth knowing, it is written next to it in the generated file.

use mandate::{DEAD_LETTER_STREAM, dead_letter_subject, stream_name};

use super::partitions;
use crate::repo::manifest::ComponentManifest;

/// The connection name of the `mandate` tool, hence its inbox prefix `_INBOX.mandate-cli`.
pub const TOOL_CLIENT_NAME: &str = "mandate-cli";
/// The user of the `mandate` tool.
pub const OPERATOR: &str = "operator";
/// The read-only user for `nats sub` and `nats micro ls`.
pub const OBSERVER: &str = "observer";

/// The verbs of the NATS services API (ADR-32).
const SERVICE_VERBS: [&str; 3] = ["PING", "INFO", "STATS"];

/// One allowed subject and why (the why becomes a comment in the generated file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub subject: String,
    pub why: &'static str,
}

/// One user of `bus-config/permissions.conf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    /// The environment variable holding its password, e.g. `ORDERS_PASSWORD`.
    pub password_var: String,
    /// What it is, one line per fact, written above its entry.
    pub summary: Vec<String>,
    pub publish: Vec<Rule>,
    pub subscribe: Vec<Rule>,
    /// Whether it may reply to the requests it receives (once each): the services it serves.
    pub allow_responses: bool,
}

/// The environment variable holding `user`'s password: `order-history` → `ORDER_HISTORY_PASSWORD`.
pub fn password_var(user: &str) -> String {
    format!("{}_PASSWORD", env_prefix(user))
}

/// The environment variable holding `user`'s nkey (its public key, `U...`), for [`Auth::Nkey`].
pub fn nkey_var(user: &str) -> String {
    format!("{}_NKEY", env_prefix(user))
}

fn env_prefix(user: &str) -> String {
    user.to_uppercase().replace('-', "_")
}

/// How the users authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// `user` + `password: $<USER>_PASSWORD` (the committed file).
    Password,
    /// `nkey: $<USER>_NKEY`, the user's public nkey; the client proves it holds the seed.
    Nkey,
}

/// Every user: the components in manifest order, then `operator` and `observer`.
pub fn users(manifests: &[ComponentManifest]) -> Vec<User> {
    let mut users: Vec<User> = manifests
        .iter()
        .map(|m| {
            if m.is_kit_component() {
                component_user(m)
            } else {
                client_user(m)
            }
        })
        .collect();
    users.push(operator());
    users.push(observer());
    users
}

struct Rules(Vec<Rule>);

impl Rules {
    fn new() -> Rules {
        Rules(Vec::new())
    }

    /// Adds `subject` unless it is already there (a component reading its own stream needs
    /// its stream info once).
    fn add(&mut self, subject: impl Into<String>, why: &'static str) {
        let subject = subject.into();
        if !self.0.iter().any(|r| r.subject == subject) {
            self.0.push(Rule { subject, why });
        }
    }
}

/// A kit component — or one in another language doing the same — exactly what `crates/mandate`
/// does at start-up and while running.
fn component_user(m: &ComponentManifest) -> User {
    let c = m.name.as_str();
    let own_stream = stream_name(c);
    let mut publish = Rules::new();
    for kind in &m.publishes {
        publish.add(format!("evt.{kind}"), "an event type it declares (the outbox relay)");
        publish.add(
            format!("evt.{kind}.*"),
            "... keyed by the entity it is about (partitions)",
        );
    }
    publish.add(dead_letter_subject(c), "its dead letters");
    for operation in &m.calls {
        publish.add(format!("svc.{operation}"), "an operation it calls");
    }
    for subject in partitions::private_subjects(m) {
        publish.add(
            subject,
            "a partition's own subject: requests forwarded to the key's owner, or gathered from all",
        );
    }
    publish.add(
        format!("$SRV.PING.{c}"),
        "start-up: a ping of its own service proves it is reachable",
    );
    if !m.publishes.is_empty() {
        // No UPDATE: an existing stream is the operator's (replicas, limits); a component
        // that could update it could also make it source or capture other subjects.
        publish.add(
            format!("$JS.API.STREAM.INFO.{own_stream}"),
            "start-up: get-or-create of its own stream: info,",
        );
        publish.add(
            format!("$JS.API.STREAM.CREATE.{own_stream}"),
            "... and create when it does not exist",
        );
    }
    publish.add(
        format!("$JS.API.STREAM.INFO.{DEAD_LETTER_STREAM}"),
        "start-up: get-or-create of the dead-letter stream: info,",
    );
    publish.add(
        format!("$JS.API.STREAM.CREATE.{DEAD_LETTER_STREAM}"),
        "... or create (see bus-config/README.md)",
    );
    let consumers = partitions::consumer_names(m);
    for stream in m.subscribes.keys() {
        publish.add(
            format!("$JS.API.STREAM.INFO.{stream}"),
            "a stream it consumes: waits for it, then seats its consumer",
        );
        for c in &consumers {
            publish.add(
                format!("$JS.API.CONSUMER.DELETE.{stream}.{c}"),
                "its durable consumer, re-seated at every start: delete,",
            );
            publish.add(
                format!("$JS.API.CONSUMER.CREATE.{stream}.{c}"),
                "... create (several filter subjects)",
            );
            publish.add(
                format!("$JS.API.CONSUMER.CREATE.{stream}.{c}.>"),
                "... or create (one filter subject, in the API subject),",
            );
            publish.add(
                format!("$JS.API.CONSUMER.INFO.{stream}.{c}"),
                "... then read its pending count",
            );
            publish.add(format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{c}"), "pulling batches");
            publish.add(format!("$JS.ACK.{stream}.{c}.>"), "acks (ack-all, progress, term)");
        }
    }

    let mut subscribe = Rules::new();
    subscribe.add(format!("_INBOX.{c}.>"), "its own replies (the kit's inbox prefix)");
    subscribe.add(format!("svc.{c}.>"), "its operations and its admin endpoints");
    for verb in SERVICE_VERBS {
        subscribe.add(format!("$SRV.{verb}"), "services API discovery of every service");
    }
    for verb in SERVICE_VERBS {
        subscribe.add(format!("$SRV.{verb}.{c}"), "services API discovery by its name");
    }
    for verb in SERVICE_VERBS {
        subscribe.add(
            format!("$SRV.{verb}.{c}.*"),
            "services API discovery by its name and id",
        );
    }
    for subject in &m.listens {
        subscribe.add(subject.clone(), "listens (core NATS)");
    }

    // The same rights either way: a component in another language does what the kit does.
    let mut summary = vec![match &m.start {
        Some(runner::Start::Command(_)) => {
            format!("{c}: a component in another language (its manifest's start command)")
        }
        _ => format!("{c}: a kit component"),
    }];
    if !m.publishes.is_empty() {
        summary.push(format!("publishes {} (stream {own_stream})", m.publishes.join(", ")));
    }
    for (stream, kinds) in &m.subscribes {
        summary.push(format!("consumes {} from {stream}", kinds.join(", ")));
    }
    if !m.serves.is_empty() {
        summary.push(format!("serves {}", m.serves.join(", ")));
    }
    if !m.calls.is_empty() {
        summary.push(format!("calls {}", m.calls.join(", ")));
    }
    if !m.listens.is_empty() {
        summary.push(format!("listens to {}", m.listens.join(", ")));
    }
    if let Some(p) = m.partitions.as_ref().filter(|p| p.count > 1) {
        summary.push(format!(
            "runs as {} partitions by {} key, all as this one user (any of them forwards to any other)",
            p.count, p.by
        ));
    }
    User {
        name: c.to_owned(),
        password_var: password_var(c),
        summary,
        publish: publish.0,
        subscribe: subscribe.0,
        allow_responses: true,
    }
}

/// A bus client (the gateway): its calls and its listening, nothing of the kit's runtime.
fn client_user(m: &ComponentManifest) -> User {
    let c = m.name.as_str();
    let mut publish = Rules::new();
    for operation in &m.calls {
        publish.add(format!("svc.{operation}"), "an operation it calls");
    }
    let mut subscribe = Rules::new();
    subscribe.add(format!("_INBOX.{c}.>"), "its own replies (the kit's inbox prefix)");
    for subject in &m.listens {
        subscribe.add(subject.clone(), "listens (core NATS)");
    }
    let mut summary = vec![format!("{c}: a bus client (no stream, consumer or service of its own)")];
    if !m.calls.is_empty() {
        summary.push(format!("calls {}", m.calls.join(", ")));
    }
    if !m.listens.is_empty() {
        summary.push(format!("listens to {}", m.listens.join(", ")));
    }
    User {
        name: c.to_owned(),
        password_var: password_var(c),
        summary,
        publish: publish.0,
        subscribe: subscribe.0,
        allow_responses: false,
    }
}

/// The `mandate` tool: reads everything, calls every service and admin endpoint, and repairs
/// (replay, dead-letter retry and purge, export/import). A person's account, not a component's.
fn operator() -> User {
    let mut publish = Rules::new();
    publish.add(
        "evt.>",
        "mandate publish, import and dlq retry (to the original subject)",
    );
    publish.add("dlq.>", "mandate import of a DLQ export");
    publish.add("svc.>", "mandate call, status and replay (admin endpoints)");
    publish.add("$SRV.>", "mandate status: services API discovery");
    publish.add(
        "$JS.API.>",
        "streams and their info, ordered consumers, message get/delete, purge",
    );
    let mut subscribe = Rules::new();
    subscribe.add(
        format!("_INBOX.{TOOL_CLIENT_NAME}.>"),
        "the tool's replies (with the nats CLI: --inbox-prefix _INBOX.mandate-cli)",
    );
    subscribe.add("evt.>", "mandate tail (live)");
    subscribe.add("dlq.>", "mandate tail 'dlq.>' (live)");
    User {
        name: OPERATOR.to_owned(),
        password_var: password_var(OPERATOR),
        summary: vec![
            format!("{OPERATOR}: the `mandate` tool (it connects as {TOOL_CLIENT_NAME})"),
            "reads every stream, calls every service and admin endpoint, retries and purges dead letters".to_owned(),
        ],
        publish: publish.0,
        subscribe: subscribe.0,
        allow_responses: false,
    }
}

/// Read-only: `nats sub 'evt.>'` and `nats micro ls|info|stats` (with
/// `--inbox-prefix _INBOX.observer`). Its only publishes are services API discovery
/// requests, which change nothing.
fn observer() -> User {
    let mut publish = Rules::new();
    for verb in SERVICE_VERBS {
        publish.add(
            format!("$SRV.{verb}"),
            "nats micro ls|ping (a discovery request: read-only)",
        );
        publish.add(format!("$SRV.{verb}.>"), "nats micro info|stats <service> [id]");
    }
    let mut subscribe = Rules::new();
    subscribe.add("evt.>", "nats sub 'evt.>'");
    subscribe.add("dlq.>", "nats sub 'dlq.>'");
    subscribe.add(
        format!("_INBOX.{OBSERVER}.>"),
        "answers to its discovery requests (nats --inbox-prefix _INBOX.observer)",
    );
    User {
        name: OBSERVER.to_owned(),
        password_var: password_var(OBSERVER),
        summary: vec![
            format!("{OBSERVER}: read-only, for `nats sub 'evt.>'` and `nats micro ls`"),
            "publishes nothing but services API discovery requests".to_owned(),
        ],
        publish: publish.0,
        subscribe: subscribe.0,
        allow_responses: false,
    }
}

/// The text of `bus-config/permissions.conf` (with [`Auth::Password`]).
pub fn render(users: &[User], auth: Auth) -> String {
    let mut out = String::new();
    out.push_str(HEADER);
    if auth == Auth::Nkey {
        out.push_str(NKEY_HEADER);
    }
    out.push_str("authorization {\n  users: [\n");
    for (index, user) in users.iter().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        for line in &user.summary {
            for wrapped in wrap(line, 92) {
                out.push_str(&format!("    # {wrapped}\n"));
            }
        }
        out.push_str("    {\n");
        match auth {
            Auth::Password => {
                out.push_str(&format!("      user: {}\n", quote(&user.name)));
                out.push_str(&format!("      password: ${}\n", user.password_var));
            }
            Auth::Nkey => out.push_str(&format!("      nkey: ${}\n", nkey_var(&user.name))),
        }
        out.push_str("      permissions: {\n");
        render_rules(&mut out, "publish", &user.publish);
        render_rules(&mut out, "subscribe", &user.subscribe);
        if user.allow_responses {
            out.push_str("        # replies to the requests it receives, once each (its services)\n");
            out.push_str("        allow_responses: true\n");
        }
        out.push_str("      }\n    }\n");
    }
    out.push_str("  ]\n}\n");
    out
}

const HEADER: &str = "\
# GENERATED by `mandate bus-config --write` from components/*/manifest.json: do not edit.
# `mandate check` and CI fail when this file differs from what the manifests generate.
#
# One bus user per component, allowed exactly what its manifest declares (see
# bus-config/README.md for every subject and why), plus `operator` (the `mandate` tool) and
# `observer` (read-only). Passwords are nats-server variables: `$ORDERS_PASSWORD` is read
# from the environment of nats-server (see .env.example); no secret is committed.

";

const NKEY_HEADER: &str = "\
# NKEY VARIANT (`mandate bus-config --nkeys`): each user is its public nkey, read from
# `$<USER>_NKEY` (e.g. ORDERS_NKEY=UA...); a component connects with NATS_NKEY_FILE pointing
# at its seed (SU...). See bus-config/README.md.

";

fn render_rules(out: &mut String, direction: &str, rules: &[Rule]) {
    if rules.is_empty() {
        // An empty allow list would allow everything: deny explicitly instead.
        out.push_str(&format!("        {direction}: {{ deny: [\">\"] }}\n"));
        return;
    }
    out.push_str(&format!("        {direction}: {{\n          allow: [\n"));
    let width = rules.iter().map(|r| quote(&r.subject).len()).max().unwrap_or(0);
    for rule in rules {
        let subject = quote(&rule.subject);
        out.push_str(&format!("            {subject:<width$}  # {}\n", rule.why));
    }
    out.push_str("          ]\n        }\n");
}

/// `text` in lines of at most `width` characters (longer words stay whole); continuation
/// lines are indented by two spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
            line.push_str("  ");
        }
        if !line.is_empty() && !line.ends_with("  ") {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(line);
    lines
}

/// Subjects are always quoted: unquoted, `$JS.API...` would be read as a variable.
fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(json: &str) -> ComponentManifest {
        serde_json::from_str(json).expect("parses")
    }

    fn subjects(rules: &[Rule]) -> Vec<&str> {
        rules.iter().map(|r| r.subject.as_str()).collect()
    }

    #[test]
    fn a_component_gets_exactly_its_runtime_subjects() {
        let user = component_user(&manifest(
            r#"{"name":"shipping","publishes":["shipping.dispatched.v1"],
                "subscribes":{"EVT_PAYMENTS":["payments.captured.v1"]},"serves":["shipping.get.v1"]}"#,
        ));
        assert_eq!(user.password_var, "SHIPPING_PASSWORD");
        assert!(user.allow_responses);
        assert_eq!(
            subjects(&user.publish),
            [
                "evt.shipping.dispatched.v1",
                "evt.shipping.dispatched.v1.*",
                "dlq.shipping",
                "$SRV.PING.shipping",
                "$JS.API.STREAM.INFO.EVT_SHIPPING",
                "$JS.API.STREAM.CREATE.EVT_SHIPPING",
                "$JS.API.STREAM.INFO.DLQ",
                "$JS.API.STREAM.CREATE.DLQ",
                "$JS.API.STREAM.INFO.EVT_PAYMENTS",
                "$JS.API.CONSUMER.DELETE.EVT_PAYMENTS.shipping",
                "$JS.API.CONSUMER.CREATE.EVT_PAYMENTS.shipping",
                "$JS.API.CONSUMER.CREATE.EVT_PAYMENTS.shipping.>",
                "$JS.API.CONSUMER.INFO.EVT_PAYMENTS.shipping",
                "$JS.API.CONSUMER.MSG.NEXT.EVT_PAYMENTS.shipping",
                "$JS.ACK.EVT_PAYMENTS.shipping.>",
            ]
        );
        assert_eq!(
            subjects(&user.subscribe),
            [
                "_INBOX.shipping.>",
                "svc.shipping.>",
                "$SRV.PING",
                "$SRV.INFO",
                "$SRV.STATS",
                "$SRV.PING.shipping",
                "$SRV.INFO.shipping",
                "$SRV.STATS.shipping",
                "$SRV.PING.shipping.*",
                "$SRV.INFO.shipping.*",
                "$SRV.STATS.shipping.*",
            ]
        );
    }

    #[test]
    fn partitions_share_the_user_with_their_consumers_and_private_subjects_by_name() {
        let user = component_user(&manifest(
            r#"{"name":"ledger","subscribes":{"EVT_PAYMENTS":["payments.captured.v1"]},
                "serves":["ledger.get.v1"],"partitions":{"by":"order","count":2}}"#,
        ));
        let publish = subjects(&user.publish);
        let consumers: Vec<&str> = publish
            .iter()
            .copied()
            .filter(|s| s.starts_with("$JS.API.CONSUMER.") || s.starts_with("$JS.ACK."))
            .collect();
        assert_eq!(
            consumers,
            [
                "$JS.API.CONSUMER.DELETE.EVT_PAYMENTS.ledger-p0of2",
                "$JS.API.CONSUMER.CREATE.EVT_PAYMENTS.ledger-p0of2",
                "$JS.API.CONSUMER.CREATE.EVT_PAYMENTS.ledger-p0of2.>",
                "$JS.API.CONSUMER.INFO.EVT_PAYMENTS.ledger-p0of2",
                "$JS.API.CONSUMER.MSG.NEXT.EVT_PAYMENTS.ledger-p0of2",
                "$JS.ACK.EVT_PAYMENTS.ledger-p0of2.>",
                "$JS.API.CONSUMER.DELETE.EVT_PAYMENTS.ledger-p1of2",
                "$JS.API.CONSUMER.CREATE.EVT_PAYMENTS.ledger-p1of2",
                "$JS.API.CONSUMER.CREATE.EVT_PAYMENTS.ledger-p1of2.>",
                "$JS.API.CONSUMER.INFO.EVT_PAYMENTS.ledger-p1of2",
                "$JS.API.CONSUMER.MSG.NEXT.EVT_PAYMENTS.ledger-p1of2",
                "$JS.ACK.EVT_PAYMENTS.ledger-p1of2.>",
            ],
            "the partitions' durable names, not the component's"
        );
        let private: Vec<&str> = publish.iter().copied().filter(|s| s.starts_with("svc.")).collect();
        assert_eq!(
            private,
            ["svc.ledger.p0of2.get.v1", "svc.ledger.p1of2.get.v1"],
            "forwarding and gathering to each partition's own subject"
        );
        assert!(user.allow_responses, "the owner answers a forwarded caller");
        assert_eq!(user.name, "ledger", "one user for every partition");
    }

    #[test]
    fn a_component_reading_its_own_stream_asks_for_its_info_once() {
        let user = component_user(&manifest(
            r#"{"name":"catalog","publishes":["catalog.upserted.v1"],
                "subscribes":{"EVT_CATALOG":["catalog.upserted.v1"]}}"#,
        ));
        let info = subjects(&user.publish)
            .into_iter()
            .filter(|s| *s == "$JS.API.STREAM.INFO.EVT_CATALOG")
            .count();
        assert_eq!(info, 1);
    }

    #[test]
    fn a_client_only_calls_and_listens() {
        let user = client_user(&manifest(
            r#"{"name":"gateway","calls":["orders.get.v1","orders.place.v1"],"listens":["evt.>"]}"#,
        ));
        assert_eq!(subjects(&user.publish), ["svc.orders.get.v1", "svc.orders.place.v1"]);
        assert_eq!(subjects(&user.subscribe), ["_INBOX.gateway.>", "evt.>"]);
        assert!(!user.allow_responses);
    }

    #[test]
    fn the_nkey_variant_names_public_keys_instead_of_passwords() {
        let text = render(
            &users(&[manifest(
                r#"{"name":"order-history","serves":["order-history.get.v1"]}"#,
            )]),
            Auth::Nkey,
        );
        assert!(text.contains("      nkey: $ORDER_HISTORY_NKEY\n"));
        assert!(text.contains("      nkey: $OPERATOR_NKEY\n"));
        assert!(!text.contains("password"));
        assert!(!text.contains("user: "));
    }

    #[test]
    fn long_summaries_are_wrapped() {
        assert_eq!(
            wrap("calls a.b.v1, c.d.v1, e.f.v1", 16),
            ["calls a.b.v1,", "  c.d.v1, e.f.v1"]
        );
        assert_eq!(wrap("short", 16), ["short"]);
    }

    #[test]
    fn an_empty_list_is_rendered_as_deny_all() {
        // nats-server treats `allow: []` as no restriction at all.
        let user = client_user(&manifest(r#"{"name":"quiet"}"#));
        let text = render(&[user], Auth::Password);
        assert!(text.contains("publish: { deny: [\">\"] }"), "{text}");
        assert!(!text.contains("allow: []"));
    }

    #[test]
    fn subjects_are_quoted_and_passwords_are_variables() {
        let text = render(
            &users(&[manifest(
                r#"{"name":"order-history","serves":["order-history.get.v1"]}"#,
            )]),
            Auth::Password,
        );
        assert!(text.contains("password: $ORDER_HISTORY_PASSWORD\n"));
        assert!(text.contains("password: $OPERATOR_PASSWORD\n"));
        assert!(text.contains("password: $OBSERVER_PASSWORD\n"));
        assert!(text.contains("\"$JS.API.STREAM.INFO.DLQ\""));
        for line in text.lines().filter(|l| l.trim_start().starts_with("\"$")) {
            assert!(line.trim_start().starts_with('"'), "{line}");
        }
    }
}
