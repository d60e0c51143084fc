//! `mandate new component NAME`: scaffolds a component under `components/NAME` in the house
//! style, which builds, passes clippy and its own test with no edits.
//!
//! The tool never links `schemas` (docs/design.md §2): it finds the types of the subscribed events
//! in the contract's published JSON Schemas (`schemas/json`, `contract/`), which name each Rust
//! type (`x-rust-type`), and the generated code names them by path.
//! The generated `manifest.json` is the kit's `Manifest` of the generated `component()`,
//! serialized as the kit does, so the crate's manifest test passes from the start.
//!
//! Then [`wire_into_deployment`] gives it its broker user and permissions (bus-config/,
//! regenerated from the manifests) and its service in docker-compose.yml.
//!
//! With `--lang python` the same plan is rendered as a component in Python on the Python kit
//! (`python/`), started by its `./run`, excluded from the Cargo workspace and built by its own
//! Dockerfile; the wiring is the same.

mod contract;
mod names;
mod python;
mod render;

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde::Serialize;

use crate::failure::usage;
use crate::repo::generated;
use crate::subjects::{EventSubject, parse_event_subject};

/// `<owner>.<event>.v<major>`, or the event's subject `evt.<owner>.<event>.v<major>`.
pub fn parse_event_type(text: &str) -> Result<EventSubject, String> {
    let subject = if text.starts_with("evt.") {
        text.to_owned()
    } else {
        format!("evt.{text}")
    };
    parse_event_subject(&subject).map_err(|_| {
        format!("{text:?} is not an event type: give <owner>.<event>.v<major> as declared in schemas/, e.g. orders.placed.v1")
    })
}

/// A command to run next, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub command: String,
    pub why: String,
}

impl Step {
    fn new(command: impl Into<String>, why: impl Into<String>) -> Step {
        Step {
            command: command.into(),
            why: why.into(),
        }
    }
}

/// Puts a new component into the deployment: its bus user and least-privilege permissions
/// (`bus-config/permissions.conf` and `.env.example`, regenerated from every manifest), its
/// operations in `schemas/asyncapi.yaml` (regenerated, when the repository has one) and its
/// service, volume and password in `docker-compose.yml`. Returns the files it changed and
/// what is left for the user (a repository without a generated bus-config or a compose file
/// gets a step instead; a compose file the tool cannot edit safely, a warning and a step).
pub fn wire_into_deployment(repo: &Path, name: &str, warnings: &mut Vec<String>) -> anyhow::Result<Wired> {
    let mut wired = Wired::default();
    if repo.join(crate::busconfig::PERMISSIONS_FILE).is_file() {
        let written = crate::busconfig::write_repo(repo)
            .with_context(|| format!("generating {name}'s bus user (bus-config/) from the manifests"))?;
        wired.changed.extend(written.iter().map(|path| (*path).to_owned()));
    } else {
        wired.steps.push(Step::new(
            "mandate bus-config --write",
            format!(
                "give {name} its bus user and least-privilege permissions (bus-config/, .env.example), from its manifest.json"
            ),
        ));
    }
    // The AsyncAPI document names every component's operations; keep it current too.
    let document = repo.join(crate::asyncapi::DOCUMENT_FILE);
    if document.is_file() {
        let text = crate::asyncapi::generate(repo)
            .with_context(|| format!("regenerating {} with {name}", crate::asyncapi::DOCUMENT_FILE))?;
        if generated::reconcile(&document, &text, true)?.0 == generated::Status::Written {
            wired.changed.push(crate::asyncapi::DOCUMENT_FILE.to_owned());
        }
    }
    match crate::compose::add_component(repo, name) {
        Ok(true) => wired.changed.push(crate::compose::COMPOSE_FILE.to_owned()),
        Ok(false) => {}
        Err(err) => {
            warnings.push(format!("{err:#}"));
            wired.steps.push(Step::new(
                "$EDITOR docker-compose.yml",
                format!(
                    "add the `{name}` service and the `{name}-data` volume, like the other components' (NATS_USER {name}, NATS_PASSWORD ${{{}}})",
                    crate::busconfig::permissions::password_var(name)
                ),
            ));
        }
    }
    if wired.changed.iter().any(|path| path == crate::compose::COMPOSE_FILE) {
        wired.steps.push(Step::new(
            "$EDITOR .env",
            format!(
                "add {} (compose refuses to start without it; .env.example lists every variable)",
                crate::busconfig::permissions::password_var(name)
            ),
        ));
    }
    Ok(wired)
}

