//! The input of the broker configuration, the compose check, the AsyncAPI document and
//! `mandate dev`: every `components/<name>/manifest.json`.
//!
//! [`ComponentManifest`] is the published format: its JSON Schema ([`schema`]) is committed as
//! `schemas/json/manifest.json` for outsiders (docs/contract.md, "The manifest"), and every
//! manifest is validated against it before it is read, so that a mistake is reported with its
//! JSON path and what belongs there. A kit component's manifest is written by the kit
//! (`mandate::Manifest`, a subset); a bus client (the gateway) or a component in another
//! language writes its own. [`ComponentManifest::validate`] then checks what a schema cannot
//! say — owners, streams — so that a typo cannot widen a user's rights silently.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

/// The user names the generator reserves for the people and tools around the components.
pub const RESERVED_NAMES: &[&str] = &["operator", "observer", "mandate-cli"];

/// Where the published schema is committed, relative to the repository.
pub const SCHEMA_FILE: &str = "schemas/json/manifest.json";

/// A component name: lower-case letters, digits and dashes, starting with a letter
/// (`mandate::validate_component_name`).
const NAME: &str = "^[a-z]([a-z0-9-]*[a-z0-9])?$";
/// A message type, `<owner>.<name>.v<major>` ([`split_type`]).
const TYPE: &str = r"^[a-z]([a-z0-9-]*[a-z0-9])?\.[a-z0-9_-]+\.v[0-9]+$";

/// A component's manifest, `components/<name>/manifest.json`: who it is, which events it
/// publishes and consumes, which operations it serves and calls, and how it starts. The
/// broker's users and permissions, the compose check, the AsyncAPI document and `mandate dev`
/// are derived from it. A field that is not listed here is refused: a misspelt one would
/// silently leave out what it declares.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "Component manifest",
    example = kit_component_example(),
    example = bus_client_example(),
    example = foreign_component_example()
)]
pub struct ComponentManifest {
    /// The component's name, the same as its folder under `components/`: lower-case letters,
    /// digits and dashes, starting with a letter. Its subjects (`evt.<name>.>`,
    /// `svc.<name>.>`), stream, consumers, bus user and store folder are named after it.
    #[schemars(regex(pattern = NAME), example = &"orders")]
    pub name: String,
    /// Its version, shown by `$SRV.INFO` and `mandate status`.
    #[serde(default)]
    #[schemars(example = &"0.1.0")]
    pub version: String,
    /// One line on what it does, shown in the AsyncAPI document.
    #[serde(default)]
    #[schemars(example = &"orders, their status history and their own price list")]
    pub description: String,
    /// The event types it publishes, `<owner>.<event>.v<major>`: its own only (the owner is
    /// the component).
    #[serde(default)]
    #[schemars(inner(regex(pattern = TYPE)), example = json!(["orders.placed.v1", "orders.cancelled.v1"]))]
    pub publishes: Vec<String>,
    /// A map from each stream it consumes to the event types it handles from that stream
    /// (`EVT_<OWNER>` holds `<owner>`'s events): one durable consumer per stream, named after
    /// the component.
    #[serde(default)]
    #[schemars(
        extend("propertyNames" = {"pattern": "^EVT_[A-Z]([A-Z0-9-]*[A-Z0-9])?$"}),
        extend("additionalProperties" = {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": TYPE}}),
        example = json!({"EVT_ORDERS": ["orders.placed.v1"], "EVT_PAYMENTS": ["payments.captured.v1"]})
    )]
    pub subscribes: BTreeMap<String, Vec<String>>,
    /// The operations it serves, `<owner>.<operation>.v<major>`: its own only (on
    /// `svc.<name>.>`).
    #[serde(default)]
    #[schemars(inner(regex(pattern = TYPE)), example = json!(["orders.place.v1", "orders.get.v1"]))]
    pub serves: Vec<String>,
    /// Operations of other components it calls, `<owner>.<operation>.v<major>`.
    #[serde(default)]
    #[schemars(inner(regex(pattern = TYPE)), example = json!(["orders.get.v1"]))]
    pub calls: Vec<String>,
    /// Event subjects it subscribes to with core NATS, live and without a consumer (a bus
    /// client following events): under `evt.` only, wildcards allowed.
    #[serde(default)]
    #[schemars(
        inner(regex(pattern = r"^evt(\.[^.\s>]+)*\.([^.\s>]+|>)$")),
        example = json!(["evt.>"])
    )]
    pub listens: Vec<String>,
    /// How the process runner (`mandate dev`, the end-to-end stack) starts it, in its folder
    /// and with the process contract's environment: a binary of the workspace,
    /// `{"cargo": {"bin": "<name>"}}` (the default when the folder has a Cargo.toml), or any
    /// program, `{"command": ["python3", "-m", "loyalty"]}`.
    #[serde(default)]
    #[schemars(with = "runner::Start", example = json!({"command": ["python3", "-m", "loyalty"]}))]
    pub start: Option<runner::Start>,
    /// Whether it runs as partitions, each a process with its own store: by which entity's
    /// key its events are split (an entity the events it subscribes to are keyed by, their
    /// schemas' `x-mandate-key`) and how many it is deployed as. The partitions share the
    /// component's bus user; their durable consumers are `<name>-p<P>of<N>`.
    #[serde(default)]
    #[schemars(example = json!({"by": "order", "count": 3}))]
    pub partitions: Option<Partitions>,
    /// Whether its process follows the metrics part of the process contract (docs/contract.md,
    /// "Metrics and probes"): given `MANDATE_METRICS=IP:PORT`, it serves `/metrics`, `/livez`
    /// and `/readyz` there. A binary of the workspace (the Rust kit) always does; a component
    /// started by a command of its own says so with `true` (a component on the Python kit does:
    /// its declaration writes it). Prometheus is then told to scrape it and its compose service
    /// must turn the listener on.
    #[serde(default)]
    #[schemars(example = true)]
    pub metrics: Option<bool>,
}

