//! Adding a component to docker-compose.yml as text, so the operator's comments, anchors and
//! layout survive: its service goes among the other components' services, its volume among
//! theirs, its password variable into the nats service's environment — each in name order,
//! in the shape the other components have.

use crate::busconfig::permissions::password_var;

/// The file with `name` added, or `None` when it already has a service of that name.
pub fn add_component(text: &str, name: &str, own_dockerfile: bool) -> Result<Option<String>, String> {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let services = top_level(&lines, "services").ok_or("it has no top-level `services:`")?;
    let entries = children(&lines, services, 2);
    // There already: as one service, or as partitions (`<name>-p<P>of<N>`).
    let partition_of_name = |key: &str| {
        key.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix("-p"))
            .and_then(|rest| rest.split_once("of"))
            .is_some_and(|(p, n)| p.parse::<u32>().is_ok() && n.parse::<u32>().is_ok())
    };
    if entries.iter().any(|e| e.key == name || partition_of_name(&e.key)) {
        return Ok(None);
    }
    let components: Vec<Entry> = entries
        .iter()
        .filter(|e| {
            lines[e.start..e.end].iter().any(|l| {
                let l = l.trim_start();
                l.starts_with("COMPONENT:") || (l.starts_with("dockerfile: components/") && l.ends_with("/Dockerfile"))
            })
        })
        .cloned()
        .collect();
    let component_names: Vec<&str> = components.iter().map(|e| e.key.as_str()).collect();
    let var = password_var(name);

    // Bottom to top, so the line numbers found above stay valid for the edits still to come.
    let volumes = top_level(&lines, "volumes").ok_or("it has no top-level `volumes:`")?;
    let volume_entries: Vec<Entry> = children(&lines, volumes, 2)
        .into_iter()
        .filter(|e| component_names.iter().any(|c| e.key == format!("{c}-data")))
        .collect();
    let nats = entries
        .iter()
        .find(|e| e.key == "nats")
        .ok_or("it has no `nats` service")?;
    let environment = children(&lines, nats.start, 4)
        .into_iter()
        .find(|e| e.key == "environment")
        .ok_or("the `nats` service has no `environment:`")?;
    let password_entries: Vec<Entry> = children(&lines, environment.start, 6)
        .into_iter()
        .filter(|e| component_names.iter().any(|c| e.key == password_var(unpartitioned(c))))
        .collect();

    let mut edits = vec![
        (
            insertion_point(&volume_entries, &format!("{name}-data"), volumes + 1),
            vec![format!("  {name}-data:")],
        ),
        (
            insertion_point(&components, name, services + 1),
            service_block(name, &var, own_dockerfile),
        ),
        (
            insertion_point(&password_entries, &var, environment.start + 1),
            vec![format!(
                "      {var}: ${{{var}:?set {var} in .env (copy .env.example)}}"
            )],
        ),
    ];
    edits.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    for (at, new_lines) in edits {
        lines.splice(at..at, new_lines);
    }
    Ok(Some(lines.join("\n") + "\n"))
}

/// The component a service runs: `orders` for a partition's `orders-p0of3` (whose password
/// is the component's), else the service's own name.
fn unpartitioned(service: &str) -> &str {
    match service.rsplit_once("-p") {
        Some((component, label))
            if label
                .split_once("of")
                .is_some_and(|(p, n)| p.parse::<u32>().is_ok() && n.parse::<u32>().is_ok()) =>
        {
            component
        }
        _ => service,
    }
}

