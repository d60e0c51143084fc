//! What each subject's messages look like when they are right: real events read back from
//! the owner's stream (so that a defective copy names real orders, skus and customers — the
//! most dangerous garbage), else the contract's golden sample; and the fields the contract
//! requires, from its JSON Schema.

use std::collections::BTreeMap;
use std::path::Path;

use rand::Rng;
use rand::rngs::StdRng;

use super::manifest;
use crate::Stack;
use crate::streams;

/// Real events kept per subject.
const REAL_PER_SUBJECT: usize = 64;

/// A right message of one event type.
#[derive(Debug, Clone)]
pub struct Template {
    pub kind: String,
    pub subject: String,
    pub owner: String,
    /// Real events of this type, as stored: their headers and decoded bodies.
    pub real: Vec<Real>,
    /// The contract's golden sample body (`schemas/samples/events/<kind>.msgpack`).
    pub sample: Option<rmpv::Value>,
    /// The fields the contract's JSON Schema requires.
    pub required: Vec<String>,
    /// The body field holding its partition key (`x-mandate-key`), if the type is keyed:
    /// its events are published on `evt.<kind>.<key>` too.
    pub key_field: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Real {
    pub headers: Vec<(String, String)>,
    pub body: rmpv::Value,
    /// The key its stored subject carries (`evt.<kind>.<slot>.<key>`), if keyed.
    pub key: Option<String>,
}

impl Template {
    /// A right body: a random real event's, else the sample.
    pub fn body(&self, rng: &mut StdRng) -> rmpv::Value {
        if self.real.is_empty() {
            return self.sample.clone().unwrap_or(rmpv::Value::Nil);
        }
        self.real[rng.random_range(0..self.real.len())].body.clone()
    }

    /// A random real event, if the stream holds any.
    pub fn real_event(&self, rng: &mut StdRng) -> Option<&Real> {
        (!self.real.is_empty()).then(|| &self.real[rng.random_range(0..self.real.len())])
    }
}

/// The template of every type in `kinds`, from the streams and the files under `repo`.
pub async fn load(stack: &Stack, repo: &Path, kinds: &[String]) -> Result<BTreeMap<String, Template>, String> {
    let mut owners: Vec<&str> = kinds.iter().map(|k| manifest::owner(k)).collect();
    owners.sort_unstable();
    owners.dedup();
    let mut real: BTreeMap<String, Vec<Real>> = BTreeMap::new();
    for owner in owners {
        for message in streams::read(stack, &mandate::stream_name(owner)).await? {
            let Ok(body) = rmpv::decode::read_value(&mut &message.payload[..]) else {
                continue;
            };
            // Keyed events are stored on `evt.<kind>.<slot>.<key>`: kept under their type.
            let subject = mandate::partition::event_subject(&message.subject);
            let kept = real.entry(subject.to_owned()).or_default();
            if body.is_map() && kept.len() < REAL_PER_SUBJECT {
                let headers = message
                    .headers
                    .iter()
                    .flat_map(|(name, values)| values.iter().map(move |v| (name.to_string(), v.as_str().to_owned())))
                    .collect();
                let key = mandate::partition::subject_key(&message.subject).map(str::to_owned);
                kept.push(Real { headers, body, key });
            }
        }
    }
    let mut templates = BTreeMap::new();
    for kind in kinds {
        let subject = manifest::subject(kind);
        let template = Template {
            kind: kind.clone(),
            owner: manifest::owner(kind).to_owned(),
            real: real.remove(&subject).unwrap_or_default(),
            sample: sample(repo, kind)?,
            required: required(repo, kind)?,
            key_field: key_field(repo, kind)?,
            subject,
        };
        if template.real.is_empty() && template.sample.is_none() {
            return Err(format!(
                "no event of {kind} in its stream and no sample at schemas/samples/events/{kind}.msgpack"
            ));
        }
        templates.insert(kind.clone(), template);
    }
    Ok(templates)
}

pub(crate) fn sample(repo: &Path, kind: &str) -> Result<Option<rmpv::Value>, String> {
    let path = repo.join(format!("schemas/samples/events/{kind}.msgpack"));
    let Ok(bytes) = std::fs::read(&path) else {
        return Ok(None);
    };
    rmpv::decode::read_value(&mut &bytes[..])
        .map(Some)
        .map_err(|e| format!("{}: {e}", path.display()))
}

pub(crate) fn required(repo: &Path, kind: &str) -> Result<Vec<String>, String> {
    let schema = schema(repo, kind)?;
    Ok(schema["required"]
        .as_array()
        .map(|names| names.iter().filter_map(|n| n.as_str().map(str::to_owned)).collect())
        .unwrap_or_default())
}

/// The field holding the partition key of `kind` (its schema's `x-mandate-key`), if any.
pub(crate) fn key_field(repo: &Path, kind: &str) -> Result<Option<String>, String> {
    let schema = schema(repo, kind)?;
    Ok(schema["x-mandate-key"]["field"].as_str().map(str::to_owned))
}

/// The JSON Schema of `kind`, or null when the contract has none.
fn schema(repo: &Path, kind: &str) -> Result<serde_json::Value, String> {
    let path = repo.join(format!("schemas/json/events/{kind}.json"));
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(serde_json::Value::Null);
    };
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}