/// What [`wire_into_deployment`] did and left to do.
#[derive(Debug, Default)]
pub struct Wired {
    /// Files it changed, relative to the repository.
    pub changed: Vec<String>,
    pub steps: Vec<Step>,
}

/// The language of a new component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Lang {
    /// A crate on the Rust kit (crates/mandate), built by the repository's Dockerfile.
    #[default]
    Rust,
    /// A package on the Python kit (kits/python), started by its `./run`, built by its own
    /// Dockerfile.
    Python,
}

/// What `mandate new component` was asked for (its flags).
#[derive(Debug)]
pub struct Request<'a> {
    pub lang: Lang,
    pub name: &'a str,
    pub subscribe: &'a [EventSubject],
    pub serve: &'a [String],
    pub description: Option<&'a str>,
    pub repo: Option<&'a Path>,
}

/// What a scaffold made and left to do.
#[derive(Debug)]
pub struct Scaffolded {
    /// The new files, relative to the repository.
    pub files: Vec<String>,
    /// Files of the deployment it changed, relative to the repository.
    pub changed: Vec<String>,
    pub next: Vec<Step>,
    pub warnings: Vec<String>,
}

impl Scaffolded {
    /// What scaffolding `name` came to, whatever its language: its `files`, the files changed
    /// before (`changed`) and while wiring it in, and the next steps — its own `test` first,
    /// then the wiring's, then running and rebuilding it.
    fn new(
        name: &str,
        files: &[(String, String)],
        mut changed: Vec<String>,
        wired: Wired,
        test: Step,
        warnings: Vec<String>,
    ) -> Scaffolded {
        changed.extend(wired.changed);
        let mut next = vec![test];
        next.extend(wired.steps);
        next.push(Step::new("mandate dev", "run the whole stack locally, with it"));
        next.push(Step::new(
            format!("mandate replay {name}"),
            "after changing a handler: rebuild its store from the streams",
        ));
        Scaffolded {
            files: files
                .iter()
                .map(|(path, _)| format!("components/{name}/{path}"))
                .collect(),
            changed,
            next,
            warnings,
        }
    }
}

