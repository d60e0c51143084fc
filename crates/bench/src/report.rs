//! What a bench run reports: per scenario, per metric, the kit's figure and its two
//! baselines (medians over the repetitions, every run kept), their ratios and the target;
//! printed as a table or as JSON.

use std::fmt::Write as _;

use serde::Serialize;

/// Which way is better for a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    Higher,
    Lower,
}

/// A target the issue sets for a metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Target {
    /// kit ≥ value × baseline (b)
    AtLeastTimesB(f64),
    /// kit ≤ value × baseline (b)
    AtMostTimesB(f64),
    /// kit ≥ value
    AtLeast(f64),
    /// kit ≤ value
    AtMost(f64),
}

impl Target {
    /// Whether the kit meets it; `None` when a figure it needs was not measured.
    fn met(self, kit: f64, b: f64) -> Option<bool> {
        let needs_b = matches!(self, Target::AtLeastTimesB(_) | Target::AtMostTimesB(_));
        if kit <= 0.0 || (needs_b && b <= 0.0) {
            return None;
        }
        Some(match self {
            Target::AtLeastTimesB(x) => kit >= x * b,
            Target::AtMostTimesB(x) => kit <= x * b,
            Target::AtLeast(x) => kit >= x,
            Target::AtMost(x) => kit <= x,
        })
    }

    fn describe(self, unit: &str) -> String {
        match self {
            Target::AtLeastTimesB(x) => format!("≥{x}×(b)"),
            Target::AtMostTimesB(x) => format!("≤{x}×(b)"),
            Target::AtLeast(x) => format!("≥{} {unit}", human(x)),
            Target::AtMost(x) => format!("≤{} {unit}", human(x)),
        }
    }
}

/// One measured quantity with every run of the kit and its baselines.
#[derive(Debug, Clone, Serialize)]
pub struct Metric {
    pub name: String,
    pub unit: String,
    pub better: Better,
    /// Medians over the repetitions.
    pub kit: f64,
    pub a: f64,
    pub b: f64,
    /// kit ÷ baseline: for `higher` metrics the share of the baseline reached, for `lower`
    /// ones how many times the baseline's value it takes.
    pub kit_over_a: f64,
    pub kit_over_b: f64,
    pub targets: Vec<TargetResult>,
    /// Every repetition: `kit`, `a`, `b`, and the parts a composite baseline is made of.
    pub runs: Runs,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Runs {
    pub kit: Vec<f64>,
    pub a: Vec<f64>,
    pub b: Vec<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub a_parts: Vec<Part>,
}

/// A part of baseline (a) measured on its own (e.g. NATS alone, sled alone).
#[derive(Debug, Clone, Serialize)]
pub struct Part {
    pub name: String,
    pub median: f64,
    pub runs: Vec<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetResult {
    pub target: Target,
    pub text: String,
    /// `null` when a figure it needs was not measured (`--contender`).
    pub met: Option<bool>,
}

/// Collects the runs of one metric.
#[derive(Debug, Clone)]
pub struct Collector {
    pub name: String,
    pub unit: String,
    pub better: Better,
    pub targets: Vec<Target>,
    pub runs: Runs,
}

impl Collector {
    pub fn new(name: &str, unit: &str, better: Better) -> Collector {
        Collector {
            name: name.to_owned(),
            unit: unit.to_owned(),
            better,
            targets: Vec::new(),
            runs: Runs::default(),
        }
    }

    pub fn target(mut self, target: Target) -> Collector {
        self.targets.push(target);
        self
    }

    /// Records one repetition's value for `which`.
    pub fn push(&mut self, which: super::Which, value: f64) {
        match which {
            super::Which::Kit => self.runs.kit.push(value),
            super::Which::A => self.runs.a.push(value),
            super::Which::B => self.runs.b.push(value),
        }
    }

    pub fn part(&mut self, name: &str, value: f64) {
        match self.runs.a_parts.iter_mut().find(|p| p.name == name) {
            Some(part) => part.runs.push(value),
            None => self.runs.a_parts.push(Part {
                name: name.to_owned(),
                median: 0.0,
                runs: vec![value],
            }),
        }
    }

