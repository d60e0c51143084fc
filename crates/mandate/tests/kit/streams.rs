use std::time::Duration;

use mandate::Error;

use crate::common::{Harness, orders};

/// A component creates its stream when missing, and leaves an existing one alone: its
/// configuration (replicas, limits) is the operator's.
#[tokio::test]
async fn an_existing_stream_keeps_the_operators_configuration() {
    let h = Harness::new(&[]).await;
    let created = h.start(orders()).await;
    let info = h
        .bus
        .jetstream()
        .get_stream("EVT_ORDERS")
        .await
        .expect("created")
        .cached_info()
        .clone();
    assert_eq!(info.config.subjects, vec!["evt.orders.>".to_owned()]);
    assert!(info.config.deny_delete, "history is protected");
    created.shutdown().await.expect("clean shutdown");

    // The operator tunes it...
    let mut tuned = info.config.clone();
    tuned.max_age = Duration::from_secs(3600);
    h.bus.jetstream().update_stream(tuned).await.expect("updated");
    // ...and a restart of the owner keeps the tuning.
    let restarted = h.start(orders()).await;
    let after = h
        .bus
        .jetstream()
        .get_stream("EVT_ORDERS")
        .await
        .expect("stream")
        .cached_info()
        .clone();
    assert_eq!(after.config.max_age, Duration::from_secs(3600));
    restarted.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn a_stream_that_does_not_capture_the_owners_events_is_refused() {
    let h = Harness::new(&[]).await;
    h.bus
        .jetstream()
        .create_stream(async_nats::jetstream::stream::Config {
            name: "EVT_ORDERS".into(),
            subjects: vec!["something.else.>".into()],
            ..Default::default()
        })
        .await
        .expect("created");
    let dir = tempfile::tempdir().expect("tempdir");
    let err = orders()
        .start(mandate::Options::new(h.server.url(), dir.path()))
        .await
        .expect_err("refused");
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    assert!(err.to_string().contains("evt.orders.>"), "{err}");
}
