//! Garbage: a seeded corpus of malformed messages (one defect each, every category of
//! `e2e::garbage::corpus`) and duplicates of real events under new ids, published on every
//! subject a component subscribes to. Afterwards every component still answers, every
//! malformed message is dead-lettered by every subscriber under the rule it broke (counted
//! per `Mandate-Dlq-Kind`), nothing observable changed, and a fresh order completes.
//!
//! `MANDATE_GARBAGE_MESSAGES` (default 5,000), `MANDATE_GARBAGE_OVERSIZED` (near-max-payload
//! bodies per subject, default 1) and `MANDATE_GARBAGE_SEED` size and vary it;
//! `MANDATE_GARBAGE_CATEGORIES` (comma-separated names as the summary prints them, e.g.
//! `binary-key,missing ce-time`) narrows it to some categories, to try one fix at a time.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use e2e::garbage::corpus::{self, Defect};
use e2e::garbage::{dead_letters, manifest, publish, templates};
use e2e::snapshot::{self, Subjects};
use e2e::verdict::Verdict;
use e2e::{Stack, env_number, services, streams};
use schemas::catalog::{Product, UpsertProduct};
use schemas::inventory::{Restock, RestockRequest};
use schemas::orders::{CancelOrder, CancelOrderRequest, LineRequest, OrderStatus, PlaceOrder, PlaceOrderRequest};
use tokio::time::Instant;

const SETTLE_WITHIN: Duration = Duration::from_secs(90);

/// Types the opening trade cannot make for sure: a refund comes only from a cancel that races
/// a capture (orders refuses to cancel an order it knows is paid), so whether one is in the
/// streams depends on which of payments' two consumers goes first. Their garbage is modelled
/// on the schema's sample when no real one is there.
const BORN_OF_A_RACE: [&str; 1] = ["payments.refunded.v1"];
/// Types no one publishes any more (orders' dual-publish window of `placed` is closed,
/// docs/evolution.md): readers still subscribe, for the history; their garbage is modelled on
/// the schema's sample.
const RETIRED: [&str; 1] = ["orders.placed.v1"];
/// "Within seconds": how long a fresh order may take to complete after the garbage.
const FRESH_ORDER_WITHIN: Duration = Duration::from_secs(15);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_every_subscribed_subject_is_dead_lettered_and_changes_nothing() {
    let started = Instant::now();
    let seed = env_number("MANDATE_GARBAGE_SEED", 20_261_202_u64);
    let total = env_number("MANDATE_GARBAGE_MESSAGES", 5_000_usize);
    let stack = Stack::storefront().await;
    let mut subjects = open_for_business(&stack).await;
    stack.quiesce(SETTLE_WITHIN).await;

    let repo = testkit::repo_root();
    let subscribers = manifest::subscribers(&repo).expect("the manifests read");
    let kinds: Vec<String> = subscribers.keys().cloned().collect();
    let templates = templates::load(&stack, &repo, &kinds).await.expect("templates");
    e2e::garbage::named_in(&templates, &mut subjects);
    let before = snapshot::take(&stack, &subjects).await;
    let mut verdict = Verdict::new();
    for template in templates.values().filter(|t| {
        t.real.is_empty() && !BORN_OF_A_RACE.contains(&t.kind.as_str()) && !RETIRED.contains(&t.kind.as_str())
    }) {
        verdict.broke(
            "the streams hold real events of every subscribed type (keyed ones under their type)",
            format!(
                "no {} read back from EVT_{}",
                template.kind,
                template.owner.to_uppercase()
            ),
        );
    }
    let earlier_letters = streams::read(&stack, mandate::DEAD_LETTER_STREAM).await.expect("DLQ");
    for letter in &earlier_letters {
        verdict.broke(
            "no dead letter before the garbage",
            e2e::invariants::describe_dead_letter(letter),
        );
    }

    let sizes = corpus::Sizes {
        categories: categories(),
        total,
        oversized_per_subject: env_number("MANDATE_GARBAGE_OVERSIZED", 1),
        max_payload: stack.max_payload(),
    };
    let corpus = corpus::generate(seed, sizes, &templates);
    let sent = publish::publish(&stack, corpus).await.expect("the corpus is published");
    if let Err(busy) = stack.settle(SETTLE_WITHIN).await {
        verdict.broke("quiescence: outboxes and consumers drain after the garbage", busy);
    }
    rebuild_readers_of_their_own_streams(&stack, &subscribers, &mut verdict).await;
    every_component_answers(&stack, &mut verdict).await;
    let letters: Vec<_> = streams::read(&stack, mandate::DEAD_LETTER_STREAM)
        .await
        .expect("DLQ")
        .into_iter()
        .skip(earlier_letters.len())
        .collect();
    let (expected, found) = dead_letters::check(&sent, &subscribers, &letters, &mut verdict);
    for change in snapshot::diff(&before, &snapshot::take(&stack, &subjects).await) {
        verdict.broke(
            "no observable state changed (duplicates under new ids included)",
            change,
        );
    }
    fresh_order_completes(&stack, &mut verdict).await;

    print_summary(seed, &sent, &expected, &found, &verdict, started);
    verdict.assert_clean(&format!("garbage seed {seed}"));
}

