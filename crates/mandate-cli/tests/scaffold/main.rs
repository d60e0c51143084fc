//! `mandate new component`, run as a user runs it, into a workspace beside this one: the
//! scaffolds build, pass `cargo fmt --check`, clippy `-D warnings` and their own tests against
//! a real nats-server with no edits. Bad requests are refused with an exit code and a message
//! that says what to do, and leave nothing behind.
//!
//! That workspace is `testkit::workspace::workspace_copy`: this one's root manifest and lock
//! with the members cut to `components/*`, the shared crates referred to where they are, and a
//! copy of the contract's files; it is built with this workspace's target directory.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use testkit::workspace::{copy_path, workspace_copy};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository")
}

/// What a process left behind.
struct Out {
    what: String,
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn ok(self) -> Out {
        assert_eq!(
            self.code, 0,
            "{} failed:\nstdout:\n{}\nstderr:\n{}",
            self.what, self.stdout, self.stderr
        );
        self
    }

    fn fails(self, code: i32, needles: &[&str]) -> Out {
        assert_eq!(
            self.code, code,
            "{}: wrong exit code\nstdout:\n{}\nstderr:\n{}",
            self.what, self.stdout, self.stderr
        );
        for needle in needles {
            assert!(
                self.stderr.contains(needle),
                "{}: stderr does not mention {needle:?}:\n{}",
                self.what,
                self.stderr
            );
        }
        self
    }
}

