//! `mandate console`'s API against a real nats-server: bad input gets a 4xx with a JSON body
//! saying what is wrong and the console goes on serving; the dead letters of a real kit
//! component are listed in their group, shown, retried and purged over it, and redriven in
//! bulk (one at a time per component, stopped, stopped by a failed canary); a letter's
//! journey. (The page itself is driven in chromium by crates/e2e/tests/console.rs.)

use std::time::Duration;

use mandate::DEAD_LETTER_STREAM;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::common::{Env, counter, eventually};

/// `mandate console` on a free port for this test's server; the child (killed on drop) and its URL.
async fn console(env: &Env) -> (tokio::process::Child, String) {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let repo = repo.to_str().expect("a UTF-8 path");
    let mut child = env.spawn(&["--json", "console", "--listen", "127.0.0.1:0", "--repo", repo]);
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("the console prints its URL")
        .expect("reads")
        .expect("a line");
    let printed: Value = serde_json::from_str(&first).expect("JSON");
    (child, printed["url"].as_str().expect("url").to_owned())
}

async fn answer(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("the console answers");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_a_json_4xx_saying_why_and_the_console_goes_on() {
    let env = Env::new().await;
    let (_console, url) = console(&env).await;
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{url}/api{path}"));
    let post = |path: &str| http.post(format!("{url}/api{path}")).json(&json!({}));
    let cases = [
        (get("/dead-letters/abc"), 400, "not a DLQ sequence"),
        (get("/dead-letters/0"), 400, "not a DLQ sequence"),
        (get("/dead-letters/7"), 404, "no DLQ stream"),
        (post("/dead-letters/7/retry"), 404, "no DLQ stream"),
        // What a cross-site form could send: refused before anything is done.
        (
            http.post(format!("{url}/api/dead-letters/7/retry")),
            415,
            "application/json",
        ),
        (
            http.post(format!("{url}/api/replay/shipping"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("a=b"),
            415,
            "application/json",
        ),
        // A name that is not this host's (DNS rebinding): refused.
        (
            get("/map").header("host", "evil.example:8290"),
            403,
            "--allow-host evil.example",
        ),
        (post("/dead-letters/purge").json(&json!({})), 400, "cannot be undone"),
        (
            post("/dead-letters/purge")
                .header("content-type", "application/json")
                .body("{not json"),
            400,
            "a purge takes",
        ),
        (
            post("/dead-letters/purge").json(&json!({"confirm": true, "component": "Not A Name"})),
            400,
            "Not A Name",
        ),
        (
            post("/dead-letters/purge").json(&json!({"confirm": true, "extra": 1})),
            400,
            "unknown field",
        ),
        (get("/components/nope"), 404, "no component \"nope\""),
        (post("/replay/Bad.Name"), 400, "Bad"),
        (post("/replay/orders.p1"), 400, "a partition is named"),
        (post("/replay/shipping"), 404, "is shipping running"),
        (
            post("/replay/shipping").json(&json!({"from_sequence": "x"})),
            400,
            "a replay takes",
        ),
        (get("/replay/shipping/events"), 404, "no replay of"),
        (get("/nowhere"), 404, "no such API route"),
        (get("/journey/order-1?since=yesterday"), 400, "since"),
        (get("/journey/order-1?until=1h"), 400, "a journey takes"),
        (post("/dead-letters/redrive").json(&json!({})), 400, "a redrive takes"),
        (
            post("/dead-letters/redrive").json(&json!({"component": "counter", "rate": 0})),
            400,
            "rate must be",
        ),
        (
            post("/dead-letters/redrive")
                .json(&json!({"component": "counter", "rate": 1, "reason": "a", "reason_prefix": "b"})),
            400,
            "not both",
        ),
        (
            post("/dead-letters/redrive").json(&json!({"component": "counter", "rate": 1})),
            404,
            "no dead letter matches",
        ),
        (get("/redrive/1/events"), 404, "no redrive #1"),
        (post("/redrive/x/stop"), 400, "not a redrive id"),
    ];
    for (request, status, says) in cases {
        let described = format!("{request:?}");
        let (got, body) = answer(request).await;
        assert_eq!(got, status, "{described}: {body}");
        let error = body["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{described}: a JSON error: {body}"));
        assert!(error.contains(says), "{described}: {error:?} should say {says:?}");
    }
    // Still serving, and the map is every manifest's component.
    let (status, map) = answer(get("/map")).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = map["components"]
        .as_array()
        .expect("components")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    for name in [
        "catalog",
        "gateway",
        "inventory",
        "loyalty",
        "notifications",
        "orders",
        "payments",
        "shipping",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    let (status, letters) = answer(get("/dead-letters")).await;
    assert_eq!((status, &letters["total"]), (200, &json!(0)), "{letters}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_grouped_shown_retried_and_purged_and_a_replay_followed_over_the_api() {
    let env = Env::new().await;
    // A short duplicate window: a retry inside it is dropped (409), one after it goes through.
    let window = Duration::from_secs(2);
    env.create_stream("notes", window).await;
    let published = tokio::time::Instant::now();
    let _counter = env.start(counter()).await;
    for n in ["seven", "eight"] {
        env.mandate(&["publish", "evt.notes.noted.v1", &format!(r#"{{"n": "{n}"}}"#)])
            .await
            .ok();
    }
    eventually("two dead letters", || async {
        (env.stream_messages(DEAD_LETTER_STREAM).await == 2).then_some(())
    })
    .await;
    let (_console, url) = console(&env).await;
    let http = reqwest::Client::new();

    let (status, listing) = answer(http.get(format!("{url}/api/dead-letters"))).await;
    assert_eq!(status, 200, "{listing}");
    assert_eq!(listing["total"], 2);
    let group = &listing["groups"][0];
    assert_eq!(
        (&group["component"], &group["kind"], &group["count"]),
        (&json!("counter"), &json!("undecodable"), &json!(2))
    );

    let (status, shown) = answer(http.get(format!("{url}/api/dead-letters/1"))).await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["body"], json!({"n": "seven"}));
    assert_eq!(shown["headers"]["Mandate-Dlq-Stream"], json!(["EVT_NOTES"]));

    let retry = || http.post(format!("{url}/api/dead-letters/1/retry")).json(&json!({}));
    let (status, dropped) = answer(retry()).await;
    assert!(published.elapsed() < window, "the machine is too slow for this check");
    assert_eq!(status, 409, "{dropped}");
    assert!(
        dropped["error"].as_str().expect("error").contains("duplicate window"),
        "{dropped}"
    );
    tokio::time::sleep_until(published + window + Duration::from_millis(200)).await;
    let (status, retried) = answer(retry()).await;
    assert_eq!(status, 200, "{retried}");
    assert_eq!(
        (&retried["stream"], &retried["subject"]),
        (&json!("EVT_NOTES"), &json!("evt.notes.noted.v1"))
    );
    let (status, gone) = answer(http.get(format!("{url}/api/dead-letters/1"))).await;
    assert_eq!(status, 404, "a retried letter leaves DLQ: {gone}");

    let (status, purged) = answer(
        http.post(format!("{url}/api/dead-letters/purge"))
            .json(&json!({"component": "counter", "confirm": true})),
    )
    .await;
    assert_eq!(status, 200, "{purged}");
    assert!(purged["purged"].as_u64().expect("count") >= 1, "{purged}");

    // A replay, followed by server-sent events to its end (the stream closes when done).
    let replay = |body: Value| http.post(format!("{url}/api/replay/counter")).json(&body);
    let (status, started) = answer(replay(json!({}))).await;
    assert_eq!(status, 200, "{started}");
    assert_eq!(started["component"], "counter");
    let events = tokio::time::timeout(
        Duration::from_secs(30),
        http.get(format!("{url}/api/replay/counter/events")).send(),
    )
    .await
    .expect("the events answer")
    .expect("the events answer");
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let text = tokio::time::timeout(Duration::from_secs(30), events.text())
        .await
        .expect("the replay ends within 30 s")
        .expect("the events");
    assert!(text.contains("event: progress"), "{text}");
    assert!(text.contains(r#""phase":"done""#), "{text}");
}

/// Follows `/api/redrive/{id}/events` to its end (the stream closes when the run ends).
async fn redrive_events(http: &reqwest::Client, url: &str, id: &Value) -> String {
    let events = http
        .get(format!("{url}/api/redrive/{id}/events"))
        .send()
        .await
        .expect("the events answer");
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    tokio::time::timeout(Duration::from_secs(60), events.text())
        .await
        .expect("the redrive ends within 60 s")
        .expect("the events")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redrive_runs_one_per_component_stops_when_asked_and_at_a_failed_canary_and_a_journey_is_found() {
    let env = Env::new().await;
    let window = Duration::from_secs(1);
    env.create_stream("notes", window).await;
    let _counter = env.start(counter()).await;
    for n in ["one", "two", "three"] {
        env.mandate(&["publish", "evt.notes.noted.v1", &format!(r#"{{"n": "{n}"}}"#)])
            .await
            .ok();
    }
    eventually("three dead letters", || async {
        (env.stream_messages(DEAD_LETTER_STREAM).await == 3).then_some(())
    })
    .await;
    // Past the originals' duplicate window: their retries are stored, not dropped.
    tokio::time::sleep(window + Duration::from_millis(200)).await;
    let (_console, url) = console(&env).await;
    let http = reqwest::Client::new();
    let redrive = |body: Value| http.post(format!("{url}/api/dead-letters/redrive")).json(&body);

    // Slow, no canary: one retry at once, the next after 5 s — time to be refused a second
    // run and to stop this one.
    let (status, started) = answer(redrive(json!({"component": "counter", "rate": 0.2, "canary": 0}))).await;
    assert_eq!(status, 202, "{started}");
    assert_eq!(
        (&started["selected"], &started["phase"]),
        (&json!(3), &json!("canary")),
        "{started}"
    );
    let id = started["id"].clone();
    let (status, refused) = answer(redrive(json!({"component": "counter", "rate": 5}))).await;
    assert_eq!(status, 409, "one redrive per component at a time: {refused}");
    assert!(
        refused["error"].as_str().expect("error").contains(&format!("#{id}")),
        "{refused}"
    );
    let (status, stopping) = answer(http.post(format!("{url}/api/redrive/{id}/stop")).json(&json!({}))).await;
    assert_eq!(status, 200, "{stopping}");
    let text = redrive_events(&http, &url, &id).await;
    assert!(text.contains(r#""phase":"stopped""#), "{text}");
    let last = text
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("data:"))
        .expect("a last event");
    let last: Value = serde_json::from_str(last.trim()).expect("JSON");
    assert!(
        last["report"]["remaining"].as_array().expect("remaining").len() >= 2,
        "{last}"
    );

    // The counter still cannot read them: the canary is refused again and nothing else is tried.
    let (status, started) = answer(redrive(json!({"component": "counter", "rate": 50, "canary": 1}))).await;
    assert_eq!(status, 202, "the stopped run left the component free: {started}");
    let text = redrive_events(&http, &url, &started["id"]).await;
    assert!(text.contains(r#""phase":"canary_failed""#), "{text}");
    assert!(text.contains(r#""verdict":"dead_lettered_again""#), "{text}");
    let last = text
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("data:"))
        .expect("a last event");
    let last: Value = serde_json::from_str(last.trim()).expect("JSON");
    assert_eq!(last["done"], 1, "the canary alone was retried: {last}");

    // A letter's journey: its event, then the counter's dead letter of it.
    let (_, listing) = answer(http.get(format!("{url}/api/dead-letters"))).await;
    let event_id = listing["groups"][0]["letters"][0]["id"]
        .as_str()
        .expect("a ce-id")
        .to_owned();
    let (status, journey) = answer(http.get(format!("{url}/api/journey/{event_id}?since=10m"))).await;
    assert_eq!(status, 200, "{journey}");
    let steps = journey["steps"].as_array().expect("steps");
    assert!(steps.iter().any(|s| s["stream"] == "EVT_NOTES"), "{journey}");
    assert!(
        steps.iter().any(|s| s["dead_letter"]["component"] == "counter"),
        "{journey}"
    );
}
