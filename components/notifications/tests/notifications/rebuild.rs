use crate::fixtures::{dispatched, inbox, placed, publish_at, refunded, rejected, start};

#[tokio::test]
async fn a_rebuild_rewrites_the_same_messages_and_publishes_nothing() {
    let (h, notifications) = start().await;
    publish_at(&h, &placed("o1", "alice"), "2026-03-01T10:00:00Z").await;
    publish_at(&h, &dispatched("o1", "alice"), "2026-03-01T10:00:02Z").await;
    publish_at(&h, &refunded("o2", "alice"), "2026-03-01T10:00:01Z").await;
    publish_at(&h, &rejected("o3", "bob"), "2026-03-01T10:00:03Z").await;
    let alice = inbox(&h, "alice", 3).await;
    let bob = inbox(&h, "bob", 1).await;
    let mut published = h.watch("evt.>").await;

    h.rebuild("notifications").await;
    assert_eq!(inbox(&h, "alice", 3).await, alice);
    assert_eq!(inbox(&h, "bob", 1).await, bob);
    published.assert_silent().await;
    assert_eq!(
        h.stream_messages("EVT_NOTIFICATIONS").await,
        0,
        "it has nothing to publish"
    );
    notifications.shutdown().await.expect("clean shutdown");
}
