//! The bench's own nats-server, a fresh one per scenario, started by the process runner
//! (`crates/runner`): a free local port, a temporary JetStream store in the bench's scratch
//! folder, ready once JetStream answers, killed when dropped.

use std::path::{Path, PathBuf};

use runner::{NatsBinary, NatsServer, ServerOptions};

/// A running nats-server for one scenario.
#[derive(Debug)]
pub struct Server {
    inner: NatsServer,
    pub version: String,
}

impl Server {
    /// Starts a fresh server: free port, empty store under `parent` (the bench's scratch folder).
    pub fn start(parent: &Path) -> anyhow::Result<Server> {
        let binary = find()?;
        let options = ServerOptions {
            parent: Some(parent.to_owned()),
            ..ServerOptions::default()
        };
        Ok(Server {
            inner: NatsServer::start(&binary, options)?,
            version: binary.version_text(),
        })
    }

    /// The server's process id (for its CPU time).
    pub fn pid(&self) -> u32 {
        self.inner.pid().unwrap_or_default()
    }

    pub fn url(&self) -> String {
        self.inner.url()
    }
}

/// The nats-server to run: `NATS_SERVER_BIN`; else `.tools/bin/nats-server` under the
/// repository this bench was built from, the folders above this executable and above the
/// working directory; else `PATH`.
fn find() -> anyhow::Result<NatsBinary> {
    let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let exe = std::env::current_exe().ok();
    let cwd = std::env::current_dir().ok();
    let bases: Vec<PathBuf> = std::iter::once(built_from)
        .chain(exe.iter().flat_map(|e| e.ancestors().map(Path::to_path_buf)))
        .chain(cwd.iter().flat_map(|c| c.ancestors().map(Path::to_path_buf)))
        .collect();
    NatsBinary::find(bases.iter().map(PathBuf::as_path))
}
