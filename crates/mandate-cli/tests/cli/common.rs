//! A real nats-server per test, small kit components defined here (no `schemas`), and the
//! real `mandate` binary run as a process.

use std::process::Stdio;
use std::time::Duration;

use mandate::{
    Bus, Component, ConnectionOptions, Context, Event, HandlerResult, Operation, Options, Running, ServiceError, View,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use testkit::NatsServer;
use tokio::io::AsyncWriteExt;

/// A server, a data directory and a client for one test.
pub struct Env {
    pub server: NatsServer,
    pub dir: tempfile::TempDir,
    pub bus: Bus,
}

impl Env {
    pub async fn new() -> Env {
        let server = NatsServer::start();
        let bus = Bus::connect(&ConnectionOptions::new(server.url()), "test")
            .await
            .expect("connects");
        Env {
            server,
            dir: tempfile::tempdir().expect("tempdir"),
            bus,
        }
    }

    pub fn options(&self) -> Options {
        let mut options = Options::new(self.server.url(), self.dir.path());
        options.batch_size = 16;
        options.max_attempts = 2;
        options.retry_backoff = Duration::from_millis(10);
        // A rebuild can strand a pulled batch until JetStream redelivers it after ack_wait
        // (seen with the kit's delete-and-recreate of the durable consumer): keep that short.
        options.ack_wait = Duration::from_secs(2);
        options
    }

    pub async fn start(&self, component: Component) -> Running {
        component.start(self.options()).await.expect("component starts")
    }

    /// `EVT_<OWNER>` as the owner would create it, with the given duplicate window.
    pub async fn create_stream(&self, owner: &str, duplicate_window: Duration) {
        self.bus
            .jetstream()
            .create_stream(async_nats::jetstream::stream::Config {
                name: mandate::stream_name(owner),
                subjects: vec![format!("evt.{owner}.>")],
                duplicate_window,
                ..Default::default()
            })
            .await
            .expect("stream created");
    }

    pub async fn stream_messages(&self, stream: &str) -> u64 {
        match self.bus.jetstream().get_stream(stream).await {
            Ok(mut stream) => stream.info().await.expect("stream info").state.messages,
            Err(_) => 0,
        }
    }

    /// Runs `mandate ARGS` against this server.
    pub async fn mandate(&self, args: &[&str]) -> Out {
        run(&self.server.url(), args, None).await
    }

    /// Runs `mandate ARGS` with `stdin` piped in.
    pub async fn mandate_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Out {
        run(&self.server.url(), args, Some(stdin)).await
    }

    /// Starts `mandate ARGS` and leaves it running (stdout piped), for following commands.
    pub fn spawn(&self, args: &[&str]) -> tokio::process::Child {
        command(&self.server.url(), args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("mandate starts")
    }
}

fn command(url: &str, args: &[&str]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_mandate"));
    command.args(args).env("NATS_URL", url).env_remove("RUST_LOG");
    for name in [
        "NATS_USER",
        "NATS_PASSWORD",
        "NATS_PASSWORD_FILE",
        "NATS_CREDS",
        "NATS_NKEY_FILE",
    ] {
        command.env_remove(name);
    }
    command
}

/// Runs the binary to completion (30 s at most).
pub async fn run(url: &str, args: &[&str], stdin: Option<&[u8]>) -> Out {
    let mut child = command(url, args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("mandate starts");
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input).await.expect("stdin written");
        drop(pipe);
    }
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("mandate {args:?} did not finish within 30 s"))
        .expect("mandate runs");
    let out = Out {
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(
        !out.stderr.contains("panicked"),
        "mandate {args:?} panicked:\n{}",
        out.stderr
    );
    out
}

/// What a run of the binary left behind.
#[derive(Debug)]
pub struct Out {
    pub args: Vec<String>,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Asserts exit code 0.
    pub fn ok(self) -> Out {
        assert_eq!(
            self.code, 0,
            "mandate {:?} failed:\nstdout: {}\nstderr: {}",
            self.args, self.stdout, self.stderr
        );
        self
    }

    /// Asserts an exit code and that stderr mentions `needle`.
    pub fn fails(self, code: i32, needle: &str) -> Out {
        assert_eq!(
            self.code, code,
            "mandate {:?}: wrong exit code\nstdout: {}\nstderr: {}",
            self.args, self.stdout, self.stderr
        );
        assert!(
            self.stderr.contains(needle),
            "mandate {:?}: stderr does not mention {needle:?}:\n{}",
            self.args,
            self.stderr
        );
        self
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("mandate {:?}: stdout is not JSON ({e}):\n{}", self.args, self.stdout))
    }

    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}")))
            .collect()
    }
}

