//! `mandate dlq list|show|retry|purge`: the dead letters in the `DLQ` stream.
//!
//! A dead letter (kit `deadletter.rs`) is the original payload, untouched, with the original
//! headers (minus JetStream's `Nats-*`) plus `Mandate-Dlq-*` headers: kind, reason, original
//! subject, stream and sequence, consumer, deliveries, time.
//!
//! `retry` (`ops/retry.rs`) republishes the original payload to the original subject with the
//! original headers (without `Mandate-Dlq-*`) and `Nats-Msg-Id` = the original `ce-id`, waits
//! for JetStream's ack, and only then deletes the dead letter. If JetStream drops the retry as
//! a duplicate of the original (still inside the stream's duplicate window) nothing is deleted
//! and the command says when to try again. A dead letter whose original would not fit in the
//! server's max payload carries no body: `show` says where the original is, and `retry` reads
//! it back from its stream. `retry` with a selection instead of a sequence is a bulk redrive,
//! canary first, then throttled (`redrive.rs` beside this file, `ops/redrive.rs`).
//!
//! `set-aside` and `retry-set-aside` are about the other things that were not delivered: a
//! component's outbox entries that the server refuses for good, which its relay set aside so
//! as not to hold up the rest (asked over the component's admin service).

use std::io::BufRead;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use mandate::Bus;
use mandate::deadletter::{DLQ_BODY_SHA256, DLQ_BODY_SIZE};
use serde_json::{Map, Value};

use super::Global;
use super::redrive::{self, RetryArgs};
use crate::bus::{header, headers_to_map};
use crate::failure::usage;
use crate::ops::letters::{self, Filter, Letter, ReasonMatch, dlq_stream, get_letter};
use crate::ops::purge;
use crate::{msgpack, output};

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// List dead letters: time, component, kind, original subject and reason (`--group`:
    /// how many per component, kind and reason).
    List(ListArgs),
    /// Show one dead letter: every header and the decoded body.
    Show(SeqArgs),
    /// Republish a dead letter's original message to its original subject, then delete it;
    /// or, selected by component, kind or reason, many: canary first, then throttled.
    Retry(RetryArgs),
    /// Delete every dead letter (or one component's), after a confirmation.
    Purge(PurgeArgs),
    /// List the outbox entries a component set aside because the server refuses them for
    /// good (too large for its max payload, refused by their stream, no stream).
    SetAside(ComponentArgs),
    /// Put a component's set-aside outbox entries back at the tail of its outbox (once the
    /// cause is fixed); any the server still refuses is set aside again.
    RetrySetAside(ComponentArgs),
}

#[derive(Debug, Args)]
pub struct ComponentArgs {
    /// The component (its service name, as `mandate status` lists it).
    #[arg(value_parser = component_name)]
    pub component: String,
}

fn component_name(text: &str) -> Result<String, String> {
    mandate::validate_component_name(text).map(|()| text.to_owned())
}

/// Which dead letters: by component, kind and reason (all of them when none is given).
#[derive(Debug, Args, Clone, Default)]
pub struct SelectArgs {
    /// Only the dead letters of this component.
    #[arg(long, value_parser = component_name)]
    pub component: Option<String>,
    /// Only those of this kind (`undecodable`, `handler-failed`, ...: docs/contract.md).
    #[arg(long)]
    pub kind: Option<String>,
    /// Only those with exactly this reason (as `dlq list` prints it).
    #[arg(long, conflicts_with = "reason_prefix")]
    pub reason: Option<String>,
    /// Only those whose reason starts with this text.
    #[arg(long)]
    pub reason_prefix: Option<String>,
}

impl SelectArgs {
    pub fn filter(&self) -> Filter {
        let reason = match (&self.reason, &self.reason_prefix) {
            (Some(reason), _) => Some(ReasonMatch::Exact(reason.clone())),
            (None, Some(prefix)) => Some(ReasonMatch::Prefix(prefix.clone())),
            (None, None) => None,
        };
        Filter {
            component: self.component.clone(),
            kind: self.kind.clone(),
            reason,
        }
    }
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    /// Count the dead letters per component, kind and reason instead of listing each.
    #[arg(long)]
    pub group: bool,
}

