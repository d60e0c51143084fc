//! What the dead-letter stream must hold after the corpus: each malformed message once per
//! component that subscribes to its subject, under the kind of the rule it broke — matched
//! message by message through `Mandate-Dlq-Stream`/`-Sequence`, and counted per kind.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::corpus::Defect;
use super::publish::Sent;
use crate::invariants::describe_dead_letter;
use crate::streams::Stored;
use crate::verdict::Verdict;

// The dead-letter headers, as the contract names them (docs/contract.md), not as the kit's
// constants: the tests hold the kit to the names.
pub const KIND: &str = "Mandate-Dlq-Kind";
pub const SUBJECT: &str = "Mandate-Dlq-Subject";
pub const STREAM: &str = "Mandate-Dlq-Stream";
pub const SEQUENCE: &str = "Mandate-Dlq-Sequence";
pub const REASON: &str = "Mandate-Dlq-Reason";
/// `omitted` when the original body was left out so that the dead letter fits.
pub const BODY: &str = "Mandate-Dlq-Body";

pub const DEAD_LETTERED: &str = "every malformed message is dead-lettered by each subscriber";
pub const RIGHT_KIND: &str = "dead-lettered under the rule it broke (Mandate-Dlq-Kind)";
pub const COUNTS: &str = "dead letters per kind = messages sent per category, per component";
pub const ONLY_MALFORMED: &str = "only malformed messages are dead-lettered";
pub const ONCE: &str = "a message is dead-lettered once per subscriber";
pub const BODY_OMITTED: &str = "a dead letter fits: an oversized body is left out (Mandate-Dlq-Body: omitted)";

/// (component, kind) → count.
pub type Tally = BTreeMap<(String, String), usize>;

/// Checks the dead letters against what was sent; returns the counts expected and found.
pub fn check(
    sent: &[Sent],
    subscribers: &BTreeMap<String, Vec<String>>,
    letters: &[Stored],
    verdict: &mut Verdict,
) -> (Tally, Tally) {
    // (component, stream, sequence) → the message each subscriber must set aside.
    let mut due: BTreeMap<(String, String, u64), &Sent> = BTreeMap::new();
    let mut expected = Tally::new();
    for message in sent {
        let Some(kind) = message.garbage.defect.kind() else {
            continue;
        };
        for component in subscribers.get(&message.garbage.kind).into_iter().flatten() {
            due.insert((component.clone(), message.stream.clone(), message.sequence), message);
            *expected.entry((component.clone(), kind.to_owned())).or_default() += 1;
        }
    }
    let by_position: HashMap<(&str, u64), &Sent> = sent.iter().map(|s| ((s.stream.as_str(), s.sequence), s)).collect();
    let mut found = Tally::new();
    let mut matched: HashMap<(String, String, u64), usize> = HashMap::new();
    for letter in letters {
        let component = letter
            .subject
            .strip_prefix("dlq.")
            .unwrap_or(&letter.subject)
            .to_owned();
        let kind = letter.header(KIND).to_owned();
        *found.entry((component.clone(), kind.clone())).or_default() += 1;
        let stream = letter.header(STREAM).to_owned();
        let sequence: u64 = letter.header(SEQUENCE).parse().unwrap_or(0);
        let key = (component.clone(), stream.clone(), sequence);
        let Some(message) = due.get(&key) else {
            let what = by_position.get(&(stream.as_str(), sequence)).map_or_else(
                || "a message not in the corpus".to_owned(),
                |s| format!("{} (a right message)", s.at()),
            );
            verdict.broke(
                ONLY_MALFORMED,
                format!("{component} dead-lettered {what}: {}", describe_dead_letter(letter)),
            );
            continue;
        };
        let seen = matched.entry(key).or_default();
        *seen += 1;
        if *seen == 2 {
            verdict.broke(
                ONCE,
                format!("{component} dead-lettered {} more than once", message.at()),
            );
        }
        let want = message.garbage.defect.kind().unwrap_or_default();
        if kind != want {
            verdict.broke(
                RIGHT_KIND,
                format!(
                    "{component}: {} is {want}, dead-lettered as {kind:?} — {}",
                    message.at(),
                    letter.header(REASON)
                ),
            );
        }
        if message.garbage.defect == Defect::NearMaxPayload && letter.header(BODY) != "omitted" {
            verdict.broke(
                BODY_OMITTED,
                format!(
                    "{component}: the dead letter of {} carries {} bytes and {BODY}: {:?}",
                    message.at(),
                    letter.payload.len(),
                    letter.header(BODY)
                ),
            );
        }
    }
    for ((component, stream, sequence), message) in &due {
        if !matched.contains_key(&(component.clone(), stream.clone(), *sequence)) {
            verdict.broke(
                DEAD_LETTERED,
                format!("{component} did not dead-letter {}", message.at()),
            );
        }
    }
    for key in expected.keys().chain(found.keys()).collect::<BTreeSet<_>>() {
        let (want, got) = (
            expected.get(key).copied().unwrap_or(0),
            found.get(key).copied().unwrap_or(0),
        );
        if want != got {
            verdict.broke(
                COUNTS,
                format!("{} {:?}: sent {want}, dead-lettered {got}", key.0, key.1),
            );
        }
    }
    (expected, found)
}
