//! Replay from the page: `POST /api/replay/{component}` asks the component (or one partition,
//! `orders.p1of3`) to rebuild, as `mandate replay` does, and follows it in the background;
//! `GET /api/replay/{component}/events` streams its progress as server-sent events
//! (`event: progress`) until it is done or failed.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::Json;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use mandate::admin::RebuildRequest;
use mandate::{Bus, CallError};
use serde::Serialize;
use tokio::sync::watch;

use super::Console;
use super::error::{ApiError, ApiResult};
use crate::admin::{self, AdminError};
use crate::ops::replay::{component_name, progress, rebuild_error, status_is_final};

/// How long a rebuild request may take (the component publishes its outbox first).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Give up following when the component has not answered its status for this long.
const SILENCE: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    pub component: String,
    /// `requested`, `rebuilding`, `done` or `failed`.
    pub phase: String,
    pub applied: u64,
    pub total: u64,
    pub wiped: u64,
    pub elapsed_ms: u64,
    pub error: Option<String>,
}

impl Progress {
    fn finished(&self) -> bool {
        matches!(self.phase.as_str(), "done" | "failed")
    }
}

/// The replays started from this console, by component.
#[derive(Default)]
pub struct Replays {
    running: Mutex<BTreeMap<String, watch::Receiver<Progress>>>,
}

impl Replays {
    fn get(&self, name: &str) -> Option<watch::Receiver<Progress>> {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }
}

pub async fn start(console: &Console, name: &str, body: Bytes) -> ApiResult<Progress> {
    let name = component_name(name).map_err(ApiError::bad_request)?;
    // An empty body (or `{}`) is everything, from the beginning.
    let request: RebuildRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RebuildRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|err| {
            ApiError::bad_request(format!(
                "a replay takes {{\"from_sequence\"?: N, \"since\"?: RFC 3339}}, not both: {err}"
            ))
        })?
    };
    if request.from_sequence.is_some() && request.since.is_some() {
        return Err(ApiError::bad_request(
            "a replay starts from_sequence or since, not both",
        ));
    }
    if console.replays.get(&name).is_some_and(|p| !p.borrow().finished()) {
        return Err(ApiError::conflict(format!(
            "{name} is already rebuilding from this console: follow it at /api/replay/{name}/events"
        )));
    }
    let started = Instant::now();
    let report = admin::rebuild(&console.bus.clone().with_timeout(REQUEST_TIMEOUT), &name, &request)
        .await
        .map_err(|err| refused(&name, err))?;
    let first = Progress {
        component: name.clone(),
        phase: "requested".into(),
        applied: 0,
        total: 0,
        wiped: report.wiped,
        elapsed_ms: 0,
        error: None,
    };
    let (sender, receiver) = watch::channel(first.clone());
    console
        .replays
        .running
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(name.clone(), receiver);
    tokio::spawn(follow(console.bus.clone(), first.clone(), started, sender));
    Ok(Json(first))
}

/// Why the component did not start the rebuild, with the status that says whose fault it is:
/// nothing serves it (404), it is rebuilding already (409), it refused the request (400).
fn refused(name: &str, err: AdminError) -> ApiError {
    let status = match &err {
        AdminError::Missing { .. } => Some(StatusCode::NOT_FOUND),
        AdminError::Call(CallError::Service { error, .. }) if error.code == 409 => Some(StatusCode::CONFLICT),
        AdminError::Call(CallError::Service { error, .. }) if error.code == 400 => Some(StatusCode::BAD_REQUEST),
        _ => None,
    };
    let failure = ApiError::from(rebuild_error(name, err));
    match status {
        Some(status) => ApiError { status, ..failure },
        None => failure,
    }
}

/// Polls the component's status until the rebuild is over (as `mandate replay` does).
async fn follow(bus: Bus, mut progress_now: Progress, started: Instant, sender: watch::Sender<Progress>) {
    let status_bus = bus.with_timeout(Duration::from_secs(5));
    let mut last_answer = Instant::now();
    loop {
        tokio::time::sleep(POLL).await;
        progress_now.elapsed_ms = started.elapsed().as_millis() as u64;
        match admin::status(&status_bus, &progress_now.component).await {
            Ok(status) => {
                last_answer = Instant::now();
                (progress_now.applied, progress_now.total) = progress(&status);
                progress_now.phase = if status_is_final(&status) { "done" } else { "rebuilding" }.into();
            }
            Err(err) if matches!(err, AdminError::Invalid { .. }) || last_answer.elapsed() > SILENCE => {
                progress_now.phase = "failed".into();
                progress_now.error = Some(err.to_string());
            }
            Err(_) => continue,
        }
        let finished = progress_now.finished();
        let _ = sender.send(progress_now.clone());
        if finished {
            return;
        }
    }
}

pub fn events(
    console: &Console,
    name: &str,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>> + use<>>, ApiError> {
    let receiver = console.replays.get(name).ok_or_else(|| {
        ApiError::not_found(format!(
            "no replay of {name:?} was started from this console: POST /api/replay/{name} starts one"
        ))
    })?;
    let stream = futures::stream::unfold(Some((receiver, true)), |state| async move {
        let (mut receiver, first) = state?;
        if !first && receiver.changed().await.is_err() {
            return None;
        }
        let progress = receiver.borrow_and_update().clone();
        let next = (!progress.finished()).then_some((receiver, false));
        Some((progress, next))
    })
    .map(|progress| {
        Ok(Event::default()
            .event("progress")
            .json_data(&progress)
            .unwrap_or_default())
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

pub type Shared = Arc<Replays>;
