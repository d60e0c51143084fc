//! The example component as its own process: the kit's brochure really runs.

use std::process::{Command, Stdio};
use std::time::Duration;

use mandate::Operation;
use serde::{Deserialize, Serialize};

use crate::common::{Harness, eventually, placed};

#[derive(Debug, Serialize, Deserialize)]
struct GetCountRequest {
    customer_id: String,
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct CustomerCount {
    customer_id: String,
    orders: u64,
    spent_minor: i64,
}

/// The counter's contract, as an outsider would write it from the subject and the fields.
struct GetCount;

impl Operation for GetCount {
    const OWNER: &'static str = "counter";
    const NAME: &'static str = "get-count";
    const VERSION: u32 = 1;
    type Request = GetCountRequest;
    type Response = CustomerCount;
}

#[tokio::test]
async fn the_counter_example_counts_serves_and_stops_on_sigterm() {
    let h = Harness::new(&[]).await;
    h.create_stream("orders").await;
    for (order, customer, quantity) in [("o-1", "alice", 1), ("o-2", "alice", 2), ("o-3", "bob", 5)] {
        h.bus
            .publish(&placed(order, customer, "sku-1", quantity))
            .await
            .expect("published");
    }
    let mut child = Command::new(testkit::example_bin("counter"))
        .env("NATS_URL", h.server.url())
        .env("MANDATE_DATA_DIR", h.dir.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("the example starts");

    let alice = eventually("alice's count", || async {
        let count = h
            .bus
            .call::<GetCount>(&GetCountRequest {
                customer_id: "alice".into(),
            })
            .await
            .ok()?;
        (count.orders == 2).then_some(count)
    })
    .await;
    assert_eq!(alice.spent_minor, 300);
    let err = h
        .bus
        .call::<GetCount>(&GetCountRequest {
            customer_id: String::new(),
        })
        .await
        .expect_err("400");
    assert_eq!(err.service_error().map(|e| e.code), Some(400));

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            break exit;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the component did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "graceful shutdown exits 0, got {exit:?}");
}

#[test]
fn the_counter_prints_its_manifest() {
    let output = Command::new(testkit::example_bin("counter"))
        .arg("--print-manifest")
        .output()
        .expect("runs");
    assert!(output.status.success());
    let manifest: mandate::Manifest = serde_json::from_slice(&output.stdout).expect("manifest is JSON");
    assert_eq!(manifest.name, "counter");
    assert_eq!(
        manifest.subscribes.get("EVT_ORDERS"),
        Some(&vec!["orders.placed.v1".to_owned()])
    );
    assert_eq!(manifest.serves, vec!["counter.get-count.v1".to_owned()]);
    assert!(manifest.publishes.is_empty());
}

#[test]
fn a_mistyped_flag_says_what_to_do() {
    let output = Command::new(testkit::example_bin("counter"))
        .arg("--batch-size=0")
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("batch-size"), "{stderr}");
}
