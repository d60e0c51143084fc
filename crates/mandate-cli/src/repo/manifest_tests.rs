//! Tests of `manifest.rs` (kept apart: the module is long enough on its own).

use super::*;

fn manifest(json: &str) -> ComponentManifest {
    serde_json::from_str(json).expect("parses")
}

#[test]
fn a_component_publishes_and_serves_only_its_own_types() {
    let ok = manifest(
        r#"{"name":"orders","publishes":["orders.placed.v1"],"serves":["orders.get.v1"],
            "subscribes":{"EVT_PAYMENTS":["payments.captured.v1"]}}"#,
    );
    assert_eq!(ok.validate(), Ok(()));
    assert!(ok.is_kit_component());
    let foreign = manifest(r#"{"name":"orders","publishes":["payments.captured.v1"]}"#);
    assert!(foreign.validate().expect_err("refused").contains("only its owner"));
    let foreign = manifest(r#"{"name":"orders","serves":["payments.get.v1"]}"#);
    assert!(
        foreign
            .validate()
            .expect_err("refused")
            .contains("served by their owner")
    );
    let wrong_stream = manifest(r#"{"name":"orders","subscribes":{"EVT_ORDERS":["payments.captured.v1"]}}"#);
    assert!(wrong_stream.validate().expect_err("refused").contains("EVT_PAYMENTS"));
}

#[test]
fn malformed_types_and_reserved_names_are_refused() {
    for bad in [
        "orders.placed",
        "orders.placed.1",
        "Orders.placed.v1",
        "orders.>.v1",
        "orders.placed.v1.x",
    ] {
        assert!(split_type(bad).is_err(), "{bad} accepted");
    }
    assert_eq!(
        split_type("order-history.item_added.v12"),
        Ok(("order-history", "item_added.v12"))
    );
    for name in RESERVED_NAMES {
        let m = manifest(&format!(r#"{{"name":"{name}","serves":["{name}.x.v1"]}}"#));
        assert!(m.validate().is_err(), "{name} accepted");
    }
}

#[test]
fn clients_listen_to_events_only() {
    let gateway = manifest(r#"{"name":"gateway","calls":["orders.get.v1"],"listens":["evt.>"]}"#);
    assert_eq!(gateway.validate(), Ok(()));
    assert!(!gateway.is_kit_component());
    for bad in [">", "svc.>", "_INBOX.>", "evt", "evt.>.x", "evt..x"] {
        let m = manifest(&format!(r#"{{"name":"gateway","listens":["{bad}"]}}"#));
        assert!(m.validate().is_err(), "{bad} accepted");
    }
}

/// A repository whose only component is `components/x/manifest.json` = `text`.
#[test]
fn a_command_serves_metrics_only_when_its_manifest_says_so() {
    let command = r#""start": {"command": ["./run"]}"#;
    assert!(manifest(r#"{"name": "orders"}"#).serves_metrics(), "a workspace binary");
    assert!(!manifest(&format!(r#"{{"name": "x", {command}}}"#)).serves_metrics());
    assert!(!manifest(&format!(r#"{{"name": "x", {command}, "metrics": false}}"#)).serves_metrics());
    assert!(manifest(&format!(r#"{{"name": "x", {command}, "metrics": true}}"#)).serves_metrics());
    let refused = manifest(r#"{"name": "orders", "metrics": false}"#)
        .validate()
        .expect_err("refused");
    assert!(refused.contains("always serves /metrics"), "{refused}");
}

fn problems_of(text: &str) -> Vec<String> {
    let repo = tempfile::tempdir().expect("tempdir");
    let dir = repo.path().join("components/x");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("manifest.json"), text).expect("write");
    check_repo(repo.path())
}

fn assert_one(problems: &[String], expected: &[&str]) {
    assert_eq!(problems.len(), 1, "{problems:#?}");
    for needle in expected {
        assert!(problems[0].contains(needle), "{:?} lacks {needle:?}", problems[0]);
    }
}

#[test]
fn subscribes_as_a_list_is_refused_with_the_map_it_should_be() {
    assert_one(
        &problems_of(r#"{"name": "x", "subscribes": ["orders.placed.v1"]}"#),
        &[
            "components/x/manifest.json: /subscribes is a list; expected a map",
            "each stream it consumes to the event types it handles",
            r#"For example: {"EVT_ORDERS":["orders.placed.v1"]"#,
        ],
    );
}

#[test]
fn an_unknown_top_level_field_is_refused_naming_the_one_meant() {
    assert_one(
        &problems_of(r#"{"name": "x", "subscribe": {"EVT_ORDERS": ["orders.placed.v1"]}}"#),
        &[
            "components/x/manifest.json: the manifest has unknown field `subscribe` (did you mean `subscribes`?)",
            "`calls`, `description`, `listens`, `metrics`, `name`, `partitions`, `publishes`, `serves`, `start`, `subscribes`, `version`",
        ],
    );
}

#[test]
fn partitions_are_an_entity_and_a_count_of_one_to_the_slots() {
    let start = r#""start": {"command": ["node", "x.js"]}"#;
    let ok = problems_of(&format!(
        r#"{{"name": "x", {start}, "partitions": {{"by": "order", "count": 3}}}}"#
    ));
    assert_eq!(ok, Vec::<String>::new());
    for bad in [
        r#"{"by": "order", "count": 13}"#,
        r#"{"by": "order", "count": 0}"#,
        r#"{"by": "order"}"#,
    ] {
        let problems = problems_of(&format!(r#"{{"name": "x", {start}, "partitions": {bad}}}"#));
        assert_eq!(problems.len(), 1, "{bad}: {problems:?}");
        assert!(problems[0].contains("/partitions"), "{bad}: {problems:?}");
    }
}

#[test]
fn a_bad_start_is_refused_with_the_forms_it_may_take() {
    let forms = r#"For example: {"command":["python3","-m","loyalty"]}"#;
    for (start, expected) in [
        (
            r#""python3 main.py""#,
            "/start is the string \"python3 main.py\", which is none of the allowed forms",
        ),
        (
            r#"{"docker": {"image": "x"}}"#,
            "/start is a map, which is none of the allowed forms",
        ),
        (
            r#"{"command": []}"#,
            "/start/command is empty. A program and its arguments",
        ),
        (
            r#"{"cargo": {"binary": "x"}}"#,
            "/start/cargo has unknown field `binary` (did you mean `bin`?)",
        ),
    ] {
        let found = problems_of(&format!(r#"{{"name": "x", "start": {start}}}"#));
        assert_one(&found, &[&format!("components/x/manifest.json: {expected}")]);
        if !start.contains("cargo") {
            assert_one(&found, &[forms]);
        }
    }
}

#[test]
fn a_component_that_is_not_a_crate_must_say_how_it_starts() {
    assert_one(
        &problems_of(r#"{"name": "x", "serves": ["x.count.v1"]}"#),
        &[
            "components/x/manifest.json: no `start` and no Cargo.toml beside it",
            r#""start": {"command": ["python3", "-m", "x"]}"#,
        ],
    );
    assert_eq!(
        problems_of(r#"{"name": "x", "serves": ["x.count.v1"], "start": {"command": ["node", "main.js"]}}"#),
        Vec::<String>::new()
    );
}

#[test]
fn a_missing_name_is_refused_saying_what_a_name_is() {
    assert_one(
        &problems_of(r#"{"publishes": ["x.happened.v1"]}"#),
        &[
            "components/x/manifest.json: the manifest has no `name`",
            "the same as its folder under `components/`",
        ],
    );
    assert_one(
        &problems_of(r#"{"name": "y"}"#),
        &["components/x/manifest.json: /name is \"y\" but its folder is components/x"],
    );
    assert_one(&problems_of("{ nope"), &["components/x/manifest.json: is not JSON"]);
}

#[test]
fn every_problem_of_a_manifest_is_reported_at_once() {
    let found = problems_of(r#"{"name": "X", "publishes": "x.a.v1", "serves": ["x.get"], "extra": 1}"#);
    assert_eq!(found.len(), 4, "{found:#?}");
    for needle in [
        "/name is the string \"X\"",
        "/publishes is the string",
        "/serves/0",
        "`extra`",
    ] {
        assert!(found.iter().any(|p| p.contains(needle)), "no {needle:?} in {found:#?}");
    }
}

#[test]
fn every_committed_manifest_matches_the_schema() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    assert_eq!(check_repo(&repo), Vec::<String>::new());
    let schema = schema();
    let mut checked = 0;
    for entry in std::fs::read_dir(repo.join("components")).expect("components") {
        let path = entry.expect("entry").path().join("manifest.json");
        let value: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("JSON");
        assert_eq!(
            crate::validation::problems(&schema, &value, "the manifest"),
            Vec::<String>::new(),
            "{}",
            path.display()
        );
        checked += 1;
    }
    assert!(checked >= 7, "only {checked} manifests");
}

#[test]
fn the_schema_examples_are_valid_manifests() {
    let schema = schema();
    let examples = schema["examples"].as_array().expect("examples");
    assert_eq!(examples.len(), 3);
    for example in examples {
        assert_eq!(
            crate::validation::problems(&schema, example, "the example"),
            Vec::<String>::new(),
            "{example}"
        );
        let manifest: ComponentManifest = serde_json::from_value(example.clone()).expect("reads");
        assert_eq!(manifest.validate(), Ok(()), "{example}");
    }
}
