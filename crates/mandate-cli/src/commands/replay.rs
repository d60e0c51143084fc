//! `mandate replay COMPONENT`: ask a component (over its admin service, never through its
//! files) to wipe its store and rebuild it from the streams, then follow its progress. Any
//! component that implements the admin protocol can be rebuilt (`crate::admin`); one that
//! does not is told what is missing, one whose reply breaks it the JSON path of each problem.
//!
//! Progress comes from polling `svc.<component>.admin.status`: per consumer the applied
//! sequence against the larger of its replay mark (where the rebuild stops suppressing
//! re-publication) and applied + pending. It ends when the component says it is no longer
//! rebuilding and every consumer has caught up. A bar on a terminal; plain lines on stderr
//! otherwise; the result on stdout.

use std::time::{Duration, Instant};

use clap::Args;
use mandate::Bus;
use mandate::admin::{RebuildRequest, StatusReport};
use serde::Serialize;
use time::OffsetDateTime;

use super::Global;
use crate::admin::{self, AdminError};
use crate::ops::replay::{component_name, progress, rebuild_error, status_is_final};
use crate::output;
use crate::since::{parse_since, rfc3339};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  mandate replay inventory\n  mandate replay inventory --since 2h\n  mandate replay inventory --from-seq 1000 --no-wait"
)]
pub struct ReplayArgs {
    /// The component to rebuild (its service name, as `mandate status` lists it).
    #[arg(value_parser = component_name)]
    pub component: String,
    /// Re-consume every stream from the beginning (the default).
    #[arg(long, group = "from")]
    pub all: bool,
    /// Re-consume from this sequence of every source stream.
    #[arg(long, group = "from", value_name = "N")]
    pub from_seq: Option<u64>,
    /// Re-consume events published since a time: a duration back from now (10m, 2h) or RFC 3339.
    #[arg(long, group = "from", value_parser = parse_since, value_name = "TIME")]
    pub since: Option<OffsetDateTime>,
    /// Return as soon as the rebuild has started instead of following it.
    #[arg(long)]
    pub no_wait: bool,
    /// How long the rebuild request may take (the component publishes its outbox first).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Give up following when the component has not answered its status for this long.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub silence: Duration,
    /// How often to ask for progress.
    #[arg(long, default_value = "250ms", value_parser = humantime::parse_duration, hide = true)]
    pub poll: Duration,
}

#[derive(Debug, Serialize)]
struct Replayed {
    component: String,
    wiped: u64,
    waited: bool,
    elapsed_ms: u64,
    /// The last status seen (after the rebuild when waited; right after the request otherwise).
    status: Option<StatusReport>,
}

pub async fn run(bus: &Bus, args: &ReplayArgs, global: Global) -> anyhow::Result<()> {
    let name = &args.component;
    let request = RebuildRequest {
        from_sequence: args.from_seq,
        since: args.since.map(rfc3339),
    };
    let started = Instant::now();
    let report = admin::rebuild(&bus.clone().with_timeout(args.timeout), name, &request)
        .await
        .map_err(|err| rebuild_error(name, err))?;
    if args.no_wait {
        let replayed = Replayed {
            component: report.component,
            wiped: report.wiped,
            waited: false,
            elapsed_ms: started.elapsed().as_millis() as u64,
            status: None,
        };
        if global.json {
            return output::json(&replayed);
        }
        return output::line(&format!(
            "{name} is rebuilding (wiped {} store entries); follow it with `mandate status`",
            replayed.wiped
        ));
    }

    let status = follow(bus, args).await?;
    let applied: u64 = status.consumers.iter().map(|c| c.applied_sequence).sum();
    let pending: u64 = status.consumers.iter().filter_map(|c| c.pending).sum();
    let replayed = Replayed {
        component: report.component,
        wiped: report.wiped,
        waited: true,
        elapsed_ms: started.elapsed().as_millis() as u64,
        status: Some(status),
    };
    if global.json {
        return output::json(&replayed);
    }
    let behind = if pending > 0 {
        format!("; {pending} newer event(s) still pending, consumed as usual")
    } else {
        String::new()
    };
    output::line(&format!(
        "{name} rebuilt in {}: wiped {} store entries, re-applied its history up to sequence {applied}{behind}",
        output::duration(started.elapsed()),
        replayed.wiped
    ))
}

/// Polls status until the rebuild is over, showing progress.
async fn follow(bus: &Bus, args: &ReplayArgs) -> anyhow::Result<StatusReport> {
    let name = &args.component;
    let status_bus = bus.clone().with_timeout(Duration::from_secs(5));
    let bar = output::progress_bar(0, &format!("replay {name}"));
    let plain = !output::stderr_is_terminal();
    let mut last_answer = Instant::now();
    let mut last_line: Option<(Instant, u64, u64)> = None;
    loop {
        match admin::status(&status_bus, name).await {
            Ok(status) => {
                last_answer = Instant::now();
                let (done, total) = progress(&status);
                bar.set_length(total);
                bar.set_position(done);
                if status_is_final(&status) {
                    bar.finish_and_clear();
                    return Ok(status);
                }
                let due = last_line
                    .is_none_or(|(at, d, t)| (d, t) != (done, total) && at.elapsed() >= Duration::from_secs(1));
                if plain && due {
                    eprintln!("replay {name}: applied {done} of ~{total}");
                    last_line = Some((Instant::now(), done, total));
                }
            }
            // An answer that breaks the protocol will not mend itself by waiting.
            Err(err @ AdminError::Invalid { .. }) => {
                bar.abandon();
                return Err(err.into());
            }
            Err(err) => {
                if last_answer.elapsed() > args.silence {
                    bar.abandon();
                    anyhow::bail!(
                        "{name} stopped answering its status for {} while rebuilding ({err}): check its logs; `mandate status` shows whether it is up",
                        output::duration(args.silence)
                    );
                }
            }
        }
        tokio::time::sleep(args.poll).await;
    }
}
