//! `dlq list|show|retry|purge` on dead letters produced by a real kit component, and
//! `dlq set-aside|retry-set-aside` on the outbox entries its relay set aside.

use std::time::Duration;

use mandate::envelope::Meta;
use mandate::{DEAD_LETTER_STREAM, Event};
use serde_json::json;

use crate::common::{
    Empty, Env, GetTotals, Noted, Totals, assert_follows_schema, counter, eventually, lenient_counter,
};

/// The duplicate window of the test's event stream: short, so a retry can get past it.
const WINDOW: Duration = Duration::from_secs(3);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_shown_retried_and_purged() {
    let env = Env::new().await;
    env.create_stream("notes", WINDOW).await;
    let strict = env.start(counter()).await;

    // `n` must be a number: this note is undecodable for the counter.
    let published_at = tokio::time::Instant::now();
    let bad = env
        .mandate(&["publish", "evt.notes.noted.v1", r#"{"n": "seven"}"#, "--json"])
        .await
        .ok()
        .json();
    let id = bad["id"].as_str().expect("id").to_owned();
    eventually("the dead letter", || async {
        (env.stream_messages(DEAD_LETTER_STREAM).await == 1).then_some(())
    })
    .await;

    // Retrying within the duplicate window: JetStream drops it, so the letter stays.
    env.mandate(&["dlq", "retry", "1"]).await.fails(1, "duplicate window");
    assert!(
        published_at.elapsed() < WINDOW,
        "the machine is too slow for this check: {:?}",
        published_at.elapsed()
    );
    assert_eq!(
        env.stream_messages(DEAD_LETTER_STREAM).await,
        1,
        "kept after a dropped retry"
    );

    let list = env.mandate(&["dlq", "list", "--json"]).await.ok().json();
    let letters = list.as_array().expect("array");
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0]["sequence"], 1);
    assert_eq!(letters[0]["component"], "counter");
    assert_eq!(letters[0]["kind"], "undecodable");
    assert_eq!(letters[0]["subject"], "evt.notes.noted.v1");
    assert_eq!(letters[0]["stream"], "EVT_NOTES");
    assert_eq!(letters[0]["original_sequence"], 1);
    assert_eq!(letters[0]["id"], id.as_str());
    assert!(
        letters[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("does not decode"))
    );
    let table = env.mandate(&["dlq", "list"]).await.ok().stdout;
    assert!(
        table.contains("undecodable") && table.contains("evt.notes.noted.v1"),
        "{table}"
    );

    let shown = env.mandate(&["dlq", "show", "1", "--json"]).await.ok().json();
    assert_eq!(shown["body"], json!({"n": "seven"}));
    assert_eq!(shown["subject"], "dlq.counter");
    assert_eq!(shown["headers"]["Mandate-Dlq-Kind"], json!(["undecodable"]));
    assert_eq!(shown["headers"]["ce-id"], json!([id.as_str()]));
    let text = env.mandate(&["dlq", "show", "1"]).await.ok().stdout;
    assert!(
        text.contains("Mandate-Dlq-Reason") && text.contains("\"seven\""),
        "{text}"
    );
    env.mandate(&["dlq", "show", "99"])
        .await
        .fails(1, "DLQ has no message #99");

    // Deploy the fix, wait out the duplicate window, retry: the counter now takes it.
    strict.shutdown().await.expect("clean shutdown");
    let fixed = env.start(lenient_counter()).await;
    tokio::time::sleep(WINDOW.saturating_sub(published_at.elapsed()) + Duration::from_millis(200)).await;
    let retried = env.mandate(&["dlq", "retry", "1", "--json"]).await.ok().json();
    assert_eq!(retried["stream"], "EVT_NOTES");
    assert_eq!(retried["sequence"], 2);
    assert_eq!(retried["id"], id.as_str());
    assert_eq!(env.stream_messages(DEAD_LETTER_STREAM).await, 0, "removed from DLQ");
    let totals = eventually("the counter to take the retried note", || async {
        let totals = env.bus.call::<GetTotals>(&Empty {}).await.ok()?;
        (totals.count == 1).then_some(totals)
    })
    .await;
    assert_eq!(totals, Totals { count: 1, sum: 0 });
    // Republished as it was: same id, original headers, no dead-letter headers.
    let again = env
        .bus
        .jetstream()
        .get_stream("EVT_NOTES")
        .await
        .expect("stream")
        .get_raw_message(2)
        .await
        .expect("message");
    let header = |name: &str| again.headers.get(name).map(|v| v.as_str().to_owned());
    assert_eq!(header("ce-id").as_deref(), Some(id.as_str()));
    assert_eq!(header("Nats-Msg-Id").as_deref(), Some(id.as_str()));
    assert_eq!(header("ce-type").as_deref(), Some("notes.noted.v1"));
    assert!(header("Mandate-Dlq-Kind").is_none());
    assert_eq!(
        again.payload.as_ref(),
        rmp_serde::to_vec_named(&json!({"n": "seven"})).expect("encodes")
    );

    // Purge: refused without --yes when nobody can confirm; done with it.
    fixed.shutdown().await.expect("clean shutdown");
    let strict = env.start(counter()).await;
    env.mandate(&["publish", "evt.notes.noted.v1", r#"{"n": "eight"}"#])
        .await
        .ok();
    eventually("a second dead letter", || async {
        (env.stream_messages(DEAD_LETTER_STREAM).await == 1).then_some(())
    })
    .await;
    env.mandate(&["dlq", "purge"]).await.fails(2, "--yes");
    assert_eq!(env.stream_messages(DEAD_LETTER_STREAM).await, 1);
    let purged = env.mandate(&["dlq", "purge", "--yes", "--json"]).await.ok().json();
    assert_eq!(purged["purged"], 1);
    assert_eq!(env.mandate(&["dlq", "list", "--json"]).await.ok().json(), json!([]));
    strict.shutdown().await.expect("clean shutdown");
}

/// What NATS counts against max_payload: the payload plus the encoded header block.
fn wire_size(headers: &async_nats::HeaderMap, payload: usize) -> usize {
    let lines: usize = headers
        .iter()
        .flat_map(|(name, values)| {
            values
                .iter()
                .map(move |v| name.to_string().len() + v.as_str().len() + 4)
        })
        .sum();
    "NATS/1.0\r\n".len() + lines + 2 + payload
}

/// A note just under the server's max payload whose `n` is text: its dead letter cannot
/// carry it, so it names where it is; `retry` reads it back from there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_without_its_body_is_shown_and_retried_from_the_original_stream() {
    let env = Env::new().await;
    env.create_stream("notes", WINDOW).await;
    let strict = env.start(counter()).await;
    let max = env.bus.client().server_info().max_payload;
    let headers = Meta::originate("notes", Noted::ce_type()).to_headers();
    let room = max - wire_size(&headers, 0) - 16;
    let body = rmp_serde::to_vec_named(&json!({"n": "x".repeat(room - 16)})).expect("encodes");
    assert!(body.len() <= room);
    let published_at = tokio::time::Instant::now();
    env.bus
        .publish_raw(&Noted::subject(), headers, body.clone().into())
        .await
        .expect("the server takes it");
    eventually("the dead letter", || async {
        (env.stream_messages(DEAD_LETTER_STREAM).await == 1).then_some(())
    })
    .await;

    let list = env.mandate(&["dlq", "list", "--json"]).await.ok().json();
    assert_eq!(list[0]["body_omitted"], true);
    assert_eq!(list[0]["kind"], "undecodable");
    let shown = env.mandate(&["dlq", "show", "1", "--json"]).await.ok().json();
    assert_eq!(shown["body_omitted"], true);
    assert_eq!(
        shown["headers"]["Mandate-Dlq-Body-Size"],
        json!([body.len().to_string()])
    );
    let text = env.mandate(&["dlq", "show", "1"]).await.ok().stdout;
    assert!(text.contains("left out") && text.contains("EVT_NOTES #1"), "{text}");

    strict.shutdown().await.expect("clean shutdown");
    let fixed = env.start(lenient_counter()).await;
    tokio::time::sleep(WINDOW.saturating_sub(published_at.elapsed()) + Duration::from_millis(200)).await;
    let retried = env.mandate(&["dlq", "retry", "1", "--json"]).await.ok().json();
    assert_eq!(retried["stream"], "EVT_NOTES");
    assert_eq!(retried["sequence"], 2);
    assert_eq!(env.stream_messages(DEAD_LETTER_STREAM).await, 0, "removed from DLQ");
    let again = env
        .bus
        .jetstream()
        .get_stream("EVT_NOTES")
        .await
        .expect("stream")
        .get_raw_message(2)
        .await
        .expect("message");
    assert_eq!(again.payload.as_ref(), body.as_slice(), "the original body, read back");
    eventually("the counter to take the retried note", || async {
        let totals = env.bus.call::<GetTotals>(&Empty {}).await.ok()?;
        (totals.count == 1).then_some(())
    })
    .await;
    fixed.shutdown().await.expect("clean shutdown");
}

/// With no DLQ stream, a dead letter cannot be published: the relay sets it aside, `status`
/// and `dlq set-aside` show it, and `dlq retry-set-aside` sends it once the stream is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_aside_outbox_entries_are_listed_and_retried() {
    let env = Env::new().await;
    env.create_stream("notes", WINDOW).await;
    let running = env.start(counter()).await;
    env.bus
        .jetstream()
        .delete_stream(DEAD_LETTER_STREAM)
        .await
        .expect("DLQ deleted");
    env.mandate(&["publish", "evt.notes.noted.v1", r#"{"n": "seven"}"#])
        .await
        .ok();
    eventually("the dead letter to be set aside", || async {
        (env.bus.status("counter").await.ok()?.set_aside.count == 1).then_some(())
    })
    .await;

    let status = env.mandate(&["status", "--json"]).await.ok().json();
    let counter = status["components"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "counter"))
        .expect("counter listed");
    assert_eq!(counter["status"]["set_aside"]["count"], 1);
    // With a set-aside entry, the kit's status still follows the published protocol.
    assert_follows_schema("admin/status.response.json", &counter["status"]);
    let text = env.mandate(&["status"]).await.ok().stdout;
    assert!(text.contains("SET ASIDE") && text.contains("dlq.counter"), "{text}");

    let listed = env
        .mandate(&["dlq", "set-aside", "counter", "--json"])
        .await
        .ok()
        .json();
    assert_eq!(listed["count"], 1);
    assert_eq!(listed["entries"][0]["subject"], "dlq.counter");
    assert!(
        listed["entries"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("no stream")),
        "{listed}"
    );
    let table = env.mandate(&["dlq", "set-aside", "counter"]).await.ok().stdout;
    assert!(
        table.contains("dlq.counter") && table.contains("retry-set-aside"),
        "{table}"
    );

    env.bus
        .jetstream()
        .create_stream(async_nats::jetstream::stream::Config {
            name: DEAD_LETTER_STREAM.into(),
            subjects: vec!["dlq.>".into()],
            ..Default::default()
        })
        .await
        .expect("DLQ back");
    let retried = env
        .mandate(&["dlq", "retry-set-aside", "counter", "--json"])
        .await
        .ok()
        .json();
    assert_eq!(retried["retried"], 1);
    assert_follows_schema("admin/retry-set-aside.response.json", &retried);
    eventually("the dead letter in DLQ", || async {
        (env.stream_messages(DEAD_LETTER_STREAM).await == 1).then_some(())
    })
    .await;
    assert_eq!(env.bus.status("counter").await.expect("status").set_aside.count, 0);
    running.shutdown().await.expect("clean shutdown");
}
