//! A component in another language under the committed bus-config: loyalty (Python,
//! components/loyalty) started from its manifest through the process runner, as its own bus
//! user with its password, on a server running the committed configuration. It consumes from
//! two owners' streams, publishes, serves, answers its admin status and is discoverable — and
//! the server logs no permission violation: what `mandate bus-config` generates from its
//! manifest is exactly what a nats-py component needs.

use std::collections::BTreeMap;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, stream};
use mandate::{Bus, ConnectionOptions};

use crate::committed::{committed_node, env_example};
use crate::common::{eventually, repo_root};

fn event_headers(kind: &str, id: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("ce-specversion", "1.0"),
        ("ce-id", id),
        ("ce-source", kind.split('.').next().unwrap_or_default()),
        ("ce-type", kind),
        ("ce-time", "2026-05-01T12:00:00Z"),
        ("Nats-Msg-Id", id),
    ] {
        headers.insert(name, value);
    }
    headers
}

fn body(value: serde_json::Value) -> bytes::Bytes {
    rmp_serde::to_vec_named(&value).expect("encodes").into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loyalty_works_under_its_committed_permissions_without_a_violation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = committed_node(dir.path());
    let passwords = env_example();
    let operator = Bus::connect(
        &ConnectionOptions::new(node.url()).with_user("operator", &passwords["OPERATOR_PASSWORD"]),
        "mandate-cli",
    )
    .await
    .expect("the operator connects");
    // The owners' streams, as orders and payments would create them.
    let js = jetstream::new(operator.client().clone());
    for owner in ["orders", "payments"] {
        js.create_stream(stream::Config {
            name: mandate::stream_name(owner),
            subjects: vec![format!("evt.{owner}.>")],
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        })
        .await
        .expect("stream created");
    }

    let loyalty = runner::components(&repo_root())
        .expect("the manifests")
        .into_iter()
        .find(|c| c.name == "loyalty")
        .expect("components/loyalty");
    let settings = runner::Settings {
        url: node.url(),
        data_dir: dir.path().join("data"),
        credentials: BTreeMap::from([(
            "loyalty".to_owned(),
            ("loyalty".to_owned(), passwords["LOYALTY_PASSWORD"].clone()),
        )]),
        log_dir: Some(dir.path().to_owned()),
        ..runner::Settings::default()
    };
    let process = std::sync::Mutex::new(
        loyalty
            .process(&settings)
            .and_then(|p| p.spawn())
            .unwrap_or_else(|e| panic!("loyalty does not start: {e:#}")),
    );
    let log = || std::fs::read_to_string(dir.path().join("loyalty.log")).unwrap_or_default();

    for (n, total) in [(1, 1_250_i64), (2, 4_000)] {
        let completed = serde_json::json!({"order_id": format!("o-{n}"), "customer_id": "ada", "total_minor": total, "currency": "EUR"});
        js.publish_with_headers(
            "evt.orders.completed.v1",
            event_headers("orders.completed.v1", &format!("c-{n}")),
            body(completed),
        )
        .await
        .expect("published")
        .await
        .expect("stored");
    }
    let refunded = serde_json::json!({"payment_id": "p-1", "order_id": "o-1", "customer_id": "ada", "amount_minor": 1_250, "currency": "EUR"});
    js.publish_with_headers(
        "evt.payments.refunded.v1",
        event_headers("payments.refunded.v1", "r-1"),
        body(refunded),
    )
    .await
    .expect("published")
    .await
    .expect("stored");

    // One point per whole euro: 40 kept, 12 taken back with the refund.
    let want = serde_json::json!({"customer_id": "ada", "points": 40, "awarded": 52, "reversed": 12, "orders": 2});
    eventually("loyalty's balance", || async {
        let alive = process.lock().expect("not poisoned").alive();
        if let Err(exit) = alive {
            panic!("loyalty stopped: {exit}\n{}", log());
        }
        let reply = operator
            .client()
            .request(
                "svc.loyalty.balance.v1",
                body(serde_json::json!({"customer_id": "ada"})),
            )
            .await
            .ok()?;
        let balance: serde_json::Value = rmp_serde::from_slice(&reply.payload).ok()?;
        (balance == want).then_some(())
    })
    .await;
    let status = operator.status("loyalty").await.expect("loyalty's admin status");
    assert!(
        status.consumers.iter().all(|c| c.caught_up && c.pending == Some(0)),
        "{status:?}"
    );
    let awarded = js
        .get_stream("EVT_LOYALTY")
        .await
        .expect("its stream")
        .info()
        .await
        .expect("info")
        .state
        .messages;
    assert_eq!(awarded, 3, "two awards and a reversal");
    let info = operator
        .client()
        .request("$SRV.INFO.loyalty", bytes::Bytes::new())
        .await
        .expect("discoverable");
    assert!(String::from_utf8_lossy(&info.payload).contains("svc.loyalty.balance.v1"));

    let violations: Vec<String> = node
        .log()
        .lines()
        .filter(|l| l.contains("Violation"))
        .map(str::to_owned)
        .collect();
    assert!(violations.is_empty(), "{violations:#?}\n{}", log());
    let process = process.into_inner().expect("not poisoned");
    assert!(
        process.terminate(Duration::from_secs(15)),
        "loyalty exits 0 on SIGTERM:\n{}",
        log()
    );
}
