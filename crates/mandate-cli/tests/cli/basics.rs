//! Help, usage errors, and `decode` (which needs no server).

use serde_json::json;

use crate::common::run;

/// An address nothing listens on: `decode` must not try to connect.
const NO_SERVER: &str = "nats://127.0.0.1:1";

#[tokio::test]
async fn help_lists_every_command_and_bad_usage_exits_2() {
    let help = run(NO_SERVER, &["--help"], None).await.ok();
    for command in [
        "decode", "tail", "publish", "call", "status", "replay", "export", "import", "dlq",
    ] {
        assert!(
            help.stdout.contains(command),
            "--help does not list {command}:\n{}",
            help.stdout
        );
    }
    assert!(help.stdout.contains("--server"), "connection flags are global");
    for sub in [&["dlq", "--help"][..], &["tail", "--help"], &["dlq", "purge", "--help"]] {
        run(NO_SERVER, sub, None).await.ok();
    }
    run(NO_SERVER, &[], None).await.fails(2, "Usage");
    run(NO_SERVER, &["frobnicate"], None).await.fails(2, "frobnicate");
    run(NO_SERVER, &["publish", "orders.placed.v1", "{}"], None)
        .await
        .fails(2, "evt.<owner>.<name>.v<major>");
    run(NO_SERVER, &["call", "orders.place", "{}"], None)
        .await
        .fails(2, "<owner>.<operation>.v<major>");
    run(NO_SERVER, &["tail", "--no-follow"], None).await.fails(2, "--all");
    run(NO_SERVER, &["tail", "--all", "--since", "10m"], None)
        .await
        .fails(2, "cannot be used with");
    run(NO_SERVER, &["replay", "counter", "--since", "yesterday"], None)
        .await
        .fails(2, "RFC 3339");
}

#[tokio::test]
async fn without_a_server_the_error_says_what_to_do() {
    let out = run(NO_SERVER, &["status", "--connect-timeout", "200ms"], None)
        .await
        .fails(1, "is nats-server running?");
    // One line that says what to do, not the kit's retry warnings before it.
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
}

#[tokio::test]
async fn decode_turns_messagepack_into_json() {
    let value = json!({"order_id": "o-1", "lines": [{"sku": "a", "quantity": 2}], "total_minor": -500, "paid": true, "note": null});
    let bytes = rmp_serde::to_vec_named(&value).expect("encodes");
    let out = run(NO_SERVER, &["decode"], Some(&bytes)).await.ok();
    assert_eq!(out.json(), value);
    assert_eq!(out.stdout.lines().count(), 1, "one compact line when not on a terminal");

    // Binary comes out as base64.
    let mut bytes = Vec::new();
    rmpv::encode::write_value(
        &mut bytes,
        &rmpv::Value::Map(vec![("blob".into(), rmpv::Value::Binary(b"hi!".to_vec()))]),
    )
    .expect("encodes");
    let out = run(NO_SERVER, &["decode", "--pretty"], Some(&bytes)).await.ok();
    assert_eq!(out.json(), json!({"blob": "aGkh"}));
    assert!(out.stdout.lines().count() > 1, "--pretty indents");
}

#[tokio::test]
async fn decode_refuses_bad_input_with_a_clear_error() {
    for (input, needle) in [
        (&b""[..], "no input"),
        (b"\xc1", "not valid MessagePack"),
        (b"\x92\x01", "truncated"),
        (b"\xdf\xff\xff\xff\xff", "truncated"),
        (b"\x01\x02", "left after the first MessagePack value"),
        (b"{\"json\": true}", "left after the first MessagePack value"),
    ] {
        let out = run(NO_SERVER, &["decode"], Some(input)).await.fails(1, needle);
        assert!(out.stdout.is_empty(), "nothing on stdout for {input:?}");
    }
}

/// `mandate check` needs no server: it reads the workspace with `cargo metadata`, passes on
/// this repository and fails, naming the crate, on one that breaks the mandate.
#[tokio::test]
async fn check_passes_here_and_fails_on_a_component_linking_another() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = run(
        NO_SERVER,
        &["check", "--repo", repo.to_str().expect("utf-8 path")],
        None,
    )
    .await
    .ok();
    assert!(out.stdout.contains("dependency rules: ok"), "{}", out.stdout);

    let bad = tempfile::tempdir().expect("tempdir");
    let write = |path: &str, text: &str| {
        let path = bad.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    write(
        "Cargo.toml",
        "[workspace]\nmembers = [\"components/*\"]\nresolver = \"2\"\n",
    );
    for (name, deps) in [
        ("billing", "[dependencies]\nledger = { path = \"../ledger\" }\n"),
        ("ledger", ""),
    ] {
        write(
            &format!("components/{name}/Cargo.toml"),
            &format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n{deps}"),
        );
        write(&format!("components/{name}/src/lib.rs"), "");
    }
    run(
        NO_SERVER,
        &["check", "--repo", bad.path().to_str().expect("utf-8 path")],
        None,
    )
    .await
    .fails(1, "billing");
}

/// `mandate check` holds every manifest to the published format (schemas/json/manifest.json)
/// and reports each problem with its file, its JSON path and what belongs there; what is
/// generated from the manifests waits until they are valid.
#[tokio::test]
async fn check_reports_every_manifest_problem_with_its_file_path_and_fix() {
    let repo = tempfile::tempdir().expect("tempdir");
    let write = |path: &str, text: &str| {
        let path = repo.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    write("Cargo.toml", "[workspace]\nmembers = []\nresolver = \"2\"\n");
    write(
        "components/tally/manifest.json",
        r#"{"name": "tally", "subscribes": ["orders.placed.v1"], "start": {"command": ["node", "main.js"]}}"#,
    );
    write(
        "components/front/manifest.json",
        r#"{"name": "front", "call": ["orders.get.v1"], "start": {"command": []}}"#,
    );
    let path = repo.path().to_str().expect("utf-8 path");

    let out = run(NO_SERVER, &["--json", "check", "--repo", path], None).await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    let manifests: Vec<String> = serde_json::from_value(out.json()["manifests"].clone()).expect("a list");
    assert_eq!(manifests.len(), 3, "{manifests:#?}");
    assert!(
        manifests[0].starts_with("components/front/manifest.json: /start/command is empty"),
        "{}",
        manifests[0]
    );
    assert!(
        manifests[1].starts_with(
            "components/front/manifest.json: the manifest has unknown field `call` (did you mean `calls`?)"
        ),
        "{}",
        manifests[1]
    );
    assert!(
        manifests[2].starts_with("components/tally/manifest.json: /subscribes is a list; expected a map")
            && manifests[2].contains(r#"{"EVT_ORDERS":["orders.placed.v1"]"#),
        "{}",
        manifests[2]
    );
    assert_eq!(
        out.json()["bus_config"],
        json!(["not checked until components/*/manifest.json are valid (see manifests)"])
    );

    run(NO_SERVER, &["check", "--repo", path], None)
        .await
        .fails(1, "manifests: components/tally/manifest.json: /subscribes is a list");
}
