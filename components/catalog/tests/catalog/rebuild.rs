use schemas::catalog::{ListProducts, ListProductsRequest, Product, ProductUpserted, UpsertProduct};

use crate::products::tea;
use testkit::Harness;

async fn everything(h: &Harness) -> Vec<Product> {
    h.bus
        .call::<ListProducts>(&ListProductsRequest {
            after: None,
            limit: 100,
        })
        .await
        .expect("a page")
        .items
}

#[tokio::test]
async fn a_rebuild_reproduces_the_catalog_and_publishes_nothing_again() {
    let h = Harness::new(&[]).await;
    let catalog = h.start(catalog::component()).await;
    for price in [100, 200, 300] {
        h.bus.call::<UpsertProduct>(&tea(price)).await.expect("upserted");
    }
    h.bus
        .call::<UpsertProduct>(&Product {
            sku: "coffee".into(),
            name: "Coffee".into(),
            unit_price_minor: 900,
            currency: "USD".into(),
        })
        .await
        .expect("upserted");
    h.wait_applied("catalog", 4).await;
    let before = everything(&h).await;
    assert_eq!(before.len(), 2);

    let mut published = h.watch("evt.catalog.>").await;
    h.rebuild("catalog").await;
    assert_eq!(everything(&h).await, before, "the same products after the rebuild");
    published.assert_silent().await;
    assert_eq!(h.stream_messages("EVT_CATALOG").await, 4);

    // The revision was rebuilt too: the next change continues from 3.
    h.bus.call::<UpsertProduct>(&tea(350)).await.expect("upserted");
    assert_eq!(published.next::<ProductUpserted>().await.1.revision, 4);
    catalog.shutdown().await.expect("clean shutdown");
}
