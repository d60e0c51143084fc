//! The mandate at build time: which workspace crate may depend on which (docs/design.md §2).
//!
//! Every workspace crate is classified by where it lives; a crate in no known place is itself
//! a violation, so a new kind of crate cannot slip past the rules unclassified.

use std::fmt;
use std::path::Path;

use anyhow::{Context, bail};
use serde::Serialize;

/// What a workspace crate is, by where it lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// `crates/mandate`
    Kit,
    /// `schemas`
    Contract,
    /// `components/<name>`
    Component,
    /// `crates/mandate-cli`
    Tool,
    /// `crates/testkit`
    TestKit,
    /// `crates/e2e`: runs components as processes, never links them.
    EndToEnd,
    /// `crates/compat`: the schema compatibility checker, for the contract's tests and the
    /// tool; no component links it.
    Compat,
    /// `crates/runner`: the process runner (nats-server, components from their manifests),
    /// for the tool, testkit, e2e and tests; it runs binaries and links no workspace crate.
    Runner,
    /// `crates/bench`: the benchmark, a development tool run as a binary (`mandate bench`).
    Bench,
}

/// The kind of a dependency, as `cargo metadata` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Normal,
    Dev,
    Build,
}

/// Where a crate lives (relative to the workspace root, `/`-separated) → its class.
pub fn classify(relative_dir: &str) -> Option<Class> {
    match relative_dir.split('/').collect::<Vec<_>>().as_slice() {
        ["crates", "mandate"] => Some(Class::Kit),
        ["schemas"] => Some(Class::Contract),
        ["components", name] if !name.is_empty() => Some(Class::Component),
        ["crates", "mandate-cli"] => Some(Class::Tool),
        ["crates", "testkit"] => Some(Class::TestKit),
        ["crates", "e2e"] => Some(Class::EndToEnd),
        ["crates", "compat"] => Some(Class::Compat),
        ["crates", "runner"] => Some(Class::Runner),
        ["crates", "bench"] => Some(Class::Bench),
        _ => None,
    }
}

/// May a crate of class `from` depend on one of class `to` with this kind of dependency?
pub fn allowed(from: Class, to: Class, kind: Kind) -> bool {
    use Class::*;
    let dev = kind == Kind::Dev;
    match from {
        // The kit depends on no workspace crate; its tests may use the contract and fixtures.
        Kit => dev && matches!(to, Contract | TestKit | Runner),
        Contract => matches!(to, Kit) || (dev && matches!(to, TestKit | Compat)),
        Component => matches!(to, Kit | Contract) || (dev && to == TestKit),
        Tool => matches!(to, Kit | Compat | Runner) || (dev && to == TestKit),
        // Fixtures start servers and drive kit components; they know no contract or component.
        TestKit => matches!(to, Kit | Runner),
        EndToEnd => matches!(to, Kit | Contract | TestKit | Runner),
        // The checker works on JSON Schema alone.
        Compat => false,
        // The runner runs binaries and reads manifests as files: it links nothing of ours.
        Runner => false,
        // It measures the kit alone; the storefront's components it runs as processes.
        Bench => matches!(to, Kit | Runner) || (dev && to == TestKit),
    }
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub krate: String,
    pub dir: String,
    pub problem: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.krate, self.dir, self.problem)
    }
}

/// A workspace crate and its dependencies on other workspace crates.
#[derive(Debug, Clone)]
pub struct Crate {
    pub name: String,
    /// Relative to the workspace root, `/`-separated.
    pub dir: String,
    pub dependencies: Vec<(String, Kind)>,
}

