//! A bulk redrive of dead letters: select them (`plan`), then `Plan::run` — canary first,
//! the rest throttled, stoppable — reporting progress as it goes.
//!
//! - **Canary first.** The first `canary` letters of each component are retried one at a
//!   time, and each is watched until its consumer has applied it or dead-lettered it again
//!   (`canary.rs`). If one fails, or the wait times out, the run ends there and nothing else
//!   is retried: a fix that does not work costs one message, not the whole queue.
//! - **Then throttled** at `rate` per second, each retry acked before the next.
//! - **Stoppable.** `stop` is looked at between messages only, so the one in flight finishes:
//!   its dead letter is deleted only after its retry is acked (`retry.rs`), and what was not
//!   reached stays in `DLQ`, untouched.
//! - **Nothing twice.** Deleting after the ack and the original `ce-id` as `Nats-Msg-Id`
//!   mean that a letter retried by two runs at once, or by a run stopped and started again,
//!   is stored once (`retry.rs`); the consumer applies each stored message once.

use std::collections::{HashMap, VecDeque};
use std::ops::ControlFlow;
use std::time::Duration;

use anyhow::anyhow;
use async_nats::jetstream::stream::Stream;
use mandate::{Bus, DEAD_LETTER_STREAM};
use serde::Serialize;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::canary::{self, Verdict};
use super::letters::{self, Filter, Group, Letter};
use super::retry::{self, Outcome, Retried};
use crate::bus::find_stream;

/// How a redrive runs.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Letters of each component retried and watched one at a time before the rest.
    pub canary: usize,
    /// Retries per second after the canaries.
    pub rate: f64,
    /// How long a canary may take to be applied or dead-lettered again.
    pub canary_timeout: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            canary: 1,
            rate: 10.0,
            canary_timeout: Duration::from_secs(30),
        }
    }
}

/// The dead letters a redrive is about, selected when it was planned.
#[derive(Debug, Clone)]
pub struct Plan {
    bus: Bus,
    pub letters: Vec<Letter>,
}

/// Selects the dead letters `filter` names, oldest first.
pub async fn plan(bus: &Bus, filter: &Filter) -> anyhow::Result<Plan> {
    let letters = letters::read(bus, filter).await?;
    Ok(Plan {
        bus: bus.clone(),
        letters,
    })
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Canary,
    Throttled,
}

/// One letter's step: its retry, or why it failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Step {
    Retried(Retried),
    Failed { dlq_sequence: u64, error: String },
}

/// What a run has done so far: sent to the caller after every letter (the console streams
/// it over SSE; the CLI prints it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Progress {
    pub phase: Phase,
    /// Retried (or found already retried) and deleted from `DLQ`.
    pub done: u64,
    /// Left in `DLQ` on purpose: the original is still inside its duplicate window, or the
    /// letter was gone already.
    pub skipped: u64,
    /// Left in `DLQ` because the retry failed.
    pub failed: u64,
    /// Not reached yet.
    pub remaining: u64,
    /// The letter just handled.
    pub last: Step,
    /// The canary's verdict, when `last` was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<Verdict>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "ended", rename_all = "snake_case")]
pub enum Ended {
    /// Every selected letter was reached.
    Completed,
    /// A canary was not applied: nothing after it was retried.
    CanaryFailed { dlq_sequence: u64, verdict: Verdict },
    /// A canary could not be retried at all (its component does not answer, the retry failed).
    CanaryNotRetried { dlq_sequence: u64, error: String },
    /// The operator stopped it.
    Stopped,
}

/// The end of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    #[serde(flatten)]
    pub ended: Ended,
    pub done: u64,
    pub skipped: u64,
    pub failed: u64,
    /// The letters not reached, still in `DLQ`: their sequences.
    pub remaining: Vec<u64>,
}

/// The counts kept while running.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    done: u64,
    skipped: u64,
    failed: u64,
}

impl Tally {
    fn count(&mut self, step: &Step) {
        match step {
            Step::Retried(Retried {
                outcome: Outcome::Republished { .. } | Outcome::AlreadyRepublished { .. },
                ..
            }) => self.done += 1,
            Step::Retried(_) => self.skipped += 1,
            Step::Failed { .. } => self.failed += 1,
        }
    }
}

impl Plan {
    /// The selected letters per component × kind × reason.
    pub fn groups(&self) -> Vec<Group> {
        letters::groups(&self.letters)
    }

    /// Redrives the plan (see the module's docs). `progress` is called after every letter.
    pub async fn run(
        self,
        options: Options,
        mut progress: impl FnMut(&Progress),
        stop: CancellationToken,
    ) -> anyhow::Result<Report> {
        if options.rate.is_nan() || options.rate <= 0.0 {
            anyhow::bail!("the rate must be a positive number of retries per second");
        }
        let dlq = find_stream(self.bus.jetstream(), DEAD_LETTER_STREAM)
            .await?
            .ok_or_else(|| anyhow!("there is no {DEAD_LETTER_STREAM} stream on this server: nothing to redrive"))?;
        let mut run = Run {
            bus: &self.bus,
            dlq: &dlq,
            options,
            stop: &stop,
            tally: Tally::default(),
        };
        Ok(match run.canaries(self.letters.into(), &mut progress).await {
            ControlFlow::Break(report) => report,
            ControlFlow::Continue(rest) => run.throttled(rest, &mut progress).await,
        })
    }
}

/// A run in progress.
struct Run<'a> {
    bus: &'a Bus,
    dlq: &'a Stream,
    options: Options,
    stop: &'a CancellationToken,
    tally: Tally,
}

