//! The storefront's `payments` component: the payment ledger, with a deterministic simulated provider.

use mandate::Component;

/// The component: everything it publishes, subscribes to and serves, in one place.
pub fn component() -> Component {
    Component::new("payments")
        .version(env!("CARGO_PKG_VERSION"))
        .description("the payment ledger, with a deterministic simulated provider")
}
