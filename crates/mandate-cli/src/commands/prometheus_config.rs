//! `mandate prometheus-config`: a Prometheus scrape configuration for the system's components,
//! from their manifests — one job per component whose process serves `/metrics` (a workspace
//! crate: a Rust kit component or the gateway; or a manifest's `"metrics": true`), at `<name>:9464` as
//! docker-compose names and configures them, or at the address given with `--address
//! NAME=HOST:PORT` (docs/operate.md). A partitioned component is one job with a target per
//! partition (`orders-p0of3:9464`, ... labelled `partition="p0of3"`); `--address` names a
//! partition as `mandate status` does (`orders.p0of3=HOST:PORT`). A component started by a
//! command of its own (another language) is scraped when its manifest declares `"metrics":
//! true` (a component on the Python kit does); otherwise it is listed in a comment.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};

use super::Global;
use crate::repo::{self, manifest};

/// The port of a component's metrics listener in the compose file (`MANDATE_METRICS`).
const DEFAULT_PORT: u16 = 9464;

#[derive(Debug, clap::Args)]
pub struct PrometheusConfigArgs {
    /// Where one component's listener is, `NAME=HOST:PORT` (repeatable; a partition is
    /// `NAME.pPofN`); the others are scraped at `NAME:9464` (a partition at `NAME-pPofN:9464`),
    /// their compose service name and port.
    #[arg(long = "address", value_name = "NAME=HOST:PORT", value_parser = parse_address)]
    pub addresses: Vec<(String, String)>,
    /// How often Prometheus scrapes each component.
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    pub scrape_interval: Duration,
    /// Scrape only the components given with --address.
    #[arg(long)]
    pub only_addressed: bool,
    /// The repository (default: the workspace around the current directory).
    #[arg(long)]
    pub repo: Option<PathBuf>,
}

fn parse_address(text: &str) -> Result<(String, String), String> {
    let (name, address) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not NAME=HOST:PORT, e.g. orders=127.0.0.1:9464"))?;
    let port = address.rsplit_once(':').map(|(_, port)| port);
    if name.is_empty() || port.and_then(|p| p.parse::<u16>().ok()).is_none() {
        return Err(format!("`{text}` is not NAME=HOST:PORT, e.g. orders=127.0.0.1:9464"));
    }
    Ok((name.to_owned(), address.to_owned()))
}

pub fn run(args: &PrometheusConfigArgs, _global: Global) -> anyhow::Result<()> {
    let repo = repo::discover(args.repo.as_deref(), "mandate prometheus-config")?;
    let manifests = manifest::read_all(&repo)?;
    let addresses: BTreeMap<&str, &str> = args.addresses.iter().map(|(n, a)| (n.as_str(), a.as_str())).collect();
    let components: Vec<Scraped> = manifests.iter().map(Scraped::of).collect();
    for name in addresses.keys() {
        if !components.iter().any(|c| c.instances().iter().any(|i| i.name == *name)) {
            bail!(
                "--address {name}=...: no component or partition is called {name} (components/*/manifest.json; a partition is NAME.pPofN)"
            );
        }
    }
    let text = render(&components, &addresses, args.scrape_interval, args.only_addressed)
        .context("rendering the configuration")?;
    print!("{text}");
    Ok(())
}

/// A component as Prometheus sees it.
struct Scraped {
    name: String,
    /// Whether its process serves `/metrics` (`ComponentManifest::serves_metrics`).
    serves: bool,
    /// Its partitions' labels (`p0of3`, ...); empty when it runs as one process.
    partitions: Vec<String>,
}

/// One process to scrape: its name as `mandate status` lists it, its compose service name and
/// its partition label.
struct Instance {
    name: String,
    service: String,
    partition: Option<String>,
}

impl Scraped {
    fn of(manifest: &manifest::ComponentManifest) -> Scraped {
        Scraped {
            name: manifest.name.clone(),
            serves: manifest.serves_metrics(),
            partitions: manifest.partitions.as_ref().map(|p| p.labels()).unwrap_or_default(),
        }
    }

    fn instances(&self) -> Vec<Instance> {
        if self.partitions.len() <= 1 {
            return vec![Instance {
                name: self.name.clone(),
                service: self.name.clone(),
                partition: None,
            }];
        }
        self.partitions
            .iter()
            .map(|label| Instance {
                name: format!("{}.{label}", self.name),
                service: format!("{}-{label}", self.name),
                partition: Some(label.clone()),
            })
            .collect()
    }
}

