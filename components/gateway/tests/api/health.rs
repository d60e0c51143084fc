use reqwest::StatusCode;
use serde_json::json;

use crate::common::{Harness, eventually};

#[tokio::test]
async fn healthz_is_ok_while_connected_and_503_when_nats_is_gone() {
    let mut h = Harness::new().await;
    let ok = h.get("/healthz").await;
    assert_eq!((ok.status, &ok.body), (StatusCode::OK, &json!({ "status": "ok" })));

    h.server.stop();
    let down = eventually("healthz to report the lost connection", || async {
        let answer = h.get("/healthz").await;
        (answer.status != StatusCode::OK).then_some(answer)
    })
    .await;
    assert_eq!(
        (down.status, down.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    );
    assert!(down.message().contains("NATS"), "{down:?}");
}

#[tokio::test]
async fn the_api_serves_its_own_description() {
    let h = Harness::new().await;
    let answer = h.get("/openapi.yaml").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/yaml")
    );
    assert_eq!(answer.text, include_str!("../../openapi.yaml"));
}
