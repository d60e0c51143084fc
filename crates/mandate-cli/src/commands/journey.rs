//! `mandate journey ID`: every event and dead letter one order (or correlation id, or event
//! id) caused, in time order (`ops/journey.rs`).

use clap::Args;
use mandate::Bus;
use time::OffsetDateTime;

use super::Global;
use crate::ops::journey::{self, Cause, Step};
use crate::output;
use crate::since::parse_since;

#[derive(Debug, Args)]
pub struct JourneyArgs {
    /// An order id (found by key in every stream, however old), a correlation id or an
    /// event id (found by scanning headers from --since on).
    pub id: String,
    /// How far back the streams are scanned for the correlation ids: a duration (`1h`,
    /// `2d`) or an RFC 3339 time. Events found by the order id as their key are found
    /// whatever their age.
    #[arg(long, default_value = "1h", value_parser = parse_since)]
    pub since: OffsetDateTime,
}

pub async fn run(bus: &Bus, args: &JourneyArgs, global: Global) -> anyhow::Result<()> {
    let journey = journey::find(bus, &args.id, args.since).await?;
    if global.json {
        return output::json(&journey);
    }
    if journey.steps.is_empty() {
        return output::line(&format!(
            "Nothing on the bus names {}: no event keyed by it in any stream, and no event or dead letter since {} carries it as correlation or event id (widen with --since).",
            journey.id, journey.scanned_since
        ));
    }
    let rows: Vec<Vec<String>> = journey.steps.iter().map(row).collect();
    output::line(&output::table(
        &["TIME", "+GAP", "WHERE", "TYPE", "SOURCE", "CAUSE"],
        &rows,
    ))?;
    output::line(&format!(
        "\n{} step(s); correlation id(s): {}. Scanned by header since {}.\nNot visible on the bus:\n  - {}",
        journey.steps.len(),
        journey.correlation_ids.join(", "),
        journey.scanned_since,
        journey.not_visible.join("\n  - ")
    ))
}

fn row(step: &Step) -> Vec<String> {
    let kind = match &step.dead_letter {
        Some(letter) => format!(
            "DEAD LETTER by {} ({}): {}",
            letter.component,
            letter.kind,
            output::truncate(&letter.reason, 60)
        ),
        None => step.ce_type.clone().unwrap_or_else(|| step.subject.clone()),
    };
    let cause = match &step.cause {
        Cause::Event { cause_id, cause_type } => {
            format!("← {}", cause_type.clone().unwrap_or_else(|| cause_id.clone()))
        }
        Cause::Request => "service call or outside".to_owned(),
        Cause::DeadLetterOf => format!("refused {}", step.id.as_deref().unwrap_or("?")),
    };
    vec![
        step.time.clone(),
        step.gap_ms.map_or_else(String::new, |ms| format!("+{ms}ms")),
        format!("{} #{}", step.stream, step.sequence),
        kind,
        step.source.clone().unwrap_or_default(),
        cause,
    ]
}