/// The configuration for `components`: one job per component, one target per process.
fn render(
    components: &[Scraped],
    addresses: &BTreeMap<&str, &str>,
    interval: Duration,
    only_addressed: bool,
) -> Result<String, std::fmt::Error> {
    let mut out = String::new();
    writeln!(
        out,
        "# Generated by `mandate prometheus-config` from components/*/manifest.json."
    )?;
    writeln!(out, "global:")?;
    writeln!(out, "  scrape_interval: {}", humantime::format_duration(interval))?;
    writeln!(out, "scrape_configs:")?;
    for component in components {
        let targets: Vec<(String, Option<String>)> = component
            .instances()
            .into_iter()
            .filter_map(|instance| match addresses.get(instance.name.as_str()) {
                Some(address) => Some(((*address).to_owned(), instance.partition)),
                None if only_addressed => None,
                None => Some((format!("{}:{DEFAULT_PORT}", instance.service), instance.partition)),
            })
            .collect();
        if targets.is_empty() {
            continue;
        }
        let name = &component.name;
        if !component.serves {
            writeln!(
                out,
                "  # {name}: started by a command of its own that does not declare \"metrics\": true in its manifest, it serves no /metrics"
            )?;
            continue;
        }
        writeln!(out, "  - job_name: {name}")?;
        writeln!(out, "    static_configs:")?;
        for (address, partition) in targets {
            writeln!(out, "      - targets: [\"{address}\"]")?;
            if let Some(partition) = partition {
                writeln!(out, "        labels: {{partition: \"{partition}\"}}")?;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kit_component_is_a_job_at_its_address_or_its_compose_name() {
        let components = vec![one("orders", true), one("loyalty", false), one("gateway", true)];
        let addresses = BTreeMap::from([("gateway", "127.0.0.1:4000")]);
        let text = render(&components, &addresses, Duration::from_secs(1), false).expect("renders");
        assert!(text.contains("  scrape_interval: 1s\n"), "{text}");
        assert!(
            text.contains("  - job_name: orders\n    static_configs:\n      - targets: [\"orders:9464\"]\n"),
            "{text}"
        );
        assert!(text.contains("      - targets: [\"127.0.0.1:4000\"]\n"), "{text}");
        assert!(text.contains("  # loyalty: started by a command of its own"), "{text}");
        assert!(!text.contains("job_name: loyalty"), "{text}");
        let only = render(&components, &addresses, Duration::from_secs(1), true).expect("renders");
        assert!(!only.contains("orders"), "{only}");
    }

    #[test]
    fn a_component_of_another_language_is_scraped_when_its_manifest_declares_metrics() {
        let read = |json: &str| Scraped::of(&serde_json::from_str(json).expect("a manifest"));
        let python = read(r#"{"name": "loyalty", "start": {"command": ["./run"]}, "metrics": true}"#);
        let other = read(r#"{"name": "points", "start": {"command": ["node", "main.js"]}}"#);
        let text = render(&[python, other], &BTreeMap::new(), Duration::from_secs(1), false).expect("renders");
        assert!(
            text.contains("  - job_name: loyalty\n    static_configs:\n      - targets: [\"loyalty:9464\"]\n"),
            "{text}"
        );
        assert!(
            text.contains("  # points: started by a command of its own that does not declare"),
            "{text}"
        );
        assert!(!text.contains("job_name: points"), "{text}");
    }

    #[test]
    fn a_partitioned_component_is_one_job_with_a_labelled_target_per_partition() {
        let orders = Scraped {
            partitions: vec!["p0of2".to_owned(), "p1of2".to_owned()],
            ..one("orders", true)
        };
        let addresses = BTreeMap::from([("orders.p1of2", "127.0.0.1:4001")]);
        let text = render(&[orders], &addresses, Duration::from_secs(1), false).expect("renders");
        assert_eq!(text.matches("job_name: orders").count(), 1, "{text}");
        assert!(
            text.contains(
                "      - targets: [\"orders-p0of2:9464\"]\n        labels: {partition: \"p0of2\"}\n      - targets: [\"127.0.0.1:4001\"]\n        labels: {partition: \"p1of2\"}\n"
            ),
            "{text}"
        );
    }

    fn one(name: &str, serves: bool) -> Scraped {
        Scraped {
            name: name.to_owned(),
            serves,
            partitions: Vec::new(),
        }
    }

    #[test]
    fn an_address_that_is_not_name_host_port_is_refused() {
        assert!(parse_address("orders=127.0.0.1:9464").is_ok());
        for bad in ["orders", "orders=127.0.0.1", "=1.2.3.4:5", "orders=host:port"] {
            let err = parse_address(bad).expect_err(bad);
            assert!(err.contains("NAME=HOST:PORT"), "{err}");
        }
    }
}
