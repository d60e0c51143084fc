//! `/v1/inventory`: stock per sku (`inventory.restock.v1`, `inventory.get-stock.v1`).

use axum::Json;
use schemas::inventory::{GetStock, GetStockRequest, Restock, RestockRequest, StockView};
use serde::Deserialize;

use crate::caller::Caller;
use crate::errors::ApiError;
use crate::extract::{IdempotencyKey, JsonBody, Sku};

/// The body of `POST /v1/inventory/{sku}/restock`.
#[derive(Debug, Deserialize)]
pub(crate) struct RestockInput {
    quantity: u32,
}

/// `POST /v1/inventory/{sku}/restock`: add stock; the same `Idempotency-Key` restocks once.
pub(crate) async fn restock(
    caller: Caller<Restock>,
    Sku(sku): Sku,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    JsonBody(input): JsonBody<RestockInput>,
) -> Result<Json<StockView>, ApiError> {
    let request = RestockRequest {
        sku,
        quantity: input.quantity,
        idempotency_key,
    };
    caller.call(&request).await.map(Json)
}

/// `GET /v1/inventory/{sku}`: a sku never restocked has all zeros.
pub(crate) async fn get(caller: Caller<GetStock>, Sku(sku): Sku) -> Result<Json<StockView>, ApiError> {
    caller.call(&GetStockRequest { sku }).await.map(Json)
}
