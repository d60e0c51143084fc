//! The orders component against a real nats-server, talking to it only over the bus.

mod fixtures;
mod lifecycle;
mod partitions;
mod placing;
mod rebuild;

#[test]
fn the_committed_manifest_is_current() {
    let manifest = orders::component().manifest();
    if let Err(stale) = manifest.check_file(concat!(env!("CARGO_MANIFEST_DIR"), "/manifest.json")) {
        panic!("{stale}");
    }
}
