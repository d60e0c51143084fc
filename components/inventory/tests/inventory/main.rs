//! Inventory against a real nats-server, over the bus only. Every stock read checks the
//! conservation invariant (`fixtures::stock`).

mod duplicates;
mod fixtures;
mod out_of_order;
mod placed_v2;
mod rebuild;
mod reservations;
mod restock;

#[test]
fn the_committed_manifest_is_current() {
    inventory::component()
        .manifest()
        .check_file(concat!(env!("CARGO_MANIFEST_DIR"), "/manifest.json"))
        .unwrap_or_else(|stale| panic!("{stale}"));
}
