//! The one list of routes. Everything that must agree with the API reads it:
//!
//! - the router is built from it ([`build`]), so a route cannot exist outside the list;
//! - the OpenAPI test compares `openapi.yaml`'s (method, path) pairs with it;
//! - the manifest test compares `manifest.json`'s `calls` with [`calls`], the operations
//!   named here — and [`Caller`](crate::caller::Caller) refuses at run time any operation a
//!   route does not declare, while [`guard`] flags a route that declares one but answers
//!   without it, so the list cannot drift from what the handlers really call.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use mandate::Operation;
use schemas::{catalog, inventory, orders};

use crate::errors::ApiError;
use crate::{AppState, events, health, inventory as stock, orders as order, products};

/// The HTTP methods the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verb {
    Get,
    Put,
    Post,
}

impl Verb {
    /// Lower case, as OpenAPI spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::Put => "put",
            Verb::Post => "post",
        }
    }

    fn filter(self) -> MethodFilter {
        match self {
            Verb::Get => MethodFilter::GET,
            Verb::Put => MethodFilter::PUT,
            Verb::Post => MethodFilter::POST,
        }
    }
}

/// One route: its method, its path (axum and OpenAPI share the `{param}` syntax) and the
/// service operation it calls, if any.
pub struct Route {
    pub verb: Verb,
    pub path: &'static str,
    /// `<owner>.<name>.v<major>` of the one operation the route calls, taken from the
    /// operation's type so that it cannot be misspelled.
    pub calls: Option<fn() -> String>,
    handler: fn(MethodFilter) -> MethodRouter<AppState>,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route")
            .field("verb", &self.verb)
            .field("path", &self.path)
            .field("calls", &self.calls.map(|name| name()))
            .finish_non_exhaustive()
    }
}

impl Route {
    /// The operation this route calls, if any.
    pub fn operation(&self) -> Option<String> {
        self.calls.map(|name| name())
    }
}

/// Every route of the API.
pub static ROUTES: &[Route] = &[
    Route {
        verb: Verb::Get,
        path: "/healthz",
        calls: None,
        handler: |m| on(m, health::healthz),
    },
    Route {
        verb: Verb::Get,
        path: "/openapi.yaml",
        calls: None,
        handler: |m| on(m, health::openapi),
    },
    Route {
        verb: Verb::Get,
        path: "/v1/products",
        calls: Some(catalog::ListProducts::qualified_name),
        handler: |m| on(m, products::list),
    },
    Route {
        verb: Verb::Get,
        path: "/v1/products/{sku}",
        calls: Some(catalog::GetProduct::qualified_name),
        handler: |m| on(m, products::get),
    },
    Route {
        verb: Verb::Put,
        path: "/v1/products/{sku}",
        calls: Some(catalog::UpsertProduct::qualified_name),
        handler: |m| on(m, products::upsert),
    },
    Route {
        verb: Verb::Post,
        path: "/v1/inventory/{sku}/restock",
        calls: Some(inventory::Restock::qualified_name),
        handler: |m| on(m, stock::restock),
    },
    Route {
        verb: Verb::Get,
        path: "/v1/inventory/{sku}",
        calls: Some(inventory::GetStock::qualified_name),
        handler: |m| on(m, stock::get),
    },
    Route {
        verb: Verb::Post,
        path: "/v1/orders",
        calls: Some(orders::PlaceOrder::qualified_name),
        handler: |m| on(m, order::place),
    },
    Route {
        verb: Verb::Get,
        path: "/v1/orders/{id}",
        calls: Some(orders::GetOrder::qualified_name),
        handler: |m| on(m, order::get),
    },
    Route {
        verb: Verb::Get,
        path: "/v1/customers/{id}/orders",
        calls: Some(orders::ListOrders::qualified_name),
        handler: |m| on(m, order::list),
    },
    Route {
        verb: Verb::Post,
        path: "/v1/orders/{id}/cancel",
        calls: Some(orders::CancelOrder::qualified_name),
        handler: |m| on(m, order::cancel),
    },
    Route {
        verb: Verb::Get,
        path: "/v1/orders/{id}/events",
        calls: None,
        handler: |m| on(m, events::order_events),
    },
];

/// Every operation the gateway calls, sorted: what `manifest.json` lists as `calls` and what
/// the broker must allow it to request.
pub fn calls() -> Vec<String> {
    ROUTES
        .iter()
        .filter_map(Route::operation)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The router of [`ROUTES`], each route wrapped in its [`guard`]. Routes of the same path are
/// merged by axum into one method router.
pub(crate) fn build() -> Router<AppState> {
    ROUTES.iter().fold(Router::new(), |router, route| {
        let guarded = (route.handler)(route.verb.filter()).layer(axum::middleware::from_fn(move |request, next| {
            guard(route, request, next)
        }));
        router.route(route.path, guarded)
    })
}

/// What a request carries about its route, for [`Caller`](crate::caller::Caller).
#[derive(Debug, Clone)]
pub(crate) struct RouteInfo {
    pub route: &'static Route,
    /// Set when the handler takes its `Caller`: proof that the declared call is made.
    pub caller_taken: Arc<AtomicBool>,
}

/// Tells the handler's `Caller` which route it serves, then checks that a route that declares
/// an operation did take a `Caller` for it before answering with success. A route that
/// declares a call it does not make is a bug in this list: in debug builds (every test) the
/// response becomes a 500 so the test of that route fails; in release it is logged.
async fn guard(route: &'static Route, mut request: Request, next: Next) -> Response {
    let caller_taken = Arc::new(AtomicBool::new(false));
    request.extensions_mut().insert(RouteInfo {
        route,
        caller_taken: Arc::clone(&caller_taken),
    });
    let response = next.run(request).await;
    if route.calls.is_some() && response.status().is_success() && !caller_taken.load(Ordering::Acquire) {
        let message = format!(
            "gateway bug: {} {} declares {:?} in routes.rs but its handler did not call it",
            route.verb.as_str(),
            route.path,
            route.operation()
        );
        tracing::error!("{message}");
        if cfg!(debug_assertions) {
            return ApiError::internal(message).into_response();
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_unique_and_calls_are_sorted_and_distinct() {
        let pairs: BTreeSet<_> = ROUTES.iter().map(|r| (r.verb, r.path)).collect();
        assert_eq!(pairs.len(), ROUTES.len(), "a (method, path) pair appears twice");
        let calls = calls();
        assert!(calls.windows(2).all(|w| w[0] < w[1]));
        assert!(calls.contains(&"orders.place.v1".to_owned()));
    }
}
