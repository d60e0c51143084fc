use schemas::inventory::{GetStock, GetStockRequest, Restock, RestockRequest, Restocked, StockView};

use crate::fixtures::{restock, start, stock};

#[tokio::test]
async fn a_restock_key_restocks_once_and_is_announced_once() {
    let (h, inventory) = start().await;
    let mut published = h.watch("evt.inventory.>").await;

    let first = restock(&h, "k1", "tea", 5).await;
    assert_eq!((first.on_hand, first.restocked), (5, 5));
    let (_, event) = published.next::<Restocked>().await;
    assert_eq!(
        event,
        Restocked {
            sku: "tea".into(),
            quantity: 5,
            on_hand: 5,
            restock_id: "k1".into(),
        }
    );

    let retried = restock(&h, "k1", "tea", 5).await;
    assert_eq!(retried, first, "a retry answers the current stock");
    published.assert_silent().await;

    let second = restock(&h, "k2", "tea", 3).await;
    assert_eq!((second.on_hand, second.restocked), (8, 8));
    assert_eq!(published.next::<Restocked>().await.1.on_hand, 8);
    // Inventory consumes its own restocked events; the command's write is not applied twice.
    h.wait_applied("inventory", 2).await;
    assert_eq!(stock(&h, "tea").await.on_hand, 8);

    let reused = h
        .bus
        .call::<Restock>(&RestockRequest {
            sku: "tea".into(),
            quantity: 6,
            idempotency_key: "k1".into(),
        })
        .await
        .expect_err("a key reused for another restock");
    assert_eq!(reused.service_error().map(|e| e.code), Some(409));
    published.assert_silent().await;
    inventory.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn bad_restocks_are_refused_and_unknown_skus_have_nothing() {
    let (h, inventory) = start().await;
    let good = RestockRequest {
        sku: "tea".into(),
        quantity: 1,
        idempotency_key: "k".into(),
    };
    let bad = [
        (
            RestockRequest {
                sku: String::new(),
                ..good.clone()
            },
            "sku",
        ),
        (
            RestockRequest {
                quantity: 0,
                ..good.clone()
            },
            "quantity",
        ),
        (
            RestockRequest {
                idempotency_key: String::new(),
                ..good.clone()
            },
            "idempotency_key",
        ),
    ];
    for (request, field) in bad {
        let err = h.bus.call::<Restock>(&request).await.expect_err("refused");
        let error = err.service_error().expect("a typed error");
        assert_eq!(error.code, 400);
        assert!(error.message.contains(field), "{:?} names {field}", error.message);
    }
    assert_eq!(
        stock(&h, "never-seen").await,
        StockView {
            sku: "never-seen".into(),
            ..StockView::default()
        }
    );
    let err = h
        .bus
        .call::<GetStock>(&GetStockRequest { sku: String::new() })
        .await
        .expect_err("refused");
    assert_eq!(err.service_error().map(|e| e.code), Some(400));
    inventory.shutdown().await.expect("clean shutdown");
}
