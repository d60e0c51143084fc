//! [`Caller<O>`]: a handler's permission to call exactly one operation, the one its route
//! declares in [`ROUTES`](crate::routes::ROUTES). The bus itself is sealed in this module, so
//! a handler has no other way to reach a service.

use std::marker::PhantomData;
use std::sync::atomic::Ordering;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use mandate::{Bus, Operation};

use crate::AppState;
use crate::errors::ApiError;
use crate::routes::RouteInfo;

/// The bus connection; its field is private to this module.
#[derive(Debug)]
pub(crate) struct SealedBus {
    bus: Bus,
}

impl SealedBus {
    pub(crate) fn new(bus: Bus) -> SealedBus {
        SealedBus { bus }
    }

    /// Whether the connection to NATS is up (for `/healthz`).
    pub(crate) fn is_connected(&self) -> bool {
        self.bus.client().connection_state() == async_nats::connection::State::Connected
    }
}

/// Extracting it checks that the route declares `O`; [`call`](Caller::call) then calls `O`
/// and turns a failure into the matching HTTP error.
#[derive(Debug)]
pub(crate) struct Caller<O> {
    state: AppState,
    operation: PhantomData<fn() -> O>,
}

impl<O: Operation> FromRequestParts<AppState> for Caller<O> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(info) = parts.extensions.get::<RouteInfo>() else {
            return Err(ApiError::internal(format!(
                "gateway bug: a handler calls {} outside a declared route",
                O::qualified_name()
            )));
        };
        let declared = info.route.operation();
        if declared.as_deref() != Some(O::qualified_name().as_str()) {
            let message = format!(
                "gateway bug: {} {} calls {} but routes.rs declares {:?}",
                info.route.verb.as_str(),
                info.route.path,
                O::qualified_name(),
                declared
            );
            tracing::error!("{message}");
            return Err(ApiError::internal(message));
        }
        info.caller_taken.store(true, Ordering::Release);
        Ok(Caller {
            state: state.clone(),
            operation: PhantomData,
        })
    }
}

impl<O: Operation> Caller<O> {
    /// Calls `O`; a typed error, a timeout or a missing service becomes an [`ApiError`].
    pub(crate) async fn call(&self, request: &O::Request) -> Result<O::Response, ApiError> {
        self.state
            .bus()
            .bus
            .call::<O>(request)
            .await
            .map_err(|err| ApiError::from_call(O::OWNER, err))
    }
}
