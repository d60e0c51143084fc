//! The storefront on the committed 3-node cluster (`bus-config/cluster/`, through the runner):
//! every component connects with `NATS_URL` = the three nodes, as its own bus user, and
//! creates its stream and `DLQ` at three replicas. Orders go through the gateway at a steady
//! rate while one node is killed (`kill -9`) and later restarted, and the node leading
//! `EVT_ORDERS` is stopped and restarted (`e2e::nodeloss`). Then quiescence, every invariant
//! of `e2e::invariants` (nothing lost or doubled, DLQ empty...), and every stream and durable
//! consumer back at three current replicas.
//!
//! CI-sized by default (about a minute on two cores). Sizes from the environment, for a
//! longer run:
//!
//! | variable | default | what |
//! |---|---|---|
//! | `MANDATE_CLUSTER_SEED` | 20261214 | the day's plan and which node is killed |
//! | `MANDATE_CLUSTER_ORDERS` | 150 | orders placed |
//! | `MANDATE_CLUSTER_RATE` | 6 | orders (and restocks) started per second |
//! | `MANDATE_CLUSTER_ROUNDS` | 1 | rounds of a node killed and the leader's node stopped |
//! | `MANDATE_CLUSTER_DOWN_MS` | 2000 | how long a lost node stays down |

use std::sync::Arc;
use std::time::Duration;

use e2e::cluster::REPLICAS;
use e2e::invariants::{self, Expected};
use e2e::nodeloss::{self, Schedule};
use e2e::plan::plan;
use e2e::shop::Shop;
use e2e::traffic::{self, Traded};
use e2e::verdict::Verdict;
use e2e::{Stack, env_number};
use tokio::time::Instant;

/// A sku with plenty of stock, for the orders that time the recoveries.
const PROBE_SKU: &str = "probe";
/// How long the storefront may take to drain after the last order was placed.
const DRAIN_WITHIN: Duration = Duration::from_secs(60);
/// How long the streams may take to be replicated when the run is over.
const REPLICATED_WITHIN: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_keep_every_invariant_while_cluster_nodes_are_lost_and_streams_stay_replicated() {
    let started = Instant::now();
    let seed = env_number("MANDATE_CLUSTER_SEED", 20_261_214_u64);
    let orders = env_number("MANDATE_CLUSTER_ORDERS", 150_usize);
    let rate = env_number("MANDATE_CLUSTER_RATE", 6.0_f64);
    let rounds = env_number("MANDATE_CLUSTER_ROUNDS", 1_usize);
    let down = Duration::from_millis(env_number("MANDATE_CLUSTER_DOWN_MS", 2_000_u64));

    let stack = Arc::new(Stack::on_cluster().await);
    let shop = Arc::new(Shop::new(&stack.start_gateway().await));
    let day = plan(seed, orders);
    let restocked = traffic::open_shop(&shop, &day, &[(PROBE_SKU, 100, 10_000)])
        .await
        .expect("the shop opens");
    // Orders learns prices from catalog's events: let it learn them before the first order.
    stack.quiesce(Duration::from_secs(30)).await;
    every_stream_has_three_replicas(&stack).await;
    let ready_at = started.elapsed();

    let expected = Expected {
        skus: restocked.keys().cloned().collect(),
        restocked,
        orders: Vec::new(),
    };
    let trading = {
        let shop = Arc::clone(&shop);
        let traded = Traded {
            expected,
            failures: Vec::new(),
        };
        tokio::spawn(async move { traffic::trade(shop, &day, rate, traded).await })
    };
    let schedule = Schedule {
        seed,
        rounds,
        down,
        pause: Duration::from_secs(2),
        probe_sku: PROBE_SKU,
    };
    let losses = nodeloss::run(Arc::clone(&stack), Arc::clone(&shop), schedule).await;
    let traded = trading.await.expect("the trading finishes");

    let mut verdict = Verdict::new();
    for failure in &losses.failures {
        verdict.broke("the cluster recovers from the loss of a node", failure.clone());
    }
    for failure in &traded.failures {
        verdict.broke("the client gets an answer to every request", failure.clone());
    }
    let mut expected = traded.expected;
    expected.orders.extend(losses.probes.iter().cloned());
    stack
        .drain_after_havoc(
            &expected,
            DRAIN_WITHIN,
            "every process survives the loss of a node",
            &mut verdict,
        )
        .await;
    let outcomes = invariants::check(&stack, &expected, &mut verdict).await;
    if let Err(why) = stack.await_replicated(REPLICATED_WITHIN).await {
        verdict.broke("every stream and consumer back at three current replicas", why);
    }
    if losses.losses.iter().all(|l| l.how != nodeloss::How::LeaderStopped) {
        verdict.broke("the run stopped a stream leader's node", "no leader was stopped");
    }

    println!(
        "CLUSTER SUMMARY seed={seed} orders={} outcomes={outcomes:?} retries={} storefront_up={:.1}s elapsed={:.1}s broken=[{}]",
        expected.orders.len(),
        shop.retries(),
        ready_at.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        verdict.headline()
    );
    for loss in &losses.losses {
        println!("CLUSTER LOSS {}", loss.describe());
    }
    verdict.assert_clean(&format!("cluster seed {seed}"));
}

