//! `mandate status`: what is up on the bus (gathered by `ops/status.rs`), as tables or JSON:
//! the components, their consumers, set-aside outbox entries, and every JetStream stream with
//! its message count, size and sequences.

use std::time::Duration;

use clap::Args;
use mandate::Bus;

use super::Global;
use crate::ops::status::{self, PartitionStatus, Patience, Status};
use crate::output;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// How long to gather replies to `$SRV.PING` (every instance of every service answers).
    #[arg(long, default_value = "500ms", value_parser = humantime::parse_duration)]
    pub wait: Duration,
    /// How long each component may take to answer `$SRV.INFO`/`STATS` and its admin status.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
}

pub async fn run(bus: &Bus, args: &StatusArgs, global: Global) -> anyhow::Result<()> {
    let status = status::gather(
        bus,
        Patience {
            wait: args.wait,
            timeout: args.timeout,
        },
    )
    .await?;
    if global.json {
        return output::json(&status);
    }
    output::line(&render(&status, args.wait))
}

/// The outbox entries components have set aside (the server refuses them for good), if any:
/// nothing else says that an event was never published.
fn render_set_aside(status: &Status) -> String {
    let rows: Vec<Vec<String>> = status
        .components
        .iter()
        .filter_map(|c| c.status.as_ref().map(|r| (c, r)))
        .flat_map(|(c, report)| {
            report.set_aside.entries.iter().map(move |entry| {
                vec![
                    c.name.clone(),
                    entry.set_aside_at.clone(),
                    entry.subject.clone(),
                    output::bytes(entry.size),
                    output::truncate(&entry.reason, 100),
                ]
            })
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    format!(
        "\nOutbox entries set aside: the server refuses them for good, so they were not published.\n{}\n`mandate dlq set-aside COMPONENT` lists them all; fix the cause, then `mandate dlq retry-set-aside COMPONENT`.\n",
        output::table(&["SET ASIDE BY", "AT", "SUBJECT", "SIZE", "REASON"], &rows)
    )
}

fn render(status: &Status, wait: Duration) -> String {
    let mut text = String::new();
    if status.components.is_empty() {
        text.push_str(&format!(
            "No component answered $SRV.PING within {}: start one (each component binary, or `docker compose up`), or check --server/NATS_URL.\n",
            output::duration(wait)
        ));
    } else {
        let rows: Vec<Vec<String>> = status
            .components
            .iter()
            .map(|c| {
                let report = c.status.as_ref();
                let or_dash = |value: Option<String>| value.unwrap_or_else(|| "-".to_owned());
                vec![
                    c.name.clone(),
                    c.version.clone(),
                    c.instances.len().to_string(),
                    or_dash(report.map(|r| output::uptime(r.uptime_seconds))),
                    or_dash(report.map(|r| r.outbox_depth.to_string())),
                    or_dash(report.map(|r| r.dead_letters.to_string())),
                    or_dash(report.map(|r| r.set_aside.count.to_string())),
                    format!("{}/{}", c.requests, c.errors),
                    or_dash(c.partition.as_ref().map(PartitionStatus::describe)),
                    match &c.error {
                        Some(error) => format!("{}: {error}", c.state),
                        None => c.state.clone(),
                    },
                ]
            })
            .collect();
        text.push_str(&output::table(
            &[
                "COMPONENT",
                "VERSION",
                "INSTANCES",
                "UP",
                "OUTBOX",
                "DEAD LETTERS",
                "SET ASIDE",
                "REQUESTS/ERRORS",
                "PARTITION",
                "STATE",
            ],
            &rows,
        ));
        text.push('\n');
        let consumers: Vec<Vec<String>> = status
            .components
            .iter()
            .filter_map(|c| c.status.as_ref().map(|r| (c, r)))
            .flat_map(|(c, report)| {
                report.consumers.iter().map(move |consumer| {
                    vec![
                        c.name.clone(),
                        consumer.stream.clone(),
                        consumer.applied_sequence.to_string(),
                        consumer.pending.map_or_else(|| "?".to_owned(), |p| p.to_string()),
                        if consumer.caught_up { "yes" } else { "no" }.to_owned(),
                        consumer.subjects.join(" "),
                    ]
                })
            })
            .collect();
        if !consumers.is_empty() {
            text.push('\n');
            text.push_str(&output::table(
                &["CONSUMER", "STREAM", "APPLIED", "PENDING", "CAUGHT UP", "SUBJECTS"],
                &consumers,
            ));
            text.push('\n');
        }
        text.push_str(&render_set_aside(status));
    }
    text.push('\n');
    if status.streams.is_empty() {
        text.push_str("No JetStream streams yet: each owner creates EVT_<OWNER> when it starts.");
    } else {
        let rows: Vec<Vec<String>> = status
            .streams
            .iter()
            .map(|s| {
                vec![
                    s.name.clone(),
                    s.messages.to_string(),
                    output::bytes(s.bytes),
                    s.first_sequence.to_string(),
                    s.last_sequence.to_string(),
                    s.consumers.to_string(),
                    s.subjects.join(" "),
                ]
            })
            .collect();
        text.push_str(&output::table(
            &["STREAM", "MESSAGES", "BYTES", "FIRST", "LAST", "CONSUMERS", "SUBJECTS"],
            &rows,
        ));
    }
    text
}
