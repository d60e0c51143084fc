//! `dlq retry` in bulk — canary first, then throttled, stoppable — and `dlq list --group`, on
//! dead letters a real kit component made; counted from outside (the counter's query, the
//! streams), never from its store.

use std::time::Duration;

use mandate::envelope::Meta;
use mandate::{DEAD_LETTER_STREAM, Event, Running};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::common::{Empty, Env, GetTotals, Noted, counter, eventually, lenient_counter};

/// The test stream's duplicate window: short, so that the originals leave it quickly.
const WINDOW: Duration = Duration::from_secs(2);

/// `n` notes the strict counter cannot read, dead-lettered; then the fixed counter runs and
/// the originals are out of their duplicate window.
async fn letters_for_the_fixed_counter(env: &Env, n: u64) -> Running {
    env.create_stream("notes", WINDOW).await;
    let strict = env.start(counter()).await;
    publish_bad_notes(env, n).await;
    eventually("the dead letters", || async {
        (env.stream_messages(DEAD_LETTER_STREAM).await == n).then_some(())
    })
    .await;
    strict.shutdown().await.expect("clean shutdown");
    let fixed = env.start(lenient_counter()).await;
    tokio::time::sleep(WINDOW + Duration::from_millis(200)).await;
    fixed
}

async fn publish_bad_notes(env: &Env, n: u64) {
    for i in 0..n {
        let body = rmp_serde::to_vec_named(&json!({"n": format!("not a number {i}")})).expect("encodes");
        env.bus
            .publish_raw(
                &Noted::subject(),
                Meta::originate("notes", Noted::ce_type()).to_headers(),
                body.into(),
            )
            .await
            .expect("published");
    }
}

async fn applied(env: &Env) -> u64 {
    env.bus.call::<GetTotals>(&Empty {}).await.expect("totals").count
}