    pub fn finish(mut self) -> Metric {
        let kit = median(&self.runs.kit);
        let a = median(&self.runs.a);
        let b = median(&self.runs.b);
        for part in &mut self.runs.a_parts {
            part.median = median(&part.runs);
        }
        let targets = self
            .targets
            .iter()
            .map(|&target| TargetResult {
                target,
                text: target.describe(&self.unit),
                met: target.met(kit, b),
            })
            .collect();
        Metric {
            kit_over_a: ratio(kit, a),
            kit_over_b: ratio(kit, b),
            name: self.name,
            unit: self.unit,
            better: self.better,
            kit,
            a,
            b,
            targets,
            runs: self.runs,
        }
    }
}

/// CPU time per event of this process (where the kit and the baselines run) and of the
/// nats-server: steadier than rates on a busy machine, and it shows where the time goes.
#[derive(Debug, Clone)]
pub struct Cpu {
    own: Collector,
    server: Collector,
}

impl Cpu {
    pub fn new() -> Cpu {
        Cpu {
            own: Collector::new("CPU per event, bench process", "µs", Better::Lower),
            server: Collector::new("CPU per event, nats-server", "µs", Better::Lower),
        }
    }

    /// Records CPU seconds `(own, server)` spent on `events` events by `which`.
    pub fn push(&mut self, which: super::Which, events: u64, (own, server): (f64, f64)) {
        let per_event = |seconds: f64| seconds * 1e6 / events.max(1) as f64;
        self.own.push(which, per_event(own));
        self.server.push(which, per_event(server));
    }

    /// The two metrics; none for tiny runs, whose CPU time is a few clock ticks.
    pub fn finish(self, tiny: bool) -> Vec<Metric> {
        if tiny {
            Vec::new()
        } else {
            vec![self.own.finish(), self.server.finish()]
        }
    }
}

fn ratio(x: f64, y: f64) -> f64 {
    if y > 0.0 { x / y } else { 0.0 }
}

pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

/// The `p`-th percentile (0-100) of `values`, nearest rank.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// One scenario's result.
#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    pub id: u8,
    pub name: String,
    /// What the kit, baseline (a) and baseline (b) each run.
    pub kit: String,
    pub a: String,
    pub b: String,
    /// Why it did not run (then `metrics` is empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    pub metrics: Vec<Metric>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The machine and settings of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub nproc: usize,
    pub cpu: String,
    /// `/proc/loadavg` (1, 5, 15 min) when the run started and when it ended.
    pub load_start: [f64; 3],
    pub load_end: [f64; 3],
    pub build: &'static str,
    pub nats_server: String,
    pub kernel: String,
}

impl Machine {
    pub fn probe(nats_server: String) -> Machine {
        let cpu = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|text| {
                text.lines().find_map(|l| {
                    l.strip_prefix("model name")
                        .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
                })
            })
            .unwrap_or_else(|| "unknown".to_owned());
        Machine {
            nproc: std::thread::available_parallelism().map(usize::from).unwrap_or(1),
            cpu,
            load_start: loadavg(),
            load_end: [0.0; 3],
            build: if cfg!(debug_assertions) { "debug" } else { "release" },
            nats_server,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_owned())
                .unwrap_or_default(),
        }
    }
}

pub fn loadavg() -> [f64; 3] {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut parts = text.split_whitespace().map(|p| p.parse().unwrap_or(0.0));
    [
        parts.next().unwrap_or(0.0),
        parts.next().unwrap_or(0.0),
        parts.next().unwrap_or(0.0),
    ]
}

#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub tiny: bool,
    pub repetitions: usize,
    pub events: u64,
    pub rebuild_events: u64,
    pub calls: u64,
    pub concurrency: usize,
    pub orders: u64,
    pub offered_rate: f64,
    pub offered_seconds: f64,
    pub batch_size: u32,
    /// sled's page cache of every store, bytes.
    pub cache_bytes: u64,
    pub payload_bytes: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub machine: Machine,
    pub settings: Settings,
    pub scenarios: Vec<Scenario>,
}

