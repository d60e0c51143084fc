//! The corpus: seeded messages with one defect each, over every category and every
//! subscribed subject, plus duplicates of real events under new ids — each with the
//! dead-letter kind (`Mandate-Dlq-Kind`) it must get, or none.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};

use super::mutate;
use super::templates::Template;

/// What is wrong with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Defect {
    PositionalTop,
    PositionalNested,
    TrailingBytes,
    BinaryKey,
    BinaryValue,
    TimeEpoch,
    TimeImpossible,
    TimeWord,
    BadTraceparent,
    ForeignSource,
    BadSpecVersion,
    WrongType,
    Missing(&'static str),
    RandomBytes,
    Truncated,
    WrongFieldType,
    MissingField,
    NearMaxPayload,
    /// Not a defect: a real event sent again under a new `ce-id`. Must change nothing.
    Duplicate,
}

/// The headers every event must carry.
pub const REQUIRED_HEADERS: [&str; 5] = ["ce-specversion", "ce-id", "ce-source", "ce-type", "ce-time"];

impl Defect {
    /// Every category, for coverage.
    pub fn all() -> Vec<Defect> {
        let mut all = vec![
            Defect::PositionalTop,
            Defect::PositionalNested,
            Defect::TrailingBytes,
            Defect::BinaryKey,
            Defect::BinaryValue,
            Defect::TimeEpoch,
            Defect::TimeImpossible,
            Defect::TimeWord,
            Defect::BadTraceparent,
            Defect::ForeignSource,
            Defect::BadSpecVersion,
            Defect::WrongType,
            Defect::RandomBytes,
            Defect::Truncated,
            Defect::WrongFieldType,
            Defect::MissingField,
            Defect::Duplicate,
        ];
        all.extend(REQUIRED_HEADERS.map(Defect::Missing));
        all
    }

    /// The dead-letter kind this defect must get; `None` for a right message.
    pub fn kind(self) -> Option<&'static str> {
        Some(match self {
            Defect::Missing(_) => "missing-header",
            Defect::TimeEpoch
            | Defect::TimeImpossible
            | Defect::TimeWord
            | Defect::BadTraceparent
            | Defect::ForeignSource
            | Defect::BadSpecVersion => "invalid-header",
            Defect::WrongType => "unknown-type",
            Defect::PositionalTop | Defect::PositionalNested => "not-a-map",
            Defect::BinaryKey | Defect::BinaryValue => "binary-string",
            Defect::TrailingBytes => "trailing-bytes",
            Defect::RandomBytes
            | Defect::Truncated
            | Defect::WrongFieldType
            | Defect::MissingField
            | Defect::NearMaxPayload => "undecodable",
            Defect::Duplicate => return None,
        })
    }

    /// The category named `name` (as [`Defect::name`] writes it), if any.
    pub fn named(name: &str) -> Option<Defect> {
        Defect::all()
            .into_iter()
            .chain([Defect::NearMaxPayload])
            .find(|d| d.name() == name.trim())
    }

    /// A short name for reports: `positional-top`, `missing ce-id`...
    pub fn name(self) -> String {
        match self {
            Defect::Missing(header) => format!("missing {header}"),
            other => {
                let debug = format!("{other:?}");
                let mut name = String::new();
                for (i, c) in debug.chars().enumerate() {
                    if c.is_uppercase() && i > 0 {
                        name.push('-');
                    }
                    name.push(c.to_ascii_lowercase());
                }
                name
            }
        }
    }
}

/// One message of the corpus.
#[derive(Debug, Clone)]
pub struct Garbage {
    pub kind: String,
    pub subject: String,
    pub headers: Vec<(String, String)>,
    pub payload: Vec<u8>,
    pub defect: Defect,
}

/// The sizes of a corpus.
#[derive(Debug, Clone)]
pub struct Sizes {
    /// The categories to draw from ([`Defect::all`] for the whole attack).
    pub categories: Vec<Defect>,
    /// Messages in all (at least one of each category per subject, whatever this says).
    pub total: usize,
    /// Near-max-payload bodies per subject (each about 1 MB).
    pub oversized_per_subject: usize,
    /// The server's `max_payload`, headers included.
    pub max_payload: usize,
}

