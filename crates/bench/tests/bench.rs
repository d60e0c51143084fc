//! `mandate-bench --tiny --json`, the real binary (what `mandate bench` runs): every scenario
//! runs and reports a positive figure for the kit and for both baselines. Nothing about speed
//! is asserted — tiny sizes on a shared machine measure nothing — only that each scenario
//! works end to end.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

#[test]
fn every_scenario_reports_the_kit_and_both_baselines() {
    let exe = env!("CARGO_BIN_EXE_mandate-bench");
    let started = Instant::now();
    let out = Command::new(exe)
        .args(["--tiny", "--json", "--quiet"])
        .env_remove("RUST_LOG")
        .output()
        .expect("mandate-bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "mandate-bench --tiny failed:\n{stderr}\n{stdout}");
    assert!(
        started.elapsed() < Duration::from_secs(240),
        "--tiny is meant to take seconds, took {:?}",
        started.elapsed()
    );
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}"));

    assert!(
        report["machine"]["nproc"].as_u64().is_some_and(|n| n >= 1),
        "{report:#}"
    );
    assert!(report["machine"]["load_start"].is_array(), "{report:#}");
    assert_eq!(report["settings"]["tiny"], Value::Bool(true));

    // The storefront needs the component binaries next to the bench (every component crate
    // but the gateway, which is not on the bus path); without them (e.g. only `-p mandate-bench`
    // built) it says so instead of measuring.
    let bin_dir = Path::new(exe).parent().expect("the binary has a folder");
    let components = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../components");
    let storefront_built = std::fs::read_dir(&components)
        .expect("the components folder")
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name != "gateway")
        .all(|name| {
            bin_dir
                .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
                .is_file()
        });

    let scenarios = report["scenarios"].as_array().expect("scenarios");
    let ids: Vec<u64> = scenarios.iter().filter_map(|s| s["id"].as_u64()).collect();
    assert_eq!(ids, [1, 2, 3, 4, 5, 6, 7], "{report:#}");
    for scenario in scenarios {
        let id = scenario["id"].as_u64().unwrap_or_default();
        if let Some(reason) = scenario["skipped"].as_str() {
            assert!(
                id == 5 && !storefront_built,
                "scenario {id} skipped although it can run: {reason}"
            );
            assert!(reason.contains("cargo build"), "a skip says how to fix it: {reason}");
            eprintln!("note: scenario 5 skipped ({reason})");
            continue;
        }
        let metrics = scenario["metrics"].as_array().expect("metrics");
        assert!(!metrics.is_empty(), "scenario {id} measured nothing: {scenario:#}");
        // Scenario 7 compares the kit with itself (2 partitions against 1): no (a).
        let fields: &[&str] = if id == 7 {
            &["kit", "b", "kit_over_b"]
        } else {
            &["kit", "a", "b", "kit_over_a", "kit_over_b"]
        };
        for metric in metrics {
            for field in fields {
                let value = metric[field].as_f64().unwrap_or(0.0);
                assert!(
                    value > 0.0 && value.is_finite(),
                    "scenario {id}, {}: {field} = {value}\n{metric:#}",
                    metric["name"]
                );
            }
            assert!(metric["unit"].as_str().is_some_and(|u| !u.is_empty()));
        }
    }
}

#[test]
fn bench_help_names_the_scenarios_and_the_release_command() {
    let out = Command::new(env!("CARGO_BIN_EXE_mandate-bench"))
        .arg("--help")
        .output()
        .expect("mandate-bench runs");
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{help}");
    for expected in [
        "--tiny",
        "--only",
        "--repetitions",
        "storefront",
        "cargo build --release",
    ] {
        assert!(
            help.contains(expected),
            "`mandate-bench --help` lacks {expected:?}:\n{help}"
        );
    }
}

/// `--baseline-processes`: the baselines' place service and stages run as processes of
/// their own (this executable again), each counted on its own in the CPU note, and both
/// baselines complete orders.
#[test]
fn the_baselines_run_as_processes_when_asked() {
    let scenario = storefront(&["--contender", "a,b", "--baseline-processes"]);
    if let Some(reason) = scenario["skipped"].as_str() {
        // Without the component binaries the storefront does not run (see above).
        assert!(reason.contains("cargo build"), "{reason}");
        return;
    }
    let sustained = &scenario["metrics"][0];
    for which in ["a", "b"] {
        assert!(
            sustained[which].as_f64().is_some_and(|v| v > 0.0),
            "{which} completed no order: {scenario:#}"
        );
    }
    let notes = scenario["notes"].to_string();
    for stage in ["stage place", "stage reserve", "stage complete", "bench driver"] {
        assert!(notes.contains(stage), "the CPU note lacks {stage:?}: {notes}");
    }
}

/// `--kit-chain`: the kit runs the baselines' critical path — a place command and five
/// one-handler hops, each component a process of this executable — in both shapes, and
/// completes orders; it needs none of the storefront's binaries, so it never skips.
#[test]
fn the_kit_runs_the_critical_path_when_asked() {
    let shapes: [(&str, &[&str]); 2] = [
        (
            "split",
            &["chain-place", "chain-reserve", "chain-confirm", "chain-complete"],
        ),
        (
            "orders",
            &["chain-orders", "chain-reserve", "chain-capture", "chain-dispatch"],
        ),
    ];
    for (shape, processes) in shapes {
        let scenario = storefront(&["--contender", "kit", "--kit-chain", shape]);
        assert!(
            scenario["skipped"].is_null(),
            "the chain needs no component binaries: {scenario:#}"
        );
        assert!(
            scenario["kit"]
                .as_str()
                .is_some_and(|kit| kit.contains(&format!("--kit-chain {shape}"))),
            "the report says what the kit ran: {scenario:#}"
        );
        for metric in scenario["metrics"].as_array().expect("metrics") {
            assert!(
                metric["kit"].as_f64().is_some_and(|v| v > 0.0 && v.is_finite()),
                "{}: no figure for the kit chain ({shape}): {scenario:#}",
                metric["name"]
            );
        }
        let notes = scenario["notes"].to_string();
        for process in processes.iter().chain(&["bench driver"]) {
            assert!(notes.contains(process), "the CPU note lacks {process:?}: {notes}");
        }
    }
}

/// Scenario 5 alone at `--tiny` sizes with `args`: its report, once the run succeeded.
fn storefront(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_mandate-bench"))
        .args(["--tiny", "--json", "--quiet", "--only", "5"])
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("mandate-bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "mandate-bench {} failed:\n{}\n{stdout}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}"));
    report["scenarios"][0].clone()
}
