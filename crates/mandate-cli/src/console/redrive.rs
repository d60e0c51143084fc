//! The bulk redrive from the page: `POST /api/dead-letters/redrive` plans `ops::redrive` for
//! a group (component, and optionally kind, reason or reason prefix) and runs it on a task of
//! its own — canary first, then throttled — exactly as `mandate dlq retry --component ...
//! --rate N --canary K` does; `GET /api/redrive/{id}/events` streams its progress by
//! server-sent events (`event: progress`) until it ends; `POST /api/redrive/{id}/stop`
//! cancels it between messages (the one in flight finishes; what was not reached stays in
//! `DLQ`).
//!
//! One redrive per component at a time from this console (409 otherwise): two at once would
//! apply nothing twice (`ops/retry.rs`), but each would canary the same component, and the
//! page could not say which of them its figures are.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::Console;
use super::error::ApiError;
use crate::ops::canary::Verdict;
use crate::ops::letters::{Filter, ReasonMatch};
use crate::ops::redrive::{self, Ended, Options, Progress, Report, Step};

/// How many finished redrives stay followable (`/api/redrive/{id}/events`).
const KEPT_FINISHED: usize = 16;

/// What the page asks for.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedriveRequest {
    /// The group's component (required: a redrive is one component's at a time).
    pub component: String,
    #[serde(default)]
    pub kind: Option<String>,
    /// The whole reason, as the group shows it.
    #[serde(default)]
    pub reason: Option<String>,
    /// Or its beginning (not both).
    #[serde(default)]
    pub reason_prefix: Option<String>,
    /// Retries per second after the canaries.
    pub rate: f64,
    /// Letters retried and watched one at a time first (default 1).
    #[serde(default = "one")]
    pub canary: usize,
    /// How long a canary may take to be applied, in seconds (default 30).
    #[serde(default)]
    pub canary_timeout_s: Option<f64>,
}

fn one() -> usize {
    1
}

/// A redrive as the page shows it: sent when it starts, after every letter, and at its end.
#[derive(Debug, Clone, Serialize)]
pub struct Redrive {
    pub id: u64,
    pub component: String,
    /// How many letters were selected.
    pub selected: u64,
    /// `canary`, `throttled`, then how it ended: `completed`, `canary_failed`,
    /// `canary_not_retried`, `stopped` or `failed` (the run could not go on: `error`).
    pub phase: String,
    pub done: u64,
    pub skipped: u64,
    pub failed: u64,
    pub remaining: u64,
    /// The operator asked it to stop; it stops after the message in flight.
    pub stopping: bool,
    /// The last canary's verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<Verdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<Step>,
    /// The end, with the letters not reached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Redrive {
    fn finished(&self) -> bool {
        self.report.is_some() || self.error.is_some()
    }

    fn advance(&mut self, progress: &Progress) {
        self.phase = serde_json::to_value(progress.phase)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        (self.done, self.skipped, self.failed, self.remaining) =
            (progress.done, progress.skipped, progress.failed, progress.remaining);
        if progress.canary.is_some() {
            self.canary.clone_from(&progress.canary);
        }
        self.last = Some(progress.last.clone());
    }

    fn end(&mut self, ended: anyhow::Result<Report>) {
        match ended {
            Ok(report) => {
                self.phase = match &report.ended {
                    Ended::Completed => "completed",
                    Ended::CanaryFailed { verdict, .. } => {
                        self.canary = Some(verdict.clone());
                        "canary_failed"
                    }
                    Ended::CanaryNotRetried { .. } => "canary_not_retried",
                    Ended::Stopped => "stopped",
                }
                .to_owned();
                (self.done, self.skipped, self.failed) = (report.done, report.skipped, report.failed);
                self.remaining = report.remaining.len() as u64;
                self.report = Some(report);
            }
            Err(err) => {
                self.phase = "failed".to_owned();
                self.error = Some(format!("{err:#}"));
            }
        }
    }
}

