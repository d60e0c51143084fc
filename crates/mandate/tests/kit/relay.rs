//! Nothing can block the relay: an outbox entry the server refuses for good is set aside (and
//! counted in the admin status), the entries behind it are published in commit order; an
//! outage sets nothing aside.

use std::sync::{Mutex, mpsc};
use std::time::Duration;

use async_nats::jetstream::stream;
use mandate::admin::RebuildRequest;
use mandate::envelope::Meta;
use mandate::{Component, DEAD_LETTER_STREAM, Event, Fault};
use schemas::inventory::StockReserved;
use schemas::orders::{OrderPlaced, PlaceOrder};

use crate::common::{Harness, eventually, inventory, large_request, orders, place_request, placed};

/// The order ids of the `orders.placed.v1` events in `EVT_ORDERS`, in stream order.
async fn placed_orders(h: &Harness) -> Vec<String> {
    h.read_stream("EVT_ORDERS")
        .await
        .iter()
        .map(|m| {
            rmp_serde::from_slice::<OrderPlaced>(&m.payload)
                .expect("decodes")
                .order_id
        })
        .collect()
}

async fn wait_for_empty_outbox(h: &Harness, component: &str) {
    eventually(&format!("{component}'s outbox to be empty"), || async {
        (h.bus.status(component).await.ok()?.outbox_depth == 0).then_some(())
    })
    .await;
}

/// A store written while the server allowed 1 MB holds an event the server, restarted with a
/// 64 KiB limit, can never take: it is set aside, the others go out in order, and a rebuild
/// (whose drain used to fail on it with a 503) works again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_too_large_for_the_restarted_server_is_set_aside_and_the_rest_published_in_order() {
    let mut h = Harness::new(&[]).await;
    let mut options = h.options();
    options.fault = Fault::ParkRelay;
    let first = h.start_with(orders(), options).await;
    for request in [
        place_request("o-1", "alice", "sku-1", 1),
        large_request("o-2", 1800),
        place_request("o-3", "alice", "sku-1", 1),
    ] {
        h.bus
            .call::<PlaceOrder>(&request)
            .await
            .expect("placed under a 1 MB limit");
    }
    first.kill().await;
    tokio::task::block_in_place(|| h.server.restart_with_config("max_payload: 65536"));

    let second = h.start(orders()).await;
    eventually("the two that fit to be published", || async {
        (h.stream_messages("EVT_ORDERS").await == 2).then_some(())
    })
    .await;
    assert_eq!(placed_orders(&h).await, ["o-1", "o-3"], "in commit order");
    wait_for_empty_outbox(&h, "orders").await;
    let set_aside = h.bus.status("orders").await.expect("status").set_aside;
    assert_eq!(set_aside.count, 1);
    let entry = &set_aside.entries[0];
    assert_eq!(entry.subject, "evt.orders.placed.v1.o-2");
    assert_eq!(entry.ce_type.as_deref(), Some("orders.placed.v1"));
    assert!(entry.size > 65536, "{entry:?}");
    assert!(entry.reason.contains("max_payload"), "{entry:?}");
    assert!(set_aside.oldest.is_some() && set_aside.newest.is_some());

    h.bus
        .rebuild("orders", &RebuildRequest::default())
        .await
        .expect("the drain before a rebuild succeeds");
    h.bus
        .call::<PlaceOrder>(&place_request("o-4", "alice", "sku-1", 1))
        .await
        .expect("placed");
    eventually("a later event to be published", || async {
        (h.stream_messages("EVT_ORDERS").await == 3).then_some(())
    })
    .await;
    assert_eq!(placed_orders(&h).await, ["o-1", "o-3", "o-4"]);

    // Back under a 1 MB limit, the operator retries it: it goes out after the others.
    tokio::task::block_in_place(|| h.server.restart_with_config(""));
    eventually("the component to follow the server's new limit", || async {
        let report = h.bus.retry_set_aside("orders").await.ok()?;
        (report.retried == 1).then_some(())
    })
    .await;
    eventually("the set-aside entry to be published", || async {
        (h.stream_messages("EVT_ORDERS").await == 4).then_some(())
    })
    .await;
    assert_eq!(placed_orders(&h).await, ["o-1", "o-3", "o-4", "o-2"]);
    wait_for_empty_outbox(&h, "orders").await;
    assert_eq!(h.bus.status("orders").await.expect("status").set_aside.count, 0);
    second.shutdown().await.expect("clean shutdown");
}

