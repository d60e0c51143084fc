use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use gateway::Settings;
use mandate::{Component, Operation, ServiceError};
use reqwest::{Method, StatusCode};
use schemas::catalog::{GetProduct, UpsertProduct};
use schemas::orders::GetOrder;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{Harness, assert_error_shape, round_trip};

/// A plain NATS responder for `catalog.upsert-product.v1` that echoes the product (request and
/// response are both `Product`) and counts what reaches it.
async fn counting_catalog(h: &Harness) -> Arc<AtomicUsize> {
    let client = h.bus.client().clone();
    let mut requests = client.subscribe(UpsertProduct::subject()).await.expect("subscribes");
    round_trip(&client).await;
    let count = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    tokio::spawn(async move {
        while let Some(request) = requests.next().await {
            seen.fetch_add(1, Ordering::SeqCst);
            if let Some(reply) = request.reply {
                let _ = client.publish(reply, request.payload).await;
            }
        }
    });
    count
}

#[tokio::test]
async fn malformed_json_missing_fields_and_wrong_types_are_400_and_never_reach_the_bus() {
    let h = Harness::new().await;
    let reached = counting_catalog(&h).await;
    let put = |body: &'static str, content_type: Option<&'static str>| {
        h.raw(
            Method::PUT,
            "/v1/products/sku-1",
            content_type,
            body.as_bytes().to_vec(),
            None,
        )
    };
    let json = Some("application/json");

    let malformed = put(r#"{"name": "Tea", "#, json).await;
    assert_eq!(
        (malformed.status, malformed.code()),
        (StatusCode::BAD_REQUEST, "invalid_json")
    );

    let missing = put(r#"{"name": "Tea", "currency": "EUR"}"#, json).await;
    assert_eq!(
        (missing.status, missing.code()),
        (StatusCode::BAD_REQUEST, "invalid_body")
    );
    assert!(
        missing.message().contains("missing field `unit_price_minor`"),
        "{missing:?}"
    );

    let wrong_type = put(r#"{"name": "Tea", "unit_price_minor": "ten", "currency": "EUR"}"#, json).await;
    assert_eq!(
        (wrong_type.status, wrong_type.code()),
        (StatusCode::BAD_REQUEST, "invalid_body")
    );
    assert!(wrong_type.message().starts_with("unit_price_minor:"), "{wrong_type:?}");

    let not_an_object = put("[1, 2]", json).await;
    assert_eq!(
        (not_an_object.status, not_an_object.code()),
        (StatusCode::BAD_REQUEST, "invalid_body")
    );

    let trailing = put(r#"{"name": "Tea", "unit_price_minor": 1, "currency": "EUR"} {}"#, json).await;
    assert_eq!(
        (trailing.status, trailing.code()),
        (StatusCode::BAD_REQUEST, "invalid_json")
    );

    let empty = put("", json).await;
    assert_eq!((empty.status, empty.code()), (StatusCode::BAD_REQUEST, "invalid_json"));

    let text = put(
        r#"{"name": "Tea", "unit_price_minor": 1, "currency": "EUR"}"#,
        Some("text/plain"),
    )
    .await;
    assert_eq!(
        (text.status, text.code()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    );
    let untyped = put(r#"{"name": "Tea", "unit_price_minor": 1, "currency": "EUR"}"#, None).await;
    assert_eq!(untyped.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let bad_query = h.get("/v1/products?limit=lots").await;
    assert_eq!(
        (bad_query.status, bad_query.code()),
        (StatusCode::BAD_REQUEST, "invalid_query")
    );
    let negative_limit = h.get("/v1/customers/alice/orders?limit=-1").await;
    assert_eq!(
        (negative_limit.status, negative_limit.code()),
        (StatusCode::BAD_REQUEST, "invalid_query")
    );

    assert_eq!(reached.load(Ordering::SeqCst), 0, "a refused request reached the bus");
    let fine = put(r#"{"name": "Tea", "unit_price_minor": 1, "currency": "EUR"}"#, json).await;
    assert_eq!(fine.status, StatusCode::OK, "{fine:?}");
    assert_eq!(fine.body["sku"], "sku-1");
    assert_eq!(reached.load(Ordering::SeqCst), 1);
}

/// A product whose JSON body is about `size` bytes.
fn product_of_size(size: usize) -> Vec<u8> {
    format!(
        r#"{{"name": "{}", "unit_price_minor": 1, "currency": "EUR"}}"#,
        "x".repeat(size)
    )
    .into_bytes()
}

/// Sends `body` with `Transfer-Encoding: chunked` (no `Content-Length`) over a raw connection
/// and returns the status code and the body of the answer.
async fn put_chunked(base: &str, path: &str, body: &[u8]) -> (u16, serde_json::Value) {
    let address = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.expect("connects");
    let head = format!(
        "PUT {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    let mut request = head.into_bytes();
    for chunk in body.chunks(4096) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    // The server may answer (and stop reading) before the whole body is sent.
    let _ = stream.write_all(&request).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {answer:?}"));
    let (headers, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let body = if headers.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        // One chunk is enough for an error body.
        body.split("\r\n").nth(1).unwrap_or_default().to_owned()
    } else {
        body.to_owned()
    };
    (status, serde_json::from_str(&body).unwrap_or(serde_json::Value::Null))
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_before_anything_reaches_the_bus() {
    let h = Harness::new().await;
    let reached = counting_catalog(&h).await;
    // Declared too large by Content-Length: refused without reading it.
    let huge = h
        .raw(
            Method::PUT,
            "/v1/products/sku-1",
            Some("application/json"),
            product_of_size(1 << 20),
            None,
        )
        .await;
    assert_eq!(
        (huge.status, huge.code()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    assert!(huge.message().contains("65536"), "{huge:?}");
    // Streamed without a length: refused once the limit is crossed.
    let (status, body) = put_chunked(&h.url(""), "/v1/products/sku-1", &product_of_size(80 * 1024)).await;
    assert_eq!((status, &body["code"]), (413, &json!("payload_too_large")), "{body}");
    assert_eq!(
        reached.load(Ordering::SeqCst),
        0,
        "an oversized request reached the bus"
    );
    // Just under the default limit is fine.
    let fits = h
        .raw(
            Method::PUT,
            "/v1/products/sku-1",
            Some("application/json"),
            product_of_size(60 * 1024),
            None,
        )
        .await;
    assert_eq!(fits.status, StatusCode::OK);
    assert_eq!(reached.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_body_limit_is_configurable() {
    let h = Harness::with_settings(Settings {
        body_limit: 100,
        ..Settings::default()
    })
    .await;
    let reached = counting_catalog(&h).await;
    let small = h
        .raw(
            Method::PUT,
            "/v1/products/sku-1",
            Some("application/json"),
            product_of_size(10),
            None,
        )
        .await;
    assert_eq!(small.status, StatusCode::OK, "{small:?}");
    let over = h
        .raw(
            Method::PUT,
            "/v1/products/sku-1",
            Some("application/json"),
            product_of_size(200),
            None,
        )
        .await;
    assert_eq!(
        (over.status, over.code()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    let (status, _) = put_chunked(&h.url(""), "/v1/products/sku-1", &product_of_size(200)).await;
    assert_eq!(status, 413);
    assert_eq!(reached.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn bad_ids_in_the_path_are_400() {
    // No component runs: a request that got past validation would be a 503, not a 400.
    let h = Harness::new().await;
    let long = "x".repeat(129);
    for (method, path) in [
        (Method::GET, "/v1/products/bad%20sku".to_owned()),
        (Method::GET, format!("/v1/orders/{long}")),
        (Method::GET, format!("/v1/products/{}", "x".repeat(65))),
        (Method::PUT, "/v1/products/a:b".to_owned()),
        (Method::GET, "/v1/inventory/%C3%A9".to_owned()),
        (Method::POST, "/v1/inventory/a%2Fb/restock".to_owned()),
        (Method::GET, "/v1/orders/a*b".to_owned()),
        (Method::POST, "/v1/orders/a%3Eb/cancel".to_owned()),
        (Method::GET, "/v1/orders/x%00y/events".to_owned()),
        (Method::GET, "/v1/customers/al%20ice/orders".to_owned()),
    ] {
        let answer = h.request(method.clone(), &path, None, Some("key")).await;
        assert_eq!(
            (answer.status, answer.code()),
            (StatusCode::BAD_REQUEST, "invalid_id"),
            "{method} {path}: {answer:?}"
        );
    }
    // An empty segment matches no route at all.
    let empty = h.get("/v1/products/").await;
    assert_eq!((empty.status, empty.code()), (StatusCode::NOT_FOUND, "not_found"));
}

#[tokio::test]
async fn unknown_routes_and_methods_get_json_errors() {
    let h = Harness::new().await;
    let unknown = h.get("/v2/nothing").await;
    assert_eq!((unknown.status, unknown.code()), (StatusCode::NOT_FOUND, "not_found"));
    assert!(unknown.message().contains("/v2/nothing"), "{unknown:?}");

    let wrong_method = h.request(Method::DELETE, "/v1/products/sku-1", None, None).await;
    assert_eq!(
        (wrong_method.status, wrong_method.code()),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
    let allow = wrong_method
        .headers
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(allow.contains("GET") && allow.contains("PUT"), "allow: {allow:?}");
    let get_orders = h.get("/v1/orders").await;
    assert_eq!(get_orders.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_error_shape(&get_orders);
}

#[tokio::test]
async fn a_service_that_is_not_running_is_503_naming_its_component() {
    let h = Harness::new().await;
    for (method, path, component) in [
        (Method::GET, "/v1/inventory/sku-1", "inventory"),
        (Method::GET, "/v1/products", "catalog"),
        (Method::POST, "/v1/orders/o-1/cancel", "orders"),
    ] {
        let answer = h.request(method, path, None, None).await;
        assert_eq!(
            (answer.status, answer.code()),
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            "{path}"
        );
        assert!(
            answer
                .message()
                .contains(&format!("the {component} component is not answering")),
            "{path}: {answer:?}"
        );
        assert!(answer.headers.contains_key("retry-after"), "{answer:?}");
    }
}

#[tokio::test]
async fn a_service_that_does_not_answer_is_504() {
    let h = Harness::with_settings(Settings {
        call_timeout: Duration::from_millis(300),
        ..Settings::default()
    })
    .await;
    // Something listens on the subject but never answers.
    let mut silent = h.bus.client().subscribe(GetOrder::subject()).await.expect("subscribes");
    round_trip(h.bus.client()).await;
    let listener = tokio::spawn(async move { while silent.next().await.is_some() {} });
    let started = Instant::now();
    let answer = h.get("/v1/orders/o-1").await;
    assert_eq!(
        (answer.status, answer.code()),
        (StatusCode::GATEWAY_TIMEOUT, "timeout"),
        "{answer:?}"
    );
    assert!(
        answer.message().contains("the orders component did not answer"),
        "{answer:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    listener.abort();
}

#[tokio::test]
async fn a_service_fault_is_a_502_without_its_details() {
    let mut h = Harness::new().await;
    h.start(
        Component::new("catalog")
            .query::<GetProduct>(|_view, _request| Err(ServiceError::internal("disk /var/secret is full"))),
    )
    .await;
    let answer = h.get("/v1/products/sku-1").await;
    assert_eq!(
        (answer.status, answer.code()),
        (StatusCode::BAD_GATEWAY, "upstream_error")
    );
    assert!(answer.message().contains("catalog"), "{answer:?}");
    assert!(!answer.message().contains("secret"), "{answer:?}");
}

/// Uploads like most HTTP client libraries do: the request head declaring `declared` bytes
/// (chunked when `None`), then the whole body of `send` bytes, and only then reads the answer.
/// Returns the answer's status code, or what went wrong: a reset while still sending means
/// the server answered and closed without reading the upload, so this client never sees it.
async fn upload_then_read(base: &str, declared: Option<usize>, send: usize) -> Result<u16, String> {
    let address = base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.expect("connects");
    let length = match declared {
        Some(n) => format!("Content-Length: {n}\r\n"),
        None => "Transfer-Encoding: chunked\r\n".to_owned(),
    };
    let head =
        format!("PUT /v1/products/sku-1 HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n{length}\r\n");
    let sending = async {
        stream.write_all(head.as_bytes()).await?;
        let piece = vec![b'x'; 64 * 1024];
        let mut sent = 0;
        while sent < send {
            let n = piece.len().min(send - sent);
            if declared.is_none() {
                stream.write_all(format!("{n:x}\r\n").as_bytes()).await?;
            }
            stream.write_all(&piece[..n]).await?;
            if declared.is_none() {
                stream.write_all(b"\r\n").await?;
            }
            sent += n;
        }
        if declared.is_none() {
            stream.write_all(b"0\r\n\r\n").await?;
        }
        std::io::Result::Ok(())
    };
    tokio::time::timeout(Duration::from_secs(20), sending)
        .await
        .map_err(|_| "still sending after 20 s".to_owned())?
        .map_err(|e| format!("while sending: {e}"))?;
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    answer.extend_from_slice(&buffer[..n]);
                    if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                        return Ok(());
                    }
                }
                Err(err) => return Err(format!("while reading: {err}")),
            }
        }
    })
    .await
    .map_err(|_| "no answer within 20 s".to_owned())?;
    let text = String::from_utf8_lossy(&answer).into_owned();
    match (read, text.split_whitespace().nth(1).and_then(|s| s.parse().ok())) {
        (_, Some(status)) => Ok(status),
        (Err(err), None) => Err(err),
        (Ok(()), None) => Err(format!("the connection closed without an answer: {text:?}")),
    }
}

#[tokio::test]
async fn a_client_that_uploads_before_reading_receives_the_413() {
    let h = Harness::new().await;
    let base = h.url("");
    // Declared too large (8 MiB, and 100 KiB), and streamed without a length: in each case
    // the client is still sending when the gateway has decided.
    let cases = [(Some(8 << 20), 8 << 20), (Some(100 << 10), 100 << 10), (None, 2 << 20)];
    let mut uploads = Vec::new();
    for round in 0..4 {
        for (declared, send) in cases {
            let base = base.clone();
            uploads.push(tokio::spawn(async move {
                (round, declared, upload_then_read(&base, declared, send).await)
            }));
        }
    }
    let mut failures = Vec::new();
    for upload in uploads {
        let (round, declared, outcome) = upload.await.expect("upload task");
        if outcome != Ok(413) {
            failures.push(format!("round {round}, declared {declared:?}: {outcome:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "clients that did not see the 413:\n{}",
        failures.join("\n")
    );
}
