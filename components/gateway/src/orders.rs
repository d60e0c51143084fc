//! `/v1/orders` and `/v1/customers/{id}/orders`: placing, reading, listing and cancelling
//! orders (`orders.place.v1`, `orders.get.v1`, `orders.list.v1`, `orders.cancel.v1`).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use schemas::orders::{
    CancelOrder, CancelOrderRequest, GetOrder, GetOrderRequest, LineRequest, ListOrders, ListOrdersRequest, OrderView,
    PlaceOrder, PlaceOrderRequest,
};
use schemas::paging::Page;
use serde::Deserialize;

use crate::caller::Caller;
use crate::errors::ApiError;
use crate::extract::{
    CustomerId, IdempotencyKey, JsonBody, OptionalJsonBody, OrderId, PageQuery, QueryParams, check_id, check_sku,
};

/// The body of `POST /v1/orders`.
#[derive(Debug, Deserialize)]
pub(crate) struct PlaceInput {
    customer_id: String,
    lines: Vec<LineRequest>,
    #[serde(default)]
    payment_token: String,
}

/// `POST /v1/orders`: place an order; 201 with the order and its `Location`. The same
/// `Idempotency-Key` returns the first order instead of placing another.
pub(crate) async fn place(
    caller: Caller<PlaceOrder>,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    JsonBody(input): JsonBody<PlaceInput>,
) -> Result<Response, ApiError> {
    check_id("customer id", &input.customer_id)?;
    for (index, line) in input.lines.iter().enumerate() {
        check_sku(&format!("sku of lines[{index}]"), &line.sku)?;
    }
    let request = PlaceOrderRequest {
        idempotency_key,
        customer_id: input.customer_id,
        lines: input.lines,
        payment_token: input.payment_token,
    };
    let order = caller.call(&request).await?;
    let mut response = (StatusCode::CREATED, Json(&order)).into_response();
    // Order ids are plain (UUIDv7/ULID); a strange one just goes without a Location.
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/orders/{}", order.order_id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// `GET /v1/orders/{id}`.
pub(crate) async fn get(caller: Caller<GetOrder>, OrderId(order_id): OrderId) -> Result<Json<OrderView>, ApiError> {
    caller.call(&GetOrderRequest { order_id }).await.map(Json)
}

/// `GET /v1/customers/{id}/orders?after=&limit=`: a customer's orders, oldest first, paged.
pub(crate) async fn list(
    caller: Caller<ListOrders>,
    CustomerId(customer_id): CustomerId,
    QueryParams(page): QueryParams<PageQuery>,
) -> Result<Json<Page<OrderView>>, ApiError> {
    let request = ListOrdersRequest {
        customer_id,
        after: page.after,
        limit: page.limit.unwrap_or(0),
    };
    caller.call(&request).await.map(Json)
}

/// The optional body of `POST /v1/orders/{id}/cancel`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct CancelInput {
    #[serde(default)]
    reason: String,
}

/// `POST /v1/orders/{id}/cancel`: cancel an order not yet paid (409 otherwise).
pub(crate) async fn cancel(
    caller: Caller<CancelOrder>,
    OrderId(order_id): OrderId,
    OptionalJsonBody(input): OptionalJsonBody<CancelInput>,
) -> Result<Json<OrderView>, ApiError> {
    let request = CancelOrderRequest {
        order_id,
        reason: input.reason,
    };
    caller.call(&request).await.map(Json)
}