#[derive(Debug, Args)]
pub struct SeqArgs {
    /// The dead letter's sequence in DLQ (the first column of `mandate dlq list`).
    pub seq: u64,
}

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Only the dead letters of this component.
    #[arg(long)]
    pub component: Option<String>,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long, short)]
    pub yes: bool,
}

pub async fn run(bus: &Bus, command: &DlqCommand, global: Global) -> anyhow::Result<()> {
    match command {
        DlqCommand::List(args) => list(bus, args, global).await,
        DlqCommand::Show(args) => show(bus, args.seq, global).await,
        DlqCommand::Retry(args) => redrive::run(bus, args, global).await,
        DlqCommand::Purge(args) => purge(bus, args, global).await,
        DlqCommand::SetAside(args) => list_set_aside(bus, &args.component, global).await,
        DlqCommand::RetrySetAside(args) => retry_set_aside(bus, &args.component, global).await,
    }
}

async fn list(bus: &Bus, args: &ListArgs, global: Global) -> anyhow::Result<()> {
    let letters = letters::read(bus, &args.select.filter()).await?;
    if args.group {
        return list_groups(&letters, global);
    }
    if global.json {
        return output::json(&letters);
    }
    if letters.is_empty() {
        return output::line(&nothing_selected(&args.select));
    }
    let rows: Vec<Vec<String>> = letters
        .iter()
        .map(|l| {
            vec![
                l.sequence.to_string(),
                l.time.clone(),
                l.component.clone(),
                l.kind.clone(),
                l.subject.clone(),
                output::truncate(&l.reason, 100),
            ]
        })
        .collect();
    output::line(&output::table(
        &["SEQ", "TIME", "COMPONENT", "KIND", "SUBJECT", "REASON"],
        &rows,
    ))?;
    output::line(&format!(
        "\n{} dead letter(s). `mandate dlq show SEQ` shows one; `mandate dlq retry SEQ` republishes it.",
        letters.len()
    ))
}

fn nothing_selected(select: &SelectArgs) -> String {
    if select.filter().is_empty() {
        "DLQ is empty: nothing was dead-lettered (or it was all retried or purged).".to_owned()
    } else {
        "No dead letter matches: `mandate dlq list --group` counts them by component, kind and reason.".to_owned()
    }
}

/// `dlq list --group`: one row per component × kind × reason.
fn list_groups(letters: &[Letter], global: Global) -> anyhow::Result<()> {
    let groups = letters::groups(letters);
    if global.json {
        return output::json(&groups);
    }
    if groups.is_empty() {
        return output::line("No dead letters.");
    }
    let rows: Vec<Vec<String>> = groups
        .iter()
        .map(|g| {
            vec![
                g.count.to_string(),
                g.component.clone(),
                g.kind.clone(),
                format!("{}..{}", g.first_sequence, g.last_sequence),
                output::truncate(&g.reason, 100),
            ]
        })
        .collect();
    output::line(&output::table(&["COUNT", "COMPONENT", "KIND", "SEQS", "REASON"], &rows))?;
    output::line(&format!(
        "\n{} dead letter(s) in {} group(s). `mandate dlq retry --component C --reason R` redrives a group, canary first.",
        letters.len(),
        groups.len()
    ))
}

async fn show(bus: &Bus, seq: u64, global: Global) -> anyhow::Result<()> {
    let stream = dlq_stream(bus).await?;
    let message = get_letter(&stream, seq).await?;
    let headers = Some(&message.headers);
    if global.json {
        return output::json(&letters::shown_of(&message));
    }
    let letter = Letter::new(message.sequence, &message.subject, message.time, headers);
    let mut text = format!(
        "DLQ #{} from {} at {}\nkind:     {}\nreason:   {}\noriginal: {} ({} #{}), consumer {}, {} deliveries\n\nheaders:\n",
        letter.sequence,
        letter.component,
        letter.time,
        letter.kind,
        letter.reason,
        letter.subject,
        letter.stream,
        letter
            .original_sequence
            .map_or_else(|| "?".to_owned(), |s| s.to_string()),
        letter.consumer,
        letter.deliveries.map_or_else(|| "?".to_owned(), |d| d.to_string()),
    );
    for (name, values) in headers_to_map(headers) {
        for value in values {
            text.push_str(&format!("  {name}: {value}\n"));
        }
    }
    text.push_str("\nbody:\n");
    if letter.body_omitted {
        text.push_str(&format!(
            "  <left out: {} bytes (SHA-256 {}) would not fit in the server's max payload beside the headers>\n  the original is {} #{}; `mandate dlq retry {}` republishes it from there",
            header(headers, DLQ_BODY_SIZE).unwrap_or_else(|| "?".to_owned()),
            header(headers, DLQ_BODY_SHA256).unwrap_or_else(|| "?".to_owned()),
            letter.stream,
            letter
                .original_sequence
                .map_or_else(|| "?".to_owned(), |s| s.to_string()),
            letter.sequence,
        ));
        return output::line(&text);
    }
    let mut body = Map::new();
    msgpack::body_fields(&message.payload, &mut body);
    match body.get("body_error").and_then(Value::as_str) {
        Some(error) => text.push_str(&format!(
            "  <{error}>\n  base64: {}",
            msgpack::base64_encode(&message.payload)
        )),
        None => text.push_str(&serde_json::to_string_pretty(body.get("body").unwrap_or(&Value::Null))?),
    }
    output::line(&text)
}

