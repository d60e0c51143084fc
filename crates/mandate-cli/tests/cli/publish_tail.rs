//! `publish` writes a complete envelope to JetStream; `tail` reads it back decoded, from
//! history and live.

use std::time::Duration;

use mandate::envelope::{CE_ID, CE_SOURCE, CE_SPECVERSION, CE_TYPE, CORRELATION_ID, NATS_MSG_ID, TRACEPARENT};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::common::Env;

#[tokio::test]
async fn publish_writes_the_full_envelope_and_tail_shows_it_decoded() {
    let env = Env::new().await;
    env.create_stream("notes", Duration::from_secs(120)).await;
    env.create_stream("other", Duration::from_secs(120)).await;

    let first = env
        .mandate(&["publish", "evt.notes.noted.v1", r#"{"n": 7}"#, "--json"])
        .await
        .ok()
        .json();
    assert_eq!(first["stream"], "EVT_NOTES");
    assert_eq!(first["sequence"], 1);
    assert_eq!(first["duplicate"], false);
    assert_eq!(first["type"], "notes.noted.v1");
    let id = first["id"].as_str().expect("id").to_owned();
    env.mandate(&["publish", "evt.other.thing.v2", r#"{"what": "x"}"#, "--source", "ops"])
        .await
        .ok();
    env.mandate(&[
        "publish",
        "evt.notes.noted.v1",
        r#"{"n": 8}"#,
        "--correlation-id",
        "corr-1",
    ])
    .await
    .ok();

    // The stored message: a named MessagePack map and every envelope header.
    let stored = env
        .bus
        .jetstream()
        .get_stream("EVT_NOTES")
        .await
        .expect("stream")
        .get_raw_message(1)
        .await
        .expect("message");
    assert_eq!(
        stored.payload.as_ref(),
        rmp_serde::to_vec_named(&json!({"n": 7})).expect("encodes")
    );
    let h = |name: &str| stored.headers.get(name).map(|v| v.as_str().to_owned());
    assert_eq!(h(CE_SPECVERSION).as_deref(), Some("1.0"));
    assert_eq!(h(CE_ID).as_deref(), Some(id.as_str()));
    assert_eq!(h(NATS_MSG_ID).as_deref(), Some(id.as_str()), "Nats-Msg-Id = ce-id");
    assert_eq!(h(CE_TYPE).as_deref(), Some("notes.noted.v1"));
    assert_eq!(h(CE_SOURCE).as_deref(), Some("notes"), "the owner, by default");
    assert!(h(TRACEPARENT).is_some_and(|t| t.starts_with("00-")));
    assert_eq!(h(CORRELATION_ID).as_deref(), Some(id.as_str()));
    assert!(h("ce-time").is_some());

    // History of every matching stream, merged by time, then stop.
    let lines = env.mandate(&["tail", "--all", "--no-follow"]).await.ok().json_lines();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0]["subject"], "evt.notes.noted.v1");
    assert_eq!(lines[0]["body"], json!({"n": 7}));
    assert_eq!(lines[0]["type"], "notes.noted.v1");
    assert_eq!(lines[0]["id"], Value::String(id.clone()));
    assert_eq!(lines[0]["source"], "notes");
    assert_eq!(lines[0]["correlation_id"], Value::String(id));
    assert_eq!(lines[0]["stream"], "EVT_NOTES");
    assert_eq!(lines[0]["sequence"], 1);
    assert!(lines[0]["time"].as_str().is_some_and(|t| t.contains('T')));
    assert_eq!(lines[1]["subject"], "evt.other.thing.v2");
    assert_eq!(lines[1]["source"], "ops");
    assert_eq!(lines[1]["stream"], "EVT_OTHER");
    assert_eq!(lines[2]["body"], json!({"n": 8}));
    assert_eq!(lines[2]["correlation_id"], "corr-1");
    assert_eq!(lines[2]["sequence"], 2);

    // A filter, and a start sequence.
    let lines = env
        .mandate(&["tail", "evt.notes.>", "--from-seq", "2", "--no-follow", "--json"])
        .await
        .ok()
        .json_lines();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["body"], json!({"n": 8}));
    let lines = env
        .mandate(&["tail", "evt.*.thing.v2", "--since", "1h", "--no-follow"])
        .await
        .ok()
        .json_lines();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["stream"], "EVT_OTHER");

    // An undecodable body is shown, not fatal.
    env.bus
        .publish_raw(
            "evt.notes.noted.v1",
            async_nats::HeaderMap::new(),
            bytes::Bytes::from_static(b"\xc1"),
        )
        .await
        .expect("published");
    let lines = env
        .mandate(&["tail", "evt.notes.>", "--from-seq", "3", "--no-follow"])
        .await
        .ok()
        .json_lines();
    assert_eq!(lines[0]["body"], Value::Null);
    assert_eq!(lines[0]["payload_base64"], "wQ==");
    assert!(
        lines[0]["body_error"]
            .as_str()
            .is_some_and(|e| e.contains("MessagePack"))
    );
    assert_eq!(lines[0]["id"], Value::Null);
}

