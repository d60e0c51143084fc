//! A component made by `mandate new` is run by everything that runs components — the e2e
//! stack and `mandate dev` — with no edit anywhere: they find it by its manifest.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use e2e::Stack;
use mandate::{Bus, ConnectionOptions};
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
