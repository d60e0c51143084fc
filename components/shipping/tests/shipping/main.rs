//! Shipping against a real nats-server, over the bus only.

mod shipments;

#[test]
fn the_committed_manifest_is_current() {
    shipping::component()
        .manifest()
        .check_file(concat!(env!("CARGO_MANIFEST_DIR"), "/manifest.json"))
        .unwrap_or_else(|stale| panic!("{stale}"));
}
