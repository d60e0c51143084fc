//! `NATS_URL` as a list of servers (`nats://a:4222,nats://b:4222`, as the nats CLI takes it):
//! a component and a client get through a list whose first entry is dead; a list with an
//! empty entry is refused at once, saying what to write.

use std::time::{Duration, Instant};

use mandate::{Bus, ConnectionOptions, Error};

use crate::common::{Harness, eventually, inventory, placed, wait_applied};

/// A local URL nobody listens on: connecting there is refused at once.
fn dead_url() -> String {
    let port = runner::ports::free_port().expect("a free port");
    format!("nats://127.0.0.1:{port}")
}

#[tokio::test]
async fn a_component_process_connects_through_nats_url_listing_a_dead_server_first() {
    let h = Harness::new(&[]).await;
    h.create_stream("orders").await;
    h.bus
        .publish(&placed("o-1", "alice", "sku-1", 2))
        .await
        .expect("published");
    // Whitespace after the comma, as a hand-edited deployment file may have it.
    let list = format!("{}, {}", dead_url(), h.server.url());
    let child = runner::Process::new("counter", testkit::example_bin("counter"))
        .env("NATS_URL", &list)
        .env("MANDATE_DATA_DIR", h.dir.path())
        .env("RUST_LOG", "warn")
        .spawn()
        .expect("the example starts");
    wait_applied(&h.bus, "counter", 1).await;
    assert!(child.terminate(Duration::from_secs(10)), "stops cleanly on SIGTERM");
}

#[tokio::test]
async fn a_component_and_a_client_connect_through_a_list_whose_first_entry_is_dead() {
    let h = Harness::new(&["orders"]).await;
    let list = format!("{},{}", dead_url(), h.server.url());
    let dir = tempfile::tempdir().expect("tempdir");
    let _running = inventory()
        .start(mandate::Options::new(list.clone(), dir.path()))
        .await
        .expect("the component starts through the list");
    // The client picks a server of the list at random, as the nats CLI does: connect a few
    // times, so that the dead entry is tried first in some of them.
    for _ in 0..6 {
        let bus = Bus::connect(&ConnectionOptions::new(list.clone()), "tool")
            .await
            .expect("a client connects through the list");
        eventually("inventory's status through the list", || async {
            bus.status("inventory").await.ok()
        })
        .await;
    }
}

#[tokio::test]
async fn a_server_list_with_an_empty_entry_is_refused_at_once_saying_what_to_write() {
    let h = Harness::new(&[]).await;
    let list = format!("{},,{}", h.server.url(), h.server.url());
    let started = Instant::now();
    let err = Bus::connect(&ConnectionOptions::new(list), "tool")
        .await
        .expect_err("an empty entry is refused");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a typo is not retried for the connect timeout"
    );
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("server 2 of 3 is empty") && message.contains("nats://nats-1:4222,nats://nats-2:4222"),
        "{message}"
    );
}
