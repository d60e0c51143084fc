//! Traces are off by default (docs/operate.md, "Traces"): a component run without the OTEL
//! variables exports nothing and listens on nothing — its only sockets are its connections to
//! NATS. The same check run with `OTEL_EXPORTER_OTLP_ENDPOINT` set sees the export's
//! connection, so it is not blind. (The span tree itself: e2e `traces.rs`.)

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::time::Duration;

use crate::common::{Harness, placed, wait_applied};

/// A TCP socket of a process, as `/proc/<pid>/net/tcp{,6}` shows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Socket {
    listening: bool,
    remote_port: u16,
}

/// The TCP sockets process `pid` holds: those of its namespace's table whose inode is one of
/// its open files.
fn sockets(pid: u32) -> BTreeSet<Socket> {
    let inodes: BTreeSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("its open files")
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|link| {
            let link = link.to_string_lossy().into_owned();
            Some(link.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned())
        })
        .collect();
    let mut found = BTreeSet::new();
    for table in ["tcp", "tcp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(remote), Some(state), Some(inode)) = (fields.get(2), fields.get(3), fields.get(9)) else {
                continue;
            };
            if !inodes.contains(*inode) {
                continue;
            }
            let port = remote.rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok());
            found.insert(Socket {
                listening: *state == "0A",
                remote_port: port.unwrap_or(0),
            });
        }
    }
    found
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port in the URL")
}

/// Runs the counter example with `otel` added to a clean environment, feeds it `order`, and
/// once it has applied it watches its sockets for `watch` (time for a batch span processor to
/// send what it holds), until `seen` says they show what is looked for. Returns the last seen.
async fn counter_sockets(
    h: &Harness,
    otel: &[(&str, String)],
    order: &str,
    applied: u64,
    watch: Duration,
    seen: impl Fn(&BTreeSet<Socket>) -> bool,
) -> BTreeSet<Socket> {
    let mut process = runner::Process::new("counter", testkit::example_bin("counter"))
        .clear_env()
        .env("NATS_URL", h.server.url())
        .env("MANDATE_DATA_DIR", h.dir.path())
        .env("RUST_LOG", "warn");
    for (name, value) in otel {
        process = process.env(name, value);
    }
    let child = process.spawn().expect("the example starts");
    h.bus
        .publish(&placed(order, "alice", "sku-1", 1))
        .await
        .expect("published");
    wait_applied(&h.bus, "counter", applied).await;
    let deadline = tokio::time::Instant::now() + watch;
    let mut found = sockets(child.pid());
    while !seen(&found) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        found = sockets(child.pid());
    }
    assert!(child.terminate(Duration::from_secs(10)), "it stops cleanly");
    found
}

#[tokio::test]
async fn without_the_otel_variables_nothing_is_exported_and_nothing_listens() {
    let h = Harness::new(&[]).await;
    h.create_stream("orders").await;
    let nats = port_of(&h.server.url());

    // The control: export on, to a collector that accepts and never answers (its connection
    // stays open while the exporter waits).
    let collector = TcpListener::bind("127.0.0.1:0").expect("a collector's port");
    let collector_port = collector.local_addr().expect("its address").port();
    let on = [
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{collector_port}"),
        ),
        ("OTEL_BSP_SCHEDULE_DELAY", "100".to_owned()),
        // Long enough to be seen open, short enough for the stop's flush to give up quickly.
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "3000".to_owned()),
    ];
    let to_collector = |found: &BTreeSet<Socket>| found.iter().any(|s| s.remote_port == collector_port);
    let exporting = counter_sockets(&h, &on, "o-1", 1, Duration::from_secs(5), to_collector).await;
    assert!(
        to_collector(&exporting),
        "with the endpoint set, the check sees the export's connection: {exporting:?}"
    );

    // Off: watched as long as the control needed at most, for anything but NATS.
    let elsewhere = |found: &BTreeSet<Socket>| found.iter().any(|s| s.listening || s.remote_port != nats);
    let off = counter_sockets(&h, &[], "o-2", 2, Duration::from_secs(2), elsewhere).await;
    assert!(!off.is_empty(), "the check sees its NATS connection");
    for socket in &off {
        assert!(!socket.listening, "nothing listens: {off:?}");
        assert_eq!(socket.remote_port, nats, "its only connections are to NATS: {off:?}");
    }
}
