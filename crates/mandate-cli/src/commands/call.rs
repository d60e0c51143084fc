//! `mandate call SERVICE [JSON]`: one request/reply call, as the typed client makes it.
//!
//! The JSON request is sent as MessagePack (named fields) through `Bus::request`, which
//! adds a `traceparent` and a `correlation-id`; the reply is printed as JSON. The kit's admin
//! operations (`svc.<component>.admin.*`) speak JSON on the wire and are passed through as is.

use std::time::Duration;

use clap::Args;
use mandate::{Bus, CallError};
use serde_json::Value;

use super::Global;
use super::publish::read_json_arg;
use crate::failure::Reported;
use crate::subjects::{is_admin_subject, service_subject};
use crate::{msgpack, output};

#[derive(Debug, Args)]
#[command(
    after_help = "A typed error is printed on stderr as {\"code\",\"message\",\"retryable\"} \
and the exit code is 1.\n\nExamples:\n  mandate call orders.get.v1 '{\"order_id\": \"o-1\"}'\n  mandate call svc.orders.admin.status"
)]
pub struct CallArgs {
    /// <owner>.<operation>.v<major> (e.g. orders.place.v1) or a full svc.... subject.
    #[arg(value_parser = service_subject)]
    pub service: String,
    /// The request as JSON (`-` reads it from stdin). Default: `{}` (empty for admin operations).
    #[arg(value_name = "JSON")]
    pub request: Option<String>,
    /// How long to wait for the reply.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

pub async fn run(bus: &Bus, args: &CallArgs, _global: Global) -> anyhow::Result<()> {
    let subject = &args.service;
    let admin = is_admin_subject(subject);
    let request = match &args.request {
        Some(text) => Some(read_json_arg(text)?),
        None => None,
    };
    if let (false, Some(json)) = (admin, &request) {
        crate::schema::validate_request(subject, json)?;
    }
    let payload = match (admin, &request) {
        (true, None) => Vec::new(),
        (true, Some(json)) => serde_json::to_vec(json)?,
        (false, None) => msgpack::from_json(&Value::Object(Default::default()))?,
        (false, Some(json)) => msgpack::from_json(json)?,
    };
    let bus = bus.clone().with_timeout(args.timeout);
    let reply = match bus.request(subject, payload.into()).await {
        Ok(reply) => reply,
        Err(CallError::Service { error, .. }) => {
            eprintln!("{}", serde_json::to_string(&error)?);
            return Err(Reported.into());
        }
        Err(CallError::NoResponders { .. }) => {
            anyhow::bail!("no component answers {subject}: is it running? `mandate status` lists what is up")
        }
        Err(CallError::Timeout { after, .. }) => anyhow::bail!(
            "{subject} did not answer within {}: the component may be busy, stuck or rebuilding (`mandate status` shows), or give more time with --timeout",
            output::duration(after)
        ),
        Err(other) => return Err(other.into()),
    };
    let value = if reply.is_empty() {
        Value::Null
    } else if admin {
        serde_json::from_slice(&reply).map_err(|e| anyhow::anyhow!("the reply of {subject} is not JSON: {e}"))?
    } else {
        msgpack::to_json(&reply).map_err(|e| {
            anyhow::anyhow!(
                "the reply of {subject} is not MessagePack ({e}); raw bytes (base64): {}",
                msgpack::base64_encode(&reply)
            )
        })?
    };
    output::json(&value)
}
