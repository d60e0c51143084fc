//! `status`: components from the services API with their admin status, and the streams.

use std::time::Duration;

use async_nats::service::ServiceExt;

use crate::common::{Env, Noted, assert_follows_schema, counter, eventually, tester};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_lists_components_consumers_and_streams() {
    let env = Env::new().await;
    env.create_stream("notes", Duration::from_secs(120)).await;
    let counter = env.start(counter()).await;
    let tester = env.start(tester()).await;
    for n in [1, 2] {
        env.bus.publish(&Noted { n }).await.expect("published");
    }
    eventually("the counter to apply both notes", || async {
        let status = env.bus.status("counter").await.ok()?;
        (status.consumers[0].applied_sequence == 2).then_some(())
    })
    .await;
    // A service that does not implement the admin protocol: it answers PING, no admin status.
    let legacy = env
        .bus
        .client()
        .service_builder()
        .start("legacy", "0.9.0")
        .await
        .expect("service starts");

    let status = env.mandate(&["status", "--json"]).await.ok().json();
    let components = status["components"].as_array().expect("components");
    let find = |name: &str| {
        components
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("{name} is not listed: {components:?}"))
    };
    let c = find("counter");
    assert_eq!(c["state"], "running");
    assert_eq!(c["instances"].as_array().map(Vec::len), Some(1));
    assert_eq!(c["status"]["consumers"][0]["stream"], "EVT_NOTES");
    assert_eq!(c["status"]["consumers"][0]["applied_sequence"], 2);
    assert_eq!(c["status"]["consumers"][0]["pending"], 0);
    assert_eq!(c["status"]["rebuilding"], false);
    assert_eq!(c["status"]["outbox_depth"], 0);
    assert!(
        c["endpoints"]
            .as_array()
            .is_some_and(|e| e.iter().any(|s| s == "svc.counter.totals.v1"))
    );
    let t = find("tester");
    assert_eq!(t["version"], "1.2.3");
    assert!(t["status"]["uptime_seconds"].is_u64());
    assert!(
        c["requests"].as_u64().is_some_and(|r| r >= 1),
        "$SRV.STATS counts the admin calls: {c}"
    );
    // The kit's real reply follows the published admin protocol.
    assert_follows_schema("admin/status.response.json", &c["status"]);
    let l = find("legacy");
    assert_eq!(l["state"], "no admin protocol");
    assert!(l["status"].is_null());
    assert!(
        l["error"]
            .as_str()
            .is_some_and(|e| e.contains("svc.legacy.admin.status"))
    );

    let streams = status["streams"].as_array().expect("streams");
    let notes = streams
        .iter()
        .find(|s| s["name"] == "EVT_NOTES")
        .expect("EVT_NOTES listed");
    assert_eq!(notes["messages"], 2);
    assert_eq!(notes["first_sequence"], 1);
    assert_eq!(notes["last_sequence"], 2);
    assert!(notes["bytes"].as_u64().is_some_and(|b| b > 0));
    assert!(
        streams.iter().any(|s| s["name"] == "DLQ"),
        "the kit's DLQ stream is listed"
    );

    // The table says the same to a person.
    let table = env.mandate(&["status"]).await.ok().stdout;
    for needle in [
        "COMPONENT",
        "counter",
        "tester",
        "legacy",
        "no admin protocol",
        "EVT_NOTES",
        "CONSUMER",
    ] {
        assert!(table.contains(needle), "the table lacks {needle:?}:\n{table}");
    }

    legacy.stop().await.expect("stopped");
    counter.shutdown().await.expect("clean shutdown");
    tester.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn status_with_nothing_running_says_so() {
    let env = Env::new().await;
    let out = env.mandate(&["status"]).await.ok();
    assert!(out.stdout.contains("No component answered"), "{}", out.stdout);
    let json = env.mandate(&["status", "--json"]).await.ok().json();
    assert_eq!(json["components"], serde_json::json!([]));
}

/// A component run as partitions is listed once per partition, by the name each answers its
/// admin status under (`counter.p1of2`), each with its own consumers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_lists_each_partition_of_a_partitioned_component() {
    let env = Env::new().await;
    env.create_stream("notes", Duration::from_secs(120)).await;
    let mut running = Vec::new();
    for index in 0..2 {
        let mut options = env.options();
        options.partitions = 2;
        options.partition = index;
        let component = counter().partitioned_by("note", 2);
        running.push(component.start(options).await.expect("a partition starts"));
    }
    let status = env.mandate(&["status", "--json"]).await.ok().json();
    let components = status["components"].as_array().expect("components");
    let names: Vec<&str> = components.iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(names, ["counter.p0of2", "counter.p1of2"], "{components:?}");
    for (index, component) in components.iter().enumerate() {
        assert_eq!(component["state"], "running", "{component}");
        assert_eq!(component["instances"].as_array().map(Vec::len), Some(1), "{component}");
        // The keys it owns: the slots s with s % 2 == its index.
        let slots: Vec<u64> = (0..12).filter(|s| s % 2 == index as u64).collect();
        assert_eq!(component["partition"]["slots"], serde_json::json!(slots), "{component}");
        // Its consumer, with its own lag.
        let consumers = component["status"]["consumers"].as_array().expect("its consumers");
        assert!(
            consumers.iter().all(|c| c["pending"].is_u64()),
            "every consumer has its lag: {component}"
        );
    }
    let text = env.mandate(&["status"]).await.ok().stdout;
    assert!(text.contains("counter.p1of2"), "{text}");
    assert!(text.contains("1 of 2: slots 1 3 5 7 9 11"), "{text}");
    for r in running {
        r.shutdown().await.expect("clean shutdown");
    }
}
