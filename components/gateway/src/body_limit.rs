//! The body limit, enforced so that the client hears it.
//!
//! A server that answers 413 and closes while the client is still uploading makes the
//! kernel reset the connection, and a client that reads only after sending (most HTTP
//! libraries) sees "connection reset" instead of the 413. So a body over the limit is read
//! and thrown away — up to a bound in bytes and time, like nginx's lingering close — before
//! the 413 goes out with `Connection: close`. A body within the limit is read here once and
//! handed on, so no handler ever sees more than the limit.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use crate::AppState;
use crate::errors::ApiError;

/// How much of an oversized body is read and discarded so its sender can hear the 413.
const DRAIN_BYTES: u64 = 16 << 20;
/// How long draining may take: a slow sender does not hold a task for long.
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// The middleware: reads the body within `Settings::body_limit`, or answers 413.
pub(crate) async fn limit_body(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit = state.settings().body_limit;
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let read = if declared.is_some_and(|length| length > limit as u64) {
        Err(body.into_data_stream())
    } else {
        read_within(body, limit).await
    };
    match read {
        Ok(Some(bytes)) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
        Ok(None) => {
            ApiError::bad_request("invalid_body", "the request body could not be read to its end").into_response()
        }
        Err(rest) => {
            drain(rest).await;
            too_large(limit)
        }
    }
}

type BodyStream = axum::body::BodyDataStream;

/// The whole body if it fits in `limit` bytes (`None` if it broke off); otherwise what is
/// left of it, to drain.
async fn read_within(body: Body, limit: usize) -> Result<Option<Bytes>, BodyStream> {
    let mut stream = body.into_data_stream();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else { return Ok(None) };
        if bytes.len() + chunk.len() > limit {
            return Err(stream);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Some(Bytes::from(bytes)))
}

/// Reads and discards the rest of an oversized body, within [`DRAIN_BYTES`] and
/// [`DRAIN_TIME`]; past either bound the connection is closed with the body unread.
async fn drain(mut rest: BodyStream) {
    let discard = async {
        let mut discarded = 0u64;
        while discarded < DRAIN_BYTES {
            match rest.next().await {
                Some(Ok(chunk)) => discarded += chunk.len() as u64,
                _ => return,
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, discard).await;
}

/// 413, and the connection will not be reused: what remains of the upload is not read.
fn too_large(limit: usize) -> Response {
    let mut response = ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the request body is larger than {limit} bytes"),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}
