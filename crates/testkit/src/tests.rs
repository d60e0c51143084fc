//! The fixtures, tested against real nats-server processes (no mocks). Clients speak the NATS
//! text protocol over a plain `TcpStream`, so no client crate is needed.

use super::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(10);

/// A minimal NATS text-protocol client.
struct Raw {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    requests: u32,
}

impl Raw {
    /// Connects and returns the client with the server's `INFO` line.
    fn connect(port: u16) -> (Raw, String) {
        let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect to the server");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("set a read timeout");
        let writer = stream.try_clone().expect("clone the stream");
        let mut raw = Raw {
            reader: BufReader::new(stream),
            writer,
            requests: 0,
        };
        let info = raw.line();
        assert!(info.starts_with("INFO {"), "expected INFO, got {info:?}");
        (raw, info)
    }

    /// The next protocol line, answering (and skipping) the server's `PING`s.
    fn line(&mut self) -> String {
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).expect("read a protocol line");
            if line.trim_end() == "PING" {
                self.send("PONG\r\n");
                continue;
            }
            return line.trim_end().to_owned();
        }
    }

    fn send(&mut self, text: &str) {
        self.writer.write_all(text.as_bytes()).expect("write to the server");
    }

    /// `CONNECT` with `verbose` on; returns the server's answer (`+OK` or `-ERR ...`).
    fn hello(&mut self, fields: &str) -> String {
        let sep = if fields.is_empty() { "" } else { "," };
        self.send(&format!(
            "CONNECT {{\"verbose\":true,\"pedantic\":false{sep}{fields}}}\r\n"
        ));
        self.line()
    }

    /// A request/reply round trip on an already `hello`'d connection; returns the reply payload.
    fn request(&mut self, subject: &str, payload: &str) -> String {
        self.requests += 1;
        let sid = self.requests;
        // `UNSUB <sid> 1`: the subscription ends by itself after the reply.
        self.send(&format!(
            "SUB _INBOX.testkit.{sid} {sid}\r\nUNSUB {sid} 1\r\n\
             PUB {subject} _INBOX.testkit.{sid} {}\r\n{payload}\r\n",
            payload.len()
        ));
        let prefix = format!("MSG _INBOX.testkit.{sid} {sid} ");
        loop {
            let line = self.line();
            if line == "+OK" {
                continue;
            }
            let size = line
                .strip_prefix(&prefix)
                .unwrap_or_else(|| panic!("expected {prefix}<size>, got {line:?}"));
            let size: usize = size.parse().expect("MSG size");
            let mut body = vec![0; size + 2];
            self.reader.read_exact(&mut body).expect("read MSG payload");
            body.truncate(size);
            return String::from_utf8(body).expect("UTF-8 payload");
        }
    }
}

fn refuses_connections(port: u16) -> bool {
    TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err()
}

#[test]
fn start_serves_jetstream_on_localhost_and_stop_is_idempotent() {
    let mut server = NatsServer::start();
    assert_eq!(server.url(), format!("nats://127.0.0.1:{}", server.port()));
    assert!(
        server.store_dir().join("jetstream").is_dir(),
        "JetStream must use the fixture's store dir"
    );
    let (mut client, info) = Raw::connect(server.port());
    assert!(info.contains("\"jetstream\":true"), "{info}");
    assert_eq!(client.hello(""), "+OK");
    let account = client.request("$JS.API.INFO", "");
    assert!(
        account.contains("\"type\":\"io.nats.jetstream.api.v1.account_info_response\""),
        "{account}"
    );
    assert!(!account.contains("\"error\""), "{account}");
    assert!(server.log().contains("Listening for client connections on "));

    server.stop();
    assert!(refuses_connections(server.port()));
    server.stop();
    server.kill();
}

#[test]
fn parallel_servers_get_different_ports_and_stores() {
    let (a, b) = thread::scope(|s| {
        let a = s.spawn(NatsServer::start);
        let b = s.spawn(NatsServer::start);
        (a.join().expect("start a"), b.join().expect("start b"))
    });
    assert_ne!(a.port(), b.port());
    assert_ne!(a.store_dir(), b.store_dir());
    for server in [&a, &b] {
        let (mut client, _) = Raw::connect(server.port());
        assert_eq!(client.hello(""), "+OK");
    }
}

#[test]
fn restart_keeps_port_store_and_jetstream_data() {
    let mut server = NatsServer::start();
    let port = server.port();
    let store = server.store_dir().to_path_buf();
    {
        let (mut client, _) = Raw::connect(port);
        assert_eq!(client.hello(""), "+OK");
        let created = client.request(
            "$JS.API.STREAM.CREATE.KEEP",
            r#"{"name":"KEEP","subjects":["keep.>"],"storage":"file","num_replicas":1}"#,
        );
        assert!(!created.contains("\"error\""), "{created}");
        let ack = client.request("keep.one", "hello");
        assert!(ack.contains("\"seq\":1"), "{ack}");
    }

    server.restart();
    assert_eq!(server.port(), port);
    assert_eq!(server.store_dir(), store);
    let (mut client, _) = Raw::connect(port);
    assert_eq!(client.hello(""), "+OK");
    let info = client.request("$JS.API.STREAM.INFO.KEEP", "");
    assert!(
        info.contains("\"messages\":1,"),
        "stream data lost across restart: {info}"
    );
}