/// The categories of `MANDATE_GARBAGE_CATEGORIES`, or all of them.
fn categories() -> Vec<Defect> {
    match std::env::var("MANDATE_GARBAGE_CATEGORIES") {
        Err(_) => Defect::all(),
        Ok(names) => names
            .split(',')
            .map(|name| {
                Defect::named(name).unwrap_or_else(|| {
                    let known: Vec<String> = Defect::all().into_iter().map(Defect::name).collect();
                    panic!("MANDATE_GARBAGE_CATEGORIES: no category {name:?}; known: {known:?}")
                })
            })
            .collect(),
    }
}

/// Products, stock and orders of every ending, so that the streams hold real events of
/// every type the corpus copies. Returns the entities to snapshot.
async fn open_for_business(stack: &Stack) -> Subjects {
    for (sku, price) in [("mug", 1250), ("tea", 499)] {
        let product = Product {
            sku: sku.into(),
            name: format!("the {sku}"),
            unit_price_minor: price,
            currency: "EUR".into(),
        };
        stack.call::<UpsertProduct>(&product).await.expect("product");
        let restock = RestockRequest {
            sku: sku.into(),
            quantity: 20,
            idempotency_key: format!("initial-{sku}"),
        };
        stack.call::<Restock>(&restock).await.expect("restock");
    }
    stack.quiesce(SETTLE_WITHIN).await;
    let mut subjects = Subjects::default();
    let orders = [
        ("g-complete-1", "alice", "mug", 1, "tok"),
        ("g-complete-2", "bob", "tea", 2, "tok"),
        ("g-declined", "carol", "mug", 1, "decline"),
        ("g-rejected", "dave", "tea", 50, "tok"),
    ];
    for (key, customer, sku, quantity, token) in orders {
        let id = place(stack, key, customer, sku, quantity, token).await;
        subjects.orders.insert(id);
    }
    // A cancellation: payments held back, so the order waits reserved while it is cancelled.
    stack.terminate("payments");
    let id = place(stack, "g-cancelled", "erin", "mug", 2, "tok").await;
    let cancel = CancelOrderRequest {
        order_id: id.clone(),
        reason: "changed my mind".into(),
    };
    stack.call::<CancelOrder>(&cancel).await.expect("cancelled");
    subjects.orders.insert(id);
    stack.spawn("payments");
    stack.wait_ready("payments").await;
    subjects.customers = ["alice", "bob", "carol", "dave", "erin"].map(String::from).into();
    subjects.skus = ["mug", "tea"].map(String::from).into();
    subjects
}

async fn place(stack: &Stack, key: &str, customer: &str, sku: &str, quantity: u32, token: &str) -> String {
    let request = PlaceOrderRequest {
        idempotency_key: key.into(),
        customer_id: customer.into(),
        lines: vec![LineRequest {
            sku: sku.into(),
            quantity,
        }],
        payment_token: token.into(),
    };
    stack.call::<PlaceOrder>(&request).await.expect("placed").order_id
}

