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

/// The value of the one series whose line starts with `series`.
fn value(exposition: &str, series: &str) -> Option<f64> {
    exposition
        .lines()
        .find(|line| line.starts_with(series))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn http_requests_are_counted_by_route_template_and_status() {
    let mut h = Harness::new().await;
    h.start_all().await;
    assert_eq!(h.get("/healthz").await.status, StatusCode::OK);
    assert_eq!(h.get("/v1/products/no-such-sku").await.status, StatusCode::NOT_FOUND);
    assert_eq!(h.get("/v1/products/another-one").await.status, StatusCode::NOT_FOUND);
    assert_eq!(h.get("/nowhere").await.status, StatusCode::NOT_FOUND);
    let text = h
        .http
        .get(format!("{}/metrics", h.metrics))
        .send()
        .await
        .expect("scraped")
        .text()
        .await
        .expect("a body");
    let series = |route: &str, status: u16| {
        format!(r#"mandate_http_requests_total{{component="gateway",method="GET",route="{route}",status="{status}"}}"#)
    };
    assert_eq!(value(&text, &series("/healthz", 200)), Some(1.0), "{text}");
    assert_eq!(
        value(&text, &series("/v1/products/{sku}", 404)),
        Some(2.0),
        "one series per template, not per sku:\n{text}"
    );
    assert_eq!(value(&text, &series("unmatched", 404)), Some(1.0), "{text}");
    let latency = r#"mandate_http_request_seconds_count{component="gateway",method="GET",route="/v1/products/{sku}"}"#;
    assert_eq!(value(&text, latency), Some(2.0), "{text}");
    assert!(
        value(&text, r#"process_resident_memory_bytes{component="gateway"}"#).is_some(),
        "{text}"
    );
}

#[tokio::test]
async fn readyz_follows_the_connection_to_nats() {
    let mut h = Harness::new().await;
    let ready = h.http.get(format!("{}/readyz", h.metrics)).send().await.expect("asked");
    assert_eq!(ready.status(), StatusCode::OK);
    h.server.stop();
    let body = eventually("readyz to report the lost connection", || async {
        let answer = h.http.get(format!("{}/readyz", h.metrics)).send().await.ok()?;
        (answer.status() == StatusCode::SERVICE_UNAVAILABLE).then_some(answer.text().await.ok()?)
    })
    .await;
    assert!(body.contains("not connected to NATS"), "{body}");
}
