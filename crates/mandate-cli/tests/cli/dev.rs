//! `mandate dev` as a user runs it: the whole storefront up, an order through the gateway, a
//! component killed and restarted, then Ctrl-C and nothing left behind.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The `pid` of each `started NAME (pid N)` line, latest last.
fn started(lines: &[String]) -> BTreeMap<String, Vec<u32>> {
    let mut pids: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for line in lines {
        if let Some(rest) = line.strip_prefix("mandate dev: started ") {
            if let Some((name, pid)) = rest.split_once(" (pid ") {
                if let Ok(pid) = pid.trim_end_matches(')').parse() {
                    pids.entry(name.to_owned()).or_default().push(pid);
                }
            }
        }
    }
    pids
}

fn alive(pid: u32) -> bool {
    std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

async fn until<T>(what: &str, lines: &Mutex<Vec<String>>, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}; mandate dev said:\n{}",
            lines.lock().expect("lines").join("\n")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_runs_the_storefront_restarts_a_dead_component_and_stops_cleanly() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_mandate"))
        .parent()
        .expect("bin dir")
        .to_owned();
    let data = tempfile::tempdir().expect("tempdir");
    let gateway = format!("127.0.0.1:{}", free_port());
    let console = format!("127.0.0.1:{}", free_port());
    let mut dev = tokio::process::Command::new(env!("CARGO_BIN_EXE_mandate"))
        .args([
            "dev",
            "--no-build",
            "--port",
            &free_port().to_string(),
            "--gateway",
            &gateway,
            "--console",
            &console,
        ])
        .arg("--repo")
        .arg(&repo)
        .arg("--bin-dir")
        .arg(&bin_dir)
        .arg("--data")
        .arg(data.path())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("mandate dev starts");
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut stderr = BufReader::new(dev.stderr.take().expect("stderr")).lines();
    let collected = lines.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = stderr.next_line().await {
            collected.lock().expect("lines").push(line);
        }
    });

    let http = reqwest::Client::new();
    let base = format!("http://{gateway}");
    until("the gateway", &lines, async || {
        let health = http.get(format!("{base}/healthz")).send().await.ok()?;
        health.status().is_success().then_some(())
    })
    .await;
    // The gateway may be up before catalog and inventory are: retry until they answer.
    until("the product", &lines, async || {
        let response = http
            .put(format!("{base}/v1/products/mug"))
            .json(&json!({"name": "Mug", "unit_price_minor": 1250, "currency": "EUR"}))
            .send()
            .await
            .ok()?;
        response.status().is_success().then_some(())
    })
    .await;
    until("the restock", &lines, async || {
        let response = http
            .post(format!("{base}/v1/inventory/mug/restock"))
            .header("Idempotency-Key", "r1")
            .json(&json!({"quantity": 3}))
            .send()
            .await
            .ok()?;
        response.status().is_success().then_some(())
    })
    .await;
    let order: Value = until("the order to be accepted", &lines, async || {
        let response = http
            .post(format!("{base}/v1/orders"))
            .header("Idempotency-Key", "o1")
            .json(&json!({"customer_id": "alice", "lines": [{"sku": "mug", "quantity": 1}], "payment_token": "tok"}))
            .send()
            .await
            .ok()?;
        if response.status().as_u16() == 201 {
            response.json().await.ok()
        } else {
            None
        }
    })
    .await;
    let order_url = format!("{base}/v1/orders/{}", order["order_id"].as_str().expect("id"));
    until("the order to complete", &lines, async || {
        let order: Value = http.get(&order_url).send().await.ok()?.json().await.ok()?;
        (order["status"] == "completed").then_some(())
    })
    .await;

    // Every component ran as its own bus user, within its generated permissions.
    let violations: Vec<String> = lines
        .lock()
        .expect("lines")
        .iter()
        .filter(|l| l.contains("Violation"))
        .cloned()
        .collect();
    assert!(
        violations.is_empty(),
        "the broker refused something:\n{}",
        violations.join("\n")
    );

    // The console is served and its URL printed; its live figures see every component up.
    assert!(
        lines
            .lock()
            .expect("lines")
            .iter()
            .any(|l| l.contains(&format!("the console on http://{console}"))),
        "the console's URL is printed"
    );
    until("the console to see every component up", &lines, async || {
        let live: Value = http
            .get(format!("http://{console}/api/snapshot"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let components = live["components"].as_object()?;
        let up = [
            "catalog",
            "inventory",
            "orders",
            "payments",
            "shipping",
            "notifications",
            "loyalty",
        ]
        .iter()
        .all(|name| components.get(*name).is_some_and(|c| c["health"] == "up"));
        up.then_some(())
    })
    .await;

    // orders runs as the partitions its manifest declares, each its own process.
    let names: Vec<String> = started(&lines.lock().expect("lines")).into_keys().collect();
    for partition in ["orders.p0of3", "orders.p1of3", "orders.p2of3"] {
        assert!(
            names.iter().any(|n| n == partition),
            "{partition} not started: {names:?}"
        );
    }
    // Kill a partition of orders; mandate dev says so and starts it again.
    let first = started(&lines.lock().expect("lines"))["orders.p1of3"][0];
    assert!(
        std::process::Command::new("kill")
            .args(["-9", &first.to_string()])
            .status()
            .expect("kill")
            .success()
    );
    let second = until("orders to be restarted", &lines, async || {
        let pids = started(&lines.lock().expect("lines")).remove("orders.p1of3")?;
        pids.get(1).copied()
    })
    .await;
    assert_ne!(first, second);
    assert!(
        lines
            .lock()
            .expect("lines")
            .iter()
            .any(|l| l.contains("orders.p1of3 exited")),
        "the restart is announced"
    );
    until("the restarted orders to answer", &lines, async || {
        let order: Value = http.get(&order_url).send().await.ok()?.json().await.ok()?;
        (order["status"] == "completed").then_some(())
    })
    .await;

    // Ctrl-C: everything stops, nothing is left behind.
    let pid = dev.id().expect("pid");
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status()
            .expect("kill")
            .success()
    );
    let exit = tokio::time::timeout(Duration::from_secs(30), dev.wait())
        .await
        .expect("mandate dev stops in time")
        .expect("exit status");
    assert!(exit.success(), "mandate dev exits 0 on Ctrl-C: {exit}");
    let everyone = started(&lines.lock().expect("lines"));
    assert!(
        everyone.len() >= 8,
        "nats-server and every component were started: {everyone:?}"
    );
    for (name, pids) in everyone {
        for pid in pids {
            assert!(!alive(pid), "{name} (pid {pid}) is still running");
        }
    }
}

