use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::Harness;

#[tokio::test]
async fn a_restock_adds_stock_once_per_idempotency_key() {
    let mut h = Harness::new().await;
    h.start_all().await;
    let zero = h.get("/v1/inventory/sku-1").await;
    assert_eq!(zero.status, StatusCode::OK);
    assert_eq!(
        zero.body,
        json!({ "sku": "sku-1", "on_hand": 0, "reserved": 0, "shipped": 0, "restocked": 0 })
    );

    let body = json!({ "quantity": 5 });
    let first = h
        .request(Method::POST, "/v1/inventory/sku-1/restock", Some(&body), Some("r-1"))
        .await;
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    assert_eq!(
        (first.body["on_hand"].as_u64(), first.body["restocked"].as_u64()),
        (Some(5), Some(5))
    );
    let again = h
        .request(Method::POST, "/v1/inventory/sku-1/restock", Some(&body), Some("r-1"))
        .await;
    assert_eq!(again.body["on_hand"], 5, "the same key restocked twice: {again:?}");
    let other = h
        .request(Method::POST, "/v1/inventory/sku-1/restock", Some(&body), Some("r-2"))
        .await;
    assert_eq!(other.body["on_hand"], 10);
    assert_eq!(h.get("/v1/inventory/sku-1").await.body["on_hand"], 10);
}

#[tokio::test]
async fn a_restock_without_idempotency_key_is_refused_before_the_bus() {
    let mut h = Harness::new().await;
    h.start_all().await;
    let body = json!({ "quantity": 5 });
    let refused = h
        .request(Method::POST, "/v1/inventory/sku-1/restock", Some(&body), None)
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.code(), "missing_idempotency_key");
    assert!(refused.message().contains("Idempotency-Key"), "{refused:?}");
    let blank = h
        .raw(
            Method::POST,
            "/v1/inventory/sku-1/restock",
            Some("application/json"),
            b"{\"quantity\":5}".to_vec(),
            Some(""),
        )
        .await;
    assert_eq!(
        (blank.status, blank.code()),
        (StatusCode::BAD_REQUEST, "invalid_idempotency_key")
    );
    assert_eq!(h.get("/v1/inventory/sku-1").await.body["on_hand"], 0);
}

#[tokio::test]
async fn zero_and_negative_quantities_are_400() {
    let mut h = Harness::new().await;
    h.start_all().await;
    // Zero is a valid u32: inventory refuses it.
    let zero = h
        .request(
            Method::POST,
            "/v1/inventory/sku-1/restock",
            Some(&json!({ "quantity": 0 })),
            Some("k-0"),
        )
        .await;
    assert_eq!((zero.status, zero.code()), (StatusCode::BAD_REQUEST, "bad_request"));
    assert!(zero.message().contains("quantity > 0"), "{zero:?}");
    // Negative does not fit the contract's type: the gateway refuses it.
    let negative = h
        .request(
            Method::POST,
            "/v1/inventory/sku-1/restock",
            Some(&json!({ "quantity": -3 })),
            Some("k-1"),
        )
        .await;
    assert_eq!(
        (negative.status, negative.code()),
        (StatusCode::BAD_REQUEST, "invalid_body")
    );
    assert!(negative.message().starts_with("quantity:"), "{negative:?}");
    assert_eq!(h.get("/v1/inventory/sku-1").await.body["on_hand"], 0);
}