/// The corpus: one message of each applicable category per subject, `oversized_per_subject`
/// near-max-payload bodies per subject, the rest drawn at random; shuffled.
pub fn generate(seed: u64, sizes: Sizes, templates: &BTreeMap<String, Template>) -> Vec<Garbage> {
    let Sizes {
        categories,
        total,
        oversized_per_subject,
        max_payload,
    } = sizes;
    let mut rng = StdRng::seed_from_u64(seed);
    let kinds: Vec<&Template> = templates.values().collect();
    let mut corpus = Vec::with_capacity(total + kinds.len());
    for template in &kinds {
        for &defect in &categories {
            corpus.extend(make(template, defect, &kinds, &mut rng));
        }
        for _ in 0..oversized_per_subject {
            corpus.extend(near_max(template, max_payload, &mut rng));
        }
    }
    let mut attempts = 0;
    while corpus.len() < total && !categories.is_empty() && attempts < total * 10 {
        attempts += 1;
        let template = kinds[rng.random_range(0..kinds.len())];
        let defect = categories[rng.random_range(0..categories.len())];
        corpus.extend(make(template, defect, &kinds, &mut rng));
    }
    corpus.shuffle(&mut rng);
    corpus
}

/// A message of `template`'s type with `defect`, if its body has a place for it.
fn make(template: &Template, defect: Defect, all: &[&Template], rng: &mut StdRng) -> Option<Garbage> {
    let body = template.body(rng);
    let right = || mutate::encode(&body);
    let mut headers = right_headers(template, rng);
    let mut subject = subject_for(template, &body, rng);
    let payload = match defect {
        Defect::PositionalTop => mutate::positional(&body)?,
        Defect::PositionalNested => mutate::positional_nested(&body)?,
        Defect::TrailingBytes => mutate::trailing(&body, rng)?,
        Defect::BinaryKey => mutate::binary_key(&body, rng)?,
        Defect::BinaryValue => mutate::binary_value(&body, rng)?,
        Defect::RandomBytes => mutate::random_bytes(rng),
        Defect::Truncated => mutate::truncated(&body, rng)?,
        Defect::WrongFieldType => mutate::wrong_type(&body, rng)?,
        Defect::MissingField => mutate::missing_field(&body, &template.required, rng)?,
        Defect::NearMaxPayload => return None,
        Defect::Duplicate => {
            let real = template.real_event(rng)?;
            headers = real.headers.clone();
            // On the real event's own subject: the same key, so the same partition.
            subject = match &real.key {
                Some(key) => format!("{}.{key}", template.subject),
                None => template.subject.clone(),
            };
            let id = uuid::Uuid::now_v7().to_string();
            set(&mut headers, "ce-id", &id);
            set(&mut headers, "Nats-Msg-Id", &id);
            mutate::encode(&real.body)
        }
        header_defect => {
            break_header(&mut headers, header_defect, template, all, rng);
            right()
        }
    };
    Some(Garbage {
        kind: template.kind.clone(),
        subject,
        headers,
        payload,
        defect,
    })
}

/// Where a message of `template`'s type goes: a keyed type's half the time on its keyed
/// subject (`evt.<kind>.<key>`, as its owner publishes now), the key read from `body` as the
/// owner would, else a real event's; the rest, and every unkeyed type's, on `evt.<kind>`
/// (as events published before keys were, which subscribers still read).
fn subject_for(template: &Template, body: &rmpv::Value, rng: &mut StdRng) -> String {
    let Some(field) = &template.key_field else {
        return template.subject.clone();
    };
    if rng.random_bool(0.5) {
        return template.subject.clone();
    }
    let from_body = body.as_map().and_then(|fields| {
        fields
            .iter()
            .find(|(name, _)| name.as_str() == Some(field))
            .and_then(|(_, value)| value.as_str())
            .filter(|key| mandate::partition::check_token(key).is_ok())
            .map(str::to_owned)
    });
    let key = from_body.or_else(|| template.real_event(rng).and_then(|real| real.key.clone()));
    match key {
        Some(key) => format!("{}.{key}", template.subject),
        None => template.subject.clone(),
    }
}

