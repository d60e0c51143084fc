use mandate::CallError;
use schemas::catalog::{GetProduct, GetProductRequest, Product, ProductUpserted, UpsertProduct};

use testkit::Harness;

pub fn tea(price: i64) -> Product {
    Product {
        sku: "tea-green".into(),
        name: "Green tea".into(),
        unit_price_minor: price,
        currency: "EUR".into(),
    }
}

pub async fn get(h: &Harness, sku: &str) -> Result<Product, CallError> {
    h.bus.call::<GetProduct>(&GetProductRequest { sku: sku.into() }).await
}

fn code(result: Result<impl std::fmt::Debug, CallError>) -> (u16, String) {
    let err = result.expect_err("refused");
    let error = err
        .service_error()
        .unwrap_or_else(|| panic!("a typed error, not {err}"));
    (error.code, error.message.clone())
}

#[tokio::test]
async fn an_upserted_product_is_served_and_announced_with_its_next_revision() {
    let h = Harness::new(&[]).await;
    let catalog = h.start(catalog::component()).await;
    let mut published = h.watch("evt.catalog.>").await;

    let created = h.bus.call::<UpsertProduct>(&tea(450)).await.expect("created");
    assert_eq!(created, tea(450));
    assert_eq!(get(&h, "tea-green").await.expect("found"), tea(450), "readable at once");
    let (meta, first) = published.next::<ProductUpserted>().await;
    assert_eq!(meta.source, "catalog");
    assert_eq!(
        first,
        ProductUpserted {
            sku: "tea-green".into(),
            name: "Green tea".into(),
            unit_price_minor: 450,
            currency: "EUR".into(),
            revision: 1,
        }
    );

    let repriced = h.bus.call::<UpsertProduct>(&tea(500)).await.expect("changed");
    assert_eq!(repriced.unit_price_minor, 500);
    assert_eq!(get(&h, "tea-green").await.expect("found"), tea(500));
    let (_, second) = published.next::<ProductUpserted>().await;
    assert_eq!((second.revision, second.unit_price_minor), (2, 500));

    // The same product again is a retry, not a change: nothing new to announce.
    let again = h.bus.call::<UpsertProduct>(&tea(500)).await.expect("accepted");
    assert_eq!(again, tea(500));
    published.assert_silent().await;
    assert_eq!(h.stream_messages("EVT_CATALOG").await, 2);
    catalog.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn invalid_products_are_refused_with_a_reason_and_announce_nothing() {
    let h = Harness::new(&[]).await;
    let catalog = h.start(catalog::component()).await;
    let mut published = h.watch("evt.catalog.>").await;
    let cases: Vec<(Product, &str)> = vec![
        (
            Product {
                sku: String::new(),
                ..tea(1)
            },
            "sku is empty",
        ),
        (
            Product {
                sku: "t".repeat(65),
                ..tea(1)
            },
            "longer than 64",
        ),
        (
            Product {
                sku: "tea green".into(),
                ..tea(1)
            },
            "' '",
        ),
        (
            Product {
                name: String::new(),
                ..tea(1)
            },
            "name is empty",
        ),
        (
            Product {
                name: "n".repeat(201),
                ..tea(1)
            },
            "longer than 200",
        ),
        (tea(-1), "negative"),
        (
            Product {
                currency: "eur".into(),
                ..tea(1)
            },
            "currency",
        ),
        (
            Product {
                currency: "EU".into(),
                ..tea(1)
            },
            "currency",
        ),
    ];
    for (product, reason) in cases {
        let (status, message) = code(h.bus.call::<UpsertProduct>(&product).await);
        assert_eq!(status, 400, "{product:?}");
        assert!(message.contains(reason), "{message:?} should mention {reason:?}");
    }
    let accepted = Product {
        sku: format!("A.b_c-{}", "9".repeat(58)),
        name: "n".repeat(200),
        ..tea(0)
    };
    h.bus
        .call::<UpsertProduct>(&accepted)
        .await
        .expect("at the limits is fine");
    published.next::<ProductUpserted>().await;
    published.assert_silent().await;

    assert_eq!(code(get(&h, "nope").await).0, 404);
    assert_eq!(code(get(&h, "").await).0, 400);
    catalog.shutdown().await.expect("clean shutdown");
}

/// A command applies its own event as it emits it, and a rebuild replays old revisions: an
/// event older than what is stored must never move the product back. Catalog's stream is
/// history to catalog (the kit's `own.rs`): what another writer puts there is read by the
/// next rebuild.
#[tokio::test]
async fn an_older_revision_arriving_late_never_moves_a_product_back() {
    let h = Harness::new(&[]).await;
    let catalog = h.start(catalog::component()).await;
    for price in [100, 200, 300] {
        h.bus.call::<UpsertProduct>(&tea(price)).await.expect("upserted");
    }
    h.wait_applied("catalog", 3).await;

    let stale = ProductUpserted {
        sku: "tea-green".into(),
        name: "Stale tea".into(),
        unit_price_minor: 1,
        currency: "EUR".into(),
        revision: 2,
    };
    h.bus.publish(&stale).await.expect("published");
    h.rebuild("catalog").await;
    h.wait_applied("catalog", 4).await;
    assert_eq!(get(&h, "tea-green").await.expect("found"), tea(300), "revision 3 stays");

    // A newer revision is applied (that is how a rebuild restores the product), and the
    // next upsert continues from it.
    h.bus
        .publish(&ProductUpserted {
            revision: 7,
            name: "Newer tea".into(),
            ..stale
        })
        .await
        .expect("published");
    h.rebuild("catalog").await;
    h.wait_applied("catalog", 5).await;
    assert_eq!(get(&h, "tea-green").await.expect("found").name, "Newer tea");
    let mut published = h.watch("evt.catalog.>").await;
    h.bus.call::<UpsertProduct>(&tea(400)).await.expect("upserted");
    assert_eq!(published.next::<ProductUpserted>().await.1.revision, 8);
    catalog.shutdown().await.expect("clean shutdown");
}