/// Every rule broken by `crates`.
pub fn check(crates: &[Crate]) -> Vec<Violation> {
    let class_of = |name: &str| crates.iter().find(|c| c.name == name).map(|c| (c, classify(&c.dir)));
    let mut violations = Vec::new();
    for krate in crates {
        let violation = |problem: String| Violation {
            krate: krate.name.clone(),
            dir: krate.dir.clone(),
            problem,
        };
        let Some(from) = classify(&krate.dir) else {
            violations.push(violation(
                "a workspace crate with no rule: place it where docs/design.md §2 says, or add its class to \
                 crates/mandate-cli/src/check/dependencies.rs"
                    .to_owned(),
            ));
            continue;
        };
        for (name, kind) in &krate.dependencies {
            let Some((target, Some(to))) = class_of(name) else {
                continue; // unclassified targets are reported as crates of their own
            };
            if !allowed(from, to, *kind) {
                violations.push(violation(explain(from, to, *kind, &target.name)));
            }
        }
    }
    violations
}

fn explain(from: Class, to: Class, kind: Kind, target: &str) -> String {
    let how = match kind {
        Kind::Normal => "depends on",
        Kind::Dev => "has a dev-dependency on",
        Kind::Build => "has a build-dependency on",
    };
    let why = match (from, to) {
        (_, Class::Component) => {
            "nothing may link a component: reach it over the bus (its services and events), or run its binary"
        }
        (_, Class::Compat) => {
            "only the contract's tests and the tool use the compatibility checker: components do not link it"
        }
        (Class::Compat, _) => "the compatibility checker depends on no workspace crate",
        (Class::Runner, _) => {
            "the process runner depends on no workspace crate: it runs binaries, it does not link them"
        }
        (Class::Component, Class::Runner) => {
            "a component is run by the runner, it does not use it: its tests get servers from testkit"
        }
        (Class::Kit, _) => "the kit depends on no workspace crate (its tests may use schemas and testkit)",
        (Class::Tool, Class::Contract) => "the tool works with any system: read schemas/ artifacts as files instead",
        (_, Class::EndToEnd) => "the end-to-end harness is a test crate: nothing depends on it",
        (_, Class::Bench) => "the bench is a development tool: run its binary (`mandate bench`), nothing links it",
        (Class::Bench, _) => "the bench measures the kit: it depends on the kit (and testkit in its tests) only",
        (_, Class::TestKit) => "testkit is a dev-dependency only",
        (Class::TestKit, _) => "testkit depends on the kit only: it knows no contract and no component",
        _ => "not allowed by docs/design.md §2",
    };
    format!("{how} {target} ({to:?}): {why}")
}

/// Reads the workspace with `cargo metadata` and checks it.
pub fn check_workspace(root: &Path) -> anyhow::Result<Vec<Violation>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(root)
        .output()
        .context("running `cargo metadata` (is cargo installed?)")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed: {}{}",
            String::from_utf8_lossy(&output.stderr).trim(),
            not_crates_hint(root)
        );
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).context("reading cargo metadata")?;
    Ok(check(&crates(&metadata)?))
}

