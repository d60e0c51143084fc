//! Each rule of the contract's encoding, at the top level and nested, and what must still
//! pass: unknown fields, enums, options, maps.

use std::collections::BTreeMap;

use rmpv::Value;
use serde::{Deserialize, Serialize};

use super::{DecodeError, Rule, decode};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Line {
    sku: String,
    quantity: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Status {
    Placed,
    PaymentDeclined,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Order {
    order_id: String,
    lines: Vec<Line>,
    status: Status,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    tags: BTreeMap<String, u32>,
}

fn order() -> Order {
    Order {
        order_id: "o-1".into(),
        lines: vec![
            Line {
                sku: "tea".into(),
                quantity: 2,
            },
            Line {
                sku: "cup".into(),
                quantity: 1,
            },
        ],
        status: Status::PaymentDeclined,
        note: Some("gift".into()),
        tags: BTreeMap::from([("web".to_owned(), 1)]),
    }
}

fn s(text: &str) -> Value {
    Value::from(text)
}

fn bin(text: &str) -> Value {
    Value::Binary(text.as_bytes().to_vec())
}

fn map(entries: Vec<(Value, Value)>) -> Value {
    Value::Map(entries)
}

fn line(sku: Value, quantity: Value) -> Value {
    map(vec![(s("sku"), sku), (s("quantity"), quantity)])
}

/// The order as a map whose entries can be swapped one by one.
fn order_with(replace: &[(&str, Value)]) -> Value {
    let mut entries = vec![
        (s("order_id"), s("o-1")),
        (s("lines"), Value::Array(vec![line(s("tea"), 2.into())])),
        (s("status"), s("placed")),
    ];
    for (name, value) in replace {
        entries.retain(|(key, _)| key.as_str() != Some(name));
        entries.push((s(name), value.clone()));
    }
    map(entries)
}

fn bytes(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    rmpv::encode::write_value(&mut out, value).expect("encodes");
    out
}

fn refused(bytes: &[u8]) -> DecodeError {
    match decode::<Order>(bytes) {
        Ok(order) => panic!("accepted {order:?}"),
        Err(err) => err,
    }
}

fn assert_refused(bytes: &[u8], rule: Rule, path: &str) -> DecodeError {
    let err = refused(bytes);
    assert_eq!((err.rule, err.path.as_str()), (rule, path), "{err}");
    err
}

#[test]
fn a_named_map_decodes() {
    let order = order();
    let encoded = rmp_serde::to_vec_named(&order).expect("encodes");
    assert_eq!(decode::<Order>(&encoded), Ok(order));
}

#[test]
fn unknown_fields_are_ignored_at_every_level_whatever_they_hold() {
    let newer = map(vec![
        (s("order_id"), s("o-1")),
        (s("channel"), s("web")),
        // What a newer writer's field holds is not this reader's business.
        (s("extra_positional"), Value::Array(vec![s("a"), 1.into()])),
        (s("extra_bin"), bin("raw")),
        (
            s("lines"),
            Value::Array(vec![map(vec![
                (s("sku"), s("tea")),
                (s("gift_wrap"), true.into()),
                (s("quantity"), 2.into()),
            ])]),
        ),
        (s("status"), s("placed")),
    ]);
    let order = decode::<Order>(&bytes(&newer)).expect("decodes");
    assert_eq!(order.lines[0].sku, "tea");
    assert_eq!(order.note, None);
}

#[test]
fn a_struct_sent_as_an_array_is_refused_at_the_top() {
    let positional = rmp_serde::to_vec(&order()).expect("encodes");
    // rmp_serde alone reads it: the hole this closes.
    assert_eq!(rmp_serde::from_slice::<Order>(&positional).ok(), Some(order()));
    let err = assert_refused(&positional, Rule::NotAMap, "");
    assert_eq!(err.to_string(), "not-a-map: a struct encoded as an array");
}

#[test]
fn a_nested_struct_sent_as_an_array_is_refused_with_its_path() {
    let body = order_with(&[(
        "lines",
        Value::Array(vec![line(s("tea"), 2.into()), Value::Array(vec![s("cup"), 1.into()])]),
    )]);
    let err = assert_refused(&bytes(&body), Rule::NotAMap, "lines[1]");
    assert_eq!(err.to_string(), "not-a-map at lines[1]: a struct encoded as an array");
}

#[test]
fn a_string_sent_as_bin_is_refused_with_its_path() {
    let body = order_with(&[("lines", Value::Array(vec![line(bin("tea"), 2.into())]))]);
    let err = assert_refused(&bytes(&body), Rule::BinaryString, "lines[0].sku");
    assert_eq!(
        err.to_string(),
        "binary-string at lines[0].sku: a string encoded as bin"
    );
    assert_refused(
        &bytes(&order_with(&[("order_id", bin("o-1"))])),
        Rule::BinaryString,
        "order_id",
    );
}

#[test]
fn a_key_sent_as_bin_is_refused() {
    let top = map(vec![
        (bin("order_id"), s("o-1")),
        (s("lines"), Value::Array(vec![])),
        (s("status"), s("placed")),
    ]);
    let err = assert_refused(&bytes(&top), Rule::BinaryString, "");
    assert_eq!(err.message, "a map key encoded as bin");
    let nested = order_with(&[(
        "lines",
        Value::Array(vec![map(vec![(s("sku"), s("tea")), (bin("quantity"), 2.into())])]),
    )]);
    assert_refused(&bytes(&nested), Rule::BinaryString, "lines[0]");
    let in_a_map = order_with(&[("tags", map(vec![(bin("web"), 1.into())]))]);
    assert_refused(&bytes(&in_a_map), Rule::BinaryString, "tags");
}

#[test]
fn a_key_that_is_not_a_string_is_refused() {
    // Field indexes as keys: serde's derive would read them as the fields in order.
    let indexed = map(vec![
        (0.into(), s("o-1")),
        (1.into(), Value::Array(vec![])),
        (2.into(), s("placed")),
    ]);
    let err = assert_refused(&bytes(&indexed), Rule::NotAMap, "");
    assert_eq!(err.message, "a map key that is not a string");
    let in_a_map = order_with(&[("tags", map(vec![(7.into(), 1.into())]))]);
    assert_refused(&bytes(&in_a_map), Rule::NotAMap, "tags");
}

#[test]
fn bytes_after_the_body_are_refused() {
    let good = rmp_serde::to_vec_named(&order()).expect("encodes");
    for tail in [&[0xc0][..], &[0x80], &[0xc1], &[0xcc], b"junk"] {
        let body = [good.as_slice(), tail].concat();
        assert_eq!(rmp_serde::from_slice::<Order>(&body).ok(), Some(order()));
        let err = assert_refused(&body, Rule::TrailingBytes, "");
        assert!(err.message.contains("after"), "{err}");
    }
}

#[test]
fn not_messagepack_truncated_and_empty_are_undecodable() {
    let good = rmp_serde::to_vec_named(&order()).expect("encodes");
    assert_refused(&[0xc1], Rule::Undecodable, "");
    assert_refused(b"{\"order_id\": \"o-1\"}", Rule::Undecodable, "");
    let err = assert_refused(&[], Rule::Undecodable, "");
    assert!(err.message.contains("empty"), "{err}");
    let err = refused(&good[..good.len() - 3]);
    assert_eq!(err.rule, Rule::Undecodable, "{err}");
    assert!(err.message.contains("truncated"), "{err}");
}

#[test]
fn a_wrong_type_or_a_missing_field_is_undecodable_with_its_path() {
    let wrong = order_with(&[("lines", Value::Array(vec![line(s("tea"), s("two"))]))]);
    assert_refused(&bytes(&wrong), Rule::Undecodable, "lines[0].quantity");
    let missing = order_with(&[("lines", Value::Array(vec![map(vec![(s("quantity"), 1.into())])]))]);
    let err = assert_refused(&bytes(&missing), Rule::Undecodable, "lines[0]");
    assert!(err.message.contains("sku"), "{err}");
    let in_a_map = order_with(&[("tags", map(vec![(s("web"), s("one"))]))]);
    assert_refused(&bytes(&in_a_map), Rule::Undecodable, "tags.web");
}

#[test]
fn invalid_utf8_in_a_str_is_undecodable_not_binary() {
    let mut body = bytes(&order_with(&[("order_id", s("o-1"))]));
    let at = body
        .windows(3)
        .position(|w| w == b"o-1")
        .expect("the id is in the body");
    body[at] = 0xff;
    assert_refused(&body, Rule::Undecodable, "order_id");
}

#[test]
fn enums_are_their_names_as_strings() {
    let declined = order_with(&[("status", s("payment-declined"))]);
    assert_eq!(
        decode::<Order>(&bytes(&declined)).map(|o| o.status),
        Ok(Status::PaymentDeclined)
    );
    assert_refused(
        &bytes(&order_with(&[("status", bin("placed"))])),
        Rule::BinaryString,
        "status",
    );
    // The variant's index: positional again.
    assert_refused(
        &bytes(&order_with(&[("status", 1.into())])),
        Rule::Undecodable,
        "status",
    );
    assert_refused(
        &bytes(&order_with(&[("status", s("lost"))])),
        Rule::Undecodable,
        "status",
    );
}

#[test]
fn options_take_nil_absence_or_the_value_under_the_same_rules() {
    let absent = decode::<Order>(&bytes(&order_with(&[]))).expect("decodes");
    assert_eq!(absent.note, None);
    let nil = decode::<Order>(&bytes(&order_with(&[("note", Value::Nil)]))).expect("decodes");
    assert_eq!(nil.note, None);
    let some = decode::<Order>(&bytes(&order_with(&[("note", s("gift"))]))).expect("decodes");
    assert_eq!(some.note.as_deref(), Some("gift"));
    assert_refused(
        &bytes(&order_with(&[("note", bin("gift"))])),
        Rule::BinaryString,
        "note",
    );
}

#[test]
fn a_newtype_and_a_transparent_struct_keep_the_rules() {
    #[derive(Debug, Deserialize)]
    #[serde(transparent)]
    struct Wrapped(#[allow(dead_code)] Order);
    #[derive(Debug, Deserialize)]
    struct Newtype(#[allow(dead_code)] Line);
    let positional = rmp_serde::to_vec(&order()).expect("encodes");
    assert_eq!(
        decode::<Wrapped>(&positional).map(drop).map_err(|e| e.rule),
        Err(Rule::NotAMap)
    );
    let positional_line = bytes(&Value::Array(vec![s("tea"), 1.into()]));
    assert_eq!(
        decode::<Newtype>(&positional_line).map(drop).map_err(|e| e.rule),
        Err(Rule::NotAMap)
    );
}

#[test]
fn any_bytes_after_the_body_are_refused() {
    let body = rmp_serde::to_vec_named(&order()).expect("encodes");
    let mut accepted = Vec::new();
    for first in 0..=255u8 {
        for tail in [&[][..], &[0x00][..], &[0xff, 0xff, 0xff][..]] {
            let mut bytes = body.clone();
            bytes.push(first);
            bytes.extend_from_slice(tail);
            match decode::<Order>(&bytes) {
                Err(err) if err.rule == Rule::TrailingBytes => {}
                other => accepted.push(format!("{first:#04x} {tail:?}: {other:?}")),
            }
        }
    }
    assert!(
        accepted.is_empty(),
        "trailing bytes not refused:\n{}",
        accepted.join("\n")
    );
}