/// nats-server's monitoring port is the client port + 4000: a gateway given that port (or the
/// client port) would crash-loop on "address in use" while the banner said it listened there,
/// and a client port above 61535 would wrap its monitoring port around to a low one.
/// `mandate dev` refuses before it builds or starts anything.
#[test]
fn dev_refuses_a_gateway_on_a_port_the_server_takes() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let empty = tempfile::tempdir().expect("tempdir");
    for (port, gateway, taken) in [
        ("14444", "127.0.0.1:18444", "monitoring port 18444"),
        ("14444", "0.0.0.0:14444", "client port 14444"),
        ("65000", "127.0.0.1:3464", "at most 61535"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mandate"))
            .args(["dev", "--no-build", "--port", port, "--gateway", gateway])
            .arg("--repo")
            .arg(&repo)
            .arg("--bin-dir")
            .arg(empty.path())
            .arg("--data")
            .arg(empty.path().join("data"))
            .stdin(Stdio::null())
            .output()
            .expect("mandate dev runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{gateway}: {stderr}");
        assert!(stderr.contains(taken), "{gateway}: {stderr}");
        assert!(
            stderr.contains("--gateway") || stderr.contains("--port"),
            "{gateway}: {stderr}"
        );
        assert!(!stderr.contains("started"), "{gateway}: nothing may start: {stderr}");
    }
}