/// A number for people: thousands separated, few decimals.
pub fn human(value: f64) -> String {
    if value == 0.0 {
        return "0".to_owned();
    }
    if value.abs() >= 1000.0 {
        let whole = value.round() as i64;
        let digits = whole.abs().to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        if whole < 0 { format!("-{out}") } else { out }
    } else if value.abs() >= 100.0 {
        format!("{value:.0}")
    } else if value.abs() >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

impl Report {
    pub fn table(&self) -> String {
        let mut out = String::new();
        let m = &self.machine;
        let s = &self.settings;
        let _ = writeln!(
            out,
            "mandate bench: {} build, {} CPU(s) ({}), nats-server {}, load {:.2} at start, {:.2} at end",
            m.build, m.nproc, m.cpu, m.nats_server, m.load_start[0], m.load_end[0]
        );
        let _ = writeln!(
            out,
            "{} repetition(s), median shown; {} events, {} for the rebuild, ~{} B MessagePack payloads, batch {}, sled cache {} MiB{}",
            s.repetitions,
            human(s.events as f64),
            human(s.rebuild_events as f64),
            s.payload_bytes,
            s.batch_size,
            human(s.cache_bytes as f64 / f64::from(1 << 20)),
            if s.tiny {
                "; --tiny: sizes prove the scenarios run, the figures mean nothing"
            } else {
                ""
            }
        );
        let _ = writeln!(
            out,
            "kit/(a) and kit/(b): kit ÷ baseline (throughput: ≥ 1 is as fast; latency, memory, time: ≤ 1 is as good)"
        );
        for scenario in &self.scenarios {
            let _ = writeln!(out, "\n{}. {}", scenario.id, scenario.name);
            let _ = writeln!(out, "   kit: {}", scenario.kit);
            let _ = writeln!(out, "   (a): {}", scenario.a);
            let _ = writeln!(out, "   (b): {}", scenario.b);
            if let Some(reason) = &scenario.skipped {
                let _ = writeln!(out, "   SKIPPED: {reason}");
                continue;
            }
            let _ = writeln!(
                out,
                "   {:<40} {:>11} {:>11} {:>11} {:>7} {:>7}  target",
                "metric", "kit", "(a)", "(b)", "kit/(a)", "kit/(b)"
            );
            for metric in &scenario.metrics {
                let targets = metric
                    .targets
                    .iter()
                    .map(|t| {
                        let verdict = match t.met {
                            Some(true) => "met",
                            Some(false) => "MISSED",
                            None => "n/a",
                        };
                        format!("{} {verdict}", t.text)
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                let _ = writeln!(
                    out,
                    "   {:<40} {:>11} {:>11} {:>11} {:>7.2} {:>7.2}  {}",
                    format!("{} ({})", metric.name, metric.unit),
                    human(metric.kit),
                    human(metric.a),
                    human(metric.b),
                    metric.kit_over_a,
                    metric.kit_over_b,
                    targets
                );
                for part in &metric.runs.a_parts {
                    let _ = writeln!(out, "     (a) part: {:<32} {:>11}", part.name, human(part.median));
                }
            }
            for note in &scenario.notes {
                let _ = writeln!(out, "   note: {note}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_percentiles() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&hundred, 50.0), 50.0);
        assert_eq!(percentile(&hundred, 99.0), 99.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
    }

    #[test]
    fn humans_read_thousands() {
        assert_eq!(human(1_234_567.4), "1,234,567");
        assert_eq!(human(120_000.0), "120,000");
        assert_eq!(human(0.153), "0.15");
        assert_eq!(human(15.26), "15.3");
    }

    #[test]
    fn targets_compare_with_b_or_a_number() {
        assert_eq!(Target::AtLeastTimesB(0.9).met(95.0, 100.0), Some(true));
        assert_eq!(Target::AtLeastTimesB(0.9).met(85.0, 100.0), Some(false));
        assert_eq!(Target::AtLeastTimesB(0.9).met(85.0, 0.0), None, "(b) not measured");
        assert_eq!(Target::AtMost(20.0).met(19.0, 0.0), Some(true));
        assert_eq!(Target::AtLeast(120_000.0).met(110_000.0, 200_000.0), Some(false));
    }
}
