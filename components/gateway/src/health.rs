//! `/healthz` and the API's own description.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::errors::ApiError;

/// The OpenAPI 3.1 description of this API, as committed.
pub const OPENAPI_YAML: &str = include_str!("../openapi.yaml");

/// `GET /healthz`: 200 `{"status":"ok"}` while connected to NATS, 503 otherwise.
pub(crate) async fn healthz(State(state): State<AppState>) -> Response {
    if state.bus().is_connected() {
        Json(serde_json::json!({ "status": "ok" })).into_response()
    } else {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the gateway is not connected to NATS",
        )
        .into_response()
    }
}

/// `GET /openapi.yaml`.
pub(crate) async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI_YAML)
}
