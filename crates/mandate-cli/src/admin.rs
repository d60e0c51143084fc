//! The admin protocol from the tool's side: `svc.<component>.admin.status`, `.rebuild` and
//! `.retry-set-aside` (docs/contract.md, "The admin protocol"). The kit implements it for
//! every Rust component; a component in another language implements it from the published
//! schemas (`schemas/json/admin/`, generated here from the kit's own types: [`schemas`]).
//!
//! Every reply is checked against its schema before it is read, so a component that gets a
//! field wrong is told its JSON path, and one that does not implement the protocol is told
//! what is missing rather than that it is "not running".

use std::time::Duration;

use bytes::Bytes;
use mandate::admin::{
    RETRY_SET_ASIDE, RebuildReport, RebuildRequest, RetrySetAsideReport, StatusReport, admin_subject,
};
use mandate::{Bus, CallError};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;
#[cfg(test)]
use serde_json::json;

/// Where the protocol is documented, for messages.
pub const DOCS: &str = "docs/contract.md#the-admin-protocol";

/// Where the protocol's schemas are committed.
const DIR: &str = "schemas/json/admin";

/// Why an admin call gave no report.
#[derive(Debug)]
pub enum AdminError {
    /// Nothing serves the subject. `running`: the component answers `$SRV.PING` (so it runs
    /// but does not implement the protocol).
    Missing {
        component: String,
        subject: String,
        running: bool,
    },
    /// The reply does not follow the protocol: each problem with its JSON path.
    Invalid {
        subject: String,
        schema: String,
        problems: Vec<String>,
    },
    /// The call failed otherwise (a typed error, a timeout, ...).
    Call(CallError),
}

impl std::fmt::Display for AdminError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminError::Missing {
                component,
                subject,
                running: true,
            } => write!(
                f,
                "{component} answers $SRV.PING but not {subject}: implement the admin protocol ({DOCS}) to {}",
                purpose(subject)
            ),
            AdminError::Missing { component, subject, .. } => write!(
                f,
                "nothing serves {subject}: is {component} running? `mandate status` lists what is up"
            ),
            AdminError::Invalid {
                subject,
                schema,
                problems,
            } => write!(
                f,
                "{subject} answered, but not as the admin protocol says ({schema}, {DOCS}): {}",
                problems.join("; ")
            ),
            AdminError::Call(err) => write!(f, "{err}"),
        }
    }
}

impl std::error::Error for AdminError {}

/// What a person gets from implementing the operation behind `subject`.
fn purpose(subject: &str) -> &'static str {
    match subject.rsplit('.').next() {
        Some("status") => "show its consumers and follow its rebuilds",
        Some("rebuild") => "rebuild it with `mandate replay`",
        _ => "retry its set-aside outbox entries",
    }
}

/// Asks `component` for its status.
pub async fn status(bus: &Bus, component: &str) -> Result<StatusReport, AdminError> {
    call(bus, component, "status", Bytes::new()).await
}

/// Asks `component` to wipe its store and rebuild it from the streams.
pub async fn rebuild(bus: &Bus, component: &str, request: &RebuildRequest) -> Result<RebuildReport, AdminError> {
    let body = serde_json::to_vec(request).unwrap_or_else(|_| b"{}".to_vec());
    call(bus, component, "rebuild", body.into()).await
}

/// Asks `component` to put its set-aside outbox entries back in its outbox.
pub async fn retry_set_aside(bus: &Bus, component: &str) -> Result<RetrySetAsideReport, AdminError> {
    call(bus, component, RETRY_SET_ASIDE, Bytes::new()).await
}

async fn call<T: DeserializeOwned + JsonSchema>(
    bus: &Bus,
    component: &str,
    operation: &str,
    body: Bytes,
) -> Result<T, AdminError> {
    let subject = admin_subject(component, operation);
    let reply = match bus.request(&subject, body).await {
        Ok(reply) => reply,
        Err(CallError::NoResponders { subject }) => {
            return Err(AdminError::Missing {
                running: answers_ping(bus, component).await,
                component: component.to_owned(),
                subject,
            });
        }
        Err(other) => return Err(AdminError::Call(other)),
    };
    let invalid = |problems| AdminError::Invalid {
        subject: subject.clone(),
        schema: format!("{DIR}/{operation}.response.json"),
        problems,
    };
    let value: Value = serde_json::from_slice(&reply)
        .map_err(|err| invalid(vec![format!("the reply is not JSON ({err}): {}", preview(&reply))]))?;
    let problems = crate::validation::problems(&schema_of::<T>(), &value, "the reply");
    if !problems.is_empty() {
        return Err(invalid(problems));
    }
    serde_json::from_value(value).map_err(|err| invalid(vec![err.to_string()]))
}

/// Whether any instance of `component` answers `$SRV.PING.<component>`.
async fn answers_ping(bus: &Bus, component: &str) -> bool {
    let ping = bus.client().request(format!("$SRV.PING.{component}"), Bytes::new());
    matches!(tokio::time::timeout(Duration::from_secs(1), ping).await, Ok(Ok(reply)) if reply.status.is_none())
}

fn preview(reply: &[u8]) -> String {
    let text = String::from_utf8_lossy(reply);
    crate::output::truncate(&format!("{text:?}"), 80)
}

fn schema_of<T: JsonSchema>() -> Value {
    serde_json::to_value(schemars::schema_for!(T)).unwrap_or_default()
}

/// A request that takes no body: the kit ignores what it is sent.
#[cfg(test)]
fn empty_request(title: &str, subject: &str) -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "description": format!(
            "The request of {subject}: an empty body (zero bytes). A component ignores whatever it is sent."
        ),
    })
}

/// The protocol's schemas, by their path in the repository (committed, and kept equal to
/// these by the test in `published.rs`).
#[cfg(test)]
pub fn schemas() -> Vec<(String, Value)> {
    let at = |name: &str| format!("{DIR}/{name}.json");
    vec![
        (
            at("status.request"),
            empty_request("StatusRequest", "svc.<component>.admin.status"),
        ),
        (at("status.response"), schema_of::<StatusReport>()),
        (at("rebuild.request"), schema_of::<RebuildRequest>()),
        (at("rebuild.response"), schema_of::<RebuildReport>()),
        (
            at("retry-set-aside.request"),
            empty_request("RetrySetAsideRequest", "svc.<component>.admin.retry-set-aside"),
        ),
        (at("retry-set-aside.response"), schema_of::<RetrySetAsideReport>()),
    ]
}
