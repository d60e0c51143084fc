//! The committed bus-config/: current with the manifests, valid for the pinned nats-server,
//! and working as written — the single node and the 3-node cluster, with the passwords of
//! .env.example in the server's environment.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use runner::{Cluster, NatsBinary, NatsServer, ServerOptions};

use crate::common::{Probe, mandate, repo_root};

/// `.env.example`'s variables (the passwords compose hands to nats-server).
pub fn env_example() -> BTreeMap<String, String> {
    std::fs::read_to_string(repo_root().join(".env.example"))
        .expect(".env.example")
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn nats_server() -> NatsBinary {
    let path = testkit::nats_server_bin().unwrap_or_else(|e| panic!("{e}"));
    NatsBinary::checked(path).unwrap_or_else(|e| panic!("{e:#}"))
}

fn env_pairs() -> Vec<(String, String)> {
    env_example().into_iter().collect()
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
    let server = nats_server();
    for config in [
        "bus-config/nats-server.conf",
        "bus-config/cluster/nats-1.conf",
        "bus-config/cluster/nats-2.conf",
        "bus-config/cluster/nats-3.conf",
    ] {
        if let Err(complaint) = server.check_config(&repo_root().join(config), &env_pairs()) {
            panic!("nats-server -t {config}: {complaint}");
        }
    }
    // Without the passwords in its environment, the server refuses to start.
    let complaint = server
        .check_config(&repo_root().join("bus-config/nats-server.conf"), &[])
        .expect_err("refused without the passwords");
    assert!(complaint.contains("_PASSWORD"), "{complaint}");
}

/// Copies bus-config/ into `dir` and applies `edits` (file relative to bus-config/, exact text
/// that must occur once, replacement); returns the copy's path.
fn edited_copy(dir: &Path, edits: &[(&str, &str, String)]) -> PathBuf {
    let copy = dir.join("bus-config");
    copy_dir(&repo_root().join("bus-config"), &copy);
    for (file, from, to) in edits {
        let path = copy.join(file);
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text.matches(from).count(), 1, "{file} has not exactly one {from:?}");
        std::fs::write(path, text.replacen(from, to, 1)).expect("write");
    }
    copy
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

/// The port after `marker` in `log` (`Starting http monitor on 127.0.0.1:N`).
fn logged_port(log: &str, marker: &str) -> u16 {
    log.lines()
        .find_map(|l| {
            l.split_once(marker)
                .and_then(|(_, a)| a.trim().rsplit_once(':')?.1.parse().ok())
        })
        .unwrap_or_else(|| panic!("no {marker:?} in the log:\n{log}"))
}

fn http_get(port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connects");
    stream.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    response
}

/// nats-server with the committed single-node config (its ports free ones, its store under
/// `store`) and the passwords of .env.example in its environment.
pub fn committed_node(store: &Path) -> NatsServer {
    let copy = edited_copy(
        store,
        &[
            ("nats-server.conf", "port: 4222", "port: -1".to_owned()),
            ("nats-server.conf", "http_port: 8222", "http_port: -1".to_owned()),
            (
                "nats-server.conf",
                "store_dir: \"/data\"",
                format!("store_dir: {:?}", store.join("js").display().to_string()),
            ),
        ],
    );
    let options = ServerOptions {
        env: env_pairs(),
        ..ServerOptions::default()
    };
    NatsServer::start_with_file(
        &nats_server(),
        &copy.join("nats-server.conf"),
        &store.join("js"),
        options,
    )
    .unwrap_or_else(|e| panic!("{e:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_committed_single_node_config_runs_with_its_users_only() {
    let store = tempfile::tempdir().expect("tempdir");
    let node = committed_node(store.path());
    let monitor = logged_port(&node.log(), "Starting http monitor on ");
    let url = node.url();

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
    let cluster = Cluster::committed(&nats_server(), &repo_root(), &env_pairs()).unwrap_or_else(|e| panic!("{e:#}"));
    let url = cluster.nodes[0].url();
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
                    cluster.logs()
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
