use schemas::catalog::{ListProducts, ListProductsRequest, Product, UpsertProduct};

use testkit::Harness;

fn product(sku: &str) -> Product {
    Product {
        sku: sku.into(),
        name: format!("Product {sku}"),
        unit_price_minor: 100,
        currency: "EUR".into(),
    }
}

async fn list(h: &Harness, after: Option<String>, limit: u32) -> schemas::paging::Page<Product> {
    h.bus
        .call::<ListProducts>(&ListProductsRequest { after, limit })
        .await
        .expect("a page")
}

fn skus(page: &schemas::paging::Page<Product>) -> Vec<&str> {
    page.items.iter().map(|p| p.sku.as_str()).collect()
}

#[tokio::test]
async fn products_are_listed_by_sku_in_pages_and_the_last_page_says_so() {
    let h = Harness::new(&[]).await;
    let catalog = h.start(catalog::component()).await;
    assert_eq!(
        list(&h, None, 0).await,
        schemas::paging::Page {
            items: vec![],
            next: None
        }
    );
    for sku in ["d", "b", "e", "a", "c"] {
        h.bus.call::<UpsertProduct>(&product(sku)).await.expect("upserted");
    }

    let first = list(&h, None, 2).await;
    assert_eq!(skus(&first), ["a", "b"]);
    let second = list(&h, first.next.clone(), 2).await;
    assert_eq!(skus(&second), ["c", "d"]);
    let last = list(&h, second.next.clone(), 2).await;
    assert_eq!(skus(&last), ["e"]);
    assert_eq!(last.next, None, "the last page has no next");

    let exact = list(&h, None, 5).await;
    assert_eq!(skus(&exact), ["a", "b", "c", "d", "e"]);
    assert_eq!(exact.next, None, "a page that ends the list exactly has no next either");
    let default = list(&h, None, 0).await;
    assert_eq!(default.items.len(), 5, "limit 0 means the default page size");
    assert_eq!(
        list(&h, None, 1000).await.items.len(),
        5,
        "a large limit is capped, not refused"
    );

    let err = h
        .bus
        .call::<ListProducts>(&ListProductsRequest {
            after: Some("elsewhere/x".into()),
            limit: 2,
        })
        .await
        .expect_err("a foreign cursor is refused");
    assert_eq!(err.service_error().map(|e| e.code), Some(400));
    catalog.shutdown().await.expect("clean shutdown");
}
