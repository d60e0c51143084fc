//! The storefront's `orders` component: orders, their status history and orders' own price list.

use mandate::Component;

/// The component: everything it publishes, subscribes to and serves, in one place.
pub fn component() -> Component {
    Component::new("orders")
        .version(env!("CARGO_PKG_VERSION"))
        .description("orders, their status history and orders' own price list")
}
