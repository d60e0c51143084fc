//! Who subscribes to what, read from the components' committed `manifest.json` files (files,
//! not crates: a test reaches components only over the bus and through what they publish).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Manifest {
    name: String,
    /// Stream → the event types consumed from it.
    #[serde(default)]
    subscribes: BTreeMap<String, Vec<String>>,
}

/// Event type (`orders.placed.v2`) → the components that consume it, from every
/// `components/*/manifest.json` under `repo`.
pub fn subscribers(repo: &Path) -> Result<BTreeMap<String, Vec<String>>, String> {
    let dir = repo.join("components");
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let mut by_type: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path().join("manifest.json");
        if !path.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        for kind in manifest.subscribes.into_values().flatten() {
            by_type.entry(kind).or_default().push(manifest.name.clone());
        }
    }
    for components in by_type.values_mut() {
        components.sort();
        components.dedup();
    }
    Ok(by_type)
}

/// The owner of an event type: `orders` for `orders.placed.v2`.
pub fn owner(kind: &str) -> &str {
    kind.split('.').next().unwrap_or(kind)
}

/// The subject an event type is published on: `evt.orders.placed.v2`.
pub fn subject(kind: &str) -> String {
    format!("evt.{kind}")
}
