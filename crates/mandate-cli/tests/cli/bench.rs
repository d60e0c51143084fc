//! `mandate bench` runs the `mandate-bench` executable next to it (the bench's own tests are in
//! `crates/bench`): its arguments, help, exit code and the tool's `--json` pass through, and
//! without the executable the command says how to build it.

use std::process::Command;

use crate::common::run;

const NO_SERVER: &str = "nats://127.0.0.1:1";

#[tokio::test]
async fn bench_hands_its_arguments_help_and_exit_code_to_mandate_bench() {
    // Panics with the build command when `mandate-bench` is not built next to `mandate`.
    testkit::workspace_bin("mandate-bench");

    let help = run(NO_SERVER, &["bench", "--help"], None).await.ok();
    for expected in ["Usage: mandate bench", "--tiny", "--only", "--contender", "storefront"] {
        assert!(
            help.stdout.contains(expected),
            "`mandate bench --help` lacks {expected:?}:\n{}",
            help.stdout
        );
    }
    // The bench's own usage error and its exit code.
    run(NO_SERVER, &["bench", "--only", "9"], None)
        .await
        .fails(2, "invalid value '9' for '--only");
}

#[tokio::test]
async fn the_tools_json_flag_reaches_the_bench_and_its_report_comes_back() {
    testkit::workspace_bin("mandate-bench");
    let out = run(
        NO_SERVER,
        &["--json", "bench", "--tiny", "--only", "1", "--events", "200", "--quiet"],
        None,
    )
    .await
    .ok();
    let report = out.json();
    assert_eq!(report["scenarios"][0]["id"], 1, "{report:#}");
    assert_eq!(report["settings"]["events"], 200, "{report:#}");
}

#[test]
fn without_mandate_bench_next_to_it_bench_says_how_to_build_it() {
    let alone = tempfile::tempdir().expect("tempdir");
    let mandate = alone.path().join(format!("mandate{}", std::env::consts::EXE_SUFFIX));
    std::fs::copy(env!("CARGO_BIN_EXE_mandate"), &mandate).expect("mandate copied");
    let out = Command::new(&mandate)
        .args(["bench", "--tiny"])
        .env_remove("RUST_LOG")
        .output()
        .expect("mandate runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for expected in [
        "mandate-bench",
        "cargo build --release -p mandate-bench",
        "cargo build -p mandate-bench",
    ] {
        assert!(stderr.contains(expected), "stderr lacks {expected:?}:\n{stderr}");
    }
}
