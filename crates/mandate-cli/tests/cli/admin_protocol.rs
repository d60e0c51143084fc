//! The admin protocol (docs/contract.md, "The admin protocol") as a component in another
//! language implements it: here a hand-rolled responder on the NATS services API, answering
//! with JSON written by hand from the published schemas — no kit type. `mandate status` lists
//! it with its consumers and `mandate replay` rebuilds it; one that answers garbage is told
//! the JSON path of each problem; one that does not implement it is told what is missing.

use std::sync::{Arc, Mutex};

use async_nats::service::ServiceExt;
use futures::StreamExt;
use serde_json::{Value, json};

use crate::common::Env;

/// What the responder answers and what it was asked.
#[derive(Debug, Default)]
struct Foreign {
    rebuilding: bool,
    /// Status requests answered since the rebuild began.
    polls_since_rebuild: u32,
    rebuild_requests: Vec<Value>,
}

impl Foreign {
    fn status(&mut self) -> Value {
        if self.rebuilding {
            self.polls_since_rebuild += 1;
            // A rebuild takes a few polls, as a real one would.
            if self.polls_since_rebuild >= 3 {
                self.rebuilding = false;
            }
        }
        let rebuilt = !self.rebuild_requests.is_empty();
        json!({
            "component": "tally",
            "version": "0.3.0",
            "started_at": "2026-05-01T12:00:00Z",
            "uptime_seconds": 42,
            "rebuilding": self.rebuilding,
            "consumers": [{
                "stream": "EVT_ORDERS",
                "consumer": "tally",
                "subjects": ["evt.orders.placed.v1"],
                "applied_sequence": if self.rebuilding { 3 } else { 7 },
                "pending": 0,
                "replay_until": if rebuilt { 7 } else { 0 },
                "caught_up": !self.rebuilding
            }],
            "outbox_depth": 0,
            "dead_letters": 1,
            "publishes": ["tally.counted.v1"],
            "serves": ["tally.count.v1"],
            "language": "a field the protocol does not name: ignored"
        })
    }

    fn rebuild(&mut self, body: &[u8]) -> Value {
        let request = if body.is_empty() {
            json!({})
        } else {
            serde_json::from_slice(body).expect("JSON")
        };
        self.rebuild_requests.push(request);
        self.rebuilding = true;
        self.polls_since_rebuild = 0;
        json!({"component": "tally", "started": true, "wiped": 12, "consumers": []})
    }
}

/// What a responder answers to a request body.
type Answer = Box<dyn Fn(&[u8]) -> Vec<u8> + Send + Sync>;

