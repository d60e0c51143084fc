//! What a component running as partitions needs beyond the component's own rights
//! (docs/design.md, "Partitions"). Its partitions share the component's one bus user: any of
//! them serves the public subject and forwards or gathers to any other, so a user per
//! partition would isolate nothing. What differs is names: NATS wildcards match whole tokens
//! only, so each partition's durable consumer (`<name>-p<P>of<N>`) and private service
//! subject (`svc.<name>.p<P>of<N>.<op>.v<N>`) is listed by name, for the count the manifest
//! declares — and while the count changes, for the count it is moving from as well.

use crate::repo::manifest::ComponentManifest;

/// The durable consumer names of `m` on each stream it consumes: its name, or one per
/// partition.
pub fn consumer_names(m: &ComponentManifest) -> Vec<String> {
    let labels = m.partitions.as_ref().map(|p| p.granted_labels()).unwrap_or_default();
    let mut names: Vec<String> = labels.iter().map(|label| format!("{}-{label}", m.name)).collect();
    // One process (a count of 1, now or before the change) consumes as the component.
    let unpartitioned = m
        .partitions
        .as_ref()
        .is_none_or(|p| p.count <= 1 || p.moving_from == Some(1));
    if unpartitioned {
        names.insert(0, m.name.clone());
    }
    names
}

/// The partitions' own service subjects, which a partition publishes to when it forwards a
/// request to the key's owner or gathers from all: every served operation at every partition.
pub fn private_subjects(m: &ComponentManifest) -> Vec<String> {
    let Some(partitions) = m.partitions.as_ref() else {
        return Vec::new();
    };
    partitions
        .granted_labels()
        .iter()
        .flat_map(|label| {
            m.serves.iter().filter_map(move |operation| {
                let (owner, rest) = operation.split_once('.')?;
                Some(format!("svc.{owner}.{label}.{rest}"))
            })
        })
        .collect()
}