/// When `components/` holds folders without a `Cargo.toml` (components in another language),
/// what to do about them: the member glob `components/*` cannot skip a folder, so each is
/// named in the workspace's `exclude`.
fn not_crates_hint(root: &Path) -> String {
    let mut foreign: Vec<String> = std::fs::read_dir(root.join("components"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| entry.path().is_dir() && !entry.path().join("Cargo.toml").exists())
        .map(|entry| format!("\"components/{}\"", entry.file_name().to_string_lossy()))
        .collect();
    if foreign.is_empty() {
        return String::new();
    }
    foreign.sort();
    format!(
        "\n{} not Rust crate(s): name each in the root Cargo.toml's `exclude = [{}]` \
         (a component in another language, docs/contract.md)",
        foreign.join(", "),
        foreign.join(", ")
    )
}

/// The workspace crates of `cargo metadata` output, with their path dependencies.
pub fn crates(metadata: &serde_json::Value) -> anyhow::Result<Vec<Crate>> {
    let root = metadata["workspace_root"]
        .as_str()
        .context("metadata without workspace_root")?;
    let packages = metadata["packages"].as_array().context("metadata without packages")?;
    let mut crates = Vec::new();
    for package in packages {
        let manifest = package["manifest_path"]
            .as_str()
            .context("package without manifest_path")?;
        let dir = Path::new(manifest)
            .parent()
            .and_then(|dir| dir.strip_prefix(root).ok())
            .map(|dir| {
                dir.components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .unwrap_or_default();
        let dependencies = package["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|dep| dep["path"].is_string())
            .map(|dep| {
                let kind = match dep["kind"].as_str() {
                    Some("dev") => Kind::Dev,
                    Some("build") => Kind::Build,
                    _ => Kind::Normal,
                };
                (dep["name"].as_str().unwrap_or_default().to_owned(), kind)
            })
            .collect();
        crates.push(Crate {
            name: package["name"].as_str().unwrap_or_default().to_owned(),
            dir,
            dependencies,
        });
    }
    Ok(crates)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn krate(name: &str, dir: &str, dependencies: &[(&str, Kind)]) -> Crate {
        Crate {
            name: name.into(),
            dir: dir.into(),
            dependencies: dependencies.iter().map(|(n, k)| ((*n).into(), *k)).collect(),
        }
    }

    fn base() -> Vec<Crate> {
        vec![
            krate(
                "mandate",
                "crates/mandate",
                &[("schemas", Kind::Dev), ("testkit", Kind::Dev)],
            ),
            krate(
                "schemas",
                "schemas",
                &[("mandate", Kind::Normal), ("mandate-compat", Kind::Dev)],
            ),
            krate(
                "testkit",
                "crates/testkit",
                &[("mandate", Kind::Normal), ("runner", Kind::Normal)],
            ),
            krate(
                "orders",
                "components/orders",
                &[
                    ("mandate", Kind::Normal),
                    ("schemas", Kind::Normal),
                    ("testkit", Kind::Dev),
                ],
            ),
            krate("inventory", "components/inventory", &[("mandate", Kind::Normal)]),
            krate(
                "mandate-cli",
                "crates/mandate-cli",
                &[
                    ("mandate", Kind::Normal),
                    ("mandate-compat", Kind::Normal),
                    ("runner", Kind::Normal),
                    ("testkit", Kind::Dev),
                ],
            ),
            krate(
                "e2e",
                "crates/e2e",
                &[
                    ("mandate", Kind::Normal),
                    ("schemas", Kind::Normal),
                    ("testkit", Kind::Normal),
                ],
            ),
            krate("mandate-compat", "crates/compat", &[]),
            krate("runner", "crates/runner", &[]),
            krate(
                "mandate-bench",
                "crates/bench",
                &[("mandate", Kind::Normal), ("testkit", Kind::Dev)],
            ),
        ]
    }

    /// Each case — crate `index` of [`base`] given a dependency on `target` — breaks exactly
    /// one rule.
    fn each_refused(cases: &[(usize, &str, Kind)]) {
        for &(index, target, kind) in cases {
            let mut crates = base();
            crates[index].dependencies.push((target.into(), kind));
            assert_eq!(
                check(&crates).len(),
                1,
                "{} → {target} ({kind:?}) passed",
                crates[index].name
            );
        }
    }

    #[test]
    fn the_layout_of_design_md_passes() {
        assert_eq!(check(&base()), vec![]);
    }

    #[test]
    fn a_component_linking_another_is_refused_even_as_a_dev_dependency() {
        for kind in [Kind::Normal, Kind::Dev, Kind::Build] {
            let mut crates = base();
            crates[3].dependencies.push(("inventory".into(), kind));
            let violations = check(&crates);
            assert_eq!(violations.len(), 1, "{kind:?}: {violations:?}");
            assert!(violations[0].problem.contains("over the bus"), "{}", violations[0]);
        }
    }

    #[test]
    fn the_kit_the_tool_and_the_contract_keep_their_places() {
        let cases: [(usize, &str, Kind); 5] = [
            (0, "schemas", Kind::Normal), // kit → contract (not only in tests)
            (1, "orders", Kind::Normal),  // contract → component
            (5, "schemas", Kind::Normal), // tool → contract
            (5, "orders", Kind::Dev),     // tool → component, even in tests
            (2, "schemas", Kind::Normal), // testkit → contract
        ];
        each_refused(&cases);
    }

    #[test]
    fn only_the_contract_tests_and_the_tool_use_the_compatibility_checker() {
        let cases: [(usize, &str, Kind); 5] = [
            (3, "mandate-compat", Kind::Normal), // component → checker
            (0, "mandate-compat", Kind::Normal), // kit → checker
            (1, "mandate-compat", Kind::Normal), // contract → checker, outside its tests
            (7, "mandate", Kind::Normal),        // checker → kit
            (7, "schemas", Kind::Dev),           // checker → contract, even in tests
        ];
        each_refused(&cases);
    }

    #[test]
    fn the_runner_links_nothing_of_ours_and_no_component_uses_it() {
        let cases: [(usize, &str, Kind); 5] = [
            (3, "runner", Kind::Normal),  // component → runner
            (3, "runner", Kind::Dev),     // component → runner, even in tests
            (8, "mandate", Kind::Normal), // runner → kit
            (8, "orders", Kind::Dev),     // runner → component
            (1, "runner", Kind::Normal),  // contract → runner
        ];
        each_refused(&cases);
    }

    #[test]
    fn the_bench_links_the_kit_only_and_nothing_links_the_bench() {
        let cases: [(usize, &str, Kind, &str); 5] = [
            (3, "mandate-bench", Kind::Dev, "nothing links it"), // component → bench
            (5, "mandate-bench", Kind::Normal, "nothing links it"), // tool → bench
            (9, "orders", Kind::Normal, "over the bus"),         // bench → component
            (9, "schemas", Kind::Normal, "the kit (and testkit"), // bench → contract
            (9, "testkit", Kind::Normal, "the kit (and testkit"), // testkit outside its tests
        ];
        for (index, target, kind, why) in cases {
            let mut crates = base();
            crates[index].dependencies.push((target.into(), kind));
            let violations = check(&crates);
            assert_eq!(
                violations.len(),
                1,
                "{} → {target} ({kind:?}): {violations:?}",
                crates[index].name
            );
            assert!(violations[0].problem.contains(why), "{}", violations[0]);
        }
    }

    #[test]
    fn a_crate_without_a_rule_is_a_violation() {
        let mut crates = base();
        crates.push(krate("helpers", "crates/helpers", &[("mandate", Kind::Normal)]));
        crates.push(krate("shop", "apps/shop", &[]));
        let violations = check(&crates);
        assert_eq!(
            violations.iter().map(|v| v.krate.as_str()).collect::<Vec<_>>(),
            vec!["helpers", "shop"]
        );
        assert!(violations[0].problem.contains("no rule"));
    }

    #[test]
    fn this_workspace_follows_the_rules() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let violations = check_workspace(&root).expect("cargo metadata runs");
        assert!(
            violations.is_empty(),
            "{}",
            violations
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
    }

    #[test]
    fn a_component_folder_that_is_not_a_crate_and_not_excluded_is_named_with_the_fix() {
        let root = tempfile::tempdir().expect("tempdir");
        let write = |path: &str, text: &str| {
            let path = root.path().join(path);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        };
        write(
            "Cargo.toml",
            "[workspace]\nresolver = \"3\"\nmembers = [\"components/*\"]\n",
        );
        write(
            "components/orders/Cargo.toml",
            "[package]\nname = \"orders\"\nversion = \"0.1.0\"\nedition = \"2024\"\n",
        );
        write("components/orders/src/lib.rs", "");
        write("components/loyalty/manifest.json", "{}");
        let refused = check_workspace(root.path()).expect_err("cargo cannot load the workspace");
        let message = format!("{refused:#}");
        assert!(
            message.contains("\"components/loyalty\" not Rust crate(s)")
                && message.contains("exclude = [\"components/loyalty\"]"),
            "{message}"
        );
        write(
            "Cargo.toml",
            "[workspace]\nresolver = \"3\"\nmembers = [\"components/*\"]\nexclude = [\"components/loyalty\"]\n",
        );
        assert_eq!(check_workspace(root.path()).expect("loads"), Vec::new());
    }
}