/// JetStream refuses a message larger than its stream's `max_msg_size` (within max_payload):
/// a refusal for good, set aside.
#[tokio::test]
async fn an_entry_its_stream_refuses_for_good_is_set_aside() {
    let h = Harness::new(&[]).await;
    h.bus
        .jetstream()
        .create_stream(stream::Config {
            name: "EVT_ORDERS".into(),
            subjects: vec!["evt.orders.>".into()],
            max_message_size: 16 * 1024,
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        })
        .await
        .expect("stream created");
    let running = h.start(orders()).await;
    for request in [
        place_request("o-1", "alice", "sku-1", 1),
        large_request("o-2", 600),
        place_request("o-3", "alice", "sku-1", 1),
    ] {
        h.bus.call::<PlaceOrder>(&request).await.expect("placed");
    }
    wait_for_empty_outbox(&h, "orders").await;
    assert_eq!(placed_orders(&h).await, ["o-1", "o-3"]);
    let set_aside = h.bus.status("orders").await.expect("status").set_aside;
    assert_eq!(set_aside.count, 1);
    assert!(
        set_aside.entries[0].reason.contains("JetStream refuses"),
        "{set_aside:?}"
    );
    running.shutdown().await.expect("clean shutdown");
}

/// With no stream to take `dlq.<component>`, a dead letter is set aside (confirmed with
/// JetStream: the stream does not exist), and what the component emits after it goes out.
#[tokio::test]
async fn a_dead_letter_with_no_stream_to_hold_it_is_set_aside() {
    let h = Harness::new(&["orders"]).await;
    let running = h.start(inventory()).await;
    h.bus
        .jetstream()
        .delete_stream(DEAD_LETTER_STREAM)
        .await
        .expect("DLQ deleted");
    h.bus
        .publish_raw(
            &OrderPlaced::subject(),
            Meta::originate("orders", OrderPlaced::ce_type()).to_headers(),
            bytes::Bytes::from_static(b"\xc1"),
        )
        .await
        .expect("published");
    h.bus
        .publish(&placed("o-1", "carol", "sku-1", 1))
        .await
        .expect("published");
    eventually("the reservation to be published", || async {
        (h.stream_messages("EVT_INVENTORY").await == 1).then_some(())
    })
    .await;
    wait_for_empty_outbox(&h, "inventory").await;
    let set_aside = h.bus.status("inventory").await.expect("status").set_aside;
    assert_eq!(set_aside.count, 1);
    assert_eq!(set_aside.entries[0].subject, "dlq.inventory");
    assert!(set_aside.entries[0].reason.contains("no stream"), "{set_aside:?}");
    running.shutdown().await.expect("clean shutdown");
}

/// The test's bus user, and an inventory user that may not publish its reservations.
const PERMISSIONS: &str = r#"
no_auth_user: test
authorization {
  users = [
    { user: test, password: test }
    { user: inventory, password: secret, permissions: { publish: { allow: ">", deny: "evt.inventory.reserved.v1.>" } } }
  ]
}
"#;

