//! The components of a repository, from `components/*/manifest.json` — never from a list in
//! code — and how each is started.
//!
//! A manifest may say how its component starts, in `start`:
//!
//! ```json
//! "start": { "cargo": { "bin": "orders" } }                  // a binary of the workspace
//! "start": { "command": ["python3", "-m", "tally"] }         // anything else
//! ```
//!
//! Without `start`, a component with a `Cargo.toml` is the workspace binary named after it.
//! A `command` runs in the component's directory; its first word is a program on `PATH` or a
//! path relative to that directory. Every component gets the same environment (see
//! [`Settings`]): `NATS_URL`, its bus user and password, `MANDATE_DATA_DIR` (the root under
//! which it keeps its store in a folder of its name).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::process::{Output, Process};

/// How a component starts (the manifest's `start`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Start {
    /// A binary built by cargo in this workspace (`bin` defaults to the component's name).
    Cargo {
        #[serde(default)]
        bin: Option<String>,
    },
    /// A program and its arguments, run in the component's directory.
    Command(Vec<String>),
}

/// What a component is to the runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// It publishes, consumes or serves: it runs the kit's runtime (or a foreign equivalent),
    /// keeps a store and answers `svc.<name>.admin.status`.
    Component,
    /// It only calls services and listens to events (the gateway): stateless.
    Client,
}

/// One component found under `components/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    pub name: String,
    /// `components/<dir>`.
    pub dir: PathBuf,
    pub kind: Kind,
    pub start: Start,
}

/// The part of a manifest the runner reads (the tool's repository layer validates the rest).
#[derive(Debug, Deserialize)]
struct Manifest {
    name: String,
    #[serde(default)]
    publishes: Vec<String>,
    #[serde(default)]
    subscribes: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    serves: Vec<String>,
    #[serde(default)]
    start: Option<Start>,
}

/// Every component of the repository at `repo`, by name. A folder under `components/` without
/// a readable manifest is an error that says what to do, not a component silently left out.
pub fn components(repo: &Path) -> anyhow::Result<Vec<Component>> {
    let root = repo.join("components");
    let entries = std::fs::read_dir(&root).with_context(|| format!("reading {}", root.display()))?;
    let mut found = Vec::new();
    for entry in entries {
        let dir = entry?.path();
        if dir.is_dir() && !is_hidden(&dir) {
            found.push(Component::read(&dir)?);
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    if found.is_empty() {
        bail!(
            "no components under {}: scaffold one with `mandate new component NAME`",
            root.display()
        );
    }
    Ok(found)
}

fn is_hidden(dir: &Path) -> bool {
    dir.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

impl Component {
    /// Reads `dir/manifest.json`.
    pub fn read(dir: &Path) -> anyhow::Result<Component> {
        let path = dir.join("manifest.json");
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{} has no readable manifest.json: every component declares itself there (a kit component writes \
                 it from its builder: run its tests with UPDATE_MANIFESTS=1; see docs/contract.md)",
                dir.display()
            )
        })?;
        let manifest: Manifest =
            serde_json::from_str(&text).with_context(|| format!("{}: not a component manifest", path.display()))?;
        let kind = if manifest.publishes.is_empty() && manifest.subscribes.is_empty() && manifest.serves.is_empty() {
            Kind::Client
        } else {
            Kind::Component
        };
        let start = match manifest.start {
            Some(Start::Command(command)) if command.is_empty() => {
                bail!(
                    "{}: `start.command` is empty: give the program to run and its arguments",
                    path.display()
                )
            }
            Some(start) => start,
            None if dir.join("Cargo.toml").is_file() => Start::Cargo { bin: None },
            None => bail!(
                "{}: no `start` and no Cargo.toml: say how the component starts, e.g. \
                 \"start\": {{\"command\": [\"python3\", \"main.py\"]}}",
                path.display()
            ),
        };
        Ok(Component {
            name: manifest.name,
            dir: dir.to_owned(),
            kind,
            start,
        })
    }

    /// Whether it is a cargo binary of the workspace (built by `cargo build -p <name>`).
    pub fn is_cargo(&self) -> bool {
        matches!(self.start, Start::Cargo { .. })
    }

    /// The process that runs it with `settings`. A cargo binary must exist in `bin_dir`.
    pub fn process(&self, settings: &Settings) -> anyhow::Result<Process> {
        let process = match &self.start {
            Start::Cargo { bin } => {
                let bin = bin.as_deref().unwrap_or(&self.name);
                let path = settings.bin_dir.join(format!("{bin}{}", std::env::consts::EXE_SUFFIX));
                if !path.is_file() {
                    bail!(
                        "no binary for component {} at {}: build it with `cargo build -p {}`",
                        self.name,
                        path.display(),
                        self.name
                    );
                }
                Process::new(&self.name, path)
            }
            Start::Command(command) => {
                let program = Path::new(&command[0]);
                let program = if program.components().count() > 1 {
                    self.dir.join(program)
                } else {
                    program.to_owned()
                };
                Process::new(&self.name, program).args(&command[1..]).cwd(&self.dir)
            }
        };
        let mut process = process
            .env("NATS_URL", &settings.url)
            .env("MANDATE_DATA_DIR", &settings.data_dir)
            .output(settings.output_for(&self.name));
        if let Some((user, password)) = settings.credentials.get(&self.name) {
            process = process.env("NATS_USER", user).env("NATS_PASSWORD", password);
        }
        Ok(process.envs(settings.env.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
    }
}

/// What every component of a run is started with.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `NATS_URL` (a server or a comma-separated list).
    pub url: String,
    /// `MANDATE_DATA_DIR`: each component keeps its store in `<data_dir>/<name>`.
    pub data_dir: PathBuf,
    /// Where the workspace's binaries are (`target/<profile>`).
    pub bin_dir: PathBuf,
    /// Bus user and password by component name (`NATS_USER`/`NATS_PASSWORD`).
    pub credentials: BTreeMap<String, (String, String)>,
    /// More environment for every component (`RUST_LOG`, ...).
    pub env: Vec<(String, String)>,
    /// Where output goes: a file per component in this folder (`<name>.log`), else prefixed
    /// on this process's stderr.
    pub log_dir: Option<PathBuf>,
}

impl Settings {
    fn output_for(&self, name: &str) -> Output {
        match &self.log_dir {
            Some(dir) => Output::File(dir.join(format!("{name}.log"))),
            None => Output::Prefixed,
        }
    }
}