/// Scaffolds the component `args` asks for and wires it into the deployment.
pub fn new_component(args: &Request<'_>) -> anyhow::Result<Scaffolded> {
    let name = args.name;
    names::check_component_name(name).map_err(usage)?;
    if args.lang == Lang::Python {
        python::check_module_name(name).map_err(usage)?;
    }
    let mut ops: Vec<names::OpName> = Vec::new();
    for text in args.serve {
        let op = names::parse_op(name, text).map_err(usage)?;
        if !ops.contains(&op) {
            ops.push(op);
        }
    }
    let mut events: Vec<&EventSubject> = Vec::new();
    for event in args.subscribe {
        if !events.contains(&event) {
            events.push(event);
        }
    }
    if events.is_empty() && ops.is_empty() {
        return Err(usage(
            "nothing to scaffold: give the events it handles (--subscribe orders.placed.v1) and/or the operations it serves (--serve count)",
        ));
    }
    let description = match args.description {
        Some(text) => {
            let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
            let text = text.trim_end_matches('.').to_owned();
            if text.is_empty() {
                return Err(usage("--description is empty: say in one line what the component does"));
            }
            text
        }
        None => default_description(name, &events, &ops),
    };

    let repo = crate::repo::discover(args.repo, "mandate new")?;
    let components = repo.join("components");
    if !components.is_dir() {
        bail!(
            "{} has no components/ directory: run `mandate new` inside a mandate repository, or pass --repo",
            repo.display()
        );
    }
    let dir = components.join(name);
    if dir.exists() {
        bail!(
            "components/{name} already exists in {}: pick another name, or remove that directory first",
            repo.display()
        );
    }
    let workspace = Workspace::read(&repo)?;

    // The contract is read only for events: a component that only serves needs none of it.
    let mut resolved = Vec::new();
    if !events.is_empty() {
        let contract = contract::Contract::read(&repo)?;
        for event in &events {
            let schema = contract.event(event)?;
            let def = schema.event_type()?;
            resolved.push(((*event).clone(), schema, def));
        }
    }

    let mut warnings = Vec::new();
    if args.lang == Lang::Python {
        return new_python_component(
            &repo,
            &dir,
            name,
            description,
            workspace.version,
            resolved,
            ops,
            warnings,
        );
    }
    if !workspace.includes_components {
        warnings.push(format!(
            "the workspace's members do not include \"components/*\": add \"components/{name}\" to [workspace] members in Cargo.toml"
        ));
    }
    let plan = render::Plan::new(name, description, workspace.version, resolved, ops, &mut warnings);
    let files = plan.files()?;
    write_files(&dir, &files)?;
    let rust_files: Vec<PathBuf> = files
        .iter()
        .filter(|(path, _)| path.ends_with(".rs"))
        .map(|(path, _)| dir.join(path))
        .collect();
    if let Err(problem) = rustfmt(&rust_files, &workspace.edition) {
        warnings.push(format!("{problem}: run `cargo fmt -p {name}`"));
    }

    let wired = wire_into_deployment(&repo, name, &mut warnings)?;
    let test = Step::new(
        format!("cargo test -p {name}"),
        "build it and run its test against a real nats-server",
    );
    Ok(Scaffolded::new(name, &files, Vec::new(), wired, test, warnings))
}

/// The Python scaffold: the same plan, rendered on the Python kit, wired in the same way and
/// excluded from the Cargo workspace.
#[allow(clippy::too_many_arguments)]
fn new_python_component(
    repo: &Path,
    dir: &Path,
    name: &str,
    description: String,
    version: String,
    resolved: Vec<(EventSubject, contract::EventSchema, contract::TypeDef)>,
    ops: Vec<names::OpName>,
    mut warnings: Vec<String>,
) -> anyhow::Result<Scaffolded> {
    let schemas: Vec<contract::EventSchema> = resolved.iter().map(|(_, schema, _)| schema.clone()).collect();
    // The Rust test values' warnings are not this scaffold's.
    let plan = render::Plan::new(name, description, version, resolved, ops, &mut Vec::new());
    let files = python::files(&plan, &schemas, &mut warnings)?;
    write_files(dir, &files)?;
    make_executable(&dir.join("run"))?;
    let mut changed = Vec::new();
    match python::workspace::exclude(repo, name) {
        Ok(true) => changed.push("Cargo.toml".to_owned()),
        Ok(false) => {}
        Err(err) => warnings.push(format!("{err:#}")),
    }
    let wired = wire_into_deployment(repo, name, &mut warnings)?;
    let test = Step::new(
        format!("scripts/python-component {name} --unit-tests"),
        "install it (.tools/python/) and run its tests, one against a real nats-server",
    );
    Ok(Scaffolded::new(name, &files, changed, wired, test, warnings))
}

/// `chmod +x`: the manifest's start command is run as a program.
fn make_executable(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("making {} executable", path.display()))
}

