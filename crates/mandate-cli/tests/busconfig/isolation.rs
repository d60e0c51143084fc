//! Components under the permissions `mandate bus-config` generates for them: everything the
//! kit does works, and a component can reach nothing its manifest does not declare.

use std::time::Duration;

use mandate::{Bus, DEAD_LETTER_STREAM, Running};
use serde_json::json;

use crate::common::{Broker, Probe, eventually, password};
use crate::fixtures::{Empty, Feed, FeedRequest, Total, Totals, audit, feeder, kit_manifests, shop, tally};

async fn start(broker: &Broker, component: mandate::Component) -> Running {
    let name = component.manifest().name;
    let started = tokio::time::Instant::now();
    let running = component.start(broker.options(&name)).await.unwrap_or_else(|e| {
        panic!(
            "{name} does not start under its permissions: {e}\n{}",
            broker.server.log()
        )
    });
    // A refused JetStream request would only show as a timeout (5 s) on the way.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{name} took {:?} to start: a refused request timed out? violations: {:#?}",
        started.elapsed(),
        broker.violations()
    );
    running
}

async fn total(shop: &Bus) -> Totals {
    shop.call::<Total>(&Empty {}).await.expect("tally.total.v1 answers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kit_components_run_under_their_generated_permissions() {
    let broker = Broker::start(&kit_manifests(), &[shop()]);
    let feeder_running = start(&broker, feeder()).await;
    let tally_running = start(&broker, tally()).await;
    let audit_running = start(&broker, audit()).await;

    // The bus client: calls what it declares, listens to what it declares.
    let shop = Bus::connect(&broker.connection("shop"), "shop")
        .await
        .expect("shop connects");
    let mut counted = shop.client().subscribe("evt.tally.>").await.expect("subscribed");

    // Served command → outbox → EVT_FEEDER → tally's consumer (handler, outbox) → EVT_TALLY →
    // audit's two consumers; 13 fails twice and is dead-lettered.
    for n in [1, 2, 13, 4] {
        shop.call::<Feed>(&FeedRequest { n })
            .await
            .expect("feeder.feed.v1 answers");
    }
    eventually("tally's total", || async {
        (total(&shop).await == Totals { count: 3, sum: 7 }).then_some(())
    })
    .await;
    for _ in 0..3 {
        let message = tokio::time::timeout(Duration::from_secs(5), futures::StreamExt::next(&mut counted))
            .await
            .expect("the shop hears tally's events")
            .expect("a message");
        assert_eq!(message.subject.as_str(), "evt.tally.counted.v1");
    }

    // Dead letters, admin status and discovery, read as the operator.
    let operator = Bus::connect(&broker.connection("operator"), "mandate-cli")
        .await
        .expect("operator connects");
    eventually("the dead letter", || async {
        let mut dlq = operator.jetstream().get_stream(DEAD_LETTER_STREAM).await.ok()?;
        (dlq.info().await.ok()?.state.messages == 1).then_some(())
    })
    .await;
    let status = operator.status("tally").await.expect("tally answers its admin status");
    assert_eq!(status.dead_letters, 1);
    assert_eq!(status.consumers.len(), 1);
    assert_eq!(status.consumers[0].stream, "EVT_FEEDER");
    assert_eq!(status.consumers[0].applied_sequence, 4);
    eventually("audit's consumers", || async {
        let status = operator.status("audit").await.ok()?;
        let applied: Vec<u64> = status.consumers.iter().map(|c| c.applied_sequence).collect();
        (applied == [4, 3]).then_some(())
    })
    .await;

    // A restart re-seats the durable consumer: delete, then create past the watermark. Had
    // the delete been refused, the create (another start sequence) would fail.
    tally_running.shutdown().await.expect("tally stops");
    let tally_running = start(&broker, tally()).await;
    shop.call::<Feed>(&FeedRequest { n: 5 })
        .await
        .expect("feeder.feed.v1 answers");
    eventually("tally after its restart", || async {
        (total(&shop).await == Totals { count: 4, sum: 12 }).then_some(())
    })
    .await;

    // ... and none of it needed anything the broker refused.
    assert_eq!(broker.violations(), Vec::<String>::new());

    for running in [feeder_running, tally_running, audit_running] {
        running.shutdown().await.expect("stops");
    }
    assert_eq!(broker.violations(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_reaches_nothing_its_manifest_does_not_declare() {
    let broker = Broker::start(&kit_manifests(), &[shop()]);
    let _feeder = start(&broker, feeder()).await;
    let _audit = start(&broker, audit()).await;
    // tally's own connection, with tally's credentials and inbox.
    let mut tally = broker.probe("tally", "tally").await;

    // Events: only its own declared types; not another owner's, nor an undeclared one.
    tally.publish_allowed("evt.tally.counted.v1").await;
    for subject in [
        "evt.feeder.fed.v1",
        "evt.tally.forged.v1",
        "evt.audit.x.v1",
        "dlq.feeder",
    ] {
        tally.publish_refused(subject).await;
    }

    // Another component's consumer: not created, read, deleted, pulled from or acked.
    for subject in [
        "$JS.API.CONSUMER.CREATE.EVT_FEEDER.audit",
        "$JS.API.CONSUMER.CREATE.EVT_FEEDER.audit.evt.feeder.fed.v1",
        "$JS.API.CONSUMER.DURABLE.CREATE.EVT_FEEDER.audit",
        "$JS.API.CONSUMER.INFO.EVT_FEEDER.audit",
        "$JS.API.CONSUMER.DELETE.EVT_FEEDER.audit",
        "$JS.API.CONSUMER.MSG.NEXT.EVT_FEEDER.audit",
        "$JS.ACK.EVT_FEEDER.audit.1.1.1.1.0",
        "$JS.API.CONSUMER.LIST.EVT_FEEDER",
        "$JS.API.CONSUMER.NAMES.EVT_FEEDER",
    ] {
        tally.publish_refused(subject).await;
    }
    // The consumer name in an allowed API subject must match the one in the request: tally
    // cannot create (or replace) audit's consumer through its own subject.
    let answer = tally
        .api(
            "$JS.API.CONSUMER.CREATE.EVT_FEEDER.tally",
            json!({"stream_name": "EVT_FEEDER", "config": {"durable_name": "audit", "ack_policy": "all"}}),
        )
        .await;
    assert!(
        answer["error"].is_object(),
        "the server accepted a mismatched name: {answer}"
    );

    // A stream's messages, other than through its own consumer: no message get, no direct
    // get, no ephemeral or ordered consumer, no consumer under another name, no live
    // subscription, and not on streams it does not consume at all.
    for subject in [
        "$JS.API.STREAM.MSG.GET.EVT_FEEDER",
        "$JS.API.DIRECT.GET.EVT_FEEDER",
        "$JS.API.DIRECT.GET.EVT_FEEDER.evt.feeder.fed.v1",
        "$JS.API.CONSUMER.CREATE.EVT_FEEDER",
        "$JS.API.CONSUMER.CREATE.EVT_FEEDER.ordered-x.evt.feeder.fed.v1",
        "$JS.API.CONSUMER.CREATE.EVT_TALLY.tally",
        "$JS.API.STREAM.MSG.GET.DLQ",
        "$JS.API.DIRECT.GET.DLQ",
        "$JS.API.CONSUMER.CREATE.DLQ",
    ] {
        tally.publish_refused(subject).await;
    }
    for subject in ["evt.>", "evt.feeder.fed.v1", "dlq.>", ">"] {
        tally.subscribe_refused(subject).await;
    }

    // Streams: no deleting, purging, editing or listing; not even its own.
    for subject in [
        "$JS.API.STREAM.DELETE.EVT_FEEDER",
        "$JS.API.STREAM.UPDATE.EVT_FEEDER",
        "$JS.API.STREAM.PURGE.EVT_FEEDER",
        "$JS.API.STREAM.DELETE.EVT_TALLY",
        "$JS.API.STREAM.PURGE.EVT_TALLY",
        "$JS.API.STREAM.MSG.DELETE.EVT_TALLY",
        "$JS.API.STREAM.DELETE.DLQ",
        "$JS.API.STREAM.PURGE.DLQ",
        "$JS.API.STREAM.LIST",
        "$JS.API.STREAM.NAMES",
        "$JS.API.INFO",
    ] {
        tally.publish_refused(subject).await;
    }

    // Other components' services: not the admin endpoints, not operations it does not call,
    // not their discovery; and no listening in on their requests or replies.
    for subject in [
        "svc.feeder.admin.status",
        "svc.feeder.admin.rebuild",
        "svc.audit.admin.rebuild",
        "svc.feeder.feed.v1",
        "$SRV.PING.feeder",
        "$SRV.INFO",
    ] {
        tally.publish_refused(subject).await;
    }
    for subject in [
        "svc.feeder.>",
        "svc.>",
        "_INBOX.feeder.>",
        "_INBOX.shop.>",
        "_INBOX.>",
        "$SRV.INFO.feeder",
        "$SRV.>",
    ] {
        tally.subscribe_refused(subject).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_calls_and_listens_to_what_it_declares_only() {
    let broker = Broker::start(&kit_manifests(), &[shop()]);
    let mut shop = broker.probe("shop", "shop").await;
    shop.publish_allowed("svc.tally.total.v1").await;
    for subject in [
        "svc.tally.admin.status",
        "svc.tally.admin.rebuild",
        "evt.tally.counted.v1",
        "evt.feeder.fed.v1",
        "dlq.shop",
        "$JS.API.INFO",
        "$JS.API.STREAM.INFO.EVT_TALLY",
        "$SRV.PING",
    ] {
        shop.publish_refused(subject).await;
    }
    for subject in ["evt.>", "evt.feeder.>", "svc.tally.>", "_INBOX.tally.>", "$SRV.PING"] {
        shop.subscribe_refused(subject).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_and_wrong_password_connections_are_refused() {
    let broker = Broker::start(&kit_manifests(), &[shop()]);
    let url = broker.server.url();
    let anonymous = async_nats::ConnectOptions::new().connect(url.as_str()).await;
    assert!(anonymous.is_err(), "an anonymous client was let in");
    for (user, password) in [
        ("tally", "wrong".to_owned()),
        ("tally", password("feeder")),
        ("operator", password("observer")),
        ("nobody", password("nobody")),
    ] {
        let refused = async_nats::ConnectOptions::with_user_and_password(user.into(), password.clone())
            .connect(url.as_str())
            .await;
        assert!(refused.is_err(), "{user} was let in with {password:?}");
    }
    // The kit says so too, instead of retrying forever.
    let mut options = broker.options("tally");
    options.connection.password = Some("wrong".into());
    options.connection.connect_timeout = Duration::from_secs(1);
    let err = tally().start(options).await.expect_err("refused");
    assert!(err.to_string().to_lowercase().contains("authorization"), "{err}");
    // ... while the right password works.
    Probe::connect(&url, Some(("tally", &password("tally"))), "_INBOX.tally").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_nkeys_components_authenticate_with_their_seed_files() {
    let (broker, seeds) = Broker::start_with_nkeys(&kit_manifests(), &[shop()]);
    let keys = tempfile::tempdir().expect("tempdir");
    let seed_file = |user: &str| {
        let path = keys.path().join(format!("{user}.nk"));
        std::fs::write(&path, &seeds[user]).expect("seed written");
        path
    };
    let nkey_options = |user: &str, seed: std::path::PathBuf| {
        let mut options = broker.options(user);
        options.connection.user = None;
        options.connection.password = None;
        options.connection.nkey_file = Some(seed);
        options
    };
    let feeder_running = feeder()
        .start(nkey_options("feeder", seed_file("feeder")))
        .await
        .expect("feeder starts");
    let tally_running = tally()
        .start(nkey_options("tally", seed_file("tally")))
        .await
        .expect("tally starts");
    let shop = Bus::connect(&nkey_options("shop", seed_file("shop")).connection, "shop")
        .await
        .expect("shop connects");
    shop.call::<Feed>(&FeedRequest { n: 6 })
        .await
        .expect("feeder.feed.v1 answers");
    eventually("tally's total", || async {
        (total(&shop).await == Totals { count: 1, sum: 6 }).then_some(())
    })
    .await;
    assert_eq!(broker.violations(), Vec::<String>::new());

    // Another user's seed is another user: tally's permissions do not come with feeder's key.
    let mut options = nkey_options("audit", seed_file("feeder"));
    options.connection.connect_timeout = Duration::from_secs(1);
    let err = audit().start(options).await.expect_err("audit is not feeder");
    assert!(!err.to_string().is_empty());
    let stranger = nkeys::KeyPair::new_user().seed().expect("seed");
    let refused = async_nats::ConnectOptions::with_nkey(stranger)
        .connect(broker.server.url().as_str())
        .await;
    assert!(refused.is_err(), "an unknown nkey was let in");

    tally_running.shutdown().await.expect("stops");
    feeder_running.shutdown().await.expect("stops");
}
