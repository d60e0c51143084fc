//! The storefront's `catalog` component: products and their prices; publishes product-upserted.

use mandate::Component;

/// The component: everything it publishes, subscribes to and serves, in one place.
pub fn component() -> Component {
    Component::new("catalog")
        .version(env!("CARGO_PKG_VERSION"))
        .description("products and their prices; publishes product-upserted")
}
