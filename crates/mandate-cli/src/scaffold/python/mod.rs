//! `mandate new component NAME --lang python`: the files of a component in Python on the
//! kit (kits/python), in the shape of `components/loyalty` — its domain alone:
//!
//! - `src/<module>/component.py`: the declaration — a handler per subscribed event, counting
//!   it under a field it carries (`customer_id` when it has one), an answer per operation;
//! - `src/<module>/tally.py`: the state, one count per key and event type (SQLite tables);
//! - `tests/test_<module>.py`: the handlers against a real SQLite store, the component
//!   against a real nats-server fed one event of each type over the bus, the manifest check;
//! - `manifest.json` (started by `./run`), `pyproject.toml`, `run`, `Dockerfile`.
//!
//! The names (modules, handlers, key fields) come from the same plan as the Rust scaffold's
//! (`render::Plan`); the wiring into the deployment is the same too (`wire_into_deployment`),
//! plus the Cargo workspace's `exclude` (`workspace.rs`).

mod values;
pub mod workspace;

use std::collections::BTreeMap;

use super::contract::EventSchema;
use super::render::Plan;
use super::render::text::fill;

/// The manifest of a component that is not a crate: the kit's fields, how to start it, and
/// that it serves `/metrics` and the probes (the Python kit does; `Component.manifest()`
/// writes the same).
#[derive(serde::Serialize)]
struct Manifest {
    #[serde(flatten)]
    manifest: mandate::Manifest,
    start: Start,
    metrics: bool,
}

#[derive(serde::Serialize)]
struct Start {
    command: Vec<String>,
}

/// Python's keywords and the modules a component's module must not shadow or be mistaken for.
const TAKEN_MODULES: &[&str] = &[
    "False",
    "None",
    "True",
    "and",
    "as",
    "assert",
    "async",
    "await",
    "break",
    "class",
    "continue",
    "def",
    "del",
    "elif",
    "else",
    "except",
    "finally",
    "for",
    "from",
    "global",
    "if",
    "import",
    "in",
    "is",
    "lambda",
    "nonlocal",
    "not",
    "or",
    "pass",
    "raise",
    "return",
    "try",
    "while",
    "with",
    "yield",
    "mandate_kit",
    "mandate_client",
    "nats",
    "msgpack",
    "asyncio",
    "json",
    "logging",
    "os",
    "sys",
    "sqlite3",
    "signal",
    "socket",
    "tempfile",
    "time",
    "typing",
    "unittest",
    "uuid",
    "test",
    "tests",
    "site",
    "types",
    "abc",
    "io",
    "re",
    "string",
    "secrets",
    "select",
    "queue",
    "random",
    "email",
    "http",
    "code",
    "collections",
];

/// Refuses a component name whose Python module (dashes as underscores) would not import
/// or would shadow another module.
pub fn check_module_name(name: &str) -> Result<(), String> {
    let module = module_of(name);
    if TAKEN_MODULES.contains(&module.as_str()) {
        return Err(format!(
            "{name:?} cannot be a component in Python: its module `{module}` is a Python keyword or a module it \
             would shadow; pick another name"
        ));
    }
    Ok(())
}

/// `order-count` → `order_count`.
pub fn module_of(name: &str) -> String {
    name.replace('-', "_")
}

/// Every file of the Python component `plan` describes, by path relative to its folder;
/// `schemas` are the subscribed events' schemas, in the plan's order.
pub fn files(
    plan: &Plan,
    schemas: &[EventSchema],
    warnings: &mut Vec<String>,
) -> anyhow::Result<Vec<(String, String)>> {
    let module = module_of(&plan.name);
    let description = serde_json::to_string(&plan.description)?;
    let doc_description = plan.description.replace('\\', "/").replace("\"\"\"", "'''");
    let common = |template: &str| {
        fill(
            template,
            &[("name", plan.name.as_str()), ("module", module.as_str())]
                .into_iter()
                .filter(|(key, _)| template.contains(&format!("{{{{{key}}}}}")))
                .collect::<Vec<_>>(),
        )
    };
    let manifest = Manifest {
        manifest: plan.manifest(),
        start: Start {
            command: vec!["./run".to_owned()],
        },
        metrics: true,
    };
    Ok(vec![
        (
            "manifest.json".to_owned(),
            serde_json::to_string_pretty(&manifest)? + "\n",
        ),
        (
            "pyproject.toml".to_owned(),
            fill(
                include_str!("../templates/python/pyproject.toml.tmpl"),
                &[
                    ("name", &plan.name),
                    ("version", &plan.version),
                    ("description", &description),
                    ("module", &module),
                ],
            ),
        ),
        ("run".to_owned(), common(include_str!("../templates/python/run.tmpl"))),
        (
            "Dockerfile".to_owned(),
            common(include_str!("../templates/python/Dockerfile.tmpl")),
        ),
        (
            ".gitignore".to_owned(),
            include_str!("../templates/python/gitignore.tmpl").to_owned(),
        ),
        (
            format!("src/{module}/__init__.py"),
            fill(
                include_str!("../templates/python/init.py.tmpl"),
                &[("name", &plan.name), ("description", &doc_description)],
            ),
        ),
        (
            format!("src/{module}/__main__.py"),
            include_str!("../templates/python/main.py.tmpl").to_owned(),
        ),
        (format!("src/{module}/component.py"), component_py(plan, &description)),
        (
            format!("src/{module}/tally.py"),
            common(include_str!("../templates/python/tally.py.tmpl")),
        ),
        (format!("tests/test_{module}.py"), test_py(plan, schemas, warnings)),
    ])
}

/// The handler of a subscription: `on_orders_placed`.
fn handler_name(module: &str) -> String {
    format!("on_{module}")
}

