//! `mandate dlq retry`: one dead letter by its sequence, or a bulk redrive of those a
//! selection names (`--component`, `--kind`, `--reason`, `--reason-prefix`, or `--all`):
//! canary first, then throttled at `--rate` per second (`ops/redrive.rs`). Ctrl-C stops a
//! redrive after the message in flight; what was not reached stays in DLQ.

use std::io::BufRead;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;
use mandate::Bus;
use tokio_util::sync::CancellationToken;

use super::Global;
use super::dlq::SelectArgs;
use crate::failure::{Reported, usage};
use crate::ops::canary::Verdict;
use crate::ops::letters::dlq_stream;
use crate::ops::redrive::{self, Ended, Options, Plan, Progress, Report, Step};
use crate::ops::retry::{self, Outcome};
use crate::output;

#[derive(Debug, Args)]
pub struct RetryArgs {
    /// The dead letter's sequence in DLQ (the first column of `mandate dlq list`); or select
    /// many with --component, --kind, --reason or --reason-prefix (or --all).
    #[arg(conflicts_with_all = ["component", "kind", "reason", "reason_prefix", "all"])]
    pub seq: Option<u64>,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Redrive every dead letter (a redrive needs a selection or this).
    #[arg(long)]
    pub all: bool,
    /// Retries per second after the canaries.
    #[arg(long, default_value_t = 10.0, value_parser = positive_rate)]
    pub rate: f64,
    /// How many letters of each component are retried first, one at a time, each watched
    /// until its consumer applied it; the redrive stops if one is dead-lettered again or not
    /// applied in time.
    #[arg(long, default_value_t = 1)]
    pub canary: usize,
    /// How long a canary may take to be applied.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub canary_timeout: Duration,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long, short)]
    pub yes: bool,
}

fn positive_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err(format!("{text:?} is not a positive number of retries per second")),
    }
}

pub async fn run(bus: &Bus, args: &RetryArgs, global: Global) -> anyhow::Result<()> {
    if let Some(seq) = args.seq {
        return retry_one(bus, seq, global).await;
    }
    let filter = args.select.filter();
    if filter.is_empty() && !args.all {
        return Err(usage(
            "name a dead letter (`mandate dlq retry SEQ`) or select some: --component, --kind, --reason, --reason-prefix, or --all",
        ));
    }
    let plan = redrive::plan(bus, &filter).await?;
    if plan.letters.is_empty() {
        return output::line("No dead letter matches: nothing to redrive (`mandate dlq list --group` counts them).");
    }
    if !args.yes && !confirm(&plan)? {
        eprintln!("Nothing retried.");
        return Err(Reported.into());
    }
    let stop = CancellationToken::new();
    let on_ctrl_c = stop.clone();
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("stopping after the message in flight…");
            on_ctrl_c.cancel();
        }
    });
    let options = Options {
        canary: args.canary,
        rate: args.rate,
        canary_timeout: args.canary_timeout,
    };
    let bar = output::progress_bar(plan.letters.len() as u64, "redrive");
    let report = plan
        .run(options, |progress| show_progress(progress, &bar, global), stop)
        .await;
    bar.finish_and_clear();
    ctrl_c.abort();
    finish(&report?, global)
}

