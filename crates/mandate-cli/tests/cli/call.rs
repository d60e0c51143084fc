//! `call` against a kit component: reply, typed error, timeout, nobody there, admin.

use serde_json::{Value, json};

use crate::common::{Env, tester};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_prints_the_reply_or_the_typed_error() {
    let env = Env::new().await;
    let running = env.start(tester()).await;

    let out = env
        .mandate(&["call", "tester.echo.v1", r#"{"text": "héllo"}"#])
        .await
        .ok();
    assert_eq!(out.json(), json!({"text": "héllo", "length": 5}));
    let full = env
        .mandate(&["call", "svc.tester.echo.v1", r#"{"text": "x"}"#])
        .await
        .ok();
    assert_eq!(full.json()["length"], 1);

    let refused = env
        .mandate(&["call", "tester.echo.v1", r#"{"text": "x", "fail": 404}"#])
        .await
        .fails(1, "asked to fail");
    let error: Value = serde_json::from_str(refused.stderr.trim()).expect("the typed error is JSON on stderr");
    assert_eq!(
        error,
        json!({"code": 404, "message": "asked to fail with 404", "retryable": false})
    );
    assert!(refused.stdout.is_empty());
    let retryable = env
        .mandate(&["call", "tester.echo.v1", r#"{"text": "x", "fail": 503}"#])
        .await
        .fails(1, "\"retryable\":true");
    assert!(retryable.stderr.contains("\"code\":503"));

    // A request the service cannot decode is its 400, not ours.
    env.mandate(&["call", "tester.echo.v1", r#"{"wrong": 1}"#])
        .await
        .fails(1, "\"code\":400");

    env.mandate(&[
        "call",
        "tester.echo.v1",
        r#"{"text": "slow", "sleep_ms": 1500}"#,
        "--timeout",
        "200ms",
    ])
    .await
    .fails(1, "did not answer within 200ms");

    env.mandate(&["call", "nobody.op.v1", "{}"]).await.fails(
        1,
        "no component answers svc.nobody.op.v1: is it running? `mandate status`",
    );

    // The kit's admin operations speak JSON, passed through.
    let status = env.mandate(&["call", "svc.tester.admin.status"]).await.ok().json();
    assert_eq!(status["component"], "tester");
    assert_eq!(status["version"], "1.2.3");
    running.shutdown().await.expect("clean shutdown");
}