/// The server drops a publish its user is not permitted and says so with an asynchronous
/// `-ERR`; the ack then times out like a slow server's. The relay tells the two apart by
/// that error: the entry is set aside, what may be published still is.
#[tokio::test]
async fn an_entry_the_server_denies_permission_for_is_set_aside() {
    let h = Harness::with_config(&["orders"], PERMISSIONS).await;
    let mut options = h.options();
    options.connection = options.connection.with_user("inventory", "secret");
    let running = h.start_with(inventory(), options).await;
    h.bus
        .publish(&placed("o-1", "carol", "sku-1", 1))
        .await
        .expect("published");
    h.bus
        .publish(&placed("o-2", "carol", "sku-1", 100))
        .await
        .expect("published");
    // The denied reservation's ack times out after 5 s.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let set_aside = loop {
        let status = h.bus.status("inventory").await.expect("status");
        if status.set_aside.count == 1 && status.outbox_depth == 0 {
            break status.set_aside;
        }
        assert!(tokio::time::Instant::now() < deadline, "not set aside: {status:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(set_aside.entries[0].subject, "evt.inventory.reserved.v1.o-1");
    assert!(set_aside.entries[0].reason.contains("permission"), "{set_aside:?}");
    let published = h.read_stream("EVT_INVENTORY").await;
    assert_eq!(published.len(), 1);
    assert_eq!(
        mandate::partition::event_subject(&published[0].subject),
        "evt.inventory.rejected.v1"
    );
    running.shutdown().await.expect("clean shutdown");
}

/// A server that goes away is no refusal: the relay keeps retrying in order and, once the
/// server is back, publishes everything; nothing is set aside.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_outage_sets_nothing_aside_and_everything_is_published_in_order() {
    let mut h = Harness::new(&["orders"]).await;
    // The handler of the order of `gate` waits, holding its batch, until the server is down:
    // its reservation is committed, and relayed, while there is no server.
    let (reached, at_gate) = mpsc::channel::<()>();
    let (open, gate) = mpsc::channel::<()>();
    let (reached, gate) = (Mutex::new(reached), Mutex::new(gate));
    let component = Component::new("inventory")
        .publishes::<StockReserved>()
        .on::<OrderPlaced>(move |ctx, order: OrderPlaced| {
            if order.customer_id == "gate" {
                let _ = reached.lock().expect("lock").send(());
                let _ = gate.lock().expect("lock").recv_timeout(Duration::from_secs(30));
            }
            ctx.emit(&StockReserved {
                order_id: order.order_id,
                customer_id: order.customer_id,
                lines: Vec::new(),
                amount_minor: order.total_minor,
                currency: order.currency,
                payment_token: order.payment_token,
            })
        });
    let running = h.start(component).await;
    h.bus
        .publish(&placed("o-1", "carol", "sku-1", 1))
        .await
        .expect("published");
    eventually("the first reservation", || async {
        (h.stream_messages("EVT_INVENTORY").await == 1).then_some(())
    })
    .await;
    h.bus
        .publish(&placed("o-2", "gate", "sku-1", 1))
        .await
        .expect("published");
    tokio::task::spawn_blocking(move || at_gate.recv_timeout(Duration::from_secs(10)))
        .await
        .expect("joins")
        .expect("the handler reached the gate");

    tokio::task::block_in_place(|| h.server.stop());
    open.send(()).expect("the handler waits");
    // The relay sends, and the ack times out (after 5 s) while the server is away.
    tokio::time::sleep(Duration::from_secs(7)).await;
    tokio::task::block_in_place(|| h.server.restart());

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while h.stream_messages("EVT_INVENTORY").await < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the reservation was never published"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    h.bus
        .publish(&placed("o-3", "carol", "sku-1", 1))
        .await
        .expect("published");
    eventually("the reservation after the outage", || async {
        (h.stream_messages("EVT_INVENTORY").await == 3).then_some(())
    })
    .await;
    let reserved: Vec<String> = h
        .read_stream("EVT_INVENTORY")
        .await
        .iter()
        .map(|m| {
            rmp_serde::from_slice::<StockReserved>(&m.payload)
                .expect("decodes")
                .order_id
        })
        .collect();
    assert_eq!(reserved, ["o-1", "o-2", "o-3"]);
    wait_for_empty_outbox(&h, "inventory").await;
    assert_eq!(h.bus.status("inventory").await.expect("status").set_aside.count, 0);
    running.shutdown().await.expect("clean shutdown");
}
