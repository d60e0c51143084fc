//! The storefront with its metrics listeners on, and a real Prometheus scraping it: each
//! process gets `MANDATE_METRICS` on a free port of its own (kept across restarts), `mandate
//! prometheus-config` writes the scrape configuration for those addresses, and
//! [`Prometheus`] runs Debian's `prometheus` (`scripts/install-prometheus`) on it and answers
//! queries through its HTTP API (docs/operate.md).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::Stack;
use crate::stack::lock;

/// The variable that turns a process's metrics listener on.
pub const METRICS: &str = "MANDATE_METRICS";

/// `MANDATE_METRICS` on a free local port.
pub(crate) fn listener_env() -> (String, String) {
    (METRICS.to_owned(), format!("127.0.0.1:{}", free_port()))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("e2e: a free port")
        .port()
}

impl Stack {
    /// The whole storefront (as [`Stack::storefront`]), every process with its metrics
    /// listener on; the gateway too once started.
    pub async fn storefront_observed() -> Stack {
        Stack::start_single(&testkit::repo_root(), &testkit::bin_dir(), None, true).await
    }

    /// Where each process started so far listens for `/metrics`, `/livez` and `/readyz`.
    pub fn metrics_addresses(&self) -> BTreeMap<String, String> {
        lock(self.envs())
            .iter()
            .filter_map(|(name, env)| {
                let (_, addr) = env.iter().find(|(k, _)| k == METRICS)?;
                Some((name.clone(), addr.clone()))
            })
            .collect()
    }
}

/// A Prometheus server of its own: configuration and storage in a temporary directory, a free
/// port; killed when dropped.
pub struct Prometheus {
    pub url: String,
    http: reqwest::Client,
    _process: runner::Running,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts `prometheus` (on PATH) with `config` and waits until it is ready.
    pub async fn start(config: &str) -> Prometheus {
        let binary = which("prometheus").unwrap_or_else(|| {
            panic!("e2e: no `prometheus` on PATH: install Debian's package with scripts/install-prometheus (scripts/test does)")
        });
        let dir = tempfile::tempdir().expect("e2e: tempdir");
        let config_file = dir.path().join("prometheus.yml");
        std::fs::write(&config_file, config).expect("e2e: writes the configuration");
        let listen = format!("127.0.0.1:{}", free_port());
        let process = runner::Process::new("prometheus", binary)
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address={listen}"))
            .output(runner::Output::File(dir.path().join("prometheus.log")))
            .spawn()
            .unwrap_or_else(|e| panic!("e2e: cannot start prometheus: {e:#}"));
        let prometheus = Prometheus {
            url: format!("http://{listen}"),
            http: reqwest::Client::new(),
            _process: process,
            _dir: dir,
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let ready = prometheus.http.get(format!("{}/-/ready", prometheus.url)).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return prometheus;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "e2e: prometheus not ready within 30 s:\n{}",
                prometheus.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// What it logged, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// The instant vector of `query` as (labels, value) pairs; empty when the query fails.
    pub async fn query(&self, query: &str) -> Vec<(BTreeMap<String, String>, f64)> {
        let Ok(url) = reqwest::Url::parse_with_params(&format!("{}/api/v1/query", self.url), [("query", query)]) else {
            return Vec::new();
        };
        let answer = self.http.get(url).send().await;
        let Ok(answer) = answer else { return Vec::new() };
        let Ok(body) = answer.json::<Value>().await else {
            return Vec::new();
        };
        let results = body["data"]["result"].as_array().cloned().unwrap_or_default();
        results
            .iter()
            .filter_map(|r| {
                let labels = serde_json::from_value(r["metric"].clone()).ok()?;
                let value = r["value"][1].as_str()?.parse().ok()?;
                Some((labels, value))
            })
            .collect()
    }
}

/// The scrape configuration `mandate prometheus-config` writes for `addresses`, scraping every
/// second.
pub fn scrape_config(repo: &Path, addresses: &BTreeMap<String, String>) -> String {
    let mut process = runner::Process::new("mandate", testkit::workspace_bin("mandate"))
        .args([
            "prometheus-config",
            "--only-addressed",
            "--scrape-interval",
            "1s",
            "--repo",
        ])
        .arg(repo);
    for (name, addr) in addresses {
        process = process.arg("--address").arg(format!("{name}={addr}"));
    }
    let finished = process
        .run(Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("e2e: mandate prometheus-config: {e:#}"));
    assert!(
        finished.status.success(),
        "e2e: mandate prometheus-config failed: {}",
        finished.stderr
    );
    finished.stdout
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|path| path.is_file())
}
