//! Catalog against a real nats-server, over the bus only.

mod listing;
mod products;
mod rebuild;

#[test]
fn the_committed_manifest_is_current() {
    catalog::component()
        .manifest()
        .check_file(concat!(env!("CARGO_MANIFEST_DIR"), "/manifest.json"))
        .unwrap_or_else(|stale| panic!("{stale}"));
}
