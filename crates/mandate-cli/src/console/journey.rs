//! An order's journey on the page: `GET /api/journey/{id}?since=1h` answers
//! `ops::journey::find` — every event and dead letter the order (or correlation id, or event
//! id) caused, in time order, each with who published it, its type, the gap since the step
//! before and its cause — as `mandate journey ID --since 1h --json` prints it. The page asks
//! again whenever the live sample shows a stream grew (`app.js`), so a journey in progress
//! grows on the page.

use axum::Json;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use serde::Deserialize;

use super::Console;
use super::error::{ApiError, ApiResult};
use crate::ops::journey::{self, Journey};
use crate::since::parse_since;

/// How far back headers are scanned unless the request says otherwise, as the CLI's default.
const DEFAULT_SINCE: &str = "1h";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JourneyQuery {
    /// A duration back from now (`1h`, `2d`) or an RFC 3339 time.
    #[serde(default)]
    pub since: Option<String>,
}

pub async fn find(
    console: &Console,
    id: &str,
    query: Result<Query<JourneyQuery>, QueryRejection>,
) -> ApiResult<Journey> {
    let Query(query) =
        query.map_err(|e| ApiError::bad_request(format!("a journey takes ?since=1h (or an RFC 3339 time): {e}")))?;
    let id = id.trim();
    if id.is_empty() || id.len() > 256 || id.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "give an order id, a correlation id or an event id (printable, at most 256 characters)",
        ));
    }
    let since = parse_since(query.since.as_deref().unwrap_or(DEFAULT_SINCE))
        .map_err(|e| ApiError::bad_request(format!("since: {e}")))?;
    Ok(Json(journey::find(&console.bus, id, since).await?))
}