#[test]
fn kill_then_restart_comes_back_on_the_same_port() {
    let mut server = NatsServer::start();
    let port = server.port();
    server.kill();
    assert!(refuses_connections(port));
    server.restart();
    assert_eq!(server.port(), port);
    let (mut client, _) = Raw::connect(port);
    assert_eq!(client.hello(""), "+OK");
}

#[test]
fn restart_waits_while_the_port_is_taken() {
    let mut server = NatsServer::start();
    let port = server.port();
    server.stop();
    let squatter = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).expect("take the port");
    let release = thread::spawn(move || {
        thread::sleep(Duration::from_millis(300));
        drop(squatter);
    });
    server.restart();
    release.join().expect("release thread");
    assert_eq!(server.port(), port);
    assert!(
        server.log().contains("address already in use"),
        "the first attempt should have failed"
    );
    let (mut client, info) = Raw::connect(port);
    assert!(info.contains("\"jetstream\":true"), "{info}");
    assert_eq!(client.hello(""), "+OK");
}

#[test]
fn drop_kills_the_server() {
    let server = NatsServer::start();
    let port = server.port();
    let dir = server.store_dir().to_path_buf();
    drop(server);
    let refused = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect_err("server is gone");
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    assert!(!dir.exists(), "the temporary directory should be removed");
}

#[test]
fn start_with_config_enforces_authorization() {
    let server =
        NatsServer::start_with_config(r#"authorization { users = [ { user: "alice", password: "s3cret" } ] }"#);
    let (mut client, info) = Raw::connect(server.port());
    assert!(info.contains("\"auth_required\":true"), "{info}");
    assert_eq!(client.hello(r#""user":"alice","pass":"s3cret""#), "+OK");

    let (mut client, _) = Raw::connect(server.port());
    let answer = client.hello(r#""user":"alice","pass":"wrong""#);
    assert!(
        answer.starts_with("-ERR") && answer.contains("Authorization Violation"),
        "{answer}"
    );

    let (mut client, _) = Raw::connect(server.port());
    let answer = client.hello("");
    assert!(answer.starts_with("-ERR"), "{answer}");
}

#[test]
#[should_panic(expected = "did not start")]
fn a_bad_config_panics_with_the_log() {
    let _server = NatsServer::start_with_config("this is { not valid");
}

#[test]
fn start_legacy_runs_a_server_older_than_2_10() {
    let server = NatsServer::start_legacy();
    let (_, info) = Raw::connect(server.port());
    assert!(info.contains("\"version\":\"2.9."), "{info}");
    assert!(info.contains("\"jetstream\":true"), "{info}");
}

#[test]
fn nats_server_bin_finds_a_supported_server() {
    let bin = nats_server_bin().unwrap_or_else(|e| panic!("{e}"));
    let binary = runner::NatsBinary::checked(bin).expect("the chosen binary is >= 2.10");
    assert!(binary.version >= runner::MIN_VERSION);
}

#[test]
fn repo_root_is_the_workspace() {
    assert!(repo_root().join("crates/testkit/Cargo.toml").is_file());
}

#[test]
#[should_panic(expected = "cargo build --workspace --bins --examples")]
fn example_bin_panics_with_a_hint_when_missing() {
    example_bin("no-such-example-testkit");
}

#[test]
#[should_panic(expected = "binary `no-such-binary-testkit` not found")]
fn workspace_bin_panics_with_a_hint_when_missing() {
    workspace_bin("no-such-binary-testkit");
}

const HOLDER_ENV: &str = "TESTKIT_WATCHDOG_HOLDER";

/// Not a test: the child process of [`server_dies_with_its_test_process`]. It starts a server,
/// reports its port and waits to be killed.
#[test]
#[ignore = "helper process for server_dies_with_its_test_process"]
fn watchdog_holder() {
    if std::env::var_os(HOLDER_ENV).is_none() {
        return;
    }
    let server = NatsServer::start();
    println!("PORT={}", server.port());
    std::io::stdout().flush().expect("flush stdout");
    thread::sleep(Duration::from_secs(60));
}

#[test]
fn server_dies_with_its_test_process() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut holder = Command::new(std::env::current_exe().expect("current exe"))
        .args(["--exact", "tests::watchdog_holder", "--ignored", "--nocapture"])
        .env(HOLDER_ENV, "1")
        .env("TMPDIR", tmp.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run the holder");
    let stdout = holder.stdout.take().expect("holder stdout");
    let port: u16 = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("PORT=").and_then(|p| p.parse().ok()))
        .expect("the holder reports its server's port");
    assert!(!refuses_connections(port));

    holder.kill().expect("kill the holder"); // SIGKILL: no destructor runs
    holder.wait().expect("reap the holder");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !refuses_connections(port) {
        assert!(Instant::now() < deadline, "the server outlived its test process");
        thread::sleep(POLL);
    }
}
