//! `mandate check` judges the committed contract: every schema under `schemas/json/` stays
//! FULL_TRANSITIVE compatible with its revisions under `schemas/history/` (the `mandate-compat` crate).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::run;

/// `check` needs no server.
const NO_SERVER: &str = "nats://127.0.0.1:1";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("reading {}: {e}", from.display())) {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// The `schema_compatibility` lines of `mandate --json check --repo REPO`.
async fn schema_problems(repo: &Path) -> Vec<String> {
    let out = run(
        NO_SERVER,
        &["--json", "check", "--repo", repo.to_str().expect("utf-8 path")],
        None,
    )
    .await;
    let problems = out.json()["schema_compatibility"].clone();
    serde_json::from_value(problems).unwrap_or_else(|e| panic!("no schema_compatibility list ({e}):\n{}", out.stdout))
}

#[tokio::test]
async fn check_finds_no_incompatible_schema_in_this_repository() {
    assert_eq!(schema_problems(&repo()).await, Vec::<String>::new());
}

#[tokio::test]
async fn check_fails_naming_the_field_path_of_an_incompatible_change() {
    // A workspace holding only this repository's contract files, where a commit has dropped
    // `sku` from the order lines of `orders.placed.v1`.
    let copy = tempfile::tempdir().expect("tempdir");
    let ws = copy.path();
    std::fs::write(ws.join("Cargo.toml"), "[workspace]\nmembers = []\nresolver = \"2\"\n").expect("Cargo.toml");
    copy_tree(&repo().join("schemas/json"), &ws.join("schemas/json"));
    copy_tree(&repo().join("schemas/history"), &ws.join("schemas/history"));
    let placed = ws.join("schemas/json/events/orders.placed.v1.json");
    let mut schema: Value = serde_json::from_str(&std::fs::read_to_string(&placed).expect("read")).expect("JSON");
    let line = schema.pointer_mut("/$defs/OrderLine").expect("OrderLine");
    line["properties"].as_object_mut().expect("properties").remove("sku");
    line["required"]
        .as_array_mut()
        .expect("required")
        .retain(|name| name != "sku");
    std::fs::write(&placed, serde_json::to_string_pretty(&schema).expect("JSON")).expect("write");

    // Against every committed revision (0002 added `x-rust-type`, 0003 `x-mandate-key`:
    // annotations).
    let expected = "events/orders.placed.v1: $.lines[].sku: required field removed: readers of the old version fail on \
                    new messages that lack it [against revisions 0001, 0002, 0003]";
    let problems = schema_problems(ws).await;
    assert!(problems.iter().any(|p| p == expected), "{problems:#?}");

    // As a person reads it: on stderr under the section's name, and exit code 1.
    run(NO_SERVER, &["check", "--repo", ws.to_str().expect("utf-8 path")], None)
        .await
        .fails(1, &format!("schema compatibility: {expected}"));
}
