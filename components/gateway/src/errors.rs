//! Errors as the API shows them: always JSON `{"code": "...", "message": "..."}` with a 4xx or
//! 5xx status.
//!
//! - Bad input caught here (body, query, path, headers) is a 4xx with a specific `code`
//!   (`invalid_json`, `invalid_body`, `invalid_path`, `missing_idempotency_key`, ...).
//! - A service's typed error keeps its status when it is a 4xx, 503 or 504 and its `code` is
//!   the status in words (`bad_request`, `not_found`, `conflict`, `unavailable`); any other
//!   service fault is a 502 whose details are logged, not shown.
//! - A call nobody answers in time is a 504 (`timeout`); a call nobody serves is a 503
//!   (`unavailable`) naming the component that is not answering.
//! - [`ensure_json`] rewrites any remaining non-JSON error (axum's 405, a rejection this crate
//!   did not wrap) so that no plain-text error ever leaves the gateway.

use std::borrow::Cow;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mandate::CallError;
use serde::Serialize;

/// An error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: Cow<'static, str>,
    pub message: String,
    /// Seconds after which a retry may succeed (`Retry-After`), for transient failures.
    pub retry_after: Option<u32>,
}

/// The JSON body of every error.
#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400 with a specific code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 500: a fault of the gateway itself.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", message)
    }

    fn retry_after(mut self, seconds: u32) -> ApiError {
        self.retry_after = Some(seconds);
        self
    }

    /// The HTTP error for a failed call to a service of `owner`.
    pub fn from_call(owner: &str, err: CallError) -> ApiError {
        match err {
            CallError::Service { subject, error } => {
                let status = StatusCode::from_u16(error.code).ok();
                match status {
                    Some(status)
                        if status.is_client_error()
                            || status == StatusCode::SERVICE_UNAVAILABLE
                            || status == StatusCode::GATEWAY_TIMEOUT =>
                    {
                        let api = ApiError::new(status, code_for(status), error.message);
                        if error.retryable { api.retry_after(1) } else { api }
                    }
                    _ => {
                        tracing::error!(%subject, code = error.code, message = %error.message, "service failed");
                        ApiError::new(
                            StatusCode::BAD_GATEWAY,
                            "upstream_error",
                            format!(
                                "the {owner} component failed to handle the request ({subject}, code {})",
                                error.code
                            ),
                        )
                    }
                }
            }
            CallError::Timeout { subject, after } => ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "timeout",
                format!(
                    "the {owner} component did not answer {subject} within {}",
                    humantime::format_duration(after)
                ),
            )
            .retry_after(1),
            CallError::NoResponders { subject } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!("the {owner} component is not answering: nobody serves {subject}; is it running?"),
            )
            .retry_after(5),
            CallError::Decode { subject, reason } => {
                tracing::error!(%subject, %reason, "a reply does not decode");
                ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "bad_gateway",
                    format!("the {owner} component answered {subject} with a reply the gateway cannot read"),
                )
            }
            CallError::Send { subject, reason } => {
                tracing::warn!(%subject, %reason, "cannot send a request");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    format!("cannot send {subject} to the {owner} component: {reason}"),
                )
                .retry_after(1)
            }
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            code: &self.code,
            message: &self.message,
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The `code` of an error that has only a status: the status in snake-case words.
pub fn code_for(status: StatusCode) -> Cow<'static, str> {
    match status {
        StatusCode::BAD_REQUEST => "bad_request".into(),
        StatusCode::NOT_FOUND => "not_found".into(),
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed".into(),
        StatusCode::CONFLICT => "conflict".into(),
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large".into(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type".into(),
        StatusCode::INTERNAL_SERVER_ERROR => "internal_error".into(),
        StatusCode::SERVICE_UNAVAILABLE => "unavailable".into(),
        StatusCode::GATEWAY_TIMEOUT => "timeout".into(),
        other => other
            .canonical_reason()
            .map(|reason| {
                reason
                    .chars()
                    .filter_map(|c| match c {
                        ' ' | '-' => Some('_'),
                        c if c.is_ascii_alphanumeric() => Some(c.to_ascii_lowercase()),
                        _ => None,
                    })
                    .collect::<String>()
                    .into()
            })
            .unwrap_or_else(|| {
                if other.is_client_error() {
                    "client_error"
                } else {
                    "server_error"
                }
                .into()
            }),
    }
}

/// The fallback: a JSON 404 for every path no route matches.
pub(crate) async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no route {}; see /openapi.yaml for the API", uri.path()),
    )
}

/// Rewrites an error response that is not JSON (axum's bare 405, any rejection not wrapped
/// here) as a JSON error with the same status and headers.
pub(crate) async fn ensure_json(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let (mut parts, _body) = response.into_parts();
    let message = match parts.headers.get(header::ALLOW).and_then(|v| v.to_str().ok()) {
        Some(allow) if status == StatusCode::METHOD_NOT_ALLOWED => format!("method not allowed; allowed: {allow}"),
        _ => status.canonical_reason().unwrap_or("error").to_lowercase(),
    };
    let rewritten = ApiError::new(status, code_for(status), message).into_response();
    let (new_parts, body) = rewritten.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in &new_parts.headers {
        parts.headers.insert(name, value.clone());
    }
    Response::from_parts(parts, body)
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"))
}

/// A handler that panicked answers 500 in JSON; the panic is logged, the server keeps going.
pub(crate) fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned());
    tracing::error!(panic = %text, "a handler panicked");
    ApiError::internal("the gateway failed while handling the request").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mandate::ServiceError;

    fn service(code: u16) -> CallError {
        CallError::Service {
            subject: "svc.orders.get.v1".into(),
            error: ServiceError::new(code, "why", code == 503),
        }
    }

    #[test]
    fn service_errors_keep_their_client_status_and_hide_faults() {
        for (code, status, name) in [
            (400, 400, "bad_request"),
            (404, 404, "not_found"),
            (409, 409, "conflict"),
            (422, 422, "unprocessable_entity"),
            (503, 503, "unavailable"),
            (500, 502, "upstream_error"),
            (200, 502, "upstream_error"),
            (999, 502, "upstream_error"),
        ] {
            let err = ApiError::from_call("orders", service(code));
            assert_eq!(
                (err.status.as_u16(), err.code.as_ref()),
                (status, name),
                "service code {code}"
            );
        }
        assert_eq!(ApiError::from_call("orders", service(404)).message, "why");
        assert!(!ApiError::from_call("orders", service(500)).message.contains("why"));
        assert_eq!(ApiError::from_call("orders", service(503)).retry_after, Some(1));
    }
}