/// A component reads its own stream only as history (the kit applies its own events as it
/// emits them): what another writer put there — the garbage on its own subjects — it reads,
/// and dead-letters, in its next rebuild. Rebuilds every instance of those components; the
/// rebuild dead-letters nothing a second time and changes no state.
async fn rebuild_readers_of_their_own_streams(
    stack: &Stack,
    subscribers: &BTreeMap<String, Vec<String>>,
    verdict: &mut Verdict,
) {
    let own_readers: BTreeSet<&str> = subscribers
        .iter()
        .flat_map(|(kind, readers)| readers.iter().filter(|r| *r == manifest::owner(kind)))
        .map(String::as_str)
        .collect();
    for instance in stack.components() {
        if !own_readers.contains(e2e::component_of(&instance)) {
            continue;
        }
        let rebuild = mandate::admin::RebuildRequest::default();
        if let Err(err) = stack.bus.rebuild(&instance, &rebuild).await {
            verdict.broke(
                "a component reading its own stream rebuilds after the garbage",
                format!("{instance}: {err}"),
            );
        }
    }
    if let Err(busy) = stack.settle(SETTLE_WITHIN).await {
        verdict.broke("quiescence: the rebuilds after the garbage finish", busy);
    }
}

/// Every component still runs and answers `$SRV.PING.<name>`.
async fn every_component_answers(stack: &Stack, verdict: &mut Verdict) {
    for name in &stack.components() {
        if let Err(why) = stack.alive(name) {
            verdict.broke(
                "no message stops a component",
                format!("{why}\n{}", stack.log_tail(name)),
            );
            continue;
        }
        // A partition answers under its component's service name.
        let service = e2e::component_of(name);
        let ping = stack.bus.client().request(format!("$SRV.PING.{service}"), "".into());
        match tokio::time::timeout(Duration::from_secs(2), ping).await {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => verdict.broke("every component answers $SRV.PING", format!("{name}: {err}")),
            Err(_) => verdict.broke(
                "every component answers $SRV.PING",
                format!("{name}: no answer within 2 s"),
            ),
        }
    }
}

async fn fresh_order_completes(stack: &Stack, verdict: &mut Verdict) {
    const BROKE: &str = "a fresh order completes within seconds after the garbage";
    let start = Instant::now();
    let id = place(stack, "g-fresh", "frank", "mug", 1, "tok").await;
    loop {
        let status = services::order(stack, &id).await.ok().flatten().map(|o| o.status);
        if status == Some(OrderStatus::Completed) {
            return;
        }
        if start.elapsed() > FRESH_ORDER_WITHIN || status.is_some_and(OrderStatus::is_terminal) {
            let busy = stack.busy().await;
            verdict.broke(
                BROKE,
                format!("order {id}: {status:?} after {FRESH_ORDER_WITHIN:?}; still busy: {busy:?}"),
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `GARBAGE SUMMARY …` and the dead letters per component and kind, expected and found.
fn print_summary(
    seed: u64,
    sent: &[publish::Sent],
    expected: &dead_letters::Tally,
    found: &dead_letters::Tally,
    verdict: &Verdict,
    started: Instant,
) {
    let mut by_defect: BTreeMap<Defect, usize> = BTreeMap::new();
    for message in sent {
        *by_defect.entry(message.garbage.defect).or_default() += 1;
    }
    let categories: Vec<String> = by_defect.iter().map(|(d, n)| format!("{}:{n}", d.name())).collect();
    let subjects: BTreeSet<&str> = sent.iter().map(|s| s.garbage.subject.as_str()).collect();
    println!(
        "GARBAGE SUMMARY seed={seed} messages={} subjects={} categories=({}) dead_letters_expected={} \
         dead_letters_found={} elapsed={:.0}s broken=[{}]",
        sent.len(),
        subjects.len(),
        categories.join(","),
        expected.values().sum::<usize>(),
        found.values().sum::<usize>(),
        started.elapsed().as_secs_f64(),
        verdict.headline()
    );
    let keys: BTreeSet<&(String, String)> = expected.keys().chain(found.keys()).collect();
    println!("| component | Mandate-Dlq-Kind | sent | dead-lettered |\n|---|---|---|---|");
    for key in keys {
        println!(
            "| {} | {} | {} | {} |",
            key.0,
            if key.1.is_empty() { "(none)" } else { &key.1 },
            expected.get(key).copied().unwrap_or(0),
            found.get(key).copied().unwrap_or(0)
        );
    }
}
