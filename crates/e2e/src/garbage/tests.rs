//! The corpus is what it says: each message carries exactly the one defect it is filed under
//! (so that a dead letter of another kind is the kit's mistake, not the generator's).

use std::collections::{BTreeMap, BTreeSet};

use schemas::inventory::StockReserved;

use super::corpus::{self, Defect, Garbage, REQUIRED_HEADERS, Sizes};
use super::mutate::NEVER_USED;
use super::templates::{self, Real, Template};

const KIND: &str = "inventory.reserved.v1";
const MAX_PAYLOAD: usize = 64 * 1024;
/// The key the stored subject of the template's real event carries.
const REAL_KEY: &str = "order-of-the-real-event";

/// A template of `inventory.reserved.v1` from the contract's sample, with one "real" event
/// (the sample under the headers an owner would give it) so that duplicates are made too.
fn template() -> Template {
    let repo = testkit::repo_root();
    let sample = templates::sample(&repo, KIND).expect("sample reads").expect("a sample");
    let headers = [
        ("ce-specversion", "1.0"),
        ("ce-id", "01a24800-0000-7000-8000-000000000001"),
        ("ce-source", "inventory"),
        ("ce-type", KIND),
        ("ce-time", "2026-12-01T10:00:00Z"),
        ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        ("Nats-Msg-Id", "01a24800-0000-7000-8000-000000000001"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .to_vec();
    Template {
        kind: KIND.into(),
        subject: format!("evt.{KIND}"),
        owner: "inventory".into(),
        real: vec![Real {
            headers,
            body: sample.clone(),
            key: Some(REAL_KEY.into()),
        }],
        sample: Some(sample),
        required: templates::required(&repo, KIND).expect("schema reads"),
        key_field: templates::key_field(&repo, KIND).expect("schema reads"),
    }
}

fn corpus(seed: u64, total: usize) -> Vec<Garbage> {
    let templates = BTreeMap::from([(KIND.to_owned(), template())]);
    let sizes = Sizes {
        categories: Defect::all(),
        total,
        oversized_per_subject: 1,
        max_payload: MAX_PAYLOAD,
    };
    corpus::generate(seed, sizes, &templates)
}

fn header<'a>(message: &'a Garbage, name: &str) -> Option<&'a str> {
    message.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn headers_are_right(message: &Garbage) -> bool {
    let right = |name: &str, ok: &dyn Fn(&str) -> bool| header(message, name).is_some_and(ok);
    right("ce-specversion", &|v| v == "1.0")
        && right("ce-id", &|v| !v.is_empty())
        && right("ce-source", &|v| v == "inventory")
        && right("ce-type", &|v| v == KIND)
        && right("ce-time", &|v| {
            time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339).is_ok()
        })
        && right("traceparent", &|v| v.parse::<mandate::envelope::TraceParent>().is_ok())
}

fn body_is_right(message: &Garbage) -> bool {
    let mut rest = &message.payload[..];
    let value = rmpv::decode::read_value(&mut rest);
    rest.is_empty()
        && value.is_ok_and(|v| is_strict(&v) && v.is_map())
        && rmp_serde::from_slice::<StockReserved>(&message.payload).is_ok()
}

/// Maps all the way down with `str` keys and no `bin` anywhere.
fn is_strict(value: &rmpv::Value) -> bool {
    match value {
        rmpv::Value::Binary(_) => false,
        rmpv::Value::Map(fields) => fields.iter().all(|(k, v)| k.is_str() && is_strict(v)),
        rmpv::Value::Array(items) => items.iter().all(|item| item.is_map() && is_strict(item)),
        _ => true,
    }
}

