//! Purging dead letters: every one, or one component's, without asking — the caller asked
//! (the CLI's confirmation, the console's `"confirm": true`).

use anyhow::Context as _;
use mandate::Bus;
use serde::Serialize;

use super::letters::dlq_stream;

/// What a purge removed.
#[derive(Debug, Serialize)]
pub struct Purged {
    pub purged: u64,
    pub component: Option<String>,
}

/// Deletes every dead letter (or `component`'s) from `DLQ`.
pub async fn purge(bus: &Bus, component: Option<&str>) -> anyhow::Result<Purged> {
    let stream = dlq_stream(bus).await?;
    let response = match component {
        Some(component) => stream.purge().filter(mandate::dead_letter_subject(component)).await,
        None => stream.purge().await,
    }
    .context("purging DLQ")?;
    Ok(Purged {
        purged: response.purged,
        component: component.map(str::to_owned),
    })
}
