//! Owned by `catalog`: products and their prices.

use mandate::{Event, Operation};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::paging::Page;

/// A product for sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct Product {
    pub sku: String,
    pub name: String,
    /// Price of one unit in minor units of `currency` (cents for EUR).
    pub unit_price_minor: i64,
    /// ISO 4217 code, e.g. `EUR`.
    pub currency: String,
}

/// `evt.catalog.product-upserted.v1`: a product was created or changed. Carries the whole
/// product, so a listener's copy is always complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct ProductUpserted {
    pub sku: String,
    pub name: String,
    pub unit_price_minor: i64,
    pub currency: String,
    /// The product's revision: 1 for its first upsert, one more for each change. A listener
    /// keeps the highest revision it has seen, so a late or repeated event never replaces a
    /// newer copy. Absent (0) in events written before the field existed.
    #[serde(default)]
    pub revision: u64,
}

impl Event for ProductUpserted {
    const OWNER: &'static str = "catalog";
    const NAME: &'static str = "product-upserted";
    const VERSION: u32 = 1;
}

/// `svc.catalog.upsert-product.v1`: create or replace a product; publishes
/// `product-upserted` with the next revision, unless the product is already exactly so.
/// Errors: 400 (sku empty, over 64 characters or not `[A-Za-z0-9._-]`; name empty or over
/// 200 characters; negative price; currency not three upper-case letters).
#[derive(Debug)]
pub struct UpsertProduct;

impl Operation for UpsertProduct {
    const OWNER: &'static str = "catalog";
    const NAME: &'static str = "upsert-product";
    const VERSION: u32 = 1;
    type Request = Product;
    type Response = Product;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct GetProductRequest {
    pub sku: String,
}

/// `svc.catalog.get-product.v1`. Errors: 404.
#[derive(Debug)]
pub struct GetProduct;

impl Operation for GetProduct {
    const OWNER: &'static str = "catalog";
    const NAME: &'static str = "get-product";
    const VERSION: u32 = 1;
    type Request = GetProductRequest;
    type Response = Product;
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(transform = crate::rust_type::of::<Self>)]
pub struct ListProductsRequest {
    /// The cursor from the previous page's `next`.
    #[serde(default)]
    pub after: Option<String>,
    /// Page size; 0 means the default (20), at most 100.
    #[serde(default)]
    pub limit: u32,
}

/// `svc.catalog.list-products.v1`: products by sku, paged.
#[derive(Debug)]
pub struct ListProducts;

impl Operation for ListProducts {
    const OWNER: &'static str = "catalog";
    const NAME: &'static str = "list-products";
    const VERSION: u32 = 1;
    type Request = ListProductsRequest;
    type Response = Page<Product>;
}