/// Runs `command` to completion within `limit` (output through files, so no pipe fills up).
fn run(mut command: Command, what: String, limit: Duration) -> Out {
    let logs = tempfile::tempdir().expect("tempdir");
    let (stdout, stderr) = (logs.path().join("stdout"), logs.path().join("stderr"));
    let mut child = command
        .stdin(Stdio::null())
        .stdout(fs::File::create(&stdout).expect("stdout file"))
        .stderr(fs::File::create(&stderr).expect("stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what}: did not finish within {limit:?}\nstderr:\n{}",
                fs::read_to_string(&stderr).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    Out {
        what,
        code: status.code().unwrap_or(-1),
        stdout: fs::read_to_string(&stdout).unwrap_or_default(),
        stderr: fs::read_to_string(&stderr).unwrap_or_default(),
    }
}

fn mandate(dir: &Path, args: &[&str]) -> Out {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mandate"));
    command.args(args).current_dir(dir).env_remove("RUST_LOG");
    let out = run(command, format!("mandate {args:?}"), Duration::from_secs(60));
    assert!(
        !out.stderr.contains("panicked"),
        "{}: panicked:\n{}",
        out.what,
        out.stderr
    );
    out
}

/// `cargo ARGS` in `dir`, with this workspace's target directory and nats-server.
fn cargo(dir: &Path, args: &[&str]) -> Out {
    // CARGO_TARGET_TMPDIR is `<target dir>/tmp`.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory");
    let nats_server = testkit::nats_server_bin().unwrap_or_else(|e| panic!("{e}"));
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env("NATS_SERVER_BIN", nats_server)
        .env("CARGO_TERM_COLOR", "never")
        .env_remove("RUST_LOG")
        .env_remove("UPDATE_MANIFESTS");
    run(command, format!("cargo {args:?}"), Duration::from_secs(900))
}

/// A counting component fed by two owners' streams and serving its count; one that serves
/// nothing, fed two event types of one stream and one event without a `customer_id` (counted
/// by `sku`); one that only serves (ops in the long form, later majors, its own description).
const SCAFFOLDS: [&str; 3] = ["scaffold-tally", "scaffold-watch", "scaffold-answers"];

#[test]
fn a_scaffold_builds_lints_and_passes_its_own_test_with_no_edits() {
    let copy = workspace_copy(&[]);
    let ws = copy.path();
    let ws_arg = ws.to_str().expect("utf-8 path");

    let tally = mandate(
        ws,
        &[
            "new",
            "component",
            "scaffold-tally",
            "--subscribe",
            "orders.placed.v1",
            "--subscribe",
            "payments.captured.v1",
            "--serve",
            "count.v1",
            "--repo",
            ws_arg,
        ],
    )
    .ok();
    for expected in [
        "components/scaffold-tally/Cargo.toml",
        "components/scaffold-tally/manifest.json",
        "components/scaffold-tally/src/lib.rs",
        "components/scaffold-tally/src/main.rs",
        "components/scaffold-tally/src/orders_placed.rs",
        "components/scaffold-tally/src/payments_captured.rs",
        "components/scaffold-tally/src/contract.rs",
        "components/scaffold-tally/src/queries.rs",
        "components/scaffold-tally/tests/scaffold-tally.rs",
        "cargo test -p scaffold-tally",
        "mandate bus-config --write",
        "mandate dev",
        "mandate replay scaffold-tally",
    ] {
        assert!(
            tally.stdout.contains(expected),
            "{expected:?} not in:\n{}",
            tally.stdout
        );
    }
    let handler = fs::read_to_string(ws.join("components/scaffold-tally/src/orders_placed.rs")).expect("handler");
    assert!(
        handler.contains("&event.customer_id"),
        "counted per customer:\n{handler}"
    );

    let watch = mandate(
        ws,
        &[
            "new",
            "component",
            "scaffold-watch",
            "--subscribe",
            "orders.placed.v1",
            "--subscribe",
            "evt.orders.cancelled.v1",
            "--subscribe",
            "catalog.product-upserted.v1",
            "--repo",
            ws_arg,
            "--json",
        ],
    )
    .ok();
    let report: serde_json::Value = serde_json::from_str(&watch.stdout).expect("JSON on stdout");
    assert_eq!(report["component"], "scaffold-watch");
    assert!(report["files"].as_array().is_some_and(|f| f.len() == 9), "{report}");
    let manifest: serde_json::Value = serde_json::from_str(
        &fs::read_to_string(ws.join("components/scaffold-watch/manifest.json")).expect("manifest"),
    )
    .expect("JSON");
    assert_eq!(
        manifest["subscribes"],
        serde_json::json!({"EVT_CATALOG": ["catalog.product-upserted.v1"], "EVT_ORDERS": ["orders.cancelled.v1", "orders.placed.v1"]})
    );

    // Without --repo: the workspace around the current directory.
    mandate(
        &ws.join("components"),
        &[
            "new",
            "component",
            "scaffold-answers",
            "--serve",
            "scaffold-answers.lookup.v2",
            "--serve",
            "count",
            "--serve",
            "lookup.v10",
            "--description",
            "answers questions.",
        ],
    )
    .ok();
    let contract = fs::read_to_string(ws.join("components/scaffold-answers/src/contract.rs")).expect("contract");
    assert!(contract.contains("pub struct LookupV2;") && contract.contains("const VERSION: u32 = 2;"));

    let packages: Vec<&str> = SCAFFOLDS.iter().flat_map(|name| ["-p", *name]).collect();
    let with = |first: &[&'static str], last: &[&'static str]| -> Vec<&str> {
        first
            .iter()
            .copied()
            .chain(packages.iter().copied())
            .chain(last.iter().copied())
            .collect()
    };
    cargo(ws, &with(&["fmt"], &["--check"])).ok();
    cargo(ws, &with(&["clippy", "--all-targets"], &["--", "-D", "warnings"])).ok();
    let tests = cargo(ws, &with(&["test"], &[])).ok();
    for passed in [
        "every_event_is_counted_and_served ... ok",
        "every_event_is_counted ... ok",
        "every_operation_answers ... ok",
        "the_committed_manifest_is_current ... ok",
    ] {
        assert!(
            tests.stdout.contains(passed),
            "{passed:?} not in the test output:\n{}",
            tests.stdout
        );
    }
}

#[test]
fn bad_requests_are_refused_with_what_to_do_and_leave_nothing_behind() {
    let copy = tempfile::tempdir().expect("tempdir");
    let ws = copy.path();
    let repo = repo();
    copy_path(&repo.join("Cargo.toml"), &ws.join("Cargo.toml"));
    copy_path(&repo.join("schemas/json"), &ws.join("schemas/json"));
    copy_path(&repo.join("components/shipping"), &ws.join("components/shipping"));
    let new = |args: &[&str]| {
        let mut all = vec!["new", "component"];
        all.extend_from_slice(args);
        mandate(ws, &all)
    };

    new(&["Bad_Name", "--serve", "count"]).fails(2, &["invalid component name", "lower-case letters"]);
    new(&["schemas", "--serve", "count"]).fails(2, &["pick another"]);
    new(&["shipping", "--serve", "count"]).fails(1, &["components/shipping already exists", "pick another name"]);
    new(&["tally", "--subscribe", "orders.shipped.v1"]).fails(
        2,
        &[
            "unknown event type orders.shipped.v1",
            "orders publishes: orders.cancelled.v1",
            "add the event to schemas/",
        ],
    );
    new(&["tally", "--subscribe", "nobody.x.v1"]).fails(2, &["known event types: catalog.product-upserted.v1"]);
    new(&["tally", "--subscribe", "orders.placed"]).fails(2, &["<owner>.<event>.v<major>"]);
    new(&["tally", "--serve", "orders.get.v1"]).fails(
        2,
        &[
            "belongs to `orders`",
            "serves only its own",
            "--serve get",
            "--subscribe orders.<event>.v<major>",
        ],
    );
    new(&["tally", "--serve", "admin"]).fails(2, &["kit's own"]);
    new(&["tally"]).fails(2, &["nothing to scaffold", "--subscribe", "--serve"]);
    new(&["json", "--lang", "python", "--serve", "count"]).fails(2, &["cannot be a component in Python", "json"]);
    new(&["tally", "--lang", "cobol", "--serve", "count"]).fails(2, &["invalid value 'cobol'", "python"]);
    let elsewhere = tempfile::tempdir().expect("tempdir");
    mandate(elsewhere.path(), &["new", "component", "tally", "--serve", "count"]).fails(1, &["pass --repo"]);

    let left: Vec<String> = fs::read_dir(ws.join("components"))
        .expect("components")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, vec!["shipping"], "a refusal writes nothing");
}

/// `mandate new` wires the component into the deployment: bus-config regenerated with its
/// user, docker-compose.yml with its service, volume and password — and `mandate check` then
/// finds the repository consistent. (A repository of the storefront's manifests, deployment
/// files and contract; its components' Cargo.toml are there — without `start`, a component is
/// the crate of its folder — but not members, so nothing is built.)
/// A repository of the storefront's manifests, deployment files and contract; its
/// components' Cargo.toml are there — without `start`, a component is the crate of its folder —
/// but not members, so nothing is built.
fn storefront_repo() -> tempfile::TempDir {
    let repo = repo();
    let copy = tempfile::tempdir().expect("tempdir");
    let ws = copy.path();
    fs::write(
        ws.join("Cargo.toml"),
        "[workspace]\nmembers = []\nresolver = \"3\"\n\n[workspace.package]\nversion = \"0.1.0\"\nedition = \"2024\"\n",
    )
    .expect("Cargo.toml");
    for file in ["docker-compose.yml", ".env.example"] {
        copy_path(&repo.join(file), &ws.join(file));
    }
    copy_path(&repo.join("bus-config"), &ws.join("bus-config"));
    for dir in ["schemas/json", "schemas/history"] {
        copy_path(&repo.join(dir), &ws.join(dir));
    }
    copy_path(&repo.join("schemas/asyncapi.yaml"), &ws.join("schemas/asyncapi.yaml"));
    for entry in fs::read_dir(repo.join("components")).expect("components/") {
        let dir = entry.expect("entry").path();
        let target = ws.join("components").join(dir.file_name().expect("name"));
        fs::create_dir_all(&target).expect("mkdir");
        // A component in another language has no Cargo.toml and its own Dockerfile (loyalty).
        for file in ["manifest.json", "Cargo.toml", "Dockerfile"] {
            if dir.join(file).is_file() {
                copy_path(&dir.join(file), &target.join(file));
            }
        }
    }
    copy
}

#[test]
fn a_new_component_gets_its_bus_user_and_its_compose_service() {
    let repo = repo();
    let copy = storefront_repo();
    let ws = copy.path();
    let ws_arg = ws.to_str().expect("utf-8 path");

    let out = mandate(
        ws,
        &[
            "new",
            "component",
            "order-count",
            "--subscribe",
            "orders.placed.v1",
            "--serve",
            "count",
            "--repo",
            ws_arg,
        ],
    )
    .ok();
    for changed in [
        "bus-config/permissions.conf",
        ".env.example",
        "docker-compose.yml",
        "schemas/asyncapi.yaml",
    ] {
        assert!(
            out.stdout.contains("wired into the deployment:") && out.stdout.contains(changed),
            "{changed} not reported:\n{}",
            out.stdout
        );
    }
    let permissions = fs::read_to_string(ws.join("bus-config/permissions.conf")).expect("permissions");
    assert!(
        permissions.contains("user: \"order-count\"\n      password: $ORDER_COUNT_PASSWORD\n"),
        "{permissions}"
    );
    let env = fs::read_to_string(ws.join(".env.example")).expect(".env.example");
    assert!(env.contains("ORDER_COUNT_PASSWORD="), "{env}");
    let compose = fs::read_to_string(ws.join("docker-compose.yml")).expect("compose");
    assert!(compose.contains("\n  order-count:\n") && compose.contains("\n  order-count-data:\n"));

    // The files are current, the repository consistent, and the compose file is untouched
    // beyond the new component.
    mandate(ws, &["bus-config", "--repo", ws_arg]).ok();
    let check = mandate(ws, &["check", "--repo", ws_arg]).ok();
    assert!(check.stdout.contains("compose: ok"), "{}", check.stdout);
    assert!(check.stdout.contains("bus config: ok"), "{}", check.stdout);
    assert!(check.stdout.contains("asyncapi: ok"), "{}", check.stdout);
    let document = fs::read_to_string(ws.join("schemas/asyncapi.yaml")).expect("asyncapi.yaml");
    assert!(
        document.contains("order-count"),
        "the document names the new component's operations"
    );
    let original = fs::read_to_string(repo.join("docker-compose.yml")).expect("compose");
    let kept: Vec<&str> = compose
        .lines()
        .filter(|line| !line.contains("order-count") && !line.contains("ORDER_COUNT"))
        .collect();
    let original_lines: Vec<&str> = original.lines().collect();
    assert!(
        kept.len() >= original_lines.len() && original_lines.iter().all(|line| kept.contains(line)),
        "the compose file lost lines"
    );
}

/// `mandate new --lang python` wires a component in Python in as the Rust scaffold does — its
/// bus user, its compose service (built from its own Dockerfile, with its own volume and
/// user), the AsyncAPI document — and names its folder in the Cargo workspace's `exclude`;
/// `mandate check` then passes, and fails again when the compose wiring is taken away.
#[test]
fn a_new_python_component_is_wired_like_a_rust_one() {
    let copy = storefront_repo();
    let ws = copy.path();
    let ws_arg = ws.to_str().expect("utf-8 path");
    let out = mandate(
        ws,
        &[
            "new",
            "component",
            "py-points",
            "--lang",
            "python",
            "--subscribe",
            "orders.completed.v1",
            "--serve",
            "count",
            "--repo",
            ws_arg,
        ],
    )
    .ok();
    for expected in [
        "components/py-points/manifest.json",
        "components/py-points/run",
        "components/py-points/Dockerfile",
        "components/py-points/src/py_points/component.py",
        "components/py-points/tests/test_py_points.py",
        "Cargo.toml",
        "bus-config/permissions.conf",
        "docker-compose.yml",
        "scripts/python-component py-points --unit-tests",
    ] {
        assert!(out.stdout.contains(expected), "{expected:?} not in:\n{}", out.stdout);
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(ws.join("components/py-points/manifest.json")).expect("manifest"))
            .expect("JSON");
    assert_eq!(manifest["start"], serde_json::json!({"command": ["./run"]}));
    assert_eq!(
        manifest["subscribes"],
        serde_json::json!({"EVT_ORDERS": ["orders.completed.v1"]})
    );
    let cargo = fs::read_to_string(ws.join("Cargo.toml")).expect("Cargo.toml");
    assert!(cargo.contains("exclude = [\"components/py-points\"]"), "{cargo}");
    let compose = fs::read_to_string(ws.join("docker-compose.yml")).expect("compose");
    assert!(
        compose.contains(
            "\n  py-points:\n    build:\n      context: .\n      dockerfile: components/py-points/Dockerfile\n"
        ),
        "{compose}"
    );
    let permissions = fs::read_to_string(ws.join("bus-config/permissions.conf")).expect("permissions");
    assert!(permissions.contains("user: \"py-points\""), "{permissions}");
    let check = mandate(ws, &["check", "--repo", ws_arg]).ok();
    assert!(check.stdout.contains("compose: ok"), "{}", check.stdout);

    // Without its compose service, the repository is inconsistent again.
    let start = compose.find("\n  py-points:\n").expect("the service") + 1;
    let end = start
        + compose[start..].find("restart: unless-stopped\n").expect("its end")
        + "restart: unless-stopped\n".len();
    fs::write(
        ws.join("docker-compose.yml"),
        format!("{}{}", &compose[..start], &compose[end..]),
    )
    .expect("written");
    mandate(ws, &["check", "--repo", ws_arg]).fails(1, &["no service `py-points`"]);
}

/// A Python scaffold, in a workspace beside this one with the kit, the client package and
/// the install script: its own tests pass with no edits — its handlers against a real SQLite
/// store, the component against a real nats-server fed one event of each type and asked over
/// the bus, its manifest against its declaration — and the Cargo workspace still loads.
#[test]
fn a_python_scaffold_passes_its_own_tests_against_a_real_server() {
    let copy = workspace_copy(&["clients/python", "kits/python", "scripts/python-component"]);
    let ws = copy.path();
    let ws_arg = ws.to_str().expect("utf-8 path");
    for args in [
        &[
            "py-tally",
            "--subscribe",
            "orders.placed.v1",
            "--subscribe",
            "catalog.product-upserted.v1",
            "--serve",
            "count",
        ][..],
        &["py-answers", "--serve", "lookup.v2"][..],
    ] {
        let mut all = vec!["new", "component", "--lang", "python", "--repo", ws_arg];
        all.extend_from_slice(args);
        mandate(ws, &all).ok();
    }
    // The workspace loads: both folders are excluded.
    cargo(ws, &["metadata", "--format-version", "1", "--no-deps", "--offline"]).ok();
    for (name, passed) in [
        ("py-tally", "test_every_event_is_counted_and_served"),
        ("py-answers", "test_every_operation_answers"),
    ] {
        let mut command = Command::new(ws.join("scripts/python-component"));
        let nats_server = testkit::nats_server_bin().unwrap_or_else(|e| panic!("{e}"));
        command
            .args([name, "--unit-tests", "-v"])
            .env("NATS_SERVER_BIN", nats_server);
        let out = run(
            command,
            format!("scripts/python-component {name} --unit-tests"),
            Duration::from_secs(600),
        )
        .ok();
        for test in [
            passed,
            "test_each_handler_counts_its_event",
            "test_the_committed_manifest_is_current",
        ] {
            assert!(
                out.stderr.contains(&format!("{test} (")) && out.stderr.contains("\nOK"),
                "{test} did not pass:\n{}",
                out.stderr
            );
        }
    }
}

/// A component in another language publishes the schemas of its own messages, written by hand
/// (docs/contract.md, "Commit your schemas"): with their first revisions beside them, they pass
/// `mandate check` and the AsyncAPI document describes them; an incompatible change, a history
/// left behind by a compatible one, and a hand-written schema for a Rust component's message
/// are each refused, saying what to do.
#[test]
fn a_component_in_another_language_publishes_its_own_schemas_written_by_hand() {
    let copy = storefront_repo();
    let ws = copy.path();
    let ws_arg = ws.to_str().expect("utf-8 path");
    let scaffold = [
        "new",
        "component",
        "py-points",
        "--lang",
        "python",
        "--subscribe",
        "orders.completed.v1",
        "--serve",
        "count",
        "--repo",
        ws_arg,
    ];
    mandate(ws, &scaffold).ok();
    let write = |path: &str, text: &str| {
        let path = ws.join(path);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, text).expect("write");
    };
    let request = r#"{"title": "CountRequest", "description": "Whose orders to count.", "type": "object",
        "properties": {"customer_id": {"type": "string"}}, "required": ["customer_id"]}"#;
    let response = r#"{"title": "CountResponse", "description": "How many orders a customer completed.",
        "type": "object", "properties": {"customer_id": {"type": "string"}, "orders": {"type": "integer",
        "minimum": 0}}, "required": ["customer_id", "orders"]}"#;
    for (stem, text) in [
        ("services/py-points.count.v1.request", request),
        ("services/py-points.count.v1.response", response),
    ] {
        write(&format!("schemas/json/{stem}.json"), text);
        write(&format!("schemas/history/{stem}/0001.json"), text);
    }
    mandate(ws, &["asyncapi", "--repo", ws_arg]).ok();
    let check = mandate(ws, &["check", "--repo", ws_arg]).ok();
    assert!(check.stdout.contains("schema compatibility: ok"), "{}", check.stdout);
    let document = fs::read_to_string(ws.join("schemas/asyncapi.yaml")).expect("asyncapi.yaml");
    assert!(
        document.contains("How many orders a customer completed."),
        "described in the AsyncAPI document"
    );

    // A field made required: incompatible with revision 0001.
    let path = "schemas/json/services/py-points.count.v1.request.json";
    let required = request
        .replace(r#"["customer_id"]"#, r#"["customer_id", "since"]"#)
        .replace(
            r#"{"customer_id": {"type": "string"}}"#,
            r#"{"customer_id": {"type": "string"}, "since": {"type": "string"}}"#,
        );
    write(path, &required);
    mandate(ws, &["check", "--repo", ws_arg]).fails(
        1,
        &["schema compatibility: services/py-points.count.v1.request: $.since: required field added"],
    );

    // An optional field is compatible, but the history must record it: as revision 0002.
    let optional = request.replace(
        r#"{"customer_id": {"type": "string"}}"#,
        r#"{"customer_id": {"type": "string"}, "since": {"type": "string"}}"#,
    );
    write(path, &optional);
    mandate(ws, &["asyncapi", "--repo", ws_arg]).ok();
    mandate(ws, &["check", "--repo", ws_arg]).fails(
        1,
        &["services/py-points.count.v1.request: the newest revision schemas/history/services/py-points.count.v1.request/0001.json \
           differs from schemas/json/services/py-points.count.v1.request.json: add it, the same text, as \
           schemas/history/services/py-points.count.v1.request/0002.json"],
    );
    write(
        "schemas/history/services/py-points.count.v1.request/0002.json",
        &optional,
    );
    mandate(ws, &["check", "--repo", ws_arg]).ok();

    // No one writes a schema for a Rust component's message.
    write("schemas/json/events/orders.extra.v1.json", request);
    write("schemas/history/events/orders.extra.v1/0001.json", request);
    mandate(ws, &["check", "--repo", ws_arg]).fails(
        1,
        &["schema compatibility: events/orders.extra.v1: written by hand (it names no x-rust-type), but orders is not a \
           component in another language"],
    );
}