impl Run<'_> {
    /// The canary phase: the first `canary` letters of each component, one at a time, each
    /// watched (a canary for one component vouches for no other). Breaks with the report when
    /// one fails or the run is stopped; otherwise continues with the letters left, in order.
    async fn canaries(
        &mut self,
        mut queue: VecDeque<Letter>,
        progress: &mut impl FnMut(&Progress),
    ) -> ControlFlow<Report, VecDeque<Letter>> {
        let mut proven: HashMap<String, usize> = HashMap::new();
        let mut rest = VecDeque::new();
        while let Some(letter) = queue.pop_front() {
            if proven.get(&letter.component).copied().unwrap_or(0) >= self.options.canary {
                rest.push_back(letter);
                continue;
            }
            let left = |letter: &Letter| rest.iter().chain([letter]).chain(&queue).map(|l| l.sequence).collect();
            if self.stop.is_cancelled() {
                return ControlFlow::Break(self.report(Ended::Stopped, left(&letter)));
            }
            let (step, verdict) = match run_canary(self.bus, self.dlq, &letter, self.options, self.stop).await {
                Ok(watched) => watched,
                Err(err) => {
                    let ended = Ended::CanaryNotRetried {
                        dlq_sequence: letter.sequence,
                        error: format!("{err:#}"),
                    };
                    return ControlFlow::Break(self.report(ended, left(&letter)));
                }
            };
            self.tally.count(&step);
            progress(&self.progress(Phase::Canary, (rest.len() + queue.len()) as u64, step, verdict.clone()));
            let left: Vec<u64> = rest.iter().chain(&queue).map(|l| l.sequence).collect();
            match verdict {
                // Not retried (gone, inside its window): the component's next letter is the canary.
                None => {}
                Some(Verdict::Applied) => *proven.entry(letter.component).or_default() += 1,
                Some(Verdict::Stopped) => return ControlFlow::Break(self.report(Ended::Stopped, left)),
                Some(verdict) => {
                    let ended = Ended::CanaryFailed {
                        dlq_sequence: letter.sequence,
                        verdict,
                    };
                    return ControlFlow::Break(self.report(ended, left));
                }
            }
        }
        ControlFlow::Continue(rest)
    }

    /// The throttled phase: one retry per tick, `stop` looked at between messages only.
    async fn throttled(&mut self, mut queue: VecDeque<Letter>, progress: &mut impl FnMut(&Progress)) -> Report {
        let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / self.options.rate));
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        while let Some(letter) = queue.pop_front() {
            tokio::select! {
                biased;
                () = self.stop.cancelled() => {
                    queue.push_front(letter);
                    return self.report(Ended::Stopped, queue.iter().map(|l| l.sequence).collect());
                }
                _ = ticks.tick() => {}
            }
            // Not raced against `stop`: the message in flight finishes.
            let step = retry_one(self.bus, self.dlq, letter.sequence).await;
            self.tally.count(&step);
            progress(&self.progress(Phase::Throttled, queue.len() as u64, step, None));
        }
        self.report(Ended::Completed, Vec::new())
    }

    fn progress(&self, phase: Phase, remaining: u64, last: Step, canary: Option<Verdict>) -> Progress {
        Progress {
            phase,
            done: self.tally.done,
            skipped: self.tally.skipped,
            failed: self.tally.failed,
            remaining,
            last,
            canary,
        }
    }

    fn report(&self, ended: Ended, mut remaining: Vec<u64>) -> Report {
        remaining.sort_unstable();
        Report {
            ended,
            done: self.tally.done,
            skipped: self.tally.skipped,
            failed: self.tally.failed,
            remaining,
        }
    }
}

/// Retries one canary and watches it; no verdict when it was not retried (gone, or the
/// original still inside its duplicate window). An error when it cannot be tried.
async fn run_canary(
    bus: &Bus,
    dlq: &Stream,
    letter: &Letter,
    options: Options,
    stop: &CancellationToken,
) -> anyhow::Result<(Step, Option<Verdict>)> {
    let before = canary::before(bus, letter).await?;
    let retried = retry::retry(bus, dlq, letter.sequence).await?;
    let retry = match &retried.outcome {
        Outcome::Republished { stream, sequence } => Some((stream, *sequence, true)),
        Outcome::AlreadyRepublished { stream, sequence } => Some((stream, *sequence, false)),
        Outcome::InsideWindow { .. } | Outcome::Gone => None,
    };
    let verdict = match retry {
        Some((stream, sequence, ours)) => {
            let retry = canary::Retry { stream, sequence, ours };
            Some(canary::watch(bus, letter, retry, before, options.canary_timeout, stop).await)
        }
        None => None,
    };
    Ok((Step::Retried(retried), verdict))
}

async fn retry_one(bus: &Bus, dlq: &Stream, seq: u64) -> Step {
    match retry::retry(bus, dlq, seq).await {
        Ok(retried) => Step::Retried(retried),
        Err(err) => Step::Failed {
            dlq_sequence: seq,
            error: format!("{err:#}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The console runs a redrive on a task of its own and streams its progress: the run
    /// must be spawnable with a sending closure. Checked when this compiles.
    #[allow(dead_code)]
    fn a_run_can_be_spawned(plan: Plan, progress: tokio::sync::mpsc::UnboundedSender<Progress>) {
        fn spawnable<F: std::future::Future + Send + 'static>(_: F) {}
        let run = plan.run(
            Options::default(),
            move |step| {
                let _ = progress.send(step.clone());
            },
            CancellationToken::new(),
        );
        spawnable(run);
    }
}