#[tokio::test]
async fn publish_refuses_what_it_cannot_send() {
    let env = Env::new().await;
    env.mandate(&["publish", "evt.notes.noted.v1", "[1, 2]"])
        .await
        .fails(2, "must be a JSON object");
    env.mandate(&["publish", "evt.notes.noted.v1", "{not json"])
        .await
        .fails(2, "not valid JSON");
    env.mandate(&["publish", "evt.nobody.noted.v1", "{}"])
        .await
        .fails(1, "no JetStream stream captures evt.nobody.noted.v1");
}

#[tokio::test]
async fn publish_reads_stdin_and_a_repeated_id_is_not_stored_twice() {
    let env = Env::new().await;
    env.create_stream("notes", Duration::from_secs(120)).await;
    let first = env
        .mandate_with_stdin(
            &["publish", "evt.notes.noted.v1", "-", "--id", "fixed-1", "--json"],
            br#"{"n": 1}"#,
        )
        .await
        .ok()
        .json();
    assert_eq!(first["id"], "fixed-1");
    let again = env
        .mandate(&["publish", "evt.notes.noted.v1", r#"{"n": 1}"#, "--id", "fixed-1"])
        .await
        .ok();
    assert!(again.stdout.contains("not stored again"), "{}", again.stdout);
    assert_eq!(env.stream_messages("EVT_NOTES").await, 1);
}

#[tokio::test]
async fn tail_follows_after_the_history_and_live_only() {
    let env = Env::new().await;
    env.create_stream("notes", Duration::from_secs(120)).await;
    env.mandate(&["publish", "evt.notes.noted.v1", r#"{"n": 1}"#])
        .await
        .ok();

    // History first, then what arrives after.
    let mut child = env.spawn(&["tail", "--all", "evt.notes.>"]);
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let next = async |lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>| -> Value {
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("a line in time")
            .expect("reads")
            .expect("a line");
        serde_json::from_str(&line).expect("JSON line")
    };
    assert_eq!(next(&mut lines).await["body"], json!({"n": 1}));
    env.mandate(&["publish", "evt.notes.noted.v1", r#"{"n": 2}"#])
        .await
        .ok();
    let live = next(&mut lines).await;
    assert_eq!(live["body"], json!({"n": 2}));
    assert_eq!(live["sequence"], 2);
    child.kill().await.expect("stopped");

    // Live only: a core subscription, no stream position.
    let mut child = env.spawn(&["tail", "evt.notes.>"]);
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let received = tokio::spawn(async move {
        let line = lines.next_line().await.expect("reads").expect("a line");
        serde_json::from_str::<Value>(&line).expect("JSON line")
    });
    // The subscription starts at some point after spawning: publish until it shows.
    let mut n = 10;
    while !received.is_finished() {
        assert!(n < 200, "live tail showed nothing");
        env.mandate(&["publish", "evt.notes.noted.v1", &format!(r#"{{"n": {n}}}"#)])
            .await
            .ok();
        n += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let live = received.await.expect("joined");
    assert!(live["body"]["n"].as_u64().is_some_and(|n| n >= 10));
    assert_eq!(live["sequence"], Value::Null);
    assert_eq!(live["type"], "notes.noted.v1");
    child.kill().await.expect("stopped");
}

/// A message the contract knows (its JSON Schema is committed under schemas/json) is checked
/// before it is sent; one it does not know is sent as is.
#[tokio::test]
async fn publish_and_call_check_bodies_against_the_contract() {
    let env = Env::new().await;
    env.create_stream("orders", Duration::from_secs(120)).await;
    let wrong = r#"{"order_id": "o-1", "customer_id": "c", "lines": [{"sku": "mug", "quantity": -2, "unit_price_minor": 100}], "total_minor": 200}"#;
    let refused = env
        .mandate(&["publish", "evt.orders.placed.v1", wrong])
        .await
        .fails(2, "does not match the contract");
    assert!(
        refused.stderr.contains("/lines/0/quantity"),
        "names the field: {}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("currency"),
        "names the missing field: {}",
        refused.stderr
    );
    assert_eq!(env.stream_messages("EVT_ORDERS").await, 0, "nothing was published");
    let right = r#"{"order_id": "o-1", "customer_id": "c", "lines": [{"sku": "mug", "quantity": 2, "unit_price_minor": 100}], "total_minor": 200, "currency": "EUR"}"#;
    env.mandate(&["publish", "evt.orders.placed.v1", right]).await.ok();
    assert_eq!(env.stream_messages("EVT_ORDERS").await, 1);

    env.mandate(&["call", "orders.get.v1", r#"{"order": 1}"#])
        .await
        .fails(2, "order_id");
}