/// The service, in the shape of the other components' (and a blank line after it): a crate
/// is built by the repository's Dockerfile (`COMPONENT=<name>`) and told the kit's log
/// settings; a component that is not a crate by its own Dockerfile, with the repository as
/// context (for the kit, the client package and the contract's schemas). Both turn the metrics
/// listener on, which their healthcheck asks: the one component not a crate that the tool
/// writes is on the Python kit, which serves it (and declares `"metrics": true`).
fn service_block(name: &str, password_var: &str, own_dockerfile: bool) -> Vec<String> {
    let metrics = format!("      MANDATE_METRICS: {}\n", super::check::METRICS_ADDR);
    let (build, logs, healthcheck) = if own_dockerfile {
        (
            format!("      dockerfile: components/{name}/Dockerfile\n"),
            String::new(),
            format!(r#"["CMD", "python", "-m", "mandate_kit.healthcheck", "{name}"]"#),
        )
    } else {
        (
            format!("      dockerfile: Dockerfile\n      args:\n        COMPONENT: {name}\n"),
            "      RUST_LOG: ${RUST_LOG:-info}\n      MANDATE_LOG_FORMAT: ${MANDATE_LOG_FORMAT:-text}\n".to_owned(),
            r#"["CMD", "/usr/local/bin/component", "--healthcheck"]"#.to_owned(),
        )
    };
    format!(
        "  {name}:
    build:
      context: .
{build}    image: mandate/{name}:local
    depends_on:
      nats:
        condition: service_healthy
    environment:
      NATS_URL: ${{NATS_SERVERS:-nats://nats:4222}}
      NATS_USER: {name}
      NATS_PASSWORD: ${{{password_var}:?set {password_var} in .env (copy .env.example)}}
{logs}      MANDATE_STREAM_REPLICAS: ${{MANDATE_STREAM_REPLICAS:-1}}
{metrics}    volumes:
      - {name}-data:/data
    healthcheck:
      test: {healthcheck}
      interval: 10s
      timeout: 5s
      retries: 6
      start_period: 30s
    restart: unless-stopped
"
    )
    .lines()
    .map(str::to_owned)
    .collect()
}

/// A key of a mapping and the lines of its value: `start` is the key's line, `end` is one
/// past its last non-blank line.
#[derive(Debug, Clone)]
struct Entry {
    key: String,
    start: usize,
    end: usize,
}

/// Where `key` goes among `siblings` (in name order): before the first one after it, else
/// after the last one, else at `fallback`.
fn insertion_point(siblings: &[Entry], key: &str, fallback: usize) -> usize {
    if let Some(next) = siblings.iter().find(|e| e.key.as_str() > key) {
        return next.start;
    }
    siblings
        .last()
        .map_or(fallback, |last| last.end + usize::from(is_block(last)))
}

/// A multi-line entry (a service) is followed by a blank line before the next one.
fn is_block(entry: &Entry) -> bool {
    entry.end - entry.start > 1
}

fn top_level(lines: &[String], key: &str) -> Option<usize> {
    lines.iter().position(|l| l.trim_end() == format!("{key}:"))
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn is_content(line: &str) -> bool {
    let trimmed = line.trim_start();
    !trimmed.is_empty() && !trimmed.starts_with('#')
}

/// The keys at exactly `child_indent` under the key on line `parent`, up to the next line
/// indented no deeper than the parent.
fn children(lines: &[String], parent: usize, child_indent: usize) -> Vec<Entry> {
    let parent_indent = indent(&lines[parent]);
    let mut entries: Vec<Entry> = Vec::new();
    let mut last_content = parent;
    for (i, line) in lines.iter().enumerate().skip(parent + 1) {
        if !is_content(line) {
            continue;
        }
        if indent(line) <= parent_indent {
            break;
        }
        if indent(line) == child_indent
            && let Some((key, _)) = line.trim_start().split_once(':')
        {
            if let Some(previous) = entries.last_mut() {
                previous.end = last_content + 1;
            }
            entries.push(Entry {
                key: key.trim().to_owned(),
                start: i,
                end: i + 1,
            });
        }
        last_content = i;
    }
    if let Some(previous) = entries.last_mut() {
        previous.end = last_content + 1;
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo_compose() -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docker-compose.yml");
        std::fs::read_to_string(path).expect("the repository's docker-compose.yml")
    }

    fn position(text: &str, needle: &str) -> usize {
        text.find(needle)
            .unwrap_or_else(|| panic!("{needle:?} not in:\n{text}"))
    }

    #[test]
    fn a_new_component_lands_in_name_order_in_all_three_places() {
        let edited = add_component(&repo_compose(), "order-history", false)
            .expect("edits")
            .expect("not there yet");
        // Service between notifications and orders, volume likewise, password likewise.
        assert!(position(&edited, "\n  notifications:\n") < position(&edited, "\n  order-history:\n"));
        assert!(position(&edited, "\n  order-history:\n") < position(&edited, "\n  orders-p0of3:\n"));
        assert!(position(&edited, "\n  notifications-data:\n") < position(&edited, "\n  order-history-data:\n"));
        assert!(position(&edited, "\n  order-history-data:\n") < position(&edited, "\n  orders-p0of3-data:\n"));
        // Variables sort as text: ORDERS_ before ORDER_HISTORY_ ('S' < '_').
        assert!(position(&edited, "ORDERS_PASSWORD: ${") < position(&edited, "ORDER_HISTORY_PASSWORD: ${"));
        assert!(position(&edited, "ORDER_HISTORY_PASSWORD: ${") < position(&edited, "PAYMENTS_PASSWORD: ${"));
        // Nothing else changed: removing the added lines gives the original back.
        let added = edited.lines().count() - repo_compose().lines().count();
        assert_eq!(added, service_block("order-history", "X", false).len() + 2);
        let mut names = crate::compose::deployed(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
            .expect("manifests");
        names.push(crate::compose::Deployed::workspace("order-history"));
        assert_eq!(super::super::problems(&edited, &names), Vec::<String>::new());
    }

    #[test]
    fn a_component_in_another_language_is_built_from_its_own_dockerfile() {
        let edited = add_component(&repo_compose(), "points", true)
            .expect("edits")
            .expect("not there yet");
        let service = &edited[position(&edited, "\n  points:\n")..position(&edited, "\n  shipping:\n")];
        assert!(
            service.contains("      dockerfile: components/points/Dockerfile\n"),
            "{service}"
        );
        assert!(
            !service.contains("COMPONENT:") && !service.contains("RUST_LOG"),
            "{service}"
        );
        assert!(service.contains("      MANDATE_METRICS: 0.0.0.0:9464\n"), "{service}");
        let mut names = crate::compose::deployed(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
            .expect("manifests");
        names.push(crate::compose::Deployed {
            name: "points".to_owned(),
            build: super::super::check::Build::Own(Some("FROM python\nCOPY components/points /app\n".to_owned())),
            partitions: 1,
            metrics: true,
        });
        assert_eq!(super::super::problems(&edited, &names), Vec::<String>::new());
    }

    #[test]
    fn the_last_name_goes_after_the_last_component() {
        let edited = add_component(&repo_compose(), "zebra", false)
            .expect("edits")
            .expect("added");
        assert!(position(&edited, "\n  shipping:\n") < position(&edited, "\n  zebra:\n"));
        assert!(position(&edited, "    restart: unless-stopped\n\n  zebra:\n") > 0);
        assert!(position(&edited, "\n  zebra:\n") < position(&edited, "\n  nats-1:\n"));
        assert!(position(&edited, "  shipping-data:\n  zebra-data:\n  nats-1-data:") > 0);
        assert!(position(&edited, "ZEBRA_PASSWORD: ${") < position(&edited, "OPERATOR_PASSWORD: ${"));
    }

    #[test]
    fn a_component_already_there_is_left_alone() {
        // As one service, or as its partitions' services.
        for name in ["shipping", "orders"] {
            assert!(
                add_component(&repo_compose(), name, false).expect("reads").is_none(),
                "{name}"
            );
        }
    }

    #[test]
    fn a_file_without_services_is_refused_with_a_reason() {
        let refused = add_component("version: '3'\n", "zebra", false).expect_err("refused");
        assert!(refused.contains("services"), "{refused}");
    }
}
