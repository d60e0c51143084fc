//! The storefront's `catalog` component: products and their prices; publishes
//! `product-upserted`.
//!
//! The product record in the store is a cache of catalog's own stream: the upsert command
//! writes it and publishes `product-upserted`, and the handler of that same event writes it
//! again when the store is rebuilt. A per-product revision keeps the two from undoing each
//! other (see `products.rs`).

mod products;
mod queries;
mod validation;

use mandate::Component;
use schemas::catalog::{GetProduct, ListProducts, ProductUpserted, UpsertProduct};

/// The component: everything it publishes, subscribes to and serves, in one place.
pub fn component() -> Component {
    Component::new("catalog")
        .version(env!("CARGO_PKG_VERSION"))
        .description("products and their prices; publishes product-upserted")
        .publishes::<ProductUpserted>()
        .command::<UpsertProduct>(products::upsert_product)
        .on::<ProductUpserted>(products::apply_upserted)
        .query::<GetProduct>(queries::get_product)
        .query::<ListProducts>(queries::list_products)
}