/// A body of random bytes as large as the server takes with these headers (less a little,
/// for the framing).
fn near_max(template: &Template, max_payload: usize, rng: &mut StdRng) -> Option<Garbage> {
    let headers = right_headers(template, rng);
    let subject = subject_for(template, &template.body(rng), rng);
    let header_bytes: usize = 12 + headers.iter().map(|(k, v)| k.len() + v.len() + 4).sum::<usize>();
    let len = max_payload.checked_sub(header_bytes + 64)?;
    Some(Garbage {
        kind: template.kind.clone(),
        subject,
        headers,
        // Its own generator: the bytes it draws do not shift the rest of the corpus.
        payload: mutate::oversized(len, &mut StdRng::seed_from_u64(rng.random())),
        defect: Defect::NearMaxPayload,
    })
}

/// The envelope an owner would put on a new event of this type.
fn right_headers(template: &Template, rng: &mut StdRng) -> Vec<(String, String)> {
    let id = uuid::Uuid::now_v7().to_string();
    let hex = |len: usize, rng: &mut StdRng| -> String {
        (0..len)
            .map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16)]))
            .collect()
    };
    let traceparent = format!("00-{}-{}-01", hex(32, rng), hex(16, rng));
    vec![
        ("ce-specversion".into(), "1.0".into()),
        ("ce-id".into(), id.clone()),
        ("ce-source".into(), template.owner.clone()),
        ("ce-type".into(), template.kind.clone()),
        ("ce-time".into(), now_rfc3339()),
        ("ce-datacontenttype".into(), "application/msgpack".into()),
        ("traceparent".into(), traceparent),
        ("correlation-id".into(), id.clone()),
        ("Nats-Msg-Id".into(), id),
    ]
}

fn break_header(
    headers: &mut Vec<(String, String)>,
    defect: Defect,
    template: &Template,
    all: &[&Template],
    rng: &mut StdRng,
) {
    match defect {
        Defect::TimeEpoch => set(headers, "ce-time", "1700000000"),
        Defect::TimeImpossible => set(headers, "ce-time", "2026-13-45T99:99:99Z"),
        Defect::TimeWord => set(headers, "ce-time", "yesterday"),
        Defect::BadTraceparent => {
            let bad = [
                "not-a-traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
                "zz-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                "00-0af7651916cd43dd8448eb211c80319-b7ad6b7169203331-01",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
            ];
            set(headers, "traceparent", bad.choose(rng).copied().unwrap_or(bad[0]));
        }
        Defect::ForeignSource => {
            let others: Vec<&str> = all
                .iter()
                .map(|t| t.owner.as_str())
                .chain(["mallory", "gateway"])
                .filter(|o| *o != template.owner)
                .collect();
            set(headers, "ce-source", others.choose(rng).copied().unwrap_or("mallory"));
        }
        Defect::BadSpecVersion => set(headers, "ce-specversion", ["0.3", "2.0", "1"][rng.random_range(0..3)]),
        Defect::WrongType => {
            let (name, version) = template.kind.rsplit_once(".v").unwrap_or((template.kind.as_str(), "1"));
            let other = all
                .iter()
                .map(|t| t.kind.clone())
                .filter(|k| *k != template.kind)
                .collect::<Vec<_>>();
            let wrong = match rng.random_range(0..3) {
                0 => format!("{name}.v{}", version.parse::<u32>().unwrap_or(1) + 7),
                1 => "not.a.type".to_owned(),
                _ => other.choose(rng).cloned().unwrap_or_else(|| "not.a.type".to_owned()),
            };
            set(headers, "ce-type", &wrong);
        }
        Defect::Missing(header) => {
            // Absent, or present and empty: both are missing.
            if rng.random_bool(0.5) {
                headers.retain(|(name, _)| name != header);
            } else {
                set(headers, header, "");
            }
            if header == "ce-id" {
                headers.retain(|(name, _)| name != "Nats-Msg-Id");
            }
        }
        _ => {}
    }
}

fn set(headers: &mut Vec<(String, String)>, name: &str, value: &str) {
    headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    headers.push((name.to_owned(), value.to_owned()));
}

/// Now, to the second: a fixed length, so that the seed alone decides the corpus's sizes.
fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "2026-01-01T00:00:00Z".to_owned())
}