/// How a component runs as partitions (docs/design.md, "Partitions").
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Partitions {
    /// The entity whose key splits the events between the partitions, e.g. `order`.
    #[schemars(regex(pattern = NAME), example = &"order")]
    pub by: String,
    /// How many partitions run: from 1 to the 12 slots a key can be in.
    #[schemars(range(min = 1, max = 12), example = 3)]
    pub count: u32,
    /// While the count changes (docs/evolution.md, "Changing the number of partitions"): the
    /// count the old partitions still run as. The bus user is then granted both counts'
    /// consumer names and private subjects; remove it once the old partitions are stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 12), example = 2)]
    pub moving_from: Option<u32>,
}

impl Partitions {
    /// `p<P>of<N>` for every partition: what their consumers, stores and private service
    /// subjects are named with (`mandate::partition::Seat::label`).
    pub fn labels(&self) -> Vec<String> {
        labels_of(self.count)
    }

    /// The labels the bus user is granted: [`labels`](Partitions::labels), and during a
    /// change of count those of the count it is [`moving_from`](Partitions::moving_from) too.
    /// A count of 1 has no partition names: it runs as the component.
    pub fn granted_labels(&self) -> Vec<String> {
        let mut labels = if self.count > 1 { self.labels() } else { Vec::new() };
        if let Some(old) = self.moving_from.filter(|old| *old > 1 && *old != self.count) {
            labels.extend(labels_of(old));
        }
        labels
    }
}

fn labels_of(count: u32) -> Vec<String> {
    (0..count).map(|index| format!("p{index}of{count}")).collect()
}

fn kit_component_example() -> Value {
    json!({
        "name": "orders",
        "version": "0.1.0",
        "description": "orders, their status history and their own price list",
        "publishes": ["orders.placed.v1", "orders.confirmed.v1"],
        "subscribes": {"EVT_PAYMENTS": ["payments.captured.v1", "payments.declined.v1"]},
        "serves": ["orders.place.v1", "orders.get.v1"]
    })
}

fn bus_client_example() -> Value {
    json!({
        "name": "gateway",
        "description": "the storefront's HTTP/JSON API: a stateless client of the bus",
        "calls": ["orders.place.v1", "orders.get.v1"],
        "listens": ["evt.>"]
    })
}

fn foreign_component_example() -> Value {
    json!({
        "name": "loyalty",
        "version": "0.1.0",
        "description": "points for completed orders, taken back on refunds",
        "publishes": ["loyalty.points-awarded.v1"],
        "subscribes": {"EVT_ORDERS": ["orders.completed.v1"], "EVT_PAYMENTS": ["payments.refunded.v1"]},
        "serves": ["loyalty.balance.v1"],
        "start": {"command": ["python3", "-m", "loyalty"]},
        "metrics": true
    })
}

/// The manifest format as JSON Schema (draft 2020-12): what `schemas/json/manifest.json`
/// holds and what every manifest is validated against.
pub fn schema() -> Value {
    serde_json::to_value(schemars::schema_for!(ComponentManifest)).unwrap_or_default()
}

