//! What the API answers when it cannot do what was asked: a 4xx for the request's fault
//! (bad input, nothing there, a conflict), 502 when the bus or a component failed; always a
//! JSON body `{"error": "..."}` that says what to do, never a panic.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::ops::errors::{NoDlqStream, NoSuchLetter};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::CONFLICT,
            message: message.into(),
        }
    }
}

/// A failure of the operation behind the request: 404 for a dead letter (or `DLQ`) that is
/// not there, 502 (the bus or a component did not do it) otherwise, with the whole chain of
/// causes. (A retry dropped as a duplicate is an outcome, answered 409 by `deadletters.rs`.)
impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> ApiError {
        let missing = err.downcast_ref::<NoSuchLetter>().is_some() || err.downcast_ref::<NoDlqStream>().is_some();
        let status = if missing {
            StatusCode::NOT_FOUND
        } else {
            StatusCode::BAD_GATEWAY
        };
        ApiError {
            status,
            message: format!("{err:#}"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

pub type ApiResult<T> = Result<Json<T>, ApiError>;
