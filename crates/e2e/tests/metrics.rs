//! The storefront scraped by a real Prometheus (Debian's package, `scripts/install-prometheus`)
//! with the configuration `mandate prometheus-config` generates: orders placed through the
//! gateway move every component's figures as Prometheus sees them, and every `/readyz` says
//! ready.

use std::collections::BTreeSet;
use std::time::Duration;

use e2e::Stack;
use e2e::observed::{Prometheus, scrape_config};
use e2e::plan::OrderPlan;
use e2e::shop::Shop;
use schemas::catalog::{GetProduct, GetProductRequest};
use schemas::inventory::{GetStock, GetStockRequest};
use schemas::loyalty::{BalanceRequest, GetBalance};
use schemas::notifications::{ListNotifications, ListNotificationsRequest};
use schemas::orders::{GetOrder, GetOrderRequest, OrderStatus};
use schemas::payments::{GetPayment, GetPaymentRequest};
use schemas::shipping::{GetShipment, GetShipmentRequest};

/// Every component the stack runs: each serves its kit's metrics — loyalty the Python kit's,
/// with the same names, scraped because its manifest declares `"metrics": true`.
const SCRAPED: [&str; 7] = [
    "catalog",
    "inventory",
    "loyalty",
    "notifications",
    "orders",
    "payments",
    "shipping",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_sees_every_components_figures_move_and_every_component_is_ready() {
    let stack = Stack::storefront_observed().await;
    let base = stack.start_gateway().await;
    let shop = Shop::new(&base);
    let addresses = stack.metrics_addresses();
    let config = scrape_config(&testkit::repo_root(), &addresses);
    for name in SCRAPED.iter().chain(&["gateway"]) {
        assert!(
            config.contains(&format!("job_name: {name}\n")),
            "{name} is scraped:\n{config}"
        );
    }
    let prometheus = Prometheus::start(&config).await;

    shop.put_product("mug", 1250).await.expect("product");
    shop.restock("restock-1", "mug", 10).await.expect("restock");
    let mut order_ids = Vec::new();
    for i in 0..3 {
        let plan = OrderPlan {
            key: format!("order-{i}"),
            customer: "alice".into(),
            lines: vec![("mug", 1)],
            token: "tok",
            cancel_after: None,
        };
        order_ids.push(shop.place(&plan).await.expect("placed").order_id);
    }
    for id in &order_ids {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while shop.order(id).await.expect("order").status != OrderStatus::Completed {
            assert!(tokio::time::Instant::now() < deadline, "order {id} did not complete");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // One call to a query of every component, so that each one's request counter moves.
    let id = order_ids[0].clone();
    let _ = stack.call::<GetProduct>(&GetProductRequest { sku: "mug".into() }).await;
    let _ = stack.call::<GetStock>(&GetStockRequest { sku: "mug".into() }).await;
    let _ = stack
        .call::<GetBalance>(&BalanceRequest {
            customer_id: "alice".into(),
        })
        .await;
    let _ = stack.call::<GetOrder>(&GetOrderRequest { order_id: id.clone() }).await;
    let _ = stack
        .call::<GetPayment>(&GetPaymentRequest { order_id: id.clone() })
        .await;
    let _ = stack
        .call::<GetShipment>(&GetShipmentRequest { order_id: id.clone() })
        .await;
    let _ = stack
        .call::<ListNotifications>(&ListNotificationsRequest {
            customer_id: "alice".into(),
            after: None,
            limit: 10,
        })
        .await;

    let everyone: BTreeSet<&str> = SCRAPED.into_iter().collect();
    let moved = |rows: Vec<(std::collections::BTreeMap<String, String>, f64)>| -> BTreeSet<String> {
        rows.into_iter()
            .filter(|(_, v)| *v > 0.0)
            .filter_map(|(l, _)| l.get("component").cloned())
            .collect()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let applied = moved(
            prometheus
                .query("sum by (component) (mandate_consumer_applied_events_total)")
                .await,
        );
        let requests = moved(
            prometheus
                .query("sum by (component) (mandate_service_requests_total)")
                .await,
        );
        let http = moved(
            prometheus
                .query("sum by (component) (mandate_http_requests_total)")
                .await,
        );
        let up = moved(
            prometheus
                .query("up")
                .await
                .into_iter()
                .map(|(mut l, v)| {
                    let job = l.remove("job").unwrap_or_default();
                    (std::collections::BTreeMap::from([("component".to_owned(), job)]), v)
                })
                .collect(),
        );
        // Catalog reads no stream but its own, and applies its own events as it emits them
        // (the kit's `own.rs`): no consumer of its applies anything outside a rebuild.
        let consuming = |c: &str| c == "catalog" || applied.contains(c);
        let done = everyone
            .iter()
            .all(|c| consuming(c) && requests.contains(*c) && up.contains(*c))
            && http.contains("gateway")
            && up.contains("gateway");
        if done {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "figures did not move in Prometheus within 60 s: applied {applied:?}, requests {requests:?}, http {http:?}, up {up:?}\n{}",
            prometheus.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let rss = prometheus.query("process_resident_memory_bytes").await;
    assert!(
        rss.len() > SCRAPED.len(),
        "the RSS of every scraped component and the gateway: {rss:?}"
    );

    let http = reqwest::Client::new();
    for (name, addr) in &addresses {
        if !everyone.contains(name.as_str()) && name != "gateway" {
            continue;
        }
        let ready = http
            .get(format!("http://{addr}/readyz"))
            .send()
            .await
            .expect("readyz answers");
        let status = ready.status();
        assert_eq!(status, 200, "{name}: {}", ready.text().await.unwrap_or_default());
    }
}