/// One redrive started from this console.
struct Running {
    component: String,
    stop: CancellationToken,
    /// `None` while it is being planned.
    view: Option<watch::Receiver<Redrive>>,
}

impl Running {
    fn finished(&self) -> bool {
        self.view.as_ref().is_some_and(|v| v.borrow().finished())
    }
}

/// The redrives started from this console, by id.
#[derive(Default)]
pub struct Redrives {
    next: AtomicU64,
    runs: Mutex<BTreeMap<u64, Running>>,
}

impl Redrives {
    fn runs(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Running>> {
        self.runs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Claims `component` for a new redrive, or says which one holds it (checked and claimed
    /// under one lock, so that two requests at once cannot both start).
    fn claim(&self, component: &str) -> Result<(u64, CancellationToken), ApiError> {
        let mut runs = self.runs();
        if let Some((id, _)) = runs.iter().find(|(_, r)| r.component == component && !r.finished()) {
            return Err(ApiError::conflict(format!(
                "a redrive of {component}'s dead letters is running already (#{id}): follow it at /api/redrive/{id}/events, or stop it"
            )));
        }
        // Finished runs are kept for their events, the last few only.
        let finished: Vec<u64> = runs.iter().filter(|(_, r)| r.finished()).map(|(id, _)| *id).collect();
        for id in finished.iter().take(finished.len().saturating_sub(KEPT_FINISHED)) {
            runs.remove(id);
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let stop = CancellationToken::new();
        runs.insert(
            id,
            Running {
                component: component.to_owned(),
                stop: stop.clone(),
                view: None,
            },
        );
        Ok((id, stop))
    }

    fn view(&self, id: u64) -> Result<watch::Receiver<Redrive>, ApiError> {
        self.runs().get(&id).and_then(|r| r.view.clone()).ok_or_else(|| {
            ApiError::not_found(format!(
                "no redrive #{id} was started from this console: POST /api/dead-letters/redrive starts one"
            ))
        })
    }
}

pub type Shared = Arc<Redrives>;

/// The filter and options a request names, or a 400 saying what is wrong.
fn read(request: &RedriveRequest) -> Result<(Filter, Options), ApiError> {
    mandate::validate_component_name(&request.component).map_err(ApiError::bad_request)?;
    let reason = match (&request.reason, &request.reason_prefix) {
        (Some(_), Some(_)) => return Err(ApiError::bad_request("give reason or reason_prefix, not both")),
        (Some(reason), None) => Some(ReasonMatch::Exact(reason.clone())),
        (None, Some(prefix)) => Some(ReasonMatch::Prefix(prefix.clone())),
        (None, None) => None,
    };
    if !request.rate.is_finite() || request.rate <= 0.0 {
        return Err(ApiError::bad_request(
            "rate must be a positive number of retries per second",
        ));
    }
    let mut options = Options {
        canary: request.canary,
        rate: request.rate,
        ..Options::default()
    };
    if let Some(seconds) = request.canary_timeout_s {
        options.canary_timeout = Duration::try_from_secs_f64(seconds)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| ApiError::bad_request("canary_timeout_s must be a positive number of seconds"))?;
    }
    let filter = Filter {
        component: Some(request.component.clone()),
        kind: request.kind.clone(),
        reason,
    };
    Ok((filter, options))
}

pub async fn start(
    console: &Console,
    body: Result<Json<RedriveRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<Redrive>), ApiError> {
    let Json(request) = body.map_err(|e| {
        ApiError::bad_request(format!(
            "a redrive takes {{\"component\": name, \"kind\"?, \"reason\"? or \"reason_prefix\"?, \"rate\": per second, \"canary\"?: count, \"canary_timeout_s\"?}}: {e}"
        ))
    })?;
    let (filter, options) = read(&request)?;
    let (id, stop) = console.redrives.claim(&request.component)?;
    let planned = redrive::plan(&console.bus, &filter).await;
    let plan = match planned {
        Ok(plan) if !plan.letters.is_empty() => plan,
        outcome => {
            console.redrives.runs().remove(&id);
            outcome?;
            return Err(ApiError::not_found(
                "no dead letter matches: nothing to redrive (the list may be out of date: refresh it)",
            ));
        }
    };
    let first = Redrive {
        id,
        component: request.component.clone(),
        selected: plan.letters.len() as u64,
        phase: "canary".to_owned(),
        done: 0,
        skipped: 0,
        failed: 0,
        remaining: plan.letters.len() as u64,
        stopping: false,
        canary: None,
        last: None,
        report: None,
        error: None,
    };
    let (sender, receiver) = watch::channel(first.clone());
    if let Some(running) = console.redrives.runs().get_mut(&id) {
        running.view = Some(receiver);
    }
    tokio::spawn(async move {
        let ended = plan
            .run(options, |progress| sender.send_modify(|r| r.advance(progress)), stop)
            .await;
        sender.send_modify(|r| r.end(ended));
    });
    Ok((StatusCode::ACCEPTED, Json(first)))
}

/// Asks redrive `id` to stop after the message in flight; its events say when it has.
pub fn stop(console: &Console, id: &str) -> Result<Json<Redrive>, ApiError> {
    let id = redrive_id(id)?;
    let view = console.redrives.view(id)?;
    if let Some(running) = console.redrives.runs().get(&id) {
        running.stop.cancel();
    }
    let mut now = view.borrow().clone();
    now.stopping = !now.finished();
    Ok(Json(now))
}

pub fn events(
    console: &Console,
    id: &str,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>> + use<>>, ApiError> {
    let id = redrive_id(id)?;
    let receiver = console.redrives.view(id)?;
    let stop = console.redrives.runs().get(&id).map(|r| r.stop.clone());
    let stream = futures::stream::unfold(Some((receiver, true)), |state| async move {
        let (mut receiver, first) = state?;
        if !first && receiver.changed().await.is_err() {
            return None;
        }
        let redrive = receiver.borrow_and_update().clone();
        let next = (!redrive.finished()).then_some((receiver, false));
        Some((redrive, next))
    })
    .map(move |mut redrive| {
        redrive.stopping = !redrive.finished() && stop.as_ref().is_some_and(CancellationToken::is_cancelled);
        Ok(Event::default()
            .event("progress")
            .json_data(&redrive)
            .unwrap_or_default())
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

fn redrive_id(text: &str) -> Result<u64, ApiError> {
    text.parse::<u64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::bad_request(format!("{text:?} is not a redrive id (a positive integer)")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: serde_json::Value) -> RedriveRequest {
        serde_json::from_value(json).expect("a request")
    }

    #[test]
    fn a_request_is_a_component_group_with_a_positive_rate() {
        let (filter, options) = read(&request(serde_json::json!({
            "component": "shipping", "kind": "handler-failed", "reason_prefix": "handler", "rate": 5
        })))
        .expect("valid");
        assert_eq!(filter.component.as_deref(), Some("shipping"));
        assert_eq!(filter.reason, Some(ReasonMatch::Prefix("handler".into())));
        assert_eq!((options.canary, options.rate), (1, 5.0));
        for bad in [
            serde_json::json!({"component": "shipping", "rate": 0}),
            serde_json::json!({"component": "shipping", "rate": -1}),
            serde_json::json!({"component": "Ship ping", "rate": 1}),
            serde_json::json!({"component": "shipping", "rate": 1, "reason": "a", "reason_prefix": "b"}),
            serde_json::json!({"component": "shipping", "rate": 1, "canary_timeout_s": 0}),
        ] {
            let refused = read(&request(bad.clone())).expect_err("refused");
            assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{bad}");
        }
    }

    #[test]
    fn one_redrive_per_component_at_a_time() {
        let redrives = Redrives::default();
        let (first, _) = redrives.claim("shipping").expect("free");
        let refused = redrives.claim("shipping").expect_err("taken");
        assert_eq!(refused.status, StatusCode::CONFLICT);
        assert!(refused.message.contains(&format!("#{first}")), "{}", refused.message);
        redrives.claim("inventory").expect("another component is free");
    }
}