/// The answer of an operation: `count`, `count_v2`; `_op` after a name the module has.
fn answer_name(op: &super::names::OpName) -> String {
    let mut name = op.name.replace('-', "_");
    if op.version > 1 {
        name.push_str(&format!("_v{}", op.version));
    }
    if TAKEN_MODULES.contains(&name.as_str()) || ["main", "component", "tally", "KEY_REQUEST"].contains(&name.as_str())
    {
        name.push_str("_op");
    }
    name
}

fn component_py(plan: &Plan, description: &str) -> String {
    let mut handlers = String::new();
    for sub in &plan.subscriptions {
        let ce_type = sub.ce_type();
        let (key, counted) = match &sub.key {
            Some(field) => (format!("event[{field:?}]"), format!("its `{field}`")),
            None => (
                "\"all\"".to_owned(),
                "`all` (it carries no text field to count by)".to_owned(),
            ),
        };
        handlers.push_str(&format!(
            "\n\n@component.on({ce_type:?})\ndef {}(tx: Tx, event: Mapping[str, Any]) -> list:\n    \
             \"\"\"`{ce_type}`: counted under {counted}.\"\"\"\n    \
             tally.count(tx, {key}, {ce_type:?})\n    return []\n",
            handler_name(&sub.module)
        ));
    }
    let mut operations = String::new();
    if !plan.operations.is_empty() {
        operations.push_str(
            "\n\n# Its own operations' request, until they move into the contract (schemas/): the key to answer for.\n\
             KEY_REQUEST = {\"type\": \"object\", \"properties\": {\"key\": {\"type\": \"string\"}}, \"required\": [\"key\"]}\n",
        );
    }
    for op in &plan.operations {
        let operation = format!("{}.{}.v{}", plan.name, op.op.name, op.op.version);
        operations.push_str(&format!(
            "\n\n@component.serves({operation:?}, request=KEY_REQUEST)\n\
             def {}(db: Any, request: Mapping[str, Any]) -> dict[str, Any]:\n    \
             \"\"\"`{operation}`: the events counted under a key, by event type.\"\"\"\n    \
             return {{\"key\": request[\"key\"], \"events\": tally.events(db, request[\"key\"])}}\n",
            answer_name(&op.op)
        ));
    }
    fill(
        include_str!("../templates/python/component.py.tmpl"),
        &[
            ("name", &plan.name),
            ("version", &plan.version),
            ("description", description),
            ("handlers", &handlers),
            ("operations", &operations),
        ],
    )
}

fn test_py(plan: &Plan, schemas: &[EventSchema], warnings: &mut Vec<String>) -> String {
    let module = module_of(&plan.name);
    let mut handler_imports = String::new();
    let mut values_text = String::new();
    let mut handler_calls = String::new();
    let mut publishes = String::new();
    // Per key, per event type, how many; per stream, how many events.
    let mut expected: BTreeMap<String, BTreeMap<String, u32>> = BTreeMap::new();
    let mut applied: BTreeMap<String, u32> = BTreeMap::new();
    for (sub, schema) in plan.subscriptions.iter().zip(schemas) {
        let ce_type = sub.ce_type();
        let constant = sub.module.to_uppercase();
        let handler = handler_name(&sub.module);
        handler_imports.push_str(&format!(", {handler}"));
        let value = values::of_event(
            schema.json(),
            sub.key.as_deref(),
            &format!("the test's {ce_type}"),
            warnings,
        );
        values_text.push_str(&format!("{constant} = {}\n", values::literal(&value, 0)));
        handler_calls.push_str(&format!(
            "                    self.assertEqual({handler}(tx, {constant}), [])\n"
        ));
        publishes.push_str(&format!(
            "                    await bus.publish({ce_type:?}, {constant})\n"
        ));
        let key = if sub.key.is_some() { "KEY" } else { "\"all\"" };
        *expected.entry(key.to_owned()).or_default().entry(ce_type).or_default() += 1;
        *applied.entry(mandate::stream_name(&sub.owner)).or_default() += 1;
    }
    if handler_calls.is_empty() {
        handler_calls.push_str("                    pass  # it handles no events\n");
    }
    let expected_text = {
        let keys: Vec<String> = expected
            .iter()
            .map(|(key, types)| {
                let types: Vec<String> = types.iter().map(|(t, n)| format!("{t:?}: {n}")).collect();
                format!("{key}: {{{}}}", types.join(", "))
            })
            .collect();
        format!("{{{}}}", keys.join(", "))
    };
    let applied_text = {
        let streams: Vec<String> = applied.iter().map(|(s, n)| format!("{s:?}: {n}")).collect();
        format!("{{{}}}", streams.join(", "))
    };
    let mut calls = String::new();
    for op in &plan.operations {
        let operation = format!("{}.{}.v{}", plan.name, op.op.name, op.op.version);
        calls.push_str(&format!(
            "                    for key in EXPECTED or [KEY]:\n                        \
             reply = await bus.call({operation:?}, {{\"key\": key}})\n                        \
             self.assertEqual(reply, {{\"key\": key, \"events\": EXPECTED.get(key, {{}})}})\n"
        ));
    }
    let bus_test = match (plan.subscriptions.is_empty(), plan.operations.is_empty()) {
        (false, false) => "every_event_is_counted_and_served",
        (false, true) => "every_event_is_counted",
        _ => "every_operation_answers",
    };
    fill(
        include_str!("../templates/python/test.py.tmpl"),
        &[
            ("name", &plan.name),
            ("module", &module),
            ("handler_imports", &handler_imports),
            ("values", &values_text),
            ("expected", &expected_text),
            ("handler_calls", &handler_calls),
            ("bus_test", bus_test),
            ("publishes", &publishes),
            ("applied", &applied_text),
            ("calls", &calls),
        ],
    )
}