#[test]
fn every_message_carries_exactly_the_defect_it_is_filed_under() {
    for message in corpus(7, 600) {
        let defect = message.defect;
        let (headers_ok, body_ok) = (headers_are_right(&message), body_is_right(&message));
        let payload = &message.payload;
        let shape_ok = match defect {
            Defect::Duplicate => headers_ok && body_ok,
            Defect::Missing(name) => !headers_ok && body_ok && header(&message, name).is_none_or(str::is_empty),
            Defect::TimeEpoch
            | Defect::TimeImpossible
            | Defect::TimeWord
            | Defect::BadTraceparent
            | Defect::ForeignSource
            | Defect::BadSpecVersion
            | Defect::WrongType => !headers_ok && body_ok,
            Defect::PositionalTop => {
                headers_ok && rmpv::decode::read_value(&mut &payload[..]).is_ok_and(|v| v.is_array())
            }
            Defect::PositionalNested | Defect::BinaryKey | Defect::BinaryValue => {
                let value = rmpv::decode::read_value(&mut &payload[..]).expect("decodes");
                headers_ok && value.is_map() && !is_strict(&value)
            }
            Defect::TrailingBytes => {
                let mut rest = &payload[..];
                let value = rmpv::decode::read_value(&mut rest).expect("decodes");
                headers_ok && is_strict(&value) && !rest.is_empty()
            }
            Defect::RandomBytes | Defect::NearMaxPayload => headers_ok && payload[0] == NEVER_USED,
            Defect::Truncated => headers_ok && rmpv::decode::read_value(&mut &payload[..]).is_err(),
            Defect::WrongFieldType | Defect::MissingField => {
                let value = rmpv::decode::read_value(&mut &payload[..]).expect("decodes");
                headers_ok && is_strict(&value) && rmp_serde::from_slice::<StockReserved>(payload).is_err()
            }
        };
        assert!(
            shape_ok,
            "{} is not what it says: {:?} {:02x?}",
            defect.name(),
            message.headers,
            payload
        );
    }
}

#[test]
fn categories_are_found_by_their_names() {
    for defect in Defect::all() {
        assert_eq!(Defect::named(&defect.name()), Some(defect));
    }
    assert_eq!(Defect::named("near-max-payload"), Some(Defect::NearMaxPayload));
    assert_eq!(Defect::named("missing ce-time"), Some(Defect::Missing("ce-time")));
    assert_eq!(Defect::named("nonsense"), None);
}

#[test]
fn the_corpus_covers_every_category_and_is_the_same_for_the_same_seed() {
    let first = corpus(11, 300);
    let categories: BTreeSet<Defect> = first.iter().map(|m| m.defect).collect();
    let all: BTreeSet<Defect> = Defect::all().into_iter().chain([Defect::NearMaxPayload]).collect();
    assert_eq!(categories, all);
    assert!(
        REQUIRED_HEADERS
            .iter()
            .all(|h| categories.contains(&Defect::Missing(h)))
    );
    assert!(first.len() >= 300);
    let near_max = first.iter().find(|m| m.defect == Defect::NearMaxPayload).expect("one");
    let header_bytes: usize = near_max.headers.iter().map(|(k, v)| k.len() + v.len() + 4).sum();
    assert!(near_max.payload.len() + header_bytes < MAX_PAYLOAD, "fits the server");
    assert!(
        near_max.payload.len() + header_bytes > MAX_PAYLOAD - 200,
        "just under the limit"
    );

    let again = corpus(11, 300);
    let shape = |c: &[Garbage]| c.iter().map(|m| (m.defect, m.payload.clone())).collect::<Vec<_>>();
    assert_eq!(shape(&first), shape(&again), "the seed decides the corpus");
    assert_ne!(shape(&first), shape(&corpus(12, 300)));
}

/// A keyed type's garbage reaches subscribers both ways its events travel: on its keyed
/// subject (as owners publish now; a partition reads only its slots of these) and on the
/// unkeyed one (as before keys); a duplicate goes on the key of the event it copies.
#[test]
fn a_keyed_types_garbage_goes_on_keyed_and_unkeyed_subjects() {
    assert_eq!(
        template().key_field.as_deref(),
        Some("order_id"),
        "{KIND} is keyed by order"
    );
    let messages = corpus(5, 400);
    let unkeyed = format!("evt.{KIND}");
    let keyed: Vec<&Garbage> = messages.iter().filter(|m| m.subject != unkeyed).collect();
    assert!(!keyed.is_empty() && keyed.len() < messages.len(), "both forms");
    for message in &keyed {
        let key = message
            .subject
            .strip_prefix(&format!("{unkeyed}."))
            .expect("a keyed subject");
        assert!(mandate::partition::check_token(key).is_ok(), "{}", message.subject);
    }
    let duplicates: Vec<&Garbage> = messages.iter().filter(|m| m.defect == Defect::Duplicate).collect();
    assert!(!duplicates.is_empty());
    for duplicate in duplicates {
        assert_eq!(duplicate.subject, format!("{unkeyed}.{REAL_KEY}"));
    }
}
