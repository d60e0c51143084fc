//! `replay` asks the component to rebuild over the bus and waits for it.

use std::time::Duration;

use crate::common::{Empty, Env, GetTotals, Noted, Totals, assert_follows_schema, counter, eventually};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_rebuilds_the_component_and_waits_until_it_caught_up() {
    let env = Env::new().await;
    env.create_stream("notes", Duration::from_secs(120)).await;
    let running = env.start(counter()).await;
    for n in 1..=5 {
        env.bus.publish(&Noted { n }).await.expect("published");
    }
    let before = eventually("the counter to apply five notes", || async {
        let totals = env.bus.call::<GetTotals>(&Empty {}).await.ok()?;
        (totals.count == 5).then_some(totals)
    })
    .await;
    assert_eq!(before, Totals { count: 5, sum: 15 });

    let out = env.mandate(&["replay", "counter"]).await.ok();
    assert!(out.stdout.contains("counter rebuilt"), "{}", out.stdout);
    // Waited: it is over, and the state is what it was — rebuilt, not lost or doubled.
    let status = env.bus.status("counter").await.expect("status");
    assert!(!status.rebuilding);
    assert_eq!(status.consumers[0].applied_sequence, 5);
    assert_eq!(status.consumers[0].replay_until, 5, "a rebuild happened");
    assert_eq!(env.bus.call::<GetTotals>(&Empty {}).await.expect("totals"), before);

    let json = env.mandate(&["replay", "counter", "--all", "--json"]).await.ok().json();
    assert_eq!(json["waited"], true);
    assert!(
        json["wiped"].as_u64().is_some_and(|w| w > 0),
        "the store was wiped: {json}"
    );
    assert_eq!(json["status"]["rebuilding"], false);
    assert_eq!(json["status"]["consumers"][0]["applied_sequence"], 5);
    assert_eq!(json["status"]["consumers"][0]["caught_up"], true);

    // From a sequence: only notes 4 and 5 are re-applied.
    env.mandate(&["replay", "counter", "--from-seq", "4"]).await.ok();
    assert_eq!(
        env.bus.call::<GetTotals>(&Empty {}).await.expect("totals"),
        Totals { count: 2, sum: 9 }
    );

    let started = env
        .mandate(&["replay", "counter", "--no-wait", "--json"])
        .await
        .ok()
        .json();
    assert_eq!(started["waited"], false);
    eventually("the rebuild to finish", || async {
        let status = env.bus.status("counter").await.ok()?;
        (!status.rebuilding && status.consumers[0].caught_up).then_some(())
    })
    .await;

    env.mandate(&["replay", "nobody"])
        .await
        .fails(1, "is nobody running? `mandate status`");

    // The kit's real rebuild reply follows the published admin protocol (what a component in
    // another language implements from `schemas/json/admin/`).
    let reply = env
        .bus
        .request("svc.counter.admin.rebuild", bytes::Bytes::from_static(b"{}"))
        .await
        .expect("rebuild answered");
    let reply: serde_json::Value = serde_json::from_slice(&reply).expect("JSON");
    assert_follows_schema("admin/rebuild.response.json", &reply);
    assert_follows_schema("admin/rebuild.request.json", &serde_json::json!({"from_sequence": 4}));
    running.shutdown().await.expect("clean shutdown");
}

/// One partition of a component run as partitions is rebuilt on its own, named as `mandate
/// status` lists it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_rebuilds_one_partition_by_its_name() {
    let env = Env::new().await;
    env.create_stream("notes", Duration::from_secs(120)).await;
    let mut running = Vec::new();
    for index in 0..2 {
        let mut options = env.options();
        options.partitions = 2;
        options.partition = index;
        running.push(
            counter()
                .partitioned_by("note", 2)
                .start(options)
                .await
                .expect("a partition starts"),
        );
    }
    for n in 1..=3 {
        env.bus.publish(&Noted { n }).await.expect("published");
    }
    eventually("partition 1 to apply the notes", || async {
        let status = env.bus.status("counter.p1of2").await.ok()?;
        (status.consumers[0].applied_sequence == 3).then_some(())
    })
    .await;
    let out = env.mandate(&["replay", "counter.p1of2"]).await.ok();
    assert!(out.stdout.contains("counter.p1of2 rebuilt"), "{}", out.stdout);
    let status = env.bus.status("counter.p1of2").await.expect("status");
    assert_eq!(status.consumers[0].replay_until, 3, "a rebuild happened");
    for r in running {
        r.shutdown().await.expect("clean shutdown");
    }
}