/// Every stream — each owner's and `DLQ` — was created at three replicas and is replicated.
async fn every_stream_has_three_replicas(stack: &Stack) {
    stack
        .await_replicated(REPLICATED_WITHIN)
        .await
        .unwrap_or_else(|why| panic!("before any node is lost: {why}"));
    let groups = stack.replication().await.expect("the streams' replication");
    for stream in [
        "DLQ",
        "EVT_CATALOG",
        "EVT_INVENTORY",
        "EVT_ORDERS",
        "EVT_PAYMENTS",
        "EVT_SHIPPING",
    ] {
        let group = groups
            .iter()
            .find(|g| g.name == stream)
            .unwrap_or_else(|| panic!("no stream {stream}: {groups:?}"));
        assert_eq!(group.replicas, REPLICAS, "{}", group.describe());
    }
}

/// A component whose connection survives (its node is up) while the node leading its consumer
/// is killed: the pull request it waits on was held by that leader. The servers share waiting
/// pull requests within the consumer's group (nats-server ≥ 2.7.1), and the new leader tells
/// the client its request is void, so the component pulls again as soon as the election is
/// over — within one election (up to ~10 s here) and one ack wait of catalog's publish, not
/// when its request would have expired (30 s + 5 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_whose_leaders_node_is_killed_consumes_again_within_seconds() {
    use schemas::catalog::{Product, UpsertProduct};
    const WITHIN: Duration = Duration::from_secs(20);

    let stack = Stack::on_cluster_in(&testkit::repo_root(), &testkit::bin_dir(), Some(&["catalog"])).await;
    let upsert = |sku: &'static str| Product {
        sku: sku.into(),
        name: sku.into(),
        unit_price_minor: 100,
        currency: "EUR".into(),
    };
    stack.call::<UpsertProduct>(&upsert("first")).await.expect("upserted");
    // Orders reads catalog's events (its price list), connected to nats-1 only: its connection
    // survives the loss of any other node.
    let home = "nats-1";
    stack.spawn_with("orders", &[("NATS_URL", stack.node_url(home).as_str())]);
    stack.wait_ready("orders").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while applied(&stack).await.1 == 0 {
        assert!(Instant::now() < deadline, "orders never applied catalog's first event");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let consumer = applied(&stack).await.0;
    // Its consumer led by another node than its own.
    let mut victim = String::new();
    for _ in 0..20 {
        match stack.consumer_leader("EVT_CATALOG", &consumer).await {
            Ok(leader) if leader != home => {
                victim = leader;
                break;
            }
            Ok(_) => {
                let _ = stack.step_down_consumer("EVT_CATALOG", &consumer).await;
            }
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(!victim.is_empty(), "the consumer's leader never left {home}");

    let before = applied(&stack).await.1;
    stack.kill_node(&victim);
    let killed = Instant::now();
    stack.call::<UpsertProduct>(&upsert("second")).await.expect("upserted");
    loop {
        if applied(&stack).await.1 > before {
            break;
        }
        assert!(
            killed.elapsed() < WITHIN,
            "orders consumed nothing for {WITHIN:?} after {victim}, which led its consumer {consumer} of EVT_CATALOG, was killed (the upsert was answered)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "CLUSTER CONSUMER consumed again {:.1}s after its leader's node was killed",
        killed.elapsed().as_secs_f64()
    );
}

/// Orders' consumer of `EVT_CATALOG`: its name and applied sequence.
async fn applied(stack: &Stack) -> (String, u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // Retried: the status request may meet the moment of a node's loss. Partitioned, any
        // of orders' partitions reads every catalog event: the first one's consumer.
        let first = stack.processes_of("orders").remove(0);
        if let Ok(status) = stack.bus.status(&first).await {
            return status
                .consumers
                .iter()
                .find(|c| c.stream == "EVT_CATALOG")
                .map(|c| (c.consumer.clone(), c.applied_sequence))
                .expect("orders consumes EVT_CATALOG");
        }
        assert!(Instant::now() < deadline, "orders does not answer its status");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A component started while its cluster has no quorum — two of the three nodes down, so no
/// JetStream meta leader: its stream can be neither created nor read, every request times out
/// — waits for the cluster instead of exiting, and starts, with its stream at three replicas,
/// once the nodes are back. (The same wait covers several partitions creating one replicated
/// stream at once, which can outlast one request's timeout.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_started_while_the_cluster_has_no_quorum_waits_for_it_and_starts() {
    const NO_QUORUM_FOR: Duration = Duration::from_secs(12);
    let stack = Stack::on_cluster_in(&testkit::repo_root(), &testkit::bin_dir(), Some(&["catalog"])).await;
    let home = "nats-1";
    stack.stop_node("nats-2");
    stack.stop_node("nats-3");
    stack.spawn_with("inventory", &[("NATS_URL", stack.node_url(home).as_str())]);
    // Longer than JetStream's request timeout: an attempt has failed by now.
    tokio::time::sleep(NO_QUORUM_FOR).await;
    if let Err(exit) = stack.alive("inventory") {
        panic!(
            "inventory gave up while the cluster had no quorum ({exit}):\n{}",
            stack.log_tail("inventory")
        );
    }
    stack.restart_node("nats-2");
    stack.restart_node("nats-3");
    stack.wait_ready("inventory").await;
    let deadline = Instant::now() + REPLICATED_WITHIN;
    loop {
        let groups = stack.replication().await.unwrap_or_default();
        match groups.iter().find(|g| g.name == "EVT_INVENTORY") {
            Some(group) if group.replicas == REPLICAS && group.is_current() => break,
            found => assert!(
                Instant::now() < deadline,
                "EVT_INVENTORY is not at {REPLICAS} current replicas: {:?}",
                found.map(|g| g.describe())
            ),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
