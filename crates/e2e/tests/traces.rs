//! One order is one trace (docs/operate.md, "Traces"): the storefront exports to a real OTLP
//! receiver (`e2e::traced`, the official protobuf definitions), one order is placed through
//! the gateway, and its trace is checked as a tree — the gateway's HTTP span its one root,
//! every other span's parent in it, spans from the gateway, orders, inventory, payments and
//! shipping with the consume, handler, commit and publish steps. The processes are stopped
//! with SIGTERM before the check: what they had not exported yet is flushed at a clean stop.

use std::time::Duration;

use e2e::Stack;
use e2e::plan::OrderPlan;
use e2e::shop::Shop;
use e2e::traced::{Receiver, Trace};
use schemas::orders::OrderStatus;

/// OTLP span kinds.
const SERVER: i32 = 2;
const PRODUCER: i32 = 4;
const CONSUMER: i32 = 5;

/// The services an order goes through (loyalty, on the Python kit, does not export).
const SERVICES: [&str; 5] = ["gateway", "orders", "inventory", "payments", "shipping"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_order_is_one_trace_from_the_gateway_through_every_component() {
    let receiver = Receiver::start().await;
    let stack = Stack::storefront_traced(&receiver.endpoint).await;
    let base = stack.start_gateway().await;
    let shop = Shop::new(&base);
    shop.put_product("mug", 1250).await.expect("product");
    shop.restock("restock-1", "mug", 10).await.expect("restock");
    let plan = OrderPlan {
        key: "traced-order".into(),
        customer: "alice".into(),
        lines: vec![("mug", 1)],
        token: "tok",
        cancel_after: None,
    };
    let id = shop.place(&plan).await.expect("placed").order_id;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while shop.order(&id).await.expect("order").status != OrderStatus::Completed {
        assert!(tokio::time::Instant::now() < deadline, "order {id} did not complete");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A clean stop of every process: each flushes what it has not exported yet.
    for name in stack.running() {
        let clean = tokio::task::block_in_place(|| stack.terminate(&name));
        assert!(clean, "{name} did not stop cleanly:\n{}", stack.log_tail(&name));
    }

    assert_eq!(receiver.refused(), Vec::<String>::new(), "every export decodes");
    let spans = receiver.spans();
    // The order's trace: the one in which orders published `placed`.
    let placed: std::collections::BTreeSet<String> = spans
        .iter()
        .filter(|s| s.service == "orders" && s.name.starts_with("publish evt.orders.placed"))
        .map(|s| s.trace_id.clone())
        .collect();
    assert_eq!(placed.len(), 1, "one trace publishes the order: {placed:?}");
    let trace = receiver.trace(placed.first().expect("one"));
    let drawn = trace.draw();
    println!("the order's trace:\n{drawn}");

    let roots = trace.roots();
    assert_eq!(roots.len(), 1, "one root:\n{drawn}");
    let root = roots[0];
    assert_eq!(
        (root.service.as_str(), root.name.as_str(), root.kind),
        ("gateway", "POST /v1/orders", SERVER),
        "the gateway's HTTP span is the root:\n{drawn}"
    );
    assert_eq!(
        root.attributes.get("http.route").map(String::as_str),
        Some("/v1/orders")
    );
    assert_eq!(
        root.attributes.get("http.response.status_code").map(String::as_str),
        Some("201"),
        "{:?}",
        root.attributes
    );
    assert!(
        trace.orphans().is_empty(),
        "every span's parent is in the trace:\n{drawn}"
    );
    for service in SERVICES {
        assert!(
            trace.services().contains(service),
            "{service} has spans in the trace:\n{drawn}"
        );
    }
    assert!(trace.has("orders", "orders.place.v1"), "the service span:\n{drawn}");
    for service in ["orders", "inventory", "payments", "shipping"] {
        for step in ["handler", "commit", "publish"] {
            assert!(trace.has(service, step), "{service} has a {step} span:\n{drawn}");
        }
    }
    for service in ["orders", "inventory", "payments", "shipping"] {
        assert!(trace.has(service, "consume"), "{service} has a consume span:\n{drawn}");
    }
    check_kinds_and_attributes(&trace, &drawn);

    // Every trace the run made — product, restock, refused attempts — is whole too.
    for trace_id in spans
        .iter()
        .map(|s| &s.trace_id)
        .collect::<std::collections::BTreeSet<_>>()
    {
        let trace = receiver.trace(trace_id);
        let drawn = trace.draw();
        assert!(
            trace.orphans().is_empty(),
            "every span's parent is in its trace:\n{drawn}"
        );
        let roots = trace.roots();
        assert!(
            roots.len() == 1 && roots[0].service == "gateway",
            "each trace has the gateway's span as its one root:\n{drawn}"
        );
    }
}

/// Span kinds and the messaging semantic conventions' attributes.
fn check_kinds_and_attributes(trace: &Trace, drawn: &str) {
    for span in &trace.spans {
        let expected = if span.name.starts_with("consume ") {
            Some((CONSUMER, "process"))
        } else if span.name.starts_with("publish ") {
            Some((PRODUCER, "send"))
        } else {
            None
        };
        let Some((kind, operation)) = expected else { continue };
        assert_eq!(span.kind, kind, "{} [{}]:\n{drawn}", span.name, span.service);
        let attribute = |name: &str| span.attributes.get(name).map(String::as_str);
        assert_eq!(attribute("messaging.system"), Some("nats"), "{span:?}");
        assert_eq!(attribute("messaging.operation.type"), Some(operation), "{span:?}");
        let destination = attribute("messaging.destination.name").unwrap_or_default();
        assert!(
            span.name.ends_with(destination) && destination.starts_with("evt."),
            "{span:?}"
        );
    }
    let partitions: std::collections::BTreeSet<_> = trace
        .spans
        .iter()
        .filter(|s| s.service == "orders")
        .map(|s| s.partition.clone())
        .collect();
    assert!(
        partitions
            .iter()
            .all(|p| p.as_deref().is_some_and(|p| p.ends_with("of3"))),
        "orders' spans say their partition: {partitions:?}"
    );
}