pub use testkit::eventually;

/// Asserts that `value` follows the committed schema `schemas/json/<file>`.
pub fn assert_follows_schema(file: &str, value: &Value) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../schemas/json")
        .join(file);
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("schema committed")).expect("JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    let problems: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{}: {e}", e.instance_path))
        .collect();
    assert!(problems.is_empty(), "{value} does not follow {file}: {problems:#?}");
}

// ---- the contract of these tests ---------------------------------------------------------

/// `evt.notes.noted.v1`: a number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Noted {
    pub n: u32,
}

impl Event for Noted {
    const OWNER: &'static str = "notes";
    const NAME: &'static str = "noted";
    const VERSION: u32 = 1;
}

/// The same event read leniently: what a fixed consumer accepts (`n` of any type).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotedLoosely {
    pub n: Value,
}

impl Event for NotedLoosely {
    const OWNER: &'static str = "notes";
    const NAME: &'static str = "noted";
    const VERSION: u32 = 1;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Totals {
    pub count: u64,
    pub sum: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Empty {}

/// `svc.counter.totals.v1`
pub struct GetTotals;

impl Operation for GetTotals {
    const OWNER: &'static str = "counter";
    const NAME: &'static str = "totals";
    const VERSION: u32 = 1;
    type Request = Empty;
    type Response = Totals;
}

/// Counts and sums `evt.notes.noted.v1`; a note whose `n` is not a number is undecodable.
pub fn counter() -> Component {
    Component::new("counter")
        .on::<Noted>(|ctx, note: Noted| add(ctx, u64::from(note.n)))
        .query::<GetTotals>(totals)
}

/// The fixed counter: accepts any `n`, counting non-numbers as 0.
pub fn lenient_counter() -> Component {
    Component::new("counter")
        .on::<NotedLoosely>(|ctx, note: NotedLoosely| add(ctx, note.n.as_u64().unwrap_or(0)))
        .query::<GetTotals>(totals)
}

fn add(ctx: &mut Context<'_>, n: u64) -> HandlerResult {
    let mut totals: Totals = ctx.get("totals")?.unwrap_or_default();
    totals.count += 1;
    totals.sum += n;
    ctx.put("totals", &totals)?;
    Ok(())
}

fn totals(view: &View, _: Empty) -> Result<Totals, ServiceError> {
    Ok(view.get("totals")?.unwrap_or_default())
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EchoRequest {
    pub text: String,
    #[serde(default)]
    pub fail: Option<u16>,
    #[serde(default)]
    pub sleep_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EchoReply {
    pub text: String,
    pub length: usize,
}

/// `svc.tester.echo.v1`
pub struct Echo;

impl Operation for Echo {
    const OWNER: &'static str = "tester";
    const NAME: &'static str = "echo";
    const VERSION: u32 = 1;
    type Request = EchoRequest;
    type Response = EchoReply;
}

/// Echoes; fails with the asked code (retryable when 503); sleeps when asked.
pub fn tester() -> Component {
    Component::new("tester")
        .version("1.2.3")
        .query::<Echo>(|_, request: EchoRequest| {
            if request.sleep_ms > 0 {
                std::thread::sleep(Duration::from_millis(request.sleep_ms));
            }
            if let Some(code) = request.fail {
                return Err(ServiceError::new(
                    code,
                    format!("asked to fail with {code}"),
                    code == 503,
                ));
            }
            Ok(EchoReply {
                length: request.text.chars().count(),
                text: request.text,
            })
        })
}
