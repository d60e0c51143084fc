//! The people's users: `operator` runs the `mandate` tool, `observer` watches with the nats
//! CLI (`nats sub 'evt.>'`, `nats micro ls`) and can change nothing.

use std::process::Stdio;
use std::time::Duration;

use futures::StreamExt;
use mandate::Running;
use serde_json::Value;

use crate::common::{Broker, Probe, eventually, password};
use crate::fixtures::{feeder, kit_manifests, shop, tally};

/// Runs `mandate ARGS` as `user` against the broker; returns (exit code, stdout, stderr).
async fn mandate_as(broker: &Broker, user: &str, args: &[&str]) -> (i32, String, String) {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_mandate"));
    command
        .args(args)
        .env("NATS_URL", broker.server.url())
        .env("NATS_USER", user)
        .env("NATS_PASSWORD", password(user))
        .env_remove("RUST_LOG")
        .env_remove("NATS_PASSWORD_FILE")
        .env_remove("NATS_CREDS")
        .env_remove("NATS_NKEY_FILE")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(30), command.output())
        .await
        .unwrap_or_else(|_| panic!("mandate {args:?} did not finish within 30 s"))
        .expect("mandate runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `mandate ARGS` as the operator, which must succeed; returns stdout.
async fn operator(broker: &Broker, args: &[&str]) -> String {
    let (code, stdout, stderr) = mandate_as(broker, "operator", args).await;
    assert_eq!(code, 0, "mandate {args:?} as operator failed:\n{stdout}\n{stderr}");
    stdout
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

async fn start(broker: &Broker, component: mandate::Component) -> Running {
    let name = component.manifest().name;
    component.start(broker.options(&name)).await.expect("starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_can_do_what_the_mandate_tool_does() {
    let broker = Broker::start(&kit_manifests(), &[shop()]);
    let _feeder = start(&broker, feeder()).await;
    let _tally = start(&broker, tally()).await;

    // call (a command), publish (an event tally cannot count: dead-lettered).
    for n in ["1", "2"] {
        operator(&broker, &["call", "feeder.feed.v1", &format!(r#"{{"n": {n}}}"#)]).await;
    }
    operator(&broker, &["publish", "evt.feeder.fed.v1", r#"{"n": 13}"#, "--json"]).await;
    let total = operator(&broker, &["call", "tally.total.v1", "{}", "--json"]).await;
    assert!(total.contains("count"), "{total}");

    // status: discovery, admin status of each component, streams.
    let status = json(&operator(&broker, &["status", "--json"]).await);
    let text = status.to_string();
    for needle in ["feeder", "tally", "EVT_FEEDER", "EVT_TALLY"] {
        assert!(text.contains(needle), "status lacks {needle}: {text}");
    }

    // tail: history through ordered consumers, then stop.
    let tail = operator(&broker, &["tail", "evt.>", "--all", "--no-follow", "--json"]).await;
    assert!(tail.lines().count() >= 5, "{tail}");

    // dlq: list, show, retry (JetStream may drop it as a duplicate of the original: that is
    // its answer, so the publish went through), purge.
    eventually("the dead letter", || async {
        let list = json(&operator(&broker, &["dlq", "list", "--json"]).await);
        (list.as_array().map(Vec::len) == Some(1)).then_some(())
    })
    .await;
    let list = json(&operator(&broker, &["dlq", "list", "--json"]).await);
    let sequence = list[0]["sequence"].to_string();
    operator(&broker, &["dlq", "show", &sequence, "--json"]).await;
    let (code, stdout, stderr) = mandate_as(&broker, "operator", &["dlq", "retry", &sequence]).await;
    assert!(
        code == 0 || stderr.contains("duplicate window"),
        "dlq retry: {code}\n{stdout}\n{stderr}"
    );
    operator(&broker, &["dlq", "purge", "--yes"]).await;

    // replay: the admin rebuild, followed until caught up.
    operator(&broker, &["replay", "tally", "--json"]).await;

    // export and import (everything is already there: all skipped).
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("feeder.jsonl").display().to_string();
    operator(&broker, &["export", "EVT_FEEDER", "-o", &file]).await;
    let import = json(&operator(&broker, &["import", &file, "--json"]).await);
    assert!(import.to_string().contains("skipped"), "{import}");

    // Nothing of it was refused by the broker.
    assert_eq!(broker.violations(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_user_cannot_run_the_operators_commands() {
    let broker = Broker::start(&kit_manifests(), &[shop()]);
    let _tally = start(&broker, tally()).await;
    // tally's credentials with the tool: its inbox prefix is mandate-cli's, which tally may
    // not subscribe to, so nothing gets an answer.
    let (code, stdout, stderr) = mandate_as(&broker, "tally", &["dlq", "purge", "--yes"]).await;
    assert_ne!(code, 0, "{stdout}\n{stderr}");
    assert!(
        broker.violations().iter().any(|v| v.contains("_INBOX.mandate-cli")),
        "{:#?}",
        broker.violations()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_observer_watches_events_and_services_and_changes_nothing() {
    let broker = Broker::start(&kit_manifests(), &[shop()]);
    let _feeder = start(&broker, feeder()).await;
    let _tally = start(&broker, tally()).await;
    // As `nats --user observer --inbox-prefix _INBOX.observer ...`.
    let mut observer = broker.probe("observer", "observer").await;

    // nats sub 'evt.>': every event, with its CloudEvents headers.
    let mut events = observer.client.subscribe("evt.>").await.expect("subscribed");
    observer.client.flush().await.expect("flushed");
    operator(&broker, &["call", "feeder.feed.v1", r#"{"n": 3}"#]).await;
    let event = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("the observer sees the event")
        .expect("a message");
    assert_eq!(event.subject.as_str(), "evt.feeder.fed.v1");
    let headers = event.headers.expect("headers");
    assert_eq!(headers.get("ce-type").map(|v| v.as_str()), Some("feeder.fed.v1"));

    // nats micro ls: `$SRV.INFO` with a reply in its own inbox; every component answers.
    let inbox = observer.client.new_inbox();
    let mut answers = observer.client.subscribe(inbox.clone()).await.expect("subscribed");
    observer
        .client
        .publish_with_reply("$SRV.INFO", inbox, "".into())
        .await
        .expect("published");
    let mut names = Vec::new();
    while let Ok(Some(answer)) = tokio::time::timeout(Duration::from_secs(2), answers.next()).await {
        names.push(
            json(&String::from_utf8_lossy(&answer.payload))["name"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        );
        if names.len() == 2 {
            break;
        }
    }
    names.sort();
    assert_eq!(names, ["feeder", "tally"]);

    // It publishes nothing else, and reads no service traffic or replies.
    for subject in [
        "evt.feeder.fed.v1",
        "evt.observer.x.v1",
        "dlq.tally",
        "svc.feeder.feed.v1",
        "svc.tally.admin.status",
        "svc.tally.admin.rebuild",
        "$JS.API.INFO",
        "$JS.API.STREAM.INFO.EVT_FEEDER",
        "$JS.API.STREAM.MSG.GET.EVT_FEEDER",
        "$JS.API.CONSUMER.CREATE.EVT_FEEDER",
        "$JS.API.STREAM.PURGE.DLQ",
        "_INBOX.tally.x",
        "anything",
    ] {
        observer.publish_refused(subject).await;
    }
    for subject in ["svc.>", "_INBOX.>", "_INBOX.tally.>", "$JS.API.>", "$SRV.>", ">"] {
        observer.subscribe_refused(subject).await;
    }

    // With the nats CLI's default inbox prefix, requests cannot get their answers: hence
    // `--inbox-prefix _INBOX.observer` for `nats micro ls`.
    let mut default_inbox = Probe::connect(
        &broker.server.url(),
        Some(("observer", &password("observer"))),
        "_INBOX",
    )
    .await;
    let inbox = default_inbox.client.new_inbox();
    default_inbox.subscribe_refused(&inbox).await;
}
