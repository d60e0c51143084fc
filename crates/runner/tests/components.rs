//! Components come from their manifests, and each starts as its manifest says — a cargo
//! binary of the workspace, or any command (a component in another language).

use std::path::Path;
use std::time::{Duration, Instant};

use runner::{Kind, Settings, Start, components};

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

#[test]
fn the_list_comes_from_the_manifests_with_how_each_starts() {
    let repo = tempfile::tempdir().expect("tempdir");
    let root = repo.path().join("components");
    write(
        &root.join("tally/manifest.json"),
        r#"{"name": "tally", "serves": ["tally.count.v1"]}"#,
    );
    write(&root.join("tally/Cargo.toml"), "[package]\nname = \"tally\"\n");
    write(
        &root.join("front/manifest.json"),
        r#"{"name": "front", "calls": ["tally.count.v1"], "start": {"command": ["node", "front.js"]}}"#,
    );
    write(
        &root.join("binned/manifest.json"),
        r#"{"name": "binned", "subscribes": {"EVT_TALLY": ["tally.counted.v1"]}, "start": {"cargo": {"bin": "other"}}}"#,
    );
    std::fs::create_dir_all(root.join(".hidden")).expect("mkdir");

    let found = components(repo.path()).expect("components");
    let summary: Vec<(&str, Kind, &Start)> = found.iter().map(|c| (c.name.as_str(), c.kind, &c.start)).collect();
    assert_eq!(
        summary,
        [
            (
                "binned",
                Kind::Component,
                &Start::Cargo {
                    bin: Some("other".into())
                }
            ),
            (
                "front",
                Kind::Client,
                &Start::Command(vec!["node".into(), "front.js".into()])
            ),
            ("tally", Kind::Component, &Start::Cargo { bin: None }),
        ]
    );
}

#[test]
fn a_folder_that_cannot_be_started_is_an_error_that_says_what_to_do() {
    let cases = [
        (None, "no readable manifest.json"),
        (
            Some(r#"{"name": "x", "serves": ["x.a.v1"]}"#),
            "no `start` and no Cargo.toml",
        ),
        (
            Some(r#"{"name": "x", "start": {"command": []}}"#),
            "`start.command` is empty",
        ),
        (
            Some(r#"{"name": "x", "start": {"docker": "x:1"}}"#),
            "not a component manifest",
        ),
    ];
    for (manifest, expected) in cases {
        let repo = tempfile::tempdir().expect("tempdir");
        let dir = repo.path().join("components/x");
        std::fs::create_dir_all(&dir).expect("mkdir");
        if let Some(text) = manifest {
            write(&dir.join("manifest.json"), text);
        }
        let err = format!("{:#}", components(repo.path()).expect_err(expected));
        assert!(err.contains(expected), "{expected:?} not in: {err}");
    }
}

#[test]
fn a_missing_cargo_binary_names_the_build_command() {
    let repo = tempfile::tempdir().expect("tempdir");
    write(
        &repo.path().join("components/tally/manifest.json"),
        r#"{"name": "tally", "serves": ["tally.count.v1"]}"#,
    );
    write(&repo.path().join("components/tally/Cargo.toml"), "");
    let tally = &components(repo.path()).expect("components")[0];
    let settings = Settings {
        bin_dir: repo.path().join("target/debug"),
        ..Settings::default()
    };
    let err = format!("{:#}", tally.process(&settings).expect_err("no binary"));
    assert!(err.contains("cargo build -p tally"), "{err}");
}

/// A command component runs in its own directory with the bus URL, its data root, its user
/// and the run's extra environment — what a component in any language needs to start.
#[test]
fn a_command_component_starts_in_its_folder_with_its_environment() {
    let repo = tempfile::tempdir().expect("tempdir");
    let dir = repo.path().join("components/echo");
    write(
        &dir.join("manifest.json"),
        r#"{"name": "echo", "serves": ["echo.say.v1"], "start": {"command": ["sh", "./run.sh", "--flag"]}}"#,
    );
    write(
        &dir.join("run.sh"),
        "echo \"$1 $NATS_URL $NATS_USER $NATS_PASSWORD $MANDATE_DATA_DIR $EXTRA $(pwd)\" > seen\nsleep 30\n",
    );
    let echo = &components(repo.path()).expect("components")[0];
    let settings = Settings {
        url: "nats://a:4222,nats://b:4222".into(),
        data_dir: repo.path().join("data"),
        credentials: [("echo".to_owned(), ("echo".to_owned(), "pw".to_owned()))].into(),
        env: vec![("EXTRA".into(), "more".into())],
        log_dir: Some(repo.path().to_owned()),
        ..Settings::default()
    };
    let mut running = echo.process(&settings).expect("process").spawn().expect("starts");
    let seen = dir.join("seen");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&seen).is_ok_and(|s| s.ends_with('\n')) {
        assert!(Instant::now() < deadline, "the command did not run");
        std::thread::sleep(Duration::from_millis(20));
    }
    let expected = format!(
        "--flag nats://a:4222,nats://b:4222 echo pw {} more {}\n",
        repo.path().join("data").display(),
        dir.canonicalize().expect("canonical").display()
    );
    assert_eq!(std::fs::read_to_string(&seen).expect("seen"), expected);
    assert!(running.alive().is_ok());
    assert!(
        !running.terminate(Duration::from_secs(5)),
        "sleep ends by the signal, not by itself"
    );
}

/// A component whose manifest declares `partitions` runs as that many processes, each named
/// as it answers the admin protocol (`<name>.p<P>of<N>`), with its partition in the
/// environment, its own log, and the component's bus user.
#[test]
fn a_partitioned_component_runs_as_one_process_per_partition() {
    let repo = tempfile::tempdir().expect("tempdir");
    let dir = repo.path().join("components/echo");
    write(
        &dir.join("manifest.json"),
        r#"{"name": "echo", "serves": ["echo.say.v1"], "partitions": {"by": "order", "count": 3},
            "start": {"command": ["sh", "./run.sh"]}}"#,
    );
    write(
        &dir.join("run.sh"),
        "echo \"$MANDATE_PARTITION of $MANDATE_PARTITIONS as $NATS_USER\" > seen-$MANDATE_PARTITION\n",
    );
    let echo = &components(repo.path()).expect("components")[0];
    assert_eq!(echo.instances(), ["echo.p0of3", "echo.p1of3", "echo.p2of3"]);
    let settings = Settings {
        data_dir: repo.path().join("data"),
        credentials: [("echo".to_owned(), ("echo".to_owned(), "pw".to_owned()))].into(),
        log_dir: Some(repo.path().to_owned()),
        ..Settings::default()
    };
    let mut running = echo
        .instance_process(&settings, "echo.p1of3")
        .expect("process")
        .spawn()
        .expect("starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while running.alive().is_ok() {
        assert!(Instant::now() < deadline, "the command did not end");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("seen-1")).expect("seen"),
        "1 of 3 as echo\n"
    );
    assert!(repo.path().join("echo.p1of3.log").exists(), "its own log");
    assert!(
        echo.instance_process(&settings, "echo.p3of3").is_err(),
        "no such partition"
    );
}