impl ComponentManifest {
    /// A kit component runs the kit's runtime (its own stream, consumers, dead letters, the
    /// services API with the admin endpoints). A manifest that publishes, consumes and serves
    /// nothing describes a plain bus client (the gateway): it only calls and listens.
    pub fn is_kit_component(&self) -> bool {
        !(self.publishes.is_empty() && self.subscribes.is_empty() && self.serves.is_empty())
    }

    /// Whether its process serves `/metrics`, `/livez` and `/readyz` on `MANDATE_METRICS`: a
    /// binary of the workspace always (the Rust kit, the gateway), a command of its own when
    /// its manifest says `"metrics": true`. Declared, not guessed from the command.
    pub fn serves_metrics(&self) -> bool {
        match self.start {
            Some(runner::Start::Command(_)) => self.metrics == Some(true),
            _ => true,
        }
    }

    /// Checks every name and subject the permissions are built from.
    pub fn validate(&self) -> Result<(), String> {
        mandate::validate_component_name(&self.name)?;
        if RESERVED_NAMES.contains(&self.name.as_str()) {
            return Err(format!(
                "the name {:?} is reserved for a bus user of the tools ({}); rename the component",
                self.name,
                RESERVED_NAMES.join(", ")
            ));
        }
        for kind in &self.publishes {
            let (owner, _) = split_type(kind).map_err(|e| format!("publishes: {e}"))?;
            if owner != self.name {
                return Err(format!(
                    "publishes {kind}, but only its owner {owner} may publish it (docs/design.md §3)"
                ));
            }
        }
        for operation in &self.serves {
            let (owner, _) = split_type(operation).map_err(|e| format!("serves: {e}"))?;
            if owner != self.name {
                return Err(format!(
                    "serves {operation}, but operations are served by their owner ({owner}) on svc.{owner}.>"
                ));
            }
        }
        for (stream, kinds) in &self.subscribes {
            if kinds.is_empty() {
                return Err(format!("subscribes to {stream} without any event type"));
            }
            for kind in kinds {
                let (owner, _) = split_type(kind).map_err(|e| format!("subscribes: {e}"))?;
                let expected = mandate::stream_name(owner);
                if *stream != expected {
                    return Err(format!(
                        "subscribes to {kind} from {stream}, but {owner}'s events are in {expected}"
                    ));
                }
            }
        }
        for operation in &self.calls {
            split_type(operation).map_err(|e| format!("calls: {e}"))?;
        }
        for subject in &self.listens {
            validate_listen(subject)?;
        }
        if let Some(partitions) = &self.partitions {
            for (field, count) in [
                ("count", Some(partitions.count)),
                ("moving_from", partitions.moving_from),
            ] {
                if let Some(count) = count.filter(|c| *c == 0 || *c > mandate::SLOTS) {
                    return Err(format!(
                        "partitions: {field} {count} is not from 1 to {} (the slots a key can be in)",
                        mandate::SLOTS
                    ));
                }
            }
            if partitions.moving_from == Some(partitions.count) {
                return Err(format!(
                    "partitions: moving_from {0} is the count itself; remove moving_from once the old partitions are stopped",
                    partitions.count
                ));
            }
        }
        if self.metrics == Some(false) && !matches!(self.start, Some(runner::Start::Command(_))) {
            return Err(
                "metrics: false, but a binary of the workspace always serves /metrics (the Rust kit does): remove `metrics`"
                    .to_owned(),
            );
        }
        Ok(())
    }
}

/// Splits `<owner>.<name>.v<N>` into owner and the rest, checking its shape.
pub fn split_type(kind: &str) -> Result<(&str, &str), String> {
    let parts: Vec<&str> = kind.split('.').collect();
    let valid = match parts.as_slice() {
        [owner, name, version] => {
            mandate::validate_component_name(owner).is_ok()
                && !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
                && version
                    .strip_prefix('v')
                    .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        }
        _ => false,
    };
    if !valid {
        return Err(format!("{kind:?} is not `<owner>.<name>.v<major>`"));
    }
    Ok((parts[0], &kind[parts[0].len() + 1..]))
}

/// Listening is for events only: a core subscription elsewhere (`svc.`, `_INBOX.`) would read
/// other components' requests and replies.
fn validate_listen(subject: &str) -> Result<(), String> {
    let tokens: Vec<&str> = subject.split('.').collect();
    let well_formed = tokens
        .iter()
        .enumerate()
        .all(|(i, t)| !t.is_empty() && !t.contains(char::is_whitespace) && (*t != ">" || i == tokens.len() - 1));
    if !well_formed || tokens.first() != Some(&"evt") || tokens.len() < 2 {
        return Err(format!(
            "listens to {subject:?}: only event subjects (`evt.>`, `evt.<owner>.>`, ...) may be listened to"
        ));
    }
    Ok(())
}

