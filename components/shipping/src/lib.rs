//! The storefront's `shipping` component: shipments: dispatches every captured payment.

use mandate::Component;

/// The component: everything it publishes, subscribes to and serves, in one place.
pub fn component() -> Component {
    Component::new("shipping")
        .version(env!("CARGO_PKG_VERSION"))
        .description("shipments: dispatches every captured payment")
}
