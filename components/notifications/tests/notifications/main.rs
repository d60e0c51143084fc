//! Notifications against a real nats-server, over the bus only.

// The harness is the one every storefront component's tests use; notifications publishes
// nothing, so it reads no events back.
#[allow(dead_code, reason = "shared harness")]
mod fixtures;
mod inbox;
mod placed_v2;
mod rebuild;

#[test]
fn the_committed_manifest_is_current() {
    notifications::component()
        .manifest()
        .check_file(concat!(env!("CARGO_MANIFEST_DIR"), "/manifest.json"))
        .unwrap_or_else(|stale| panic!("{stale}"));
}