/// Serves `svc.<name>.admin.<op>` for each of `answers` on the services API (so `$SRV.PING`
/// finds it), answering each request with what the closure returns.
async fn responder(env: &Env, name: &str, answers: Vec<(&'static str, Answer)>) -> async_nats::service::Service {
    let service = env
        .bus
        .client()
        .service_builder()
        .description("a component in another language")
        .start(name, "0.3.0")
        .await
        .expect("service starts");
    for (operation, answer) in answers {
        let mut endpoint = service
            .endpoint_builder()
            .name(format!("admin-{operation}"))
            .add(format!("svc.{name}.admin.{operation}"))
            .await
            .expect("endpoint added");
        tokio::spawn(async move {
            while let Some(request) = endpoint.next().await {
                let reply = answer(&request.message.payload);
                request.respond(Ok(reply.into())).await.expect("responds");
            }
        });
    }
    service
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_component_implementing_the_protocol_is_listed_with_its_consumers_and_rebuilt() {
    let env = Env::new().await;
    let state = Arc::new(Mutex::new(Foreign::default()));
    let (for_status, for_rebuild) = (Arc::clone(&state), Arc::clone(&state));
    let _service = responder(
        &env,
        "tally",
        vec![
            (
                "status",
                Box::new(move |_| serde_json::to_vec(&for_status.lock().expect("lock").status()).expect("JSON")),
            ),
            (
                "rebuild",
                Box::new(move |body| {
                    serde_json::to_vec(&for_rebuild.lock().expect("lock").rebuild(body)).expect("JSON")
                }),
            ),
        ],
    )
    .await;

    let status = env.mandate(&["status", "--json"]).await.ok().json();
    let tally = status["components"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "tally"))
        .unwrap_or_else(|| panic!("tally is not listed: {status}"));
    assert_eq!(tally["state"], "running", "{tally}");
    assert_eq!(tally["status"]["consumers"][0]["stream"], "EVT_ORDERS");
    assert_eq!(tally["status"]["consumers"][0]["applied_sequence"], 7);
    assert_eq!(tally["status"]["dead_letters"], 1);
    let table = env.mandate(&["status"]).await.ok().stdout;
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("tally") && l.contains("EVT_ORDERS")),
        "its consumer is in the table:\n{table}"
    );

    let out = env
        .mandate(&["replay", "tally", "--from-seq", "3", "--poll", "20ms"])
        .await
        .ok();
    assert!(out.stdout.contains("tally rebuilt"), "{}", out.stdout);
    assert_eq!(
        state.lock().expect("lock").rebuild_requests,
        [json!({"from_sequence": 3})]
    );
    assert!(!state.lock().expect("lock").rebuilding, "replay waited for the end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_that_breaks_the_protocol_is_refused_with_the_path_of_each_problem() {
    let env = Env::new().await;
    let _service = responder(
        &env,
        "junk",
        vec![
            (
                "status",
                Box::new(|_| {
                    br#"{"component": "junk", "version": "1", "started_at": "now", "uptime_seconds": 1,
                        "rebuilding": false, "outbox_depth": 0, "dead_letters": 0, "publishes": [], "serves": [],
                        "consumers": [{"stream": "EVT_ORDERS", "consumer": "junk", "subjects": [],
                                       "applied_sequence": "seven", "pending": 0, "replay_until": 0}]}"#
                        .to_vec()
                }),
            ),
            ("rebuild", Box::new(|_| b"rebuilding, promise".to_vec())),
        ],
    )
    .await;

    let status = env.mandate(&["status", "--json"]).await.ok().json();
    let junk = status["components"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "junk"))
        .unwrap_or_else(|| panic!("junk is not listed: {status}"));
    assert_eq!(junk["state"], "invalid admin reply", "{junk}");
    let error = junk["error"].as_str().expect("an error");
    for needle in [
        "svc.junk.admin.status answered, but not as the admin protocol says (schemas/json/admin/status.response.json",
        "/consumers/0 has no `caught_up`",
        "/consumers/0/applied_sequence is the string \"seven\"; expected an integer",
    ] {
        assert!(error.contains(needle), "{error:?} lacks {needle:?}");
    }
    let table = env.mandate(&["status"]).await.ok().stdout;
    assert!(table.contains("invalid admin reply"), "{table}");

    env.mandate(&["replay", "junk"])
        .await
        .fails(1, "svc.junk.admin.rebuild answered, but not as the admin protocol says")
        .fails(1, "the reply is not JSON");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_without_the_protocol_is_told_what_is_missing() {
    let env = Env::new().await;
    // Discoverable on the services API, with a domain endpoint, and no admin protocol.
    let service = env
        .bus
        .client()
        .service_builder()
        .start("loyalty", "0.1.0")
        .await
        .expect("service starts");
    let _endpoint = service
        .endpoint_builder()
        .name("balance-v1")
        .add("svc.loyalty.balance.v1")
        .await
        .expect("endpoint");

    let status = env.mandate(&["status", "--json"]).await.ok().json();
    let loyalty = status["components"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "loyalty"))
        .unwrap_or_else(|| panic!("loyalty is not listed: {status}"));
    assert_eq!(loyalty["state"], "no admin protocol");
    assert_eq!(
        loyalty["error"],
        "loyalty answers $SRV.PING but not svc.loyalty.admin.status: implement the admin protocol \
         (docs/contract.md#the-admin-protocol) to show its consumers and follow its rebuilds"
    );

    env.mandate(&["replay", "loyalty"]).await.fails(
        1,
        "loyalty answers $SRV.PING but not svc.loyalty.admin.rebuild: implement the admin protocol \
         (docs/contract.md#the-admin-protocol) to rebuild it with `mandate replay`",
    );
    env.mandate(&["dlq", "retry-set-aside", "loyalty"]).await.fails(
        1,
        "but not svc.loyalty.admin.retry-set-aside: implement the admin protocol",
    );
    env.mandate(&["replay", "nobody"])
        .await
        .fails(1, "nothing serves svc.nobody.admin.rebuild: is nobody running?");
}
