use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::Harness;

fn cart(customer: &str, lines: Value) -> Value {
    json!({ "customer_id": customer, "lines": lines, "payment_token": "tok" })
}

#[tokio::test]
async fn an_order_is_placed_once_read_and_listed() {
    let mut h = Harness::new().await;
    h.start_all().await;
    let body = cart(
        "alice",
        json!([{ "sku": "sku-1", "quantity": 2 }, { "sku": "sku-2", "quantity": 1 }]),
    );
    let placed = h
        .request(Method::POST, "/v1/orders", Some(&body), Some("place-1"))
        .await;
    assert_eq!(placed.status, StatusCode::CREATED, "{placed:?}");
    let order_id = placed.body["order_id"].as_str().expect("an order id").to_owned();
    assert_eq!(placed.body["status"], "placed");
    assert_eq!(placed.body["total_minor"], 600);
    assert_eq!(
        placed.body["lines"][0],
        json!({ "sku": "sku-1", "quantity": 2, "unit_price_minor": 250 })
    );
    assert_eq!(
        placed.headers.get("location").and_then(|v| v.to_str().ok()),
        Some(format!("/v1/orders/{order_id}").as_str())
    );

    let again = h
        .request(Method::POST, "/v1/orders", Some(&body), Some("place-1"))
        .await;
    assert_eq!(
        again.body["order_id"],
        order_id.as_str(),
        "the same key placed a second order"
    );

    let read = h.get(&format!("/v1/orders/{order_id}")).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body, placed.body);

    let second = h
        .request(
            Method::POST,
            "/v1/orders",
            Some(&cart("alice", json!([{ "sku": "sku-2", "quantity": 1 }]))),
            Some("place-2"),
        )
        .await;
    let second_id = second.body["order_id"].as_str().expect("an order id").to_owned();
    h.request(
        Method::POST,
        "/v1/orders",
        Some(&cart("bob", json!([{ "sku": "sku-2", "quantity": 1 }]))),
        Some("place-3"),
    )
    .await;

    let page = h.get("/v1/customers/alice/orders?limit=1").await;
    assert_eq!(page.status, StatusCode::OK, "{page:?}");
    assert_eq!(page.body["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(page.body["items"][0]["order_id"], order_id.as_str());
    let next = page.body["next"].as_str().expect("a next cursor");
    let rest = h.get(&format!("/v1/customers/alice/orders?after={next}")).await;
    let ids: Vec<&str> = rest.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|o| o["order_id"].as_str())
        .collect();
    assert_eq!(ids, [second_id.as_str()]);
}

#[tokio::test]
async fn an_order_is_cancelled_once_then_conflicts() {
    let mut h = Harness::new().await;
    h.start_all().await;
    let placed = h
        .request(
            Method::POST,
            "/v1/orders",
            Some(&cart("alice", json!([{ "sku": "sku-1", "quantity": 1 }]))),
            Some("k-1"),
        )
        .await;
    let id = placed.body["order_id"].as_str().expect("an order id").to_owned();
    let cancelled = h
        .request(
            Method::POST,
            &format!("/v1/orders/{id}/cancel"),
            Some(&json!({ "reason": "changed my mind" })),
            None,
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{cancelled:?}");
    assert_eq!(cancelled.body["status"], "cancelled");
    assert_eq!(cancelled.body["history"][1]["note"], "changed my mind");

    // The body is optional; cancelling an ended order is a conflict.
    let again = h
        .request(Method::POST, &format!("/v1/orders/{id}/cancel"), None, None)
        .await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "conflict"));

    // Without a body, on an order that can still be cancelled.
    let other = h
        .request(
            Method::POST,
            "/v1/orders",
            Some(&cart("alice", json!([{ "sku": "sku-1", "quantity": 1 }]))),
            Some("k-2"),
        )
        .await;
    let other_id = other.body["order_id"].as_str().expect("an order id");
    let bare = h
        .request(Method::POST, &format!("/v1/orders/{other_id}/cancel"), None, None)
        .await;
    assert_eq!(
        (bare.status, &bare.body["status"]),
        (StatusCode::OK, &json!("cancelled")),
        "{bare:?}"
    );
}

#[tokio::test]
async fn unknown_orders_are_404_and_refused_carts_are_400() {
    let mut h = Harness::new().await;
    h.start_all().await;
    for path in ["/v1/orders/nope"] {
        let missing = h.get(path).await;
        assert_eq!((missing.status, missing.code()), (StatusCode::NOT_FOUND, "not_found"));
    }
    let missing = h.request(Method::POST, "/v1/orders/nope/cancel", None, None).await;
    assert_eq!((missing.status, missing.code()), (StatusCode::NOT_FOUND, "not_found"));

    let unknown_sku = h
        .request(
            Method::POST,
            "/v1/orders",
            Some(&cart("alice", json!([{ "sku": "sku-404", "quantity": 1 }]))),
            Some("k-1"),
        )
        .await;
    assert_eq!(
        (unknown_sku.status, unknown_sku.code()),
        (StatusCode::BAD_REQUEST, "bad_request")
    );
    assert!(unknown_sku.message().contains("unknown sku sku-404"), "{unknown_sku:?}");

    let zero = h
        .request(
            Method::POST,
            "/v1/orders",
            Some(&cart("alice", json!([{ "sku": "sku-1", "quantity": 0 }]))),
            Some("k-2"),
        )
        .await;
    assert_eq!((zero.status, zero.code()), (StatusCode::BAD_REQUEST, "bad_request"));

    let negative = h
        .request(
            Method::POST,
            "/v1/orders",
            Some(&cart("alice", json!([{ "sku": "sku-1", "quantity": -1 }]))),
            Some("k-3"),
        )
        .await;
    assert_eq!(
        (negative.status, negative.code()),
        (StatusCode::BAD_REQUEST, "invalid_body")
    );
    assert!(negative.message().starts_with("lines[0].quantity:"), "{negative:?}");

    let bad_customer = h
        .request(
            Method::POST,
            "/v1/orders",
            Some(&cart("al ice", json!([{ "sku": "sku-1", "quantity": 1 }]))),
            Some("k-4"),
        )
        .await;
    assert_eq!(
        (bad_customer.status, bad_customer.code()),
        (StatusCode::BAD_REQUEST, "invalid_id")
    );

    let no_key = h
        .request(
            Method::POST,
            "/v1/orders",
            Some(&cart("alice", json!([{ "sku": "sku-1", "quantity": 1 }]))),
            None,
        )
        .await;
    assert_eq!(
        (no_key.status, no_key.code()),
        (StatusCode::BAD_REQUEST, "missing_idempotency_key")
    );
    // Nothing of the refused requests was placed.
    let listed = h.get("/v1/customers/alice/orders").await;
    assert_eq!(listed.body["items"], json!([]));
}