/// `dlq set-aside COMPONENT`: the outbox entries the component's relay set aside.
async fn list_set_aside(bus: &Bus, component: &str, global: Global) -> anyhow::Result<()> {
    let status = crate::admin::status(bus, component)
        .await
        .with_context(|| format!("asking {component} for its status"))?;
    let set_aside = status.set_aside;
    if global.json {
        return output::json(&set_aside);
    }
    if set_aside.count == 0 {
        return output::line(&format!(
            "{component} has set nothing aside: every outbox entry was published or is waiting its turn."
        ));
    }
    let rows: Vec<Vec<String>> = set_aside
        .entries
        .iter()
        .map(|e| {
            vec![
                e.id.to_string(),
                e.set_aside_at.clone(),
                e.subject.clone(),
                e.ce_id.clone().unwrap_or_default(),
                output::bytes(e.size),
                output::truncate(&e.reason, 100),
            ]
        })
        .collect();
    output::line(&output::table(
        &["ID", "AT", "SUBJECT", "CE-ID", "SIZE", "REASON"],
        &rows,
    ))?;
    let shown = if set_aside.entries.len() < set_aside.count as usize {
        format!(" (the first {} shown)", set_aside.entries.len())
    } else {
        String::new()
    };
    output::line(&format!(
        "\n{} outbox entr{} set aside by {component}{shown}: the server refuses them for good. Fix the cause, then `mandate dlq retry-set-aside {component}`.",
        set_aside.count,
        if set_aside.count == 1 { "y" } else { "ies" },
    ))
}

/// `dlq retry-set-aside COMPONENT`.
async fn retry_set_aside(bus: &Bus, component: &str, global: Global) -> anyhow::Result<()> {
    let report = crate::admin::retry_set_aside(bus, component)
        .await
        .with_context(|| format!("asking {component} to retry its set-aside outbox entries"))?;
    if global.json {
        return output::json(&report);
    }
    output::line(&format!(
        "put {} set-aside entr{} back at the tail of {component}'s outbox: its relay publishes them now; any the server still refuses is set aside again (`mandate status`)",
        report.retried,
        if report.retried == 1 { "y" } else { "ies" },
    ))
}

async fn purge(bus: &Bus, args: &PurgeArgs, global: Global) -> anyhow::Result<()> {
    let mut stream = dlq_stream(bus).await?;
    let whose = match &args.component {
        Some(component) => format!("of {component} "),
        None => String::new(),
    };
    if !args.yes {
        if !output::stdin_is_terminal() {
            return Err(usage(
                "refusing to purge DLQ without confirmation: stdin is not a terminal; pass --yes to purge anyway",
            ));
        }
        let total = stream.info().await.map(|i| i.state.messages).unwrap_or(0);
        eprint!(
            "Delete the dead letters {whose}from DLQ ({total} message(s) in the stream)? This cannot be undone. [y/N] "
        );
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .context("reading the answer")?;
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            eprintln!("Nothing purged.");
            return Err(crate::failure::Reported.into());
        }
    }
    let purged = purge::purge(bus, args.component.as_deref()).await?;
    if global.json {
        return output::json(&purged);
    }
    output::line(&format!("purged {} dead letter(s) {whose}from DLQ", purged.purged))
}
