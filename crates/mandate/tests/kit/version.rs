use mandate::{Bus, ConnectionOptions, Error};
use testkit::NatsServer;

use crate::common::inventory;

/// 2.9 silently ignores multi-filter consumers; the kit refuses it with a clear reason.
#[tokio::test]
async fn a_nats_server_older_than_2_10_is_refused() {
    let legacy = NatsServer::start_legacy();
    let dir = tempfile::tempdir().expect("tempdir");
    let err = inventory()
        .start(mandate::Options::new(legacy.url(), dir.path()))
        .await
        .expect_err("2.9 must be refused");
    match &err {
        Error::ServerTooOld { found, .. } => assert!(found.starts_with("2.9"), "found {found}"),
        other => panic!("expected ServerTooOld, got {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("2.10") && message.contains("filter"),
        "the message says why: {message}"
    );
    assert!(matches!(
        Bus::connect(&ConnectionOptions::new(legacy.url()), "tool").await,
        Err(Error::ServerTooOld { .. })
    ));
}
