//! What a hostile run found: every broken invariant with its examples (order id, stream and
//! sequence...), gathered instead of stopping at the first, so that one failing run shows
//! everything that broke — the evidence a fix is measured against.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Examples shown per invariant; the count says how many there were in all.
const SHOWN: usize = 8;

#[derive(Debug, Default)]
pub struct Verdict {
    /// Invariant → every example of its breaking, in the order found.
    broken: BTreeMap<String, Vec<String>>,
}

impl Verdict {
    pub fn new() -> Verdict {
        Verdict::default()
    }

    /// Records that `invariant` broke, with one example.
    pub fn broke(&mut self, invariant: &str, example: impl Into<String>) {
        self.broken
            .entry(invariant.to_owned())
            .or_default()
            .push(example.into());
    }

    /// Records a check that could not be made (a service did not answer...): it broke the
    /// run's promise to be checkable, which is itself a finding.
    pub fn unchecked(&mut self, what: &str, why: impl Into<String>) {
        self.broke(&format!("checkable: {what}"), why);
    }

    /// How many examples of `invariant` were found.
    pub fn count(&self, invariant: &str) -> usize {
        self.broken.get(invariant).map_or(0, Vec::len)
    }

    pub fn is_clean(&self) -> bool {
        self.broken.is_empty()
    }

    /// One line per broken invariant: `name: count`.
    pub fn headline(&self) -> String {
        if self.broken.is_empty() {
            return "none".to_owned();
        }
        self.broken
            .iter()
            .map(|(name, examples)| format!("{name}: {}", examples.len()))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Panics listing every broken invariant with its first examples, or returns when none broke.
    pub fn assert_clean(&self, run: &str) {
        if self.is_clean() {
            return;
        }
        let mut report = format!("{run}: {} invariant(s) broke\n", self.broken.len());
        for (name, examples) in &self.broken {
            let _ = writeln!(report, "\n✗ {name} — {} case(s)", examples.len());
            for example in examples.iter().take(SHOWN) {
                let _ = writeln!(report, "    {example}");
            }
            if examples.len() > SHOWN {
                let _ = writeln!(report, "    … and {} more", examples.len() - SHOWN);
            }
        }
        panic!("{report}");
    }
}
