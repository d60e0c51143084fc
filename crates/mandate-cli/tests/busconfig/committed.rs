//! The committed bus-config/: current with the manifests, valid for the pinned nats-server,
//! and working as written — the single node and the 3-node cluster, with the passwords of
//! .env.example in the server's environment.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Probe, mandate, repo_root};

/// `.env.example`'s variables (the passwords compose hands to nats-server).
fn env_example() -> BTreeMap<String, String> {
    std::fs::read_to_string(repo_root().join(".env.example"))
        .expect(".env.example")
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn nats_server() -> PathBuf {
    testkit::nats_server_bin().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_committed_bus_config_is_what_the_manifests_generate() {
    let out = mandate(&["bus-config", "--repo", &repo_root().display().to_string()]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_committed_server_configs_are_valid() {
    for config in [
        "bus-config/nats-server.conf",
        "bus-config/cluster/nats-1.conf",
        "bus-config/cluster/nats-2.conf",
        "bus-config/cluster/nats-3.conf",
    ] {
        let out = Command::new(nats_server())
            .arg("-t")
            .arg("-c")
            .arg(repo_root().join(config))
            .env_clear()
            .envs(env_example())
            .output()
            .expect("nats-server runs");
        assert!(
            out.status.success(),
            "nats-server -t {config}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Without the passwords in its environment, the server refuses to start.
    let out = Command::new(nats_server())
        .arg("-t")
        .arg("-c")
        .arg(repo_root().join("bus-config/nats-server.conf"))
        .env_clear()
        .output()
        .expect("nats-server runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("_PASSWORD"));
}

/// A nats-server process on a copy of the committed files; killed on drop.
struct Node {
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Node {
    /// Copies bus-config/ into a temporary directory, applies `edits` (file relative to
    /// bus-config/, exact text that must occur once, replacement), and runs `config` with
    /// .env.example's variables in the server's environment.
    fn start(config: &str, edits: &[(&str, &str, String)]) -> Node {
        let dir = tempfile::tempdir().expect("tempdir");
        let copy = dir.path().join("bus-config");
        copy_dir(&repo_root().join("bus-config"), &copy);
        let mut edited: BTreeMap<PathBuf, String> = BTreeMap::new();
        for (file, from, to) in edits {
            let path = copy.join(file);
            let text = edited
                .remove(&path)
                .unwrap_or_else(|| std::fs::read_to_string(&path).expect("read"));
            assert_eq!(text.matches(from).count(), 1, "{file} has not exactly one {from:?}");
            edited.insert(path, text.replacen(from, to, 1));
        }
        for (path, text) in edited {
            std::fs::write(path, text).expect("write");
        }
        let log = dir.path().join("log");
        let child = Command::new(nats_server())
            .arg("-c")
            .arg(copy.join(config))
            .arg("-l")
            .arg(&log)
            .current_dir(dir.path())
            .env_clear()
            .envs(env_example())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        Node { child, log, _dir: dir }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The port after `marker` in the log (`Listening for client connections on 0.0.0.0:N`).
    fn port(&self, marker: &str) -> u16 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(port) = self.log().lines().find_map(|l| {
                l.split_once(marker)
                    .and_then(|(_, a)| a.trim().rsplit_once(':')?.1.parse().ok())
            }) {
                return port;
            }
            assert!(Instant::now() < deadline, "no {marker:?} in the log:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn http_get(port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connects");
    stream.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_committed_single_node_config_runs_with_its_users_only() {
    let store = tempfile::tempdir().expect("tempdir");
    let node = Node::start(
        "nats-server.conf",
        &[
            ("nats-server.conf", "port: 4222", "port: -1".to_owned()),
            ("nats-server.conf", "http_port: 8222", "http_port: -1".to_owned()),
            (
                "nats-server.conf",
                "store_dir: \"/data\"",
                format!("store_dir: {:?}", store.path().display().to_string()),
            ),
        ],
    );
    let port = node.port("Listening for client connections on ");
    let monitor = node.port("Starting http monitor on ");
    let url = format!("nats://127.0.0.1:{port}");

    let health = http_get(monitor, "/healthz");
    assert!(health.starts_with("HTTP/1.0 200") && health.contains("ok"), "{health}");
    let varz = http_get(monitor, "/varz");
    assert!(
        varz.contains("\"sync_always\": true") || varz.contains("\"sync_always\":true"),
        "{varz}"
    );

    assert!(
        async_nats::connect(url.as_str()).await.is_err(),
        "an anonymous client was let in"
    );
    let wrong = async_nats::ConnectOptions::with_user_and_password("orders".into(), "wrong".into())
        .connect(url.as_str())
        .await;
    assert!(wrong.is_err(), "a wrong password was accepted");
    // Every user of .env.example logs in with its password from the environment.
    for (var, password) in env_example() {
        let user = var.trim_end_matches("_PASSWORD").to_lowercase().replace('_', "-");
        let inbox = if user == "operator" {
            "mandate-cli".to_owned()
        } else {
            user.clone()
        };
        Probe::connect(&url, Some((&user, &password)), &format!("_INBOX.{inbox}")).await;
    }
    drop(node);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_committed_cluster_config_forms_a_cluster_with_replicated_streams() {
    let routes: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let route_list = routes
        .iter()
        .map(|p| format!("    \"nats-route://127.0.0.1:{p}\""))
        .collect::<Vec<_>>()
        .join("\n");
    let stores: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().expect("tempdir")).collect();
    let nodes: Vec<Node> = (0..3)
        .map(|i| {
            Node::start(
                &format!("cluster/nats-{}.conf", i + 1),
                &[
                    ("cluster/cluster.conf", "\nport: 4222", "\nport: -1".to_owned()),
                    ("cluster/cluster.conf", "http_port: 8222", "http_port: -1".to_owned()),
                    (
                        "cluster/cluster.conf",
                        "store_dir: \"/data\"",
                        format!("store_dir: {:?}", stores[i].path().display().to_string()),
                    ),
                    ("cluster/cluster.conf", "port: 6222", format!("port: {}", routes[i])),
                    (
                        "cluster/cluster.conf",
                        "    \"nats-route://nats-1:6222\"\n    \"nats-route://nats-2:6222\"\n    \"nats-route://nats-3:6222\"",
                        route_list.clone(),
                    ),
                ],
            )
        })
        .collect();
    let url = format!(
        "nats://127.0.0.1:{}",
        nodes[0].port("Listening for client connections on ")
    );
    let password = env_example()["OPERATOR_PASSWORD"].clone();
    let operator = Probe::connect(&url, Some(("operator", &password)), "_INBOX.mandate-cli").await;
    let js = async_nats::jetstream::new(operator.client.clone());

    // The nodes elect a meta leader, then a stream gets three replicas.
    let deadline = Instant::now() + Duration::from_secs(20);
    let info = loop {
        let created = js
            .create_stream(async_nats::jetstream::stream::Config {
                name: "EVT_REPLICATED".into(),
                subjects: vec!["evt.replicated.>".into()],
                num_replicas: 3,
                ..Default::default()
            })
            .await;
        match created {
            Ok(mut stream) => break stream.info().await.expect("info").clone(),
            Err(err) => {
                assert!(
                    Instant::now() < deadline,
                    "no replicated stream: {err}\n{}",
                    nodes.iter().map(Node::log).collect::<Vec<_>>().join("\n----\n")
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    assert_eq!(info.config.num_replicas, 3);
    let cluster = info.cluster.expect("cluster info");
    assert_eq!(cluster.replicas.len(), 2, "{cluster:?}");
    let mut names: Vec<String> = cluster.replicas.iter().map(|r| r.name.clone()).collect();
    names.extend(cluster.leader);
    names.sort();
    assert_eq!(names, ["nats-1", "nats-2", "nats-3"]);
}