fn default_description(name: &str, events: &[&EventSubject], ops: &[names::OpName]) -> String {
    let events: Vec<String> = events.iter().map(|e| e.ce_type()).collect();
    let ops: Vec<String> = ops
        .iter()
        .map(|o| format!("{name}.{}.v{}", o.name, o.version))
        .collect();
    match (events.is_empty(), ops.is_empty()) {
        (false, false) => format!("counts {} per key; serves the tallies", and_list(&events)),
        (false, true) => format!("counts {} per key", and_list(&events)),
        _ => format!("serves {}", and_list(&ops)),
    }
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// What the scaffold needs from the root `Cargo.toml`.
struct Workspace {
    /// `[workspace.package] version`, which the new crate inherits and its manifest records.
    version: String,
    edition: String,
    includes_components: bool,
}

impl Workspace {
    fn read(repo: &Path) -> anyhow::Result<Workspace> {
        let path = repo.join("Cargo.toml");
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let version = package_field(&text, "version").with_context(|| {
            format!(
                "{} has no `version` under [workspace.package]: the scaffold's crate inherits it",
                path.display()
            )
        })?;
        Ok(Workspace {
            version,
            edition: package_field(&text, "edition").unwrap_or_else(|| "2024".to_owned()),
            includes_components: text.contains("\"components/*\""),
        })
    }
}

/// `key = "value"` under `[workspace.package]` (a line-based read: enough for a root manifest).
fn package_field(text: &str, key: &str) -> Option<String> {
    let mut in_section = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_section = line == "[workspace.package]";
            continue;
        }
        if !in_section {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if k.trim() == key {
            let value = v.trim().trim_start_matches('"');
            return value.split('"').next().map(str::to_owned);
        }
    }
    None
}

/// Creates `dir` (which must not exist) with `files`; on failure removes it again, so a
/// failed scaffold leaves nothing half-written.
fn write_files(dir: &Path, files: &[(String, String)]) -> anyhow::Result<()> {
    std::fs::create_dir(dir).with_context(|| format!("creating {}", dir.display()))?;
    let written = files.iter().try_for_each(|(path, text)| {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
    });
    if written.is_err() {
        let _ = std::fs::remove_dir_all(dir);
    }
    written
}

/// Formats the generated files with the repository's rustfmt.toml (found above them), so
/// `cargo fmt --check` passes whatever names and lengths went into them.
fn rustfmt(files: &[PathBuf], edition: &str) -> Result<(), String> {
    let rustfmt = std::env::var_os("RUSTFMT").unwrap_or_else(|| "rustfmt".into());
    let output = std::process::Command::new(&rustfmt)
        .args(["--edition", edition])
        .args(files)
        .output()
        .map_err(|e| format!("could not run rustfmt ({e})"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "rustfmt failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workspace_version_is_read_from_the_package_section() {
        let text = "[workspace]\nmembers = [\"components/*\"]\nversion = \"9\"\n\n[workspace.package]\nversion = \"0.3.1\" # x\nedition = \"2024\"\n\n[workspace.dependencies]\nversion = \"1\"\n";
        assert_eq!(package_field(text, "version").as_deref(), Some("0.3.1"));
        assert_eq!(package_field(text, "edition").as_deref(), Some("2024"));
        assert_eq!(package_field(text, "license"), None);
    }

    #[test]
    fn a_repository_without_bus_config_or_compose_gets_steps_instead() {
        let repo = tempfile::tempdir().expect("tempdir");
        let mut warnings = Vec::new();
        let wired = wire_into_deployment(repo.path(), "order-history", &mut warnings).expect("wired");
        assert!(wired.changed.is_empty());
        let commands: Vec<_> = wired.steps.iter().map(|s| s.command.as_str()).collect();
        assert_eq!(commands, ["mandate bus-config --write"]);
        assert!(warnings.is_empty(), "{warnings:?}");

        // A compose file it cannot edit safely: a warning and the step by hand.
        std::fs::write(repo.path().join("docker-compose.yml"), "services: {}\n").expect("written");
        let wired = wire_into_deployment(repo.path(), "order-history", &mut warnings).expect("wired");
        assert!(
            wired.steps[1].why.contains("${ORDER_HISTORY_PASSWORD}"),
            "{:?}",
            wired.steps[1]
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
    }

    #[test]
    fn descriptions_list_what_it_does() {
        let placed = parse_event_type("orders.placed.v1").expect("parses");
        let captured = parse_event_type("payments.captured.v1").expect("parses");
        let count = names::parse_op("t", "count").expect("parses");
        assert_eq!(
            default_description("t", &[&placed, &captured], std::slice::from_ref(&count)),
            "counts orders.placed.v1 and payments.captured.v1 per key; serves the tallies"
        );
        assert_eq!(default_description("t", &[], &[count]), "serves t.count.v1");
    }
}
