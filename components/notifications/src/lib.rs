//! The storefront's `notifications` component: the messages sent to customers about their orders.

use mandate::Component;

/// The component: everything it publishes, subscribes to and serves, in one place.
pub fn component() -> Component {
    Component::new("notifications")
        .version(env!("CARGO_PKG_VERSION"))
        .description("the messages sent to customers about their orders")
}
