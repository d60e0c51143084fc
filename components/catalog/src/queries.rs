//! Reads: one product, or all of them by sku, paged.

use mandate::{ServiceError, View};
use schemas::catalog::{GetProductRequest, ListProductsRequest, Product};
use schemas::paging::Page;

use crate::products::{PRODUCTS, ProductRecord, product_key};
use crate::validation::validate_sku;
use schemas::paging::page;

/// `catalog.get-product.v1`.
pub(crate) fn get_product(view: &View, request: GetProductRequest) -> Result<Product, ServiceError> {
    validate_sku(&request.sku)?;
    view.get::<ProductRecord>(&product_key(&request.sku))?
        .map(|record| record.product)
        .ok_or_else(|| ServiceError::not_found(format!("no product with sku {:?}", request.sku)))
}

/// `catalog.list-products.v1`: by sku, paged.
pub(crate) fn list_products(view: &View, request: ListProductsRequest) -> Result<Page<Product>, ServiceError> {
    page(
        view,
        PRODUCTS,
        request.after.as_deref(),
        request.limit,
        |record: ProductRecord| record.product,
    )
}