/// `mandate dev` in `repo` until it says its components run; then Ctrl-C. Its stderr.
async fn dev_start_and_stop(repo: &std::path::Path) -> Vec<String> {
    let data = tempfile::tempdir().expect("tempdir");
    let nats_server = testkit::nats_server_bin().unwrap_or_else(|e| panic!("{e}"));
    let mut dev = tokio::process::Command::new(env!("CARGO_BIN_EXE_mandate"))
        .args(["dev", "--no-build", "--port", &free_port().to_string()])
        .args(["--gateway", &format!("127.0.0.1:{}", free_port())])
        .args(["--console", &format!("127.0.0.1:{}", free_port())])
        .arg("--repo")
        .arg(repo)
        .arg("--data")
        .arg(data.path())
        .env("NATS_SERVER_BIN", nats_server)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("mandate dev starts");
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut stderr = BufReader::new(dev.stderr.take().expect("stderr")).lines();
    let collected = lines.clone();
    let reader = tokio::spawn(async move {
        while let Ok(Some(line)) = stderr.next_line().await {
            collected.lock().expect("lines").push(line);
        }
    });
    until("the components to run", &lines, async || {
        let running = lines
            .lock()
            .expect("lines")
            .iter()
            .any(|l| l.contains("components running"));
        running.then_some(())
    })
    .await;
    let pid = dev.id().expect("pid").to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let exit = tokio::time::timeout(Duration::from_secs(30), dev.wait())
        .await
        .expect("mandate dev stops in time")
        .expect("exit status");
    assert!(exit.success(), "mandate dev exits 0 on Ctrl-C: {exit}");
    reader.await.expect("stderr read to its end");
    lines.lock().expect("lines").clone()
}

/// The server holds every component to the committed bus-config: when the manifests have
/// changed since it was generated, a component whose rights changed loops on `Authorization
/// Violation` and nothing else says why. `mandate dev` says so once at start, with what to run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_warns_once_when_the_bus_config_is_not_what_the_manifests_generate() {
    let repo = tempfile::tempdir().expect("tempdir");
    let write = |path: &str, text: &str| {
        let path = repo.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    write("Cargo.toml", "[workspace]\nmembers = []\nresolver = \"2\"\n");
    let manifest = |serves: &str| {
        format!(r#"{{"name": "tally", "serves": [{serves}], "start": {{"command": ["sleep", "600"]}}}}"#)
    };
    write("components/tally/manifest.json", &manifest(r#""tally.count.v1""#));
    let generated = std::process::Command::new(env!("CARGO_BIN_EXE_mandate"))
        .args(["bus-config", "--write", "--repo"])
        .arg(repo.path())
        .output()
        .expect("mandate bus-config runs");
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let stale =
        |lines: &[String]| -> Vec<String> { lines.iter().filter(|l| l.contains("bus-config")).cloned().collect() };

    let lines = dev_start_and_stop(repo.path()).await;
    assert_eq!(stale(&lines), Vec::<String>::new(), "a current bus-config: no warning");

    // The manifest gains an operation; the bus-config is not regenerated.
    write(
        "components/tally/manifest.json",
        &manifest(r#""tally.count.v1", "tally.top.v1""#),
    );
    let lines = dev_start_and_stop(repo.path()).await;
    let warnings = stale(&lines);
    assert_eq!(warnings.len(), 1, "said once:\n{}", lines.join("\n"));
    for needle in [
        "bus-config/permissions.conf",
        "Authorization Violation",
        "mandate bus-config --write",
    ] {
        assert!(warnings[0].contains(needle), "{needle:?} in {}", warnings[0]);
    }
}
