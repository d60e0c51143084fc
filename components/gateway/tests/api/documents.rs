//! The committed documents agree with the code: `openapi.yaml` with the routes, and
//! `manifest.json` with the operations the gateway calls and the subjects it listens to.

use std::collections::{BTreeMap, BTreeSet};

use gateway::routes::ROUTES;
use serde_yaml::Value;

const OPENAPI: &str = include_str!("../../openapi.yaml");
const MANIFEST: &str = include_str!("../../manifest.json");
const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options", "trace"];

fn openapi() -> Value {
    serde_yaml::from_str(OPENAPI).expect("openapi.yaml parses")
}

/// Follows a local `$ref` (`#/components/...`).
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference
                .strip_prefix("#/")
                .unwrap_or_else(|| panic!("non-local $ref {reference}"));
            pointer.split('/').fold(doc, |node, key| {
                node.get(key).unwrap_or_else(|| panic!("dangling $ref {reference}"))
            })
        }
        None => value,
    }
}

#[test]
fn openapi_describes_exactly_the_routes_of_the_router() {
    let doc = openapi();
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1.")),
        "not OpenAPI 3.1"
    );
    let paths = doc["paths"].as_mapping().expect("paths");
    let mut documented = BTreeSet::new();
    for (path, item) in paths {
        let path = path.as_str().expect("a path");
        for method in METHODS {
            if item.get(*method).is_some() {
                documented.insert((method.to_string(), path.to_owned()));
            }
        }
    }
    let served: BTreeSet<_> = ROUTES
        .iter()
        .map(|route| (route.verb.as_str().to_owned(), route.path.to_owned()))
        .collect();
    assert_eq!(
        documented,
        served,
        "openapi.yaml and routes.rs differ: only documented {:?}, only served {:?}",
        documented.difference(&served).collect::<Vec<_>>(),
        served.difference(&documented).collect::<Vec<_>>()
    );
}

#[test]
fn every_documented_operation_names_its_path_parameters_call_and_error_shape() {
    let doc = openapi();
    for route in ROUTES {
        let item = &doc["paths"][route.path];
        let operation = &item[route.verb.as_str()];
        let where_ = format!("{} {}", route.verb.as_str(), route.path);
        // Path parameters: the `{name}`s of the path, declared on the path or the operation.
        let wanted: BTreeSet<String> = route
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_owned)
            .collect();
        let declared: BTreeSet<String> = [item.get("parameters"), operation.get("parameters")]
            .into_iter()
            .flatten()
            .flat_map(|list| list.as_sequence().expect("parameters is a list"))
            .map(|p| resolve(&doc, p))
            .filter(|p| p["in"].as_str() == Some("path"))
            .map(|p| p["name"].as_str().expect("a name").to_owned())
            .collect();
        assert_eq!(declared, wanted, "{where_}: path parameters");
        // The operation it calls on the bus.
        assert_eq!(
            operation
                .get("x-mandate-calls")
                .and_then(Value::as_str)
                .map(str::to_owned),
            route.operation(),
            "{where_}: x-mandate-calls"
        );
        // Every error response is the Error schema.
        let responses = operation["responses"].as_mapping().expect("responses");
        assert!(
            responses.keys().any(|k| k.as_str().is_some_and(|s| s.starts_with('2'))),
            "{where_}: no 2xx"
        );
        for (status, response) in responses {
            let status = status.as_str().expect("quoted status");
            if status.starts_with('4') || status.starts_with('5') {
                let schema = &resolve(&doc, response)["content"]["application/json"]["schema"];
                assert_eq!(
                    schema.get("$ref").and_then(Value::as_str),
                    Some("#/components/schemas/Error"),
                    "{where_}: {status} is not an Error"
                );
            }
        }
    }
}

#[derive(Debug, serde::Deserialize)]
struct Manifest {
    #[serde(flatten)]
    kit: mandate::Manifest,
    calls: Vec<String>,
    listens: Vec<String>,
}

#[test]
fn the_manifest_lists_exactly_what_the_gateway_calls_and_listens_to() {
    let manifest: Manifest =
        serde_json::from_str(MANIFEST).expect("manifest.json has the kit's shape plus calls and listens");
    assert_eq!(manifest.kit.name, gateway::NAME);
    assert_eq!(manifest.kit.version, env!("CARGO_PKG_VERSION"));
    assert!(manifest.kit.publishes.is_empty() && manifest.kit.subscribes.is_empty() && manifest.kit.serves.is_empty());
    assert_eq!(
        manifest.calls,
        gateway::routes::calls(),
        "manifest.json `calls` differs from routes.rs"
    );
    assert_eq!(
        manifest.listens,
        gateway::LISTENS,
        "manifest.json `listens` differs from events.rs"
    );
    let keys: BTreeSet<String> = serde_json::from_str::<BTreeMap<String, serde_json::Value>>(MANIFEST)
        .expect("an object")
        .into_keys()
        .collect();
    let expected: BTreeSet<String> = [
        "name",
        "version",
        "description",
        "publishes",
        "subscribes",
        "serves",
        "calls",
        "listens",
    ]
    .map(str::to_owned)
    .into();
    assert_eq!(keys, expected);
}
