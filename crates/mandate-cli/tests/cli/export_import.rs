//! `export` then `import` into a fresh server reproduces the messages; importing again —
//! after JetStream's duplicate window has passed — skips every one of them.

use std::time::Duration;

use mandate::envelope::Meta;
use serde_json::Value;

use crate::common::{Env, Noted};

/// (subject, headers as name → values, payload) of every message of a stream.
async fn contents(env: &Env, stream: &str) -> Vec<(String, Vec<(String, Vec<String>)>, Vec<u8>)> {
    let stream = env.bus.jetstream().get_stream(stream).await.expect("stream");
    let last = stream.get_info().await.expect("info").state.last_sequence;
    let mut out = Vec::new();
    for sequence in 1..=last {
        let message = stream.get_raw_message(sequence).await.expect("message");
        let mut headers: Vec<(String, Vec<String>)> = message
            .headers
            .iter()
            .map(|(name, values)| (name.to_string(), values.iter().map(|v| v.as_str().to_owned()).collect()))
            .collect();
        headers.sort();
        out.push((message.subject.to_string(), headers, message.payload.to_vec()));
    }
    out
}

#[tokio::test]
async fn export_then_import_reproduces_the_stream_and_a_second_import_skips_all() {
    let source = Env::new().await;
    source.create_stream("notes", Duration::from_secs(120)).await;
    for n in 1..=3 {
        source.bus.publish(&Noted { n }).await.expect("published");
    }
    source
        .mandate(&[
            "publish",
            "evt.notes.other.v1",
            r#"{"free": "form"}"#,
            "--correlation-id",
            "c-9",
        ])
        .await
        .ok();
    // Headers beyond the envelope travel too, repeated values included.
    let mut headers = Meta::originate("tests", "notes.noted.v1".into()).to_headers();
    headers.append("x-tag", "a");
    headers.append("x-tag", "b");
    source
        .bus
        .publish_raw(
            "evt.notes.noted.v1",
            headers,
            rmp_serde::to_vec_named(&Noted { n: 9 }).expect("encodes").into(),
        )
        .await
        .expect("published");
    let original = contents(&source, "EVT_NOTES").await;
    assert_eq!(original.len(), 5);

    let file = source.dir.path().join("notes.jsonl");
    let file_arg = file.to_str().expect("utf-8 path");
    let out = source.mandate(&["export", "EVT_NOTES", "-o", file_arg]).await.ok();
    assert!(out.stdout.contains("exported 5 message(s)"), "{}", out.stdout);
    let text = std::fs::read_to_string(&file).expect("export written");
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(records.len(), 5);
    for (i, record) in records.iter().enumerate() {
        let keys: Vec<&str> = record.as_object().expect("object").keys().map(String::as_str).collect();
        assert_eq!(keys, ["headers", "payload_base64", "sequence", "subject", "time"]);
        assert_eq!(record["sequence"], i as u64 + 1);
    }
    assert_eq!(records[4]["headers"]["x-tag"], serde_json::json!(["a", "b"]));

    // Also to stdout, and from a sequence on.
    let tail = source.mandate(&["export", "EVT_NOTES", "--from-seq", "4"]).await.ok();
    assert_eq!(tail.stdout.lines().count(), 2);
    let recent = source
        .mandate(&[
            "export",
            "EVT_NOTES",
            "--since",
            "1h",
            "--subject",
            "evt.notes.other.v1",
        ])
        .await
        .ok();
    assert_eq!(recent.stdout.lines().count(), 1);
    let future = source
        .mandate(&["export", "EVT_NOTES", "--since", "2200-01-01T00:00:00Z"])
        .await
        .ok();
    assert!(future.stdout.is_empty());

    // A fresh server whose stream forgets ids after 100 ms: only the tool's own check can
    // tell that a message is already there.
    let target = Env::new().await;
    target
        .mandate(&["import", file_arg])
        .await
        .fails(1, "no stream on this server captures evt.notes.");
    target.create_stream("notes", Duration::from_millis(100)).await;
    let first = target.mandate(&["import", file_arg, "--json"]).await.ok().json();
    assert_eq!(
        (first["imported"].as_u64(), first["skipped"].as_u64()),
        (Some(5), Some(0))
    );
    assert_eq!(first["streams"]["EVT_NOTES"]["imported"], 5);
    assert_eq!(
        contents(&target, "EVT_NOTES").await,
        original,
        "same subjects, headers and bodies"
    );

    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = target.mandate(&["import", file_arg]).await.ok();
    assert!(second.stdout.contains("imported 0, skipped 5"), "{}", second.stdout);
    assert_eq!(target.stream_messages("EVT_NOTES").await, 5, "nothing imported twice");

    // With --stream: a wrong target is refused, the right one works (dry run here).
    target
        .mandate(&["import", file_arg, "--stream", "NOPE"])
        .await
        .fails(1, "no stream \"NOPE\"");
    let dry = target
        .mandate(&["import", file_arg, "--stream", "EVT_NOTES", "--dry-run", "--json"])
        .await
        .ok()
        .json();
    assert_eq!((dry["imported"].as_u64(), dry["skipped"].as_u64()), (Some(0), Some(5)));

    // A broken file names the line.
    std::fs::write(&file, format!("{}\nnot json\n", text.lines().next().expect("a line"))).expect("written");
    target
        .mandate(&["import", file_arg])
        .await
        .fails(1, "notes.jsonl:2: not an export record");
}
