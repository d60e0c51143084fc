//! `mandate dlq retry` in bulk against the real storefront, whose orders run as partitions: a
//! canary refused again is seen on the partition that refused it, and the redrive stops there.

use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use e2e::Stack;
use mandate::Event;
use mandate::envelope::{Meta, NATS_MSG_ID};
use schemas::payments::PaymentCaptured;
use serde_json::{Value, json};

async fn run(program: PathBuf, args: &[&str]) -> Output {
    let mut command = tokio::process::Command::new(&program);
    command.args(args).env_remove("RUST_LOG").kill_on_drop(true);
    match tokio::time::timeout(Duration::from_secs(60), command.output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(err)) => panic!("cannot run {}: {err}", program.display()),
        Err(_) => panic!("{} {args:?} did not finish within a minute", program.display()),
    }
}

async fn orders_letters(stack: &Stack) -> Vec<Value> {
    let output = run(
        testkit::workspace_bin("mandate"),
        &[
            "dlq",
            "list",
            "--component",
            "orders",
            "--server",
            stack.url(),
            "--json",
        ],
    )
    .await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice::<Value>(&output.stdout)
        .expect("JSON")
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_refused_again_by_a_partition_stops_the_redrive() {
    let stack = Stack::storefront().await;
    // Two captures orders cannot read (the amount is text). Published without a
    // `Nats-Msg-Id`, as an outside publisher might: the retries are not duplicates.
    for order in ["o-garbled-1", "o-garbled-2"] {
        let mut headers = async_nats::HeaderMap::new();
        for (name, value) in Meta::originate("payments", PaymentCaptured::ce_type()).header_pairs() {
            if name != NATS_MSG_ID {
                headers.insert(name, value.as_str());
            }
        }
        let body = rmp_serde::to_vec_named(&json!({
            "payment_id": "p", "order_id": order, "customer_id": "c", "amount_minor": "lots", "currency": "EUR",
        }))
        .expect("encodes");
        stack
            .bus
            .publish_raw(&format!("{}.{order}", PaymentCaptured::subject()), headers, body.into())
            .await
            .expect("published");
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let letters = loop {
        let letters = orders_letters(&stack).await;
        if letters.len() == 2 {
            break letters;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "orders' dead letters: {letters:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let consumer = letters[0]["consumer"].as_str().expect("consumer");
    assert!(
        consumer.starts_with("orders-p") && consumer.ends_with("of3"),
        "{consumer}"
    );

    let output = run(
        testkit::workspace_bin("mandate"),
        &[
            "dlq",
            "retry",
            "--component",
            "orders",
            "--yes",
            "--json",
            "--server",
            stack.url(),
        ],
    )
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let report: Value = String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .expect("a report");
    assert_eq!(report["ended"], "canary_failed", "{report}\n{stderr}");
    assert_eq!(report["verdict"]["verdict"], "dead_lettered_again", "{report}");
    assert_eq!(report["remaining"].as_array().map(Vec::len), Some(1), "{report}");
    // The canary's letter went and came back; the other was not touched.
    let after = orders_letters(&stack).await;
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(after[0]["sequence"], letters[1]["sequence"], "{after:?}");
}
