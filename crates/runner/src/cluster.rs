//! The committed 3-node cluster (`bus-config/cluster/`) on this machine: the files copied to a
//! temporary directory, each node's ports, store and routes made local, the rest — limits,
//! JetStream settings, users — exactly as committed, so what is tested is what is shipped.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::binary::NatsBinary;
use crate::ports::free_port;
use crate::server::{NatsServer, ServerOptions};

/// The nodes of the committed cluster file layout.
pub const NODES: usize = 3;

/// Three running nodes of the committed cluster config; killed when dropped.
#[derive(Debug)]
pub struct Cluster {
    pub nodes: Vec<NatsServer>,
    // Last: removed after the nodes are gone.
    dir: tempfile::TempDir,
}

/// One node's local ports and store.
struct Local {
    client: u16,
    monitor: u16,
    route: u16,
    store: PathBuf,
}

/// Starts of the whole cluster, on fresh ports each, while one of its ports is taken.
const PORT_ATTEMPTS: usize = 3;

impl Cluster {
    /// Starts the committed cluster of `repo` with `env` in each node's environment (the
    /// `<USER>_PASSWORD` variables its users need). A node's ports are written into its file
    /// before it starts, so another process can take one in between (tests run in parallel):
    /// then the cluster starts again on other ports.
    pub fn committed(binary: &NatsBinary, repo: &Path, env: &[(String, String)]) -> anyhow::Result<Cluster> {
        let mut attempt = 1;
        loop {
            match Cluster::start(binary, repo, env) {
                Err(err) if attempt < PORT_ATTEMPTS && format!("{err:#}").contains("address already in use") => {
                    attempt += 1;
                }
                started => return started,
            }
        }
    }

    fn start(binary: &NatsBinary, repo: &Path, env: &[(String, String)]) -> anyhow::Result<Cluster> {
        let dir = tempfile::Builder::new().prefix("nats-cluster-").tempdir()?;
        let copy = dir.path().join("bus-config");
        copy_dir(&repo.join("bus-config"), &copy)?;
        let shared =
            std::fs::read_to_string(copy.join("cluster/cluster.conf")).context("bus-config/cluster/cluster.conf")?;
        let locals = (0..NODES)
            .map(|i| {
                Ok(Local {
                    client: free_port()?,
                    monitor: free_port()?,
                    route: free_port()?,
                    store: dir.path().join(format!("store-{}", i + 1)),
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let routes: Vec<u16> = locals.iter().map(|l| l.route).collect();
        let mut nodes = Vec::new();
        for (i, local) in locals.iter().enumerate() {
            let n = i + 1;
            std::fs::create_dir_all(&local.store)?;
            std::fs::write(
                copy.join(format!("cluster/cluster-{n}.conf")),
                localize(&shared, local, &routes)?,
            )?;
            let node_file = copy.join(format!("cluster/nats-{n}.conf"));
            let node =
                std::fs::read_to_string(&node_file).with_context(|| format!("bus-config/cluster/nats-{n}.conf"))?;
            let include = "include \"cluster.conf\"";
            if node.matches(include).count() != 1 {
                bail!("bus-config/cluster/nats-{n}.conf has changed shape: it should have one `{include}`");
            }
            std::fs::write(
                &node_file,
                node.replace(include, &format!("include \"cluster-{n}.conf\"")),
            )?;
            let options = ServerOptions {
                env: env.to_vec(),
                parent: Some(dir.path().to_owned()),
                ..ServerOptions::default()
            };
            nodes.push(NatsServer::start_with_file(binary, &node_file, &local.store, options)?);
        }
        Ok(Cluster { nodes, dir })
    }

    /// Every node's client URL, comma-separated (what `NATS_URL` takes).
    pub fn url_list(&self) -> String {
        self.nodes.iter().map(NatsServer::url).collect::<Vec<_>>().join(",")
    }

    /// Every node's log so far, one after another (for failure messages).
    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(NatsServer::log)
            .collect::<Vec<_>>()
            .join("\n----\n")
    }

    /// The temporary directory holding the copied config and the stores.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// The shared cluster file with one node's ports, store and routes: every replaced line must
/// be found exactly once, so a change of the committed file's shape is an error, not a node
/// silently listening on 4222.
fn localize(shared: &str, local: &Local, routes: &[u16]) -> anyhow::Result<String> {
    let mut out = Vec::new();
    let mut seen = [0usize; 5];
    let mut in_cluster = false;
    let mut in_routes = false;
    for line in shared.lines() {
        let trimmed = line.trim();
        if in_routes {
            if trimmed.starts_with(']') {
                in_routes = false;
                out.push(line.to_owned());
            }
            continue;
        }
        if trimmed.starts_with("cluster {") || trimmed.starts_with("cluster:") {
            in_cluster = true;
        } else if in_cluster && trimmed.starts_with('}') {
            in_cluster = false;
        }
        let replaced = if trimmed.starts_with("port:") && !in_cluster {
            seen[0] += 1;
            format!("port: {}", local.client)
        } else if trimmed.starts_with("http_port:") {
            seen[1] += 1;
            format!("http_port: {}", local.monitor)
        } else if trimmed.starts_with("store_dir:") {
            seen[2] += 1;
            format!("  store_dir: {}", crate::config::quoted(&local.store))
        } else if trimmed.starts_with("port:") {
            seen[3] += 1;
            format!("  port: {}", local.route)
        } else if trimmed.starts_with("routes: [") {
            seen[4] += 1;
            in_routes = true;
            out.push(line.to_owned());
            out.extend(routes.iter().map(|p| format!("    \"nats-route://127.0.0.1:{p}\"")));
            continue;
        } else {
            line.to_owned()
        };
        out.push(replaced);
    }
    let names = ["port", "http_port", "store_dir", "cluster.port", "cluster.routes"];
    for (name, count) in names.iter().zip(seen) {
        if count != 1 {
            bail!("bus-config/cluster/cluster.conf has changed shape: {count} `{name}` settings, expected 1");
        }
    }
    Ok(out.join("\n") + "\n")
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> Local {
        Local {
            client: 1001,
            monitor: 1002,
            route: 1003,
            store: PathBuf::from("/tmp/s"),
        }
    }

    #[test]
    fn a_node_gets_its_own_ports_store_and_local_routes() {
        let shared = "port: 4222\nhttp_port: 8222\njetstream {\n  store_dir: \"/data\"\n}\ncluster {\n  name: m\n  port: 6222\n  routes: [\n    \"nats-route://nats-1:6222\"\n  ]\n}\n";
        let text = localize(shared, &local(), &[7, 8]).expect("localized");
        assert_eq!(
            text,
            "port: 1001\nhttp_port: 1002\njetstream {\n  store_dir: \"/tmp/s\"\n}\ncluster {\n  name: m\n  port: 1003\n  routes: [\n    \"nats-route://127.0.0.1:7\"\n    \"nats-route://127.0.0.1:8\"\n  ]\n}\n"
        );
    }

    #[test]
    fn a_changed_shape_is_an_error_not_a_node_on_the_default_ports() {
        let err = localize("http_port: 8222\n", &local(), &[7]).expect_err("no port");
        assert!(err.to_string().contains("0 `port` settings"), "{err}");
    }
}
