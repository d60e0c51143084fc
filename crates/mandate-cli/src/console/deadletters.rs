//! The dead letters on the page: grouped by component and by the rule each broke
//! (`Mandate-Dlq-Kind`, with the reasons given), each one inspectable, retried or purged —
//! the same operations as `mandate dlq` (`commands/dlq.rs`), called as functions.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::{ApiError, ApiResult};
use super::{Console, sequence};
use crate::commands::dlq::{self, Letter, Purged, Retried};

/// The dead letters of one component that broke one rule.
#[derive(Debug, Serialize)]
pub struct Group {
    pub component: String,
    pub kind: String,
    pub count: usize,
    /// Each distinct reason given, with how many letters gave it.
    pub reasons: BTreeMap<String, usize>,
    pub letters: Vec<Letter>,
}

#[derive(Debug, Serialize)]
pub struct Groups {
    pub total: usize,
    pub groups: Vec<Group>,
}

pub fn group(letters: Vec<Letter>) -> Groups {
    let total = letters.len();
    let mut groups: BTreeMap<(String, String), Group> = BTreeMap::new();
    for letter in letters {
        let group = groups
            .entry((letter.component.clone(), letter.kind.clone()))
            .or_insert_with(|| Group {
                component: letter.component.clone(),
                kind: letter.kind.clone(),
                count: 0,
                reasons: BTreeMap::new(),
                letters: Vec::new(),
            });
        group.count += 1;
        *group.reasons.entry(letter.reason.clone()).or_default() += 1;
        group.letters.push(letter);
    }
    Groups {
        total,
        groups: groups.into_values().collect(),
    }
}

pub async fn list(console: &Console) -> ApiResult<Groups> {
    Ok(Json(group(dlq::letters(&console.bus, None).await?)))
}

pub async fn show(console: &Console, seq: &str) -> ApiResult<Map<String, Value>> {
    Ok(Json(dlq::shown(&console.bus, sequence(seq)?).await?))
}

pub async fn retry(console: &Console, seq: &str) -> ApiResult<Retried> {
    Ok(Json(dlq::retry_one(&console.bus, sequence(seq)?).await?))
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
    Ok(Json(
        dlq::purge_letters(&console.bus, request.component.as_deref()).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(sequence: u64, component: &str, kind: &str, reason: &str) -> Letter {
        Letter {
            sequence,
            time: String::new(),
            component: component.into(),
            kind: kind.into(),
            reason: reason.into(),
            subject: String::new(),
            stream: String::new(),
            original_sequence: None,
            consumer: String::new(),
            deliveries: None,
            ce_type: None,
            id: None,
            body_omitted: false,
        }
    }

    #[test]
    fn letters_are_grouped_by_component_and_kind_with_each_reason_counted() {
        let groups = group(vec![
            letter(1, "inventory", "missing-header", "no ce-id"),
            letter(2, "orders", "missing-header", "no ce-id"),
            letter(3, "inventory", "missing-header", "no ce-time"),
            letter(4, "inventory", "handler-failed", "boom"),
        ]);
        assert_eq!(groups.total, 4);
        let keys: Vec<(&str, &str, usize)> = groups
            .groups
            .iter()
            .map(|g| (g.component.as_str(), g.kind.as_str(), g.count))
            .collect();
        assert_eq!(
            keys,
            [
                ("inventory", "handler-failed", 1),
                ("inventory", "missing-header", 2),
                ("orders", "missing-header", 1)
            ]
        );
        assert_eq!(groups.groups[1].reasons.len(), 2);
    }
}
