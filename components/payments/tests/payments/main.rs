//! Payments against a real nats-server, over the bus only.

mod duplicates;
mod fixtures;
mod ledger;
mod out_of_order;
mod rebuild;

#[test]
fn the_committed_manifest_is_current() {
    payments::component()
        .manifest()
        .check_file(concat!(env!("CARGO_MANIFEST_DIR"), "/manifest.json"))
        .unwrap_or_else(|stale| panic!("{stale}"));
}