/// The counter has applied `n` notes, and a moment later still `n`.
async fn applied_exactly(env: &Env, n: u64) {
    eventually("the counter to apply the retried notes", || async {
        (applied(env).await >= n).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(applied(env).await, n, "every retried note applied exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_grouped_by_component_kind_and_reason() {
    let env = Env::new().await;
    env.create_stream("notes", WINDOW).await;
    let strict = env.start(counter()).await;
    // Two strings and a boolean where a number belongs: two reasons (the reason says what it
    // found), one kind, one component.
    publish_bad_notes(&env, 2).await;
    let body = rmp_serde::to_vec_named(&json!({"n": true})).expect("encodes");
    env.bus
        .publish_raw(
            &Noted::subject(),
            Meta::originate("notes", Noted::ce_type()).to_headers(),
            body.into(),
        )
        .await
        .expect("published");
    eventually("the dead letters", || async {
        (env.stream_messages(DEAD_LETTER_STREAM).await == 3).then_some(())
    })
    .await;
    let groups = env.mandate(&["dlq", "list", "--group", "--json"]).await.ok().json();
    let groups = groups.as_array().expect("array");
    assert_eq!(groups.len(), 2, "{groups:?}");
    assert!(
        groups
            .iter()
            .all(|g| g["component"] == "counter" && g["kind"] == "undecodable")
    );
    assert_eq!(
        (
            &groups[0]["count"],
            &groups[0]["first_sequence"],
            &groups[0]["last_sequence"]
        ),
        (&json!(2), &json!(1), &json!(2)),
        "the largest first"
    );
    assert_eq!(
        (&groups[1]["count"], &groups[1]["first_sequence"]),
        (&json!(1), &json!(3))
    );
    let prefix = "payload does not decode";
    let selected = env
        .mandate(&[
            "dlq",
            "list",
            "--reason-prefix",
            prefix,
            "--kind",
            "undecodable",
            "--json",
        ])
        .await
        .ok()
        .json();
    assert_eq!(selected.as_array().map(Vec::len), Some(3), "{selected}");
    let exact = groups[1]["reason"].as_str().expect("reason");
    let one = env
        .mandate(&["dlq", "list", "--reason", exact, "--json"])
        .await
        .ok()
        .json();
    assert_eq!(one.as_array().map(Vec::len), Some(1), "{one}");
    assert_eq!(one[0]["sequence"], 3);
    let none = env
        .mandate(&["dlq", "list", "--component", "nobody", "--json"])
        .await
        .ok()
        .json();
    assert_eq!(none, json!([]));
    let table = env.mandate(&["dlq", "list", "--group"]).await.ok().stdout;
    assert!(table.contains("COUNT") && table.contains("undecodable"), "{table}");
    env.mandate(&["dlq", "retry", "--rate", "5"])
        .await
        .fails(2, "select some");
    strict.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_dead_lettered_again_stops_the_redrive_with_nothing_else_retried() {
    let env = Env::new().await;
    env.create_stream("notes", WINDOW).await;
    // The cause is not fixed: the strict counter refuses the canary again.
    let strict = env.start(counter()).await;
    publish_bad_notes(&env, 4).await;
    eventually("the dead letters", || async {
        (env.stream_messages(DEAD_LETTER_STREAM).await == 4).then_some(())
    })
    .await;
    tokio::time::sleep(WINDOW + Duration::from_millis(200)).await;

    let out = env
        .mandate(&[
            "dlq",
            "retry",
            "--component",
            "counter",
            "--rate",
            "100",
            "--yes",
            "--json",
        ])
        .await
        .fails(1, "dead-lettered again");
    let lines = out.json_lines();
    let report = lines.last().expect("a report");
    assert_eq!(report["ended"], "canary_failed", "{report}");
    assert_eq!(report["verdict"]["verdict"], "dead_lettered_again", "{report}");
    assert_eq!(report["done"], 1);
    assert_eq!(
        report["remaining"],
        json!([2, 3, 4]),
        "nothing after the canary retried"
    );
    // The canary's letter went (its retry is stored) and came back as a new one; the rest
    // were not touched.
    let left: Vec<u64> = env
        .mandate(&["dlq", "list", "--json"])
        .await
        .ok()
        .json()
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|l| l["sequence"].as_u64())
        .collect();
    assert_eq!(left, vec![2, 3, 4, 5]);
    assert_eq!(
        env.stream_messages("EVT_NOTES").await,
        5,
        "four originals and one canary"
    );
    strict.shutdown().await.expect("clean shutdown");

    // A canary into a component that is not running is not sent at all.
    let out = env
        .mandate(&["dlq", "retry", "--component", "counter", "--yes", "--json"])
        .await
        .fails(1, "could not be retried");
    assert_eq!(
        out.json_lines().last().expect("a report")["ended"],
        "canary_not_retried"
    );
    assert_eq!(env.stream_messages(DEAD_LETTER_STREAM).await, 4);
    assert_eq!(env.stream_messages("EVT_NOTES").await, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_redrive_keeps_to_its_rate_and_applies_each_letter_once() {
    let env = Env::new().await;
    let fixed = letters_for_the_fixed_counter(&env, 10).await;
    let mut child = env.spawn(&[
        "dlq",
        "retry",
        "--component",
        "counter",
        "--rate",
        "2",
        "--yes",
        "--json",
    ]);
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = next_json(&mut lines).await;
    assert_eq!(first["phase"], "canary", "{first}");
    assert_eq!(first["canary"]["verdict"], "applied", "{first}");
    // After the canary, 9 letters at 2 per second take 4 s; one second in, most are still
    // waiting. (Slower machines only make more of them wait.)
    tokio::time::sleep(Duration::from_secs(1)).await;
    let waiting = env.stream_messages(DEAD_LETTER_STREAM).await;
    assert!(
        waiting >= 4,
        "only {waiting} of 9 still in DLQ one second in: not throttled"
    );
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the redrive ends")
        .expect("it runs");
    let mut rest = Vec::new();
    while let Ok(Some(line)) = lines.next_line().await {
        rest.push(serde_json::from_str::<Value>(&line).expect("JSON line"));
    }
    assert!(status.success(), "{rest:?}");
    let report = rest.last().expect("a report");
    assert_eq!(report["ended"], "completed", "{report}");
    assert_eq!(
        (report["done"].as_u64(), report["failed"].as_u64()),
        (Some(10), Some(0))
    );
    let progress = &rest[rest.len() - 2];
    assert_eq!(
        (progress["phase"].as_str(), progress["remaining"].as_u64()),
        (Some("throttled"), Some(0))
    );
    assert_eq!(env.stream_messages(DEAD_LETTER_STREAM).await, 0);
    applied_exactly(&env, 10).await;
    fixed.shutdown().await.expect("clean shutdown");
}

async fn next_json(lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>) -> Value {
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("a progress line in time")
        .expect("reads")
        .expect("a line");
    serde_json::from_str(&line).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_redrive_leaves_the_rest_in_dlq_and_a_second_run_finishes_it_without_doubling() {
    let env = Env::new().await;
    let fixed = letters_for_the_fixed_counter(&env, 8).await;
    let mut child = env.spawn(&[
        "dlq",
        "retry",
        "--component",
        "counter",
        "--rate",
        "1",
        "--yes",
        "--json",
    ]);
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    next_json(&mut lines).await;
    let second = next_json(&mut lines).await;
    assert_eq!(second["phase"], "throttled", "{second}");
    // Ctrl-C, as an operator would.
    let pid = child.id().expect("running").to_string();
    let signalled = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill runs");
    assert!(signalled.success());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("stops promptly")
        .expect("runs");
    assert_eq!(status.code(), Some(1), "a stopped redrive is not a success");
    let mut rest = Vec::new();
    while let Ok(Some(line)) = lines.next_line().await {
        rest.push(serde_json::from_str::<Value>(&line).expect("JSON line"));
    }
    let report = rest.last().expect("a report");
    assert_eq!(report["ended"], "stopped", "{report}");
    let done = report["done"].as_u64().expect("done");
    let remaining = report["remaining"].as_array().expect("remaining").len() as u64;
    assert!((2..8).contains(&done), "{report}");
    assert_eq!(done + remaining, 8, "nothing half-done: {report}");
    assert_eq!(
        env.stream_messages(DEAD_LETTER_STREAM).await,
        remaining,
        "the rest is still in DLQ"
    );
    applied_exactly(&env, done).await;

    // Run again: it finishes what was left, and nothing is applied twice.
    let again = env
        .mandate(&[
            "dlq",
            "retry",
            "--component",
            "counter",
            "--rate",
            "50",
            "--yes",
            "--json",
        ])
        .await
        .ok();
    assert_eq!(
        again.json_lines().last().expect("a report")["done"].as_u64(),
        Some(remaining)
    );
    assert_eq!(env.stream_messages(DEAD_LETTER_STREAM).await, 0);
    applied_exactly(&env, 8).await;
    assert_eq!(
        env.stream_messages("EVT_NOTES").await,
        16,
        "each note stored once more, no more"
    );
    fixed.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_redrives_at_once_apply_nothing_twice() {
    let env = Env::new().await;
    let fixed = letters_for_the_fixed_counter(&env, 30).await;
    // Fast, so that the runs overlap on the same letters: each reads a letter another is
    // retrying, and stores its retry after the other's ack, before or after its delete.
    let args = ["dlq", "retry", "--all", "--rate", "1000", "--yes", "--json"];
    let (a, b, c) = tokio::join!(env.mandate(&args), env.mandate(&args), env.mandate(&args));
    for run in [a, b, c] {
        run.ok();
    }
    // Whatever each run did, every letter went once and every note is applied once.
    assert_eq!(env.stream_messages(DEAD_LETTER_STREAM).await, 0);
    applied_exactly(&env, 30).await;
    assert_eq!(
        env.stream_messages("EVT_NOTES").await,
        60,
        "each note stored once more, no more"
    );
    fixed.shutdown().await.expect("clean shutdown");
}

/// A retry stored but its letter not deleted (the tool died between the ack and the delete):
/// retrying again stores nothing new and removes the letter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_letter_whose_retry_is_already_stored_is_removed_without_publishing_again() {
    let env = Env::new().await;
    let fixed = letters_for_the_fixed_counter(&env, 1).await;
    // What the first half of a retry does: the original, republished under its own id.
    let letter = env
        .bus
        .jetstream()
        .get_stream(DEAD_LETTER_STREAM)
        .await
        .expect("DLQ")
        .get_raw_message(1)
        .await
        .expect("the letter");
    let id = letter.headers.get("ce-id").expect("ce-id").as_str().to_owned();
    let mut headers = Meta::originate("notes", Noted::ce_type()).to_headers();
    headers.insert("ce-id", id.as_str());
    headers.insert("Nats-Msg-Id", id.as_str());
    env.bus
        .publish_raw(&Noted::subject(), headers, letter.payload.clone())
        .await
        .expect("stored");
    applied_exactly(&env, 1).await;

    let retried = env.mandate(&["dlq", "retry", "1", "--json"]).await.ok().json();
    assert_eq!(retried["result"], "already_republished", "{retried}");
    assert_eq!(retried["sequence"], 2);
    assert_eq!(env.stream_messages(DEAD_LETTER_STREAM).await, 0, "the letter goes");
    assert_eq!(env.stream_messages("EVT_NOTES").await, 2, "nothing stored again");
    applied_exactly(&env, 1).await;
    fixed.shutdown().await.expect("clean shutdown");
}

/// A second reader of the notes that cannot read them either, and is not fixed.
fn strict_tally() -> mandate::Component {
    mandate::Component::new("tally").on::<Noted>(|_, _| Ok(()))
}

/// A redrive of several components' letters sends a canary for each: the fixed counter's
/// does not vouch for the tally, which still refuses the notes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_component_gets_its_own_canary() {
    let env = Env::new().await;
    env.create_stream("notes", WINDOW).await;
    let strict = env.start(counter()).await;
    publish_bad_notes(&env, 3).await;
    eventually("the counter's dead letters", || async {
        (env.stream_messages(DEAD_LETTER_STREAM).await == 3).then_some(())
    })
    .await;
    // The tally reads the stream from its start: its letters come after the counter's.
    let tally = env.start(strict_tally()).await;
    eventually("the tally's dead letters", || async {
        (env.stream_messages(DEAD_LETTER_STREAM).await == 6).then_some(())
    })
    .await;
    strict.shutdown().await.expect("clean shutdown");
    let fixed = env.start(lenient_counter()).await;
    tokio::time::sleep(WINDOW + Duration::from_millis(200)).await;

    let out = env
        .mandate(&["dlq", "retry", "--all", "--rate", "100", "--yes", "--json"])
        .await
        .fails(1, "dead-lettered again");
    let lines = out.json_lines();
    let report = lines.last().expect("a report");
    assert_eq!(report["ended"], "canary_failed", "{report}");
    let canaries: Vec<(&str, &str)> = lines[..lines.len() - 1]
        .iter()
        .map(|p| {
            (
                p["phase"].as_str().unwrap_or("?"),
                p["canary"]["verdict"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        canaries,
        [("canary", "applied"), ("canary", "dead_lettered_again")],
        "{lines:?}"
    );
    assert_eq!(report["remaining"].as_array().map(Vec::len), Some(4), "{report}");
    // One note retried (the counter's canary, which the tally's canary found already stored).
    assert_eq!(env.stream_messages("EVT_NOTES").await, 4);
    applied_exactly(&env, 1).await;
    fixed.shutdown().await.expect("clean shutdown");
    tally.shutdown().await.expect("clean shutdown");
}
