use mandate::Fault;
use schemas::orders::PlaceOrder;

use crate::common::{Harness, eventually, orders, place_request};

/// The command commits its state and its event together; a crash before the relay publishes
/// loses nothing, and the restarted relay publishes the event exactly once.
#[tokio::test]
async fn the_outbox_survives_a_crash_between_commit_and_publish() {
    let h = Harness::new(&[]).await;
    let mut options = h.options();
    options.fault = Fault::ParkRelay;
    let first = h.start_with(orders(), options).await;
    let order = h
        .bus
        .call::<PlaceOrder>(&place_request("o-1", "alice", "sku-1", 1))
        .await
        .expect("placed");
    assert_eq!(order.order_id, "o-1");
    let status = h.bus.status("orders").await.expect("status");
    assert_eq!(status.outbox_depth, 1, "the event waits in the outbox");
    assert_eq!(
        h.stream_messages("EVT_ORDERS").await,
        0,
        "nothing was published before the crash"
    );
    first.kill().await;

    let second = h.start(orders()).await;
    eventually("the outbox to be published", || async {
        (h.stream_messages("EVT_ORDERS").await == 1).then_some(())
    })
    .await;
    eventually("the outbox to be emptied", || async {
        (h.bus.status("orders").await.ok()?.outbox_depth == 0).then_some(())
    })
    .await;
    second.shutdown().await.expect("clean shutdown");

    // A third start finds nothing left to publish: still exactly one event.
    let third = h.start(orders()).await;
    assert_eq!(h.bus.status("orders").await.expect("status").outbox_depth, 0);
    assert_eq!(h.stream_messages("EVT_ORDERS").await, 1);
    let events = h.read_stream("EVT_ORDERS").await;
    let body: schemas::orders::OrderPlaced = rmp_serde::from_slice(&events[0].payload).expect("decodes");
    assert_eq!(body.order_id, "o-1");
    third.shutdown().await.expect("clean shutdown");
}
