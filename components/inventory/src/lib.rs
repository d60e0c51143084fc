//! The storefront's `inventory` component: stock per sku and reservations per order.

use mandate::Component;

/// The component: everything it publishes, subscribes to and serves, in one place.
pub fn component() -> Component {
    Component::new("inventory")
        .version(env!("CARGO_PKG_VERSION"))
        .description("stock per sku and reservations per order")
}
