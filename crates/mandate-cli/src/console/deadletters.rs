//! The dead letters on the page: grouped by cause — component, the rule broken
//! (`Mandate-Dlq-Kind`) and the reason given (`ops::letters::groups`, as `mandate dlq list
//! --group` counts them) —, each one inspectable, retried or purged: the same operations as
//! `mandate dlq` (`ops/`), called as functions. A group's bulk redrive is `redrive.rs`.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::{ApiError, ApiResult};
use super::{Console, sequence};
use crate::ops::errors::NoSuchLetter;
use crate::ops::letters::{self, Filter, Group, Letter};
use crate::ops::purge::{self, Purged};
use crate::ops::retry::{self, Outcome, Retried};

/// The dead letters of one cause, with each letter.
#[derive(Debug, Serialize)]
pub struct Listed {
    #[serde(flatten)]
    pub group: Group,
    pub letters: Vec<Letter>,
}

#[derive(Debug, Serialize)]
pub struct Groups {
    pub total: usize,
    pub groups: Vec<Listed>,
}

/// `letters` by cause, the largest group first, each with its letters oldest first.
pub fn group(letters: Vec<Letter>) -> Groups {
    let total = letters.len();
    let groups = letters::groups(&letters)
        .into_iter()
        .map(|group| {
            let of_group =
                |l: &&Letter| l.component == group.component && l.kind == group.kind && l.reason == group.reason;
            let letters = letters.iter().filter(of_group).cloned().collect();
            Listed { group, letters }
        })
        .collect();
    Groups { total, groups }
}

pub async fn list(console: &Console) -> ApiResult<Groups> {
    Ok(Json(group(letters::read(&console.bus, &Filter::default()).await?)))
}

pub async fn show(console: &Console, seq: &str) -> ApiResult<Map<String, Value>> {
    Ok(Json(letters::shown(&console.bus, sequence(seq)?).await?))
}

/// Retries one letter as `mandate dlq retry SEQ` does: 404 when it is not there, 409 when
/// JetStream dropped the retry because the original is still inside its duplicate window
/// (the letter stays; the answer says until when).
pub async fn retry(console: &Console, seq: &str) -> ApiResult<Retried> {
    let seq = sequence(seq)?;
    let dlq = letters::dlq_stream(&console.bus).await?;
    let retried = retry::retry(&console.bus, &dlq, seq).await?;
    match &retried.outcome {
        Outcome::Gone => Err(anyhow::Error::from(NoSuchLetter(seq)).into()),
        Outcome::InsideWindow { stream, until } => Err(ApiError::conflict(format!(
            "JetStream dropped the retry as a duplicate: {stream} already holds ce-id {} within its duplicate window{}. The dead letter stays in DLQ; retry after the window",
            retried.id.as_deref().unwrap_or("?"),
            until.as_ref().map(|t| format!(" (until {t})")).unwrap_or_default(),
        ))),
        Outcome::Republished { .. } | Outcome::AlreadyRepublished { .. } => Ok(Json(retried)),
    }
}

/// The body of a purge: what to purge, and the confirmation the page asked the person for.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurgeRequest {
    /// Only this component's dead letters (all of them when absent).
    #[serde(default)]
    pub component: Option<String>,
    /// Must be true: a purge cannot be undone.
    #[serde(default)]
    pub confirm: bool,
}

pub async fn purge(console: &Console, body: Result<Json<PurgeRequest>, JsonRejection>) -> ApiResult<Purged> {
    let Json(request) = body.map_err(|e| {
        ApiError::bad_request(format!(
            "a purge takes {{\"component\"?: name, \"confirm\": true}}: {e}"
        ))
    })?;
    if !request.confirm {
        return Err(ApiError::bad_request(
            "a purge cannot be undone: send \"confirm\": true once the person has confirmed it",
        ));
    }
    if let Some(component) = &request.component {
        mandate::validate_component_name(component).map_err(ApiError::bad_request)?;
    }
    Ok(Json(purge::purge(&console.bus, request.component.as_deref()).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(sequence: u64, component: &str, kind: &str, reason: &str) -> Letter {
        Letter::sample(sequence, component, kind, reason)
    }

    #[test]
    fn letters_are_listed_by_cause_largest_first_each_with_its_letters() {
        let groups = group(vec![
            letter(1, "inventory", "missing-header", "no ce-id"),
            letter(2, "orders", "missing-header", "no ce-id"),
            letter(3, "inventory", "missing-header", "no ce-time"),
            letter(4, "inventory", "missing-header", "no ce-id"),
        ]);
        assert_eq!(groups.total, 4);
        let keys: Vec<(&str, &str, u64, Vec<u64>)> = groups
            .groups
            .iter()
            .map(|g| {
                let seqs = g.letters.iter().map(|l| l.sequence).collect();
                (g.group.component.as_str(), g.group.reason.as_str(), g.group.count, seqs)
            })
            .collect();
        assert_eq!(
            keys,
            [
                ("inventory", "no ce-id", 2, vec![1, 4]),
                ("orders", "no ce-id", 1, vec![2]),
                ("inventory", "no ce-time", 1, vec![3]),
            ]
        );
    }
}