/// Asks before a redrive, showing what it is about; refuses when nobody can answer.
fn confirm(plan: &Plan) -> anyhow::Result<bool> {
    if !output::stdin_is_terminal() {
        return Err(usage(
            "refusing to redrive without confirmation: stdin is not a terminal; pass --yes to redrive anyway",
        ));
    }
    for group in plan.groups() {
        eprintln!(
            "  {:>6}  {}  {}  {}",
            group.count,
            group.component,
            group.kind,
            output::truncate(&group.reason, 80)
        );
    }
    eprint!("Redrive these {} dead letter(s)? [y/N] ", plan.letters.len());
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("reading the answer")?;
    Ok(matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
}

fn show_progress(progress: &Progress, bar: &indicatif::ProgressBar, global: Global) {
    if global.json {
        // Progress is best effort: a closed stdout must not stop the redrive half-way.
        let _ = output::json_line(progress);
        return;
    }
    bar.inc(1);
    let line = match (&progress.canary, &progress.last) {
        (Some(verdict), step) => Some(format!("canary {}: {}", describe(step), verdict_text(verdict))),
        (None, step @ Step::Failed { .. }) => Some(describe(step)),
        (None, step @ Step::Retried(r)) if !matches!(r.outcome, Outcome::Republished { .. }) => Some(describe(step)),
        _ => None,
    };
    if let Some(line) = line {
        bar.suspend(|| eprintln!("{line}"));
    }
}

fn describe(step: &Step) -> String {
    match step {
        Step::Failed { dlq_sequence, error } => format!("DLQ #{dlq_sequence}: failed, left in DLQ: {error}"),
        Step::Retried(retried) => {
            let seq = retried.dlq_sequence;
            match &retried.outcome {
                Outcome::Republished { stream, sequence } => format!("DLQ #{seq} republished as {stream} #{sequence}"),
                Outcome::AlreadyRepublished { stream, sequence } => {
                    format!("DLQ #{seq} was already republished as {stream} #{sequence}: removed from DLQ")
                }
                Outcome::InsideWindow { until, .. } => format!(
                    "DLQ #{seq}: its original is still inside its duplicate window{}: left in DLQ",
                    until.as_ref().map(|t| format!(" (until {t})")).unwrap_or_default()
                ),
                Outcome::Gone => format!("DLQ #{seq} is gone already (retried or purged)"),
            }
        }
    }
}

fn verdict_text(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Applied => "applied by its consumer".to_owned(),
        Verdict::DeadLetteredAgain { dlq_sequence, reason } => {
            format!("dead-lettered again as DLQ #{dlq_sequence}: {reason}")
        }
        Verdict::TimedOut { applied_sequence } => format!(
            "not applied in time (its consumer is at {})",
            applied_sequence.map_or_else(
                || "an unknown sequence: it did not answer".to_owned(),
                |s| s.to_string()
            )
        ),
        Verdict::Stopped => "stopped while waiting".to_owned(),
    }
}

/// Prints the report; anything but a complete run without failures exits 1.
fn finish(report: &Report, global: Global) -> anyhow::Result<()> {
    if global.json {
        output::json_line(report)?;
    } else {
        output::line(&format!(
            "redrive {}: {} retried, {} skipped, {} failed, {} left in DLQ",
            match report.ended {
                Ended::Completed => "completed",
                Ended::CanaryFailed { .. } | Ended::CanaryNotRetried { .. } => "stopped by its canary",
                Ended::Stopped => "stopped",
            },
            report.done,
            report.skipped,
            report.failed,
            report.remaining.len()
        ))?;
    }
    match &report.ended {
        Ended::Completed if report.failed == 0 => Ok(()),
        Ended::Completed => bail!(
            "{} retr(ies) failed; their dead letters are still in DLQ",
            report.failed
        ),
        Ended::CanaryFailed { dlq_sequence, verdict } => bail!(
            "the canary DLQ #{dlq_sequence} was {}; nothing else was retried",
            verdict_text(verdict)
        ),
        Ended::CanaryNotRetried { dlq_sequence, error } => {
            bail!("the canary DLQ #{dlq_sequence} could not be retried: {error}; nothing was retried")
        }
        Ended::Stopped => bail!(
            "stopped: {} dead letter(s) not reached are still in DLQ",
            report.remaining.len()
        ),
    }
}

/// `mandate dlq retry SEQ`.
async fn retry_one(bus: &Bus, seq: u64, global: Global) -> anyhow::Result<()> {
    let dlq = dlq_stream(bus).await?;
    let retried = retry::retry(bus, &dlq, seq).await?;
    match &retried.outcome {
        Outcome::Gone => bail!("DLQ has no message #{seq}: `mandate dlq list` shows the dead letters there are"),
        Outcome::InsideWindow { stream, until } => bail!(
            "JetStream dropped the retry as a duplicate: {stream} already holds ce-id {} within its duplicate window{}. The dead letter stays in DLQ; retry after the window, or republish it under a new id with `mandate publish {} ... --id <new id>`",
            retried.id.as_deref().unwrap_or("?"),
            until.as_ref().map(|t| format!(" (until {t})")).unwrap_or_default(),
            retried.subject,
        ),
        Outcome::Republished { .. } | Outcome::AlreadyRepublished { .. } => {}
    }
    if global.json {
        return output::json(&retried);
    }
    match &retried.outcome {
        Outcome::AlreadyRepublished { stream, sequence } => output::line(&format!(
            "DLQ #{seq} was already republished to {} as {stream} #{sequence} (by an earlier retry): nothing published again; removed it from DLQ",
            retried.subject
        )),
        Outcome::Republished { stream, sequence } => output::line(&format!(
            "retried DLQ #{seq}: republished to {} as {stream} #{sequence}, and removed it from DLQ",
            retried.subject
        )),
        _ => Ok(()),
    }
}
