//! A component made by `mandate new` is run by everything that runs components — the e2e
//! stack and `mandate dev` — with no edit anywhere: they find it by its manifest. A component
//! in Python made by `mandate new --lang python` too: the stack starts it by its `./run`, it
//! consumes an event and answers its operation.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use e2e::Stack;
use mandate::{Bus, ConnectionOptions};
use schemas::orders::OrderPlaced;
use testkit::workspace::{cargo, workspace_copy};

const NAME: &str = "scaffold-hello";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_made_by_mandate_new_is_started_by_the_stack_and_by_mandate_dev() {
    let copy = workspace_copy(&[]);
    let ws = copy.path();
    let made = Command::new(testkit::workspace_bin("mandate"))
        .args([
            "new",
            "component",
            NAME,
            "--subscribe",
            "orders.placed.v1",
            "--serve",
            "count.v1",
        ])
        .arg("--repo")
        .arg(ws)
        .output()
        .expect("mandate new runs");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let built = tokio::task::block_in_place(|| cargo(ws, &["build", "-p", NAME]));
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));

    // The e2e stack: every component of that repository, from its manifests.
    let stack = Stack::start_in(ws, &testkit::bin_dir(), None).await;
    assert_eq!(stack.components(), [NAME]);
    let status = stack
        .bus
        .status(NAME)
        .await
        .expect("the scaffold answers its admin status");
    assert_eq!(status.component, NAME);
    drop(stack);

    // `mandate dev` in that repository: builds (nothing to do) and starts it.
    let port = runner::ports::free_port().expect("a port");
    let gateway = runner::ports::free_port().expect("a port");
    let data = tempfile::tempdir().expect("tempdir");
    let mut dev = Command::new(testkit::workspace_bin("mandate"))
        .args([
            "dev",
            "--port",
            &port.to_string(),
            "--gateway",
            &format!("127.0.0.1:{gateway}"),
        ])
        .arg("--repo")
        .arg(ws)
        .arg("--data")
        .arg(data.path())
        .env("CARGO_TARGET_DIR", testkit::workspace::target_dir())
        .env("NATS_SERVER_BIN", testkit::nats_server_bin().expect("nats-server"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mandate dev starts");
    let stderr = dev.stderr.take().expect("stderr");
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            seen.lock().expect("lines").push(line);
        }
    });
    let answered = answers(&format!("nats://127.0.0.1:{port}")).await;
    let _ = sigterm(&dev);
    let exit = tokio::task::block_in_place(|| dev.wait()).expect("mandate dev exits");
    let log = lines.lock().expect("lines").join("\n");
    assert!(
        answered,
        "under mandate dev, {NAME} never answered its admin status:\n{log}"
    );
    assert!(log.contains(&format!("mandate dev: started {NAME}")), "{log}");
    assert!(exit.success(), "mandate dev exits 0 on SIGTERM: {exit}\n{log}");
}

const PYTHON: &str = "scaffold-py";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_component_made_by_mandate_new_runs_in_the_stack_consumes_and_answers() {
    let copy = workspace_copy(&["clients/python", "kits/python", "scripts/python-component"]);
    let ws = copy.path();
    let made = Command::new(testkit::workspace_bin("mandate"))
        .args([
            "new",
            "component",
            PYTHON,
            "--lang",
            "python",
            "--subscribe",
            "orders.placed.v1",
        ])
        .args(["--serve", "count.v1", "--repo"])
        .arg(ws)
        .output()
        .expect("mandate new runs");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    // Installed before the stack starts it, as scripts/test does: within its readiness timeout.
    let installed = tokio::task::block_in_place(|| {
        Command::new(ws.join("scripts/python-component"))
            .args([PYTHON, "--install"])
            .output()
    })
    .expect("scripts/python-component runs");
    assert!(
        installed.status.success(),
        "{}",
        String::from_utf8_lossy(&installed.stderr)
    );

    let stack = Stack::start_in(ws, &testkit::bin_dir(), None).await;
    assert_eq!(stack.components(), [PYTHON]);
    // The owner of orders.placed.v1 is not in this stack: its stream, as orders would make it.
    stack
        .bus
        .jetstream()
        .get_or_create_stream(async_nats::jetstream::stream::Config {
            name: "EVT_ORDERS".into(),
            subjects: vec!["evt.orders.>".into()],
            ..Default::default()
        })
        .await
        .expect("EVT_ORDERS");
    stack
        .bus
        .publish(&OrderPlaced {
            order_id: "o-1".into(),
            customer_id: "ada".into(),
            lines: Vec::new(),
            total_minor: 0,
            currency: "EUR".into(),
            payment_token: String::new(),
            idempotency_key: String::new(),
            placed_at: String::new(),
        })
        .await
        .expect("published");
    let expected = serde_json::json!({"key": "ada", "events": {"orders.placed.v1": 1}});
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut answer = serde_json::Value::Null;
    while answer != expected && tokio::time::Instant::now() < deadline {
        let request = rmp_serde::to_vec_named(&serde_json::json!({"key": "ada"})).expect("encoded");
        if let Ok(reply) = stack
            .bus
            .request(&format!("svc.{PYTHON}.count.v1"), request.into())
            .await
        {
            answer = rmp_serde::from_slice(&reply).expect("a MessagePack reply");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(answer, expected, "{PYTHON} consumed the event and answers its count");
    let status = stack.bus.status(PYTHON).await.expect("its admin status");
    assert_eq!(status.consumers.len(), 1, "{status:?}");
    assert_eq!(status.consumers[0].applied_sequence, 1, "{status:?}");
}

/// Whether the scaffold answers its admin status on the server at `url` within 60 s.
async fn answers(url: &str) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while tokio::time::Instant::now() < deadline {
        if let Ok(bus) = Bus::connect(&ConnectionOptions::new(url), "e2e").await {
            if bus.status(NAME).await.is_ok() {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

fn sigterm(child: &std::process::Child) -> std::io::Result<std::process::ExitStatus> {
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status()
}
