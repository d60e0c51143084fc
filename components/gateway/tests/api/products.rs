use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::Harness;

#[tokio::test]
async fn products_are_upserted_read_and_listed_in_pages() {
    let mut h = Harness::new().await;
    h.start_all().await;
    for (sku, name, price) in [("sku-2", "Mug", 100), ("sku-1", "Tea", 250)] {
        let body = json!({ "name": name, "unit_price_minor": price, "currency": "EUR" });
        let put = h
            .request(Method::PUT, &format!("/v1/products/{sku}"), Some(&body), None)
            .await;
        assert_eq!(put.status, StatusCode::OK, "{put:?}");
        assert_eq!(
            put.body,
            json!({ "sku": sku, "name": name, "unit_price_minor": price, "currency": "EUR" })
        );
    }
    let one = h.get("/v1/products/sku-1").await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.body["name"], "Tea");
    assert_eq!(one.body["unit_price_minor"], 250);

    let first = h.get("/v1/products?limit=1").await;
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    assert_eq!(first.body["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(first.body["items"][0]["sku"], "sku-1");
    assert_eq!(first.body["next"], "sku-1");
    let second = h.get("/v1/products?after=sku-1&limit=1").await;
    assert_eq!(second.body["items"][0]["sku"], "sku-2");
    let all = h.get("/v1/products").await;
    assert_eq!(all.body["items"].as_array().map(Vec::len), Some(2));
    assert!(all.body.get("next").is_none(), "{all:?}");
}

#[tokio::test]
async fn the_path_sku_wins_and_a_different_body_sku_is_refused() {
    let mut h = Harness::new().await;
    h.start_all().await;
    let same = json!({ "sku": "sku-7", "name": "Pot", "unit_price_minor": 900, "currency": "EUR" });
    let put = h.request(Method::PUT, "/v1/products/sku-7", Some(&same), None).await;
    assert_eq!(put.status, StatusCode::OK, "{put:?}");

    let other = json!({ "sku": "sku-8", "name": "Pot", "unit_price_minor": 900, "currency": "EUR" });
    let refused = h.request(Method::PUT, "/v1/products/sku-7", Some(&other), None).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.code(), "sku_mismatch");
    assert_eq!(h.get("/v1/products/sku-8").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_unknown_product_is_a_404_with_the_services_message() {
    let mut h = Harness::new().await;
    h.start_all().await;
    let missing = h.get("/v1/products/nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.code(), "not_found");
    assert!(missing.message().contains("no product nope"), "{missing:?}");
}

#[tokio::test]
async fn a_product_the_catalog_refuses_is_a_400() {
    let mut h = Harness::new().await;
    h.start_all().await;
    let bad = json!({ "name": "Tea", "unit_price_minor": -1, "currency": "EUR" });
    let refused = h.request(Method::PUT, "/v1/products/sku-1", Some(&bad), None).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert_eq!(refused.code(), "bad_request");
    assert!(refused.message().contains("price"), "{refused:?}");
}