/// Every `components/*/manifest.json` of `repo`, sorted by component name, validated. A
/// manifest's `name` must be its directory's name (the compose service is named after it).
/// Fails with every problem of every manifest, one per line.
pub fn read_all(repo: &Path) -> anyhow::Result<Vec<ComponentManifest>> {
    let (manifests, problems) = read_each(repo)?;
    if !problems.is_empty() {
        bail!(
            "components/*/manifest.json do not follow the manifest format ({SCHEMA_FILE}, docs/contract.md#the-manifest):\n{}",
            problems.join("\n")
        );
    }
    if manifests.is_empty() {
        bail!("no component manifests under {}", repo.join("components").display());
    }
    Ok(manifests)
}

/// What `mandate check` reports about the manifests: every problem of every one, each with
/// its file, JSON path and what to fix (empty: all valid).
pub fn check_repo(repo: &Path) -> Vec<String> {
    match read_each(repo) {
        Ok((manifests, problems)) if manifests.is_empty() && problems.is_empty() => {
            vec!["no components/*/manifest.json: every component declares itself in one".to_owned()]
        }
        Ok((manifests, mut problems)) => {
            problems.extend(manifests.iter().filter_map(|m| unstartable(repo, m)));
            problems.sort();
            problems
        }
        Err(err) => vec![format!("{err:#}")],
    }
}

/// The process runner's rule (`runner::Component::read`): without `start`, a component is
/// the workspace binary of its name, so its folder must be a crate.
fn unstartable(repo: &Path, manifest: &ComponentManifest) -> Option<String> {
    let dir = repo.join("components").join(&manifest.name);
    (manifest.start.is_none() && !dir.join("Cargo.toml").is_file()).then(|| {
        format!(
            "components/{0}/manifest.json: no `start` and no Cargo.toml beside it: say how the process runner \
             starts it, e.g. \"start\": {{\"command\": [\"python3\", \"-m\", \"{0}\"]}} (run in its folder)",
            manifest.name
        )
    })
}

/// The valid manifests, sorted by name, and the problems of the others.
fn read_each(repo: &Path) -> anyhow::Result<(Vec<ComponentManifest>, Vec<String>)> {
    let components = repo.join("components");
    let entries = std::fs::read_dir(&components)
        .with_context(|| format!("reading {} (is --repo the repository root?)", components.display()))?;
    let schema = schema();
    let mut manifests = Vec::new();
    let mut problems = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", components.display()))?;
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let dir = entry.file_name().to_string_lossy().into_owned();
        let shown = format!("components/{dir}/manifest.json");
        match read_one(&entry.path().join("manifest.json"), &dir, &schema) {
            Ok(manifest) => manifests.push(manifest),
            Err(found) => problems.extend(found.into_iter().map(|problem| format!("{shown}: {problem}"))),
        }
    }
    manifests.sort_by(|a, b| a.name.cmp(&b.name));
    problems.sort();
    Ok((manifests, problems))
}

/// One manifest, checked against the schema, then read and checked for what the schema
/// cannot say.
fn read_one(path: &Path, dir: &str, schema: &Value) -> Result<ComponentManifest, Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|err| {
        vec![format!(
            "cannot be read ({err}): every component declares itself in a manifest (a kit component writes it: \
             `UPDATE_MANIFESTS=1 cargo test -p {dir}`; any other writes it by hand: docs/contract.md#the-manifest)"
        )]
    })?;
    let value: Value = serde_json::from_str(&text).map_err(|err| vec![format!("is not JSON: {err}")])?;
    let found = crate::validation::problems(schema, &value, "the manifest");
    if !found.is_empty() {
        return Err(found);
    }
    let manifest: ComponentManifest = serde_json::from_value(value).map_err(|err| {
        vec![format!(
            "does not read as a manifest although it matches its schema: {err}"
        )]
    })?;
    if manifest.name != dir {
        return Err(vec![format!(
            "/name is {:?} but its folder is components/{dir}: they must be the same",
            manifest.name
        )]);
    }
    manifest.validate().map_err(|problem| vec![problem])?;
    Ok(manifest)
}

#[cfg(test)]
#[path = "manifest_tests.rs"]
mod tests;
