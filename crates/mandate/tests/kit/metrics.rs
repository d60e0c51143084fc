//! The metrics listener against a real component: `/metrics` in the Prometheus text format
//! with figures that move with the work done, `/livez`, `/readyz` saying why not ready, the
//! `--healthcheck` flag, and a bad address refused before anything starts.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use mandate::{Event, Options, Running};
use schemas::orders::OrderPlaced;

use crate::common::{Harness, eventually, inventory, orders, place_request, placed, wait_applied};

/// GET `path` on `addr`: the status code and the body. Async: the listener runs on this
/// test's runtime.
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.expect("the listener accepts");
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("sent");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("an answer");
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
    (status, body)
}

/// The blocking healthcheck, off this test's runtime (which serves the listener).
async fn healthcheck(addr: SocketAddr) -> Result<(), String> {
    tokio::task::spawn_blocking(move || mandate::health::healthcheck(addr))
        .await
        .expect("the healthcheck ran")
}

/// The value of the one series whose line starts with `series` (name and labels as written).
fn value(exposition: &str, series: &str) -> Option<f64> {
    exposition
        .lines()
        .find(|line| line.starts_with(series))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn with_metrics(h: &Harness) -> Options {
    let mut options = h.options();
    options.metrics = Some("127.0.0.1:0".parse().expect("an address"));
    options
}

fn addr(running: &Running) -> SocketAddr {
    running.metrics_addr().expect("the listener is on")
}

#[tokio::test]
async fn the_figures_move_with_the_work_and_the_probes_answer() {
    let h = Harness::new(&[]).await;
    h.create_stream("orders").await;
    let running = h.start_with(inventory(), with_metrics(&h)).await;
    let addr = addr(&running);

    for (order, customer) in [("o-1", "alice"), ("o-2", "bob"), ("o-3", "poison")] {
        h.bus
            .publish(&placed(order, customer, "sku-1", 1))
            .await
            .expect("published");
    }
    h.bus
        .publish_raw(
            &OrderPlaced::subject(),
            async_nats::HeaderMap::new(),
            bytes::Bytes::from_static(b"x"),
        )
        .await
        .expect("published");
    wait_applied(&h.bus, "inventory", 4).await;
    let stock = crate::common::StockRequest { sku: "sku-1".into() };
    h.bus.call::<crate::common::GetStock>(&stock).await.expect("stock");

    let consumer = r#"{component="inventory",stream="EVT_ORDERS",consumer="inventory""#;
    let (status, text) = get(addr, "/metrics").await;
    assert_eq!(status, 200, "{text}");
    let expect = |series: &str, wanted: f64| {
        assert_eq!(value(&text, series), Some(wanted), "{series} in\n{text}");
    };
    expect(&format!("mandate_consumer_applied_events_total{consumer}}}"), 4.0);
    expect(
        &format!("mandate_consumer_dead_letters_total{consumer},reason=\"handler-failed\"}}"),
        1.0,
    );
    expect(
        &format!("mandate_consumer_dead_letters_total{consumer},reason=\"missing-header\"}}"),
        1.0,
    );
    expect(
        &format!("mandate_consumer_dead_letters_total{consumer},reason=\"undecodable\"}}"),
        0.0,
    );
    expect(&format!("mandate_consumer_pending{consumer}}}"), 0.0);
    expect(&format!("mandate_consumer_seated{consumer}}}"), 1.0);
    expect(&format!("mandate_consumer_applied_sequence{consumer}}}"), 4.0);
    expect(
        r#"mandate_service_requests_total{component="inventory",endpoint="inventory.test-stock.v1"}"#,
        1.0,
    );
    expect(r#"mandate_connected{component="inventory"}"#, 1.0);
    expect(r#"mandate_outbox_depth{component="inventory"}"#, 0.0);
    let handled = value(&text, &format!("mandate_consumer_handler_seconds_count{consumer}}}")).expect("handler count");
    assert!(
        handled >= 3.0,
        "three events reached the handler, one of them retried: {handled}"
    );
    assert!(value(&text, &format!("mandate_consumer_batches_total{consumer}}}")).expect("batches") >= 1.0);
    assert!(value(&text, r#"process_resident_memory_bytes{component="inventory"}"#).expect("rss") > 1e6);
    assert!(
        text.contains("# TYPE mandate_consumer_commit_seconds histogram"),
        "{text}"
    );
    let syncs = value(&text, r#"mandate_store_sync_seconds_count{component="inventory"}"#).expect("syncs");
    assert!(syncs >= 1.0, "the commits were synced: {syncs}");
    assert!(text.trim_end().ends_with("# EOF"), "OpenMetrics ends with # EOF");

    assert_eq!(get(addr, "/livez").await.0, 200);
    let (status, body) = get(addr, "/readyz").await;
    assert_eq!((status, body.as_str()), (200, r#"{"ready":true}"#));
    healthcheck(addr).await.expect("the healthcheck passes");
    running.shutdown().await.expect("stops");
}

#[tokio::test]
async fn errors_are_counted_by_endpoint_and_code() {
    let h = Harness::new(&["inventory"]).await;
    let running = h.start_with(orders(), with_metrics(&h)).await;
    let empty = schemas::orders::PlaceOrderRequest {
        lines: Vec::new(),
        ..place_request("k-1", "alice", "sku-1", 1)
    };
    h.bus
        .call::<schemas::orders::PlaceOrder>(&empty)
        .await
        .expect_err("an empty cart is refused");
    h.bus
        .call::<schemas::orders::PlaceOrder>(&place_request("k-2", "alice", "sku-1", 1))
        .await
        .expect("placed");
    let (_, text) = get(addr(&running), "/metrics").await;
    let endpoint = r#"component="orders",endpoint="orders.place.v1""#;
    assert_eq!(
        value(&text, &format!("mandate_service_requests_total{{{endpoint}}}")),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            &format!("mandate_service_errors_total{{{endpoint},code=\"400\"}}")
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(&text, &format!("mandate_service_request_seconds_count{{{endpoint}}}")),
        Some(2.0),
        "{text}"
    );
    running.shutdown().await.expect("stops");
}

/// An outbox whose oldest entry waits longer than `outbox_wedged_after` (here the relay is
/// parked) makes the component not ready, saying so, and the healthcheck fails.
#[tokio::test]
async fn a_wedged_outbox_makes_the_component_not_ready_and_says_why() {
    let h = Harness::new(&["inventory"]).await;
    let mut options = with_metrics(&h);
    options.fault = mandate::Fault::ParkRelay;
    options.outbox_wedged_after = Duration::from_secs(1);
    let running = h.start_with(orders(), options).await;
    let addr = addr(&running);
    eventually("ready: seated, nothing waits yet", || async {
        (get(addr, "/readyz").await.0 == 200).then_some(())
    })
    .await;
    h.bus
        .call::<schemas::orders::PlaceOrder>(&place_request("k-1", "alice", "sku-1", 1))
        .await
        .expect("placed");
    let body = eventually("not ready", || async {
        let (status, body) = get(addr, "/readyz").await;
        (status == 503).then_some(body)
    })
    .await;
    let readiness: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(readiness["ready"], false);
    let reason = readiness["not_ready"][0].as_str().expect("a reason");
    assert!(
        reason.contains("outbox wedged") && reason.contains("1 entries waiting"),
        "{reason}"
    );
    let (_, text) = get(addr, "/metrics").await;
    assert_eq!(
        value(&text, r#"mandate_outbox_depth{component="orders"}"#),
        Some(1.0),
        "{text}"
    );
    assert!(value(&text, r#"mandate_outbox_oldest_entry_age_seconds{component="orders"}"#).expect("age") >= 1.0);
    let err = healthcheck(addr).await.expect_err("not ready");
    assert!(err.contains("503") && err.contains("outbox wedged"), "{err}");
    running.kill().await;
}

/// A consumer waiting for its stream is not seated: not ready until the stream exists.
#[tokio::test]
async fn a_consumer_not_yet_seated_makes_the_component_not_ready() {
    let h = Harness::new(&[]).await;
    let running = h.start_with(inventory(), with_metrics(&h)).await;
    let addr = addr(&running);
    let (status, body) = get(addr, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("consumer inventory on EVT_ORDERS is not seated"),
        "{body}"
    );
    h.create_stream("orders").await;
    eventually("ready once seated", || async {
        (get(addr, "/readyz").await.0 == 200).then_some(())
    })
    .await;
    running.shutdown().await.expect("stops");
}

#[test]
fn a_metrics_address_that_is_not_one_is_refused_saying_what_to_write() {
    use clap::Parser;
    for bad in ["localhost", "9464", "127.0.0.1", "http://127.0.0.1:9464"] {
        let err = Options::try_parse_from(["component", "--metrics", bad]).expect_err(bad);
        let message = err.to_string();
        assert!(
            message.contains("IP:PORT") && message.contains("0.0.0.0:9464"),
            "{message}"
        );
    }
    let options = Options::try_parse_from(["component", "--metrics", "0.0.0.0:9464"]).expect("an address");
    assert_eq!(options.metrics, Some("0.0.0.0:9464".parse().expect("addr")));
}

/// The example binary's `--healthcheck`: 0 when its listener says ready, 1 when nothing
/// listens there — what a container healthcheck runs. (`cargo build --examples` first, as
/// `scripts/test` does.)
#[tokio::test]
async fn the_healthcheck_flag_exits_zero_when_ready_and_one_when_not() {
    let h = Harness::new(&[]).await;
    h.create_stream("orders").await;
    let running = h.start_with(inventory(), with_metrics(&h)).await;
    let run = |addr: String| async move {
        tokio::process::Command::new(testkit::example_bin("counter"))
            .arg("--healthcheck")
            .env("MANDATE_METRICS", addr)
            .output()
            .await
            .expect("the example runs")
    };
    eventually("ready", || async {
        (get(addr(&running), "/readyz").await.0 == 200).then_some(())
    })
    .await;
    let ok = run(addr(&running).to_string()).await;
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    running.shutdown().await.expect("stops");
    let down = run("127.0.0.1:1".to_owned()).await;
    assert_eq!(down.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&down.stderr);
    assert!(stderr.contains("http://127.0.0.1:1/readyz"), "{stderr}");
}
