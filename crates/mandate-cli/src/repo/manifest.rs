//! The input of the broker configuration: every `components/<name>/manifest.json`.
//!
//! A manifest has the kit's shape (`name`, `publishes`, `subscribes`, `serves`, as written by
//! `mandate::Manifest`) plus two optional lists for bus clients such as the gateway: `calls`
//! (operations it requests) and `listens` (subjects it subscribes to with core NATS). Reading
//! it here validates everything the permissions are derived from, so that a typo cannot widen
//! a user's rights silently.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, bail};
use serde::Deserialize;

/// The user names the generator reserves for the people and tools around the components.
pub const RESERVED_NAMES: &[&str] = &["operator", "observer", "mandate-cli"];

/// What one component declares, as far as the broker is concerned.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ComponentManifest {
    pub name: String,
    /// Event types it publishes, `<owner>.<event>.v<N>`; the owner must be the component.
    #[serde(default)]
    pub publishes: Vec<String>,
    /// Source stream → event types it consumes from it.
    #[serde(default)]
    pub subscribes: BTreeMap<String, Vec<String>>,
    /// Operations it serves, `<owner>.<op>.v<N>`; the owner must be the component.
    #[serde(default)]
    pub serves: Vec<String>,
    /// Operations of other components it calls, `<owner>.<op>.v<N>` (bus clients).
    #[serde(default)]
    pub calls: Vec<String>,
    /// Subjects it subscribes to with core NATS, under `evt.` (bus clients).
    #[serde(default)]
    pub listens: Vec<String>,
    /// How it is started (the process runner's format; default: the workspace binary of its
    /// name).
    #[serde(default)]
    pub start: Option<runner::Start>,
}

impl ComponentManifest {
    /// A kit component runs the kit's runtime (its own stream, consumers, dead letters, the
    /// services API with the admin endpoints). A manifest that publishes, consumes and serves
    /// nothing describes a plain bus client (the gateway): it only calls and listens.
    pub fn is_kit_component(&self) -> bool {
        !(self.publishes.is_empty() && self.subscribes.is_empty() && self.serves.is_empty())
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
pub fn read_all(repo: &Path) -> anyhow::Result<Vec<ComponentManifest>> {
    let components = repo.join("components");
    let entries = std::fs::read_dir(&components)
        .with_context(|| format!("reading {} (is --repo the repository root?)", components.display()))?;
    let mut manifests = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", components.display()))?;
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let dir = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path().join("manifest.json");
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "reading {}: every component commits its manifest (`<component> --print-manifest`)",
                path.display()
            )
        })?;
        let manifest: ComponentManifest =
            serde_json::from_str(&text).with_context(|| format!("{} is not a component manifest", path.display()))?;
        if manifest.name != dir {
            bail!(
                "{}: the manifest's name is {:?} but its directory is components/{dir}; they must match",
                path.display(),
                manifest.name
            );
        }
        manifest
            .validate()
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        manifests.push(manifest);
    }
    if manifests.is_empty() {
        bail!("no component manifests under {}", components.display());
    }
    manifests.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(manifests)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(json: &str) -> ComponentManifest {
        serde_json::from_str(json).expect("parses")
    }

    #[test]
    fn a_component_publishes_and_serves_only_its_own_types() {
        let ok = manifest(
            r#"{"name":"orders","publishes":["orders.placed.v1"],"serves":["orders.get.v1"],
                "subscribes":{"EVT_PAYMENTS":["payments.captured.v1"]}}"#,
        );
        assert_eq!(ok.validate(), Ok(()));
        assert!(ok.is_kit_component());
        let foreign = manifest(r#"{"name":"orders","publishes":["payments.captured.v1"]}"#);
        assert!(foreign.validate().expect_err("refused").contains("only its owner"));
        let foreign = manifest(r#"{"name":"orders","serves":["payments.get.v1"]}"#);
        assert!(
            foreign
                .validate()
                .expect_err("refused")
                .contains("served by their owner")
        );
        let wrong_stream = manifest(r#"{"name":"orders","subscribes":{"EVT_ORDERS":["payments.captured.v1"]}}"#);
        assert!(wrong_stream.validate().expect_err("refused").contains("EVT_PAYMENTS"));
    }

    #[test]
    fn malformed_types_and_reserved_names_are_refused() {
        for bad in [
            "orders.placed",
            "orders.placed.1",
            "Orders.placed.v1",
            "orders.>.v1",
            "orders.placed.v1.x",
        ] {
            assert!(split_type(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(
            split_type("order-history.item_added.v12"),
            Ok(("order-history", "item_added.v12"))
        );
        for name in RESERVED_NAMES {
            let m = manifest(&format!(r#"{{"name":"{name}","serves":["{name}.x.v1"]}}"#));
            assert!(m.validate().is_err(), "{name} accepted");
        }
    }

    #[test]
    fn clients_listen_to_events_only() {
        let gateway = manifest(r#"{"name":"gateway","calls":["orders.get.v1"],"listens":["evt.>"]}"#);
        assert_eq!(gateway.validate(), Ok(()));
        assert!(!gateway.is_kit_component());
        for bad in [">", "svc.>", "_INBOX.>", "evt", "evt.>.x", "evt..x"] {
            let m = manifest(&format!(r#"{{"name":"gateway","listens":["{bad}"]}}"#));
            assert!(m.validate().is_err(), "{bad} accepted");
        }
    }
}
