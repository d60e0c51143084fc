//! `/v1/products`: the catalog (`catalog.list-products.v1`, `get-product`, `upsert-product`).

use axum::Json;
use schemas::catalog::{GetProduct, GetProductRequest, ListProducts, ListProductsRequest, Product, UpsertProduct};
use schemas::paging::Page;
use serde::Deserialize;

use crate::caller::Caller;
use crate::errors::ApiError;
use crate::extract::{JsonBody, PageQuery, QueryParams, Sku, check_sku};

/// `GET /v1/products?after=&limit=`: products by sku, paged.
pub(crate) async fn list(
    caller: Caller<ListProducts>,
    QueryParams(page): QueryParams<PageQuery>,
) -> Result<Json<Page<Product>>, ApiError> {
    let request = ListProductsRequest {
        after: page.after,
        limit: page.limit.unwrap_or(0),
    };
    caller.call(&request).await.map(Json)
}

/// `GET /v1/products/{sku}`.
pub(crate) async fn get(caller: Caller<GetProduct>, Sku(sku): Sku) -> Result<Json<Product>, ApiError> {
    caller.call(&GetProductRequest { sku }).await.map(Json)
}

/// The body of `PUT /v1/products/{sku}`; a `sku` in it is optional and must match the path.
#[derive(Debug, Deserialize)]
pub(crate) struct ProductInput {
    #[serde(default)]
    sku: Option<String>,
    name: String,
    unit_price_minor: i64,
    currency: String,
}

/// `PUT /v1/products/{sku}`: create or replace a product.
pub(crate) async fn upsert(
    caller: Caller<UpsertProduct>,
    Sku(sku): Sku,
    JsonBody(input): JsonBody<ProductInput>,
) -> Result<Json<Product>, ApiError> {
    if let Some(body_sku) = input.sku.as_deref() {
        check_sku("sku", body_sku)?;
        if body_sku != sku {
            return Err(ApiError::bad_request(
                "sku_mismatch",
                format!("the body's sku {body_sku:?} differs from the path's {sku:?}; omit it or make them equal"),
            ));
        }
    }
    let product = Product {
        sku,
        name: input.name,
        unit_price_minor: input.unit_price_minor,
        currency: input.currency,
    };
    caller.call(&product).await.map(Json)
}
